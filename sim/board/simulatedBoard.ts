/**
 * One interface for every board a test or `kiosk sim` can start: the TypeScript board
 * simulator behind a socat PTY, or the reference firmware on the emulator
 * (sim/firmware/). Acceptance scenarios are written once against this and run on both.
 */
import type { BoardSimulatorOptions } from './boardSimulator.js';
import { startPtyBoard, type PtyBoard } from './ptyBoard.js';

export type TamperCode = 'SHOCK' | 'TILT' | 'CASE';
export type BoardKind = 'typescript' | 'firmware';

export interface SimulatedBoard {
  readonly kind: BoardKind;
  /** The path the controller opens as the board's serial port. */
  readonly controllerPath: string;
  /** `n` envelopes into the bin, each through the slot unless `throughSlot: false`. Resolves once the board has seen them. */
  drop(n?: number, opts?: { throughSlot?: boolean }): Promise<void>;
  /** The door opened against the lock. */
  forceDoor(): Promise<void>;
  /** A technician pulls the door: it opens only while the lock is released. */
  openDoor(): Promise<boolean>;
  closeDoor(): Promise<void>;
  fill(percent: number): Promise<void>;
  tamper(code: TamperCode): Promise<void>;
  key(on: boolean): Promise<void>;
  /** The cable is pulled: the port vanishes; the board keeps counting. */
  unplug(): Promise<void>;
  replug(): Promise<void>;
  /** Power off and on: the board restarts (seq from 0, HELLO), its count kept. */
  powerCycle(): Promise<void>;
  stop(): Promise<void>;
}

export interface TypescriptBoard extends SimulatedBoard {
  readonly kind: 'typescript';
  readonly pty: PtyBoard;
}

/** The TypeScript board simulator behind a PTY, seen through SimulatedBoard. */
export async function startTypescriptBoard(dir: string, options: BoardSimulatorOptions = {}): Promise<TypescriptBoard> {
  return typescriptBoardOf(await startPtyBoard(dir, options));
}

/** SimulatedBoard over a PtyBoard already started. */
export function typescriptBoardOf(pty: PtyBoard): TypescriptBoard {
  const sim = pty.sim;
  return {
    kind: 'typescript',
    pty,
    controllerPath: pty.controllerPath,
    drop(n = 1) {
      sim.drop(n);
      return Promise.resolve();
    },
    forceDoor() {
      sim.forceDoor();
      return Promise.resolve();
    },
    openDoor() {
      return Promise.resolve(sim.openDoor());
    },
    closeDoor() {
      sim.closeDoor();
      return Promise.resolve();
    },
    fill(percent) {
      sim.fill(percent);
      return Promise.resolve();
    },
    tamper(code) {
      sim.tamper(code);
      return Promise.resolve();
    },
    key(on) {
      sim.key(on);
      return Promise.resolve();
    },
    unplug: () => pty.unplug(),
    replug: () => pty.replug(),
    powerCycle() {
      sim.reboot();
      return Promise.resolve();
    },
    stop: () => pty.stop(),
  };
}
