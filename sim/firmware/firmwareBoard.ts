/**
 * The reference firmware (firmware/dropbox-board) running on an emulated ATmega328P
 * (firmware/sim, on simavr), as a board the controller opens like any other: its
 * UART is a pseudo-terminal at `controllerPath`, and its sensors are driven and its
 * relay and LED read back through the harness's control socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { SimulatedBoard, TamperCode } from '../board/simulatedBoard.js';
import { buildFirmware, firmwareFiles, type FirmwareVariant } from './buildFirmware.js';

/** How long the harness may take to load the firmware and create its PTY. */
export const HARNESS_START_TIMEOUT_MS = 10_000;
/** How long one control command may take to be answered. */
export const CONTROL_REPLY_TIMEOUT_MS = 5_000;
/** How long the harness may take to save its EEPROM and exit on SIGTERM. */
export const HARNESS_STOP_TIMEOUT_MS = 3_000;
/** How often to read the harness's state while waiting for the input queue to play. */
const QUEUE_POLL_MS = 20;

/** Timing of one envelope, in emulated ms (the firmware debounces switches for 20 ms, the chute beam for 3 ms). */
export const ENVELOPE_IN_SLOT_MS = 40;
export const SLOT_TO_CHUTE_MS = 30;
export const ENVELOPE_IN_CHUTE_MS = 6;
export const AFTER_CHUTE_MS = 6;

/** The distance sensor's voltage for a fill level (firmware/dropbox-board/board.h). */
export const FILL_EMPTY_MV = 500;
export const FILL_FULL_MV = 4500;

export function fillMillivolts(percent: number): number {
  // The middle of the 5-point step, so ADC rounding cannot drop it to the step below.
  const step = Math.min(100, Math.max(0, percent)) + (percent < 100 ? 2.5 : 0);
  return Math.round(FILL_EMPTY_MV + ((FILL_FULL_MV - FILL_EMPTY_MV) * step) / 100);
}

export interface FirmwareBoardState {
  queued: number;
  powered: boolean;
  plugged: boolean;
  relay: boolean;
  relayActivations: number;
  relayLastOnMs: number;
  led: boolean;
  ledChanges: number;
  /** Line counters kept by the firmware, by parse result; overruns are bytes lost to a full receive ring, lineErrors the UART's framing/overrun flags. */
  lines: { ok: number; too_long: number; not_ascii: number; bad_syntax: number; bad_checksum: number; unknown_type: number; bad_args: number; overruns: number; naks: number; lineErrors: number };
  txBytes: number;
  rxBytes: number;
  /** DROP lines handed to the PTY so far, and when the last one was (CLOCK_MONOTONIC ms, as process.hrtime). */
  dropLines: number;
  lastDropLineAtMs: number;
}

export interface FirmwareBoardOptions {
  variant?: FirmwareVariant;
  /** Where the EEPROM is kept between runs (default: in `dir`, so a restart keeps the count). */
  eepromFile?: string;
}

export interface FirmwareBoard extends SimulatedBoard {
  readonly kind: 'firmware';
  state(): Promise<FirmwareBoardState>;
  /** Sends one command to the harness and returns its reply ("ok ..."). */
  control(command: string): Promise<string>;
  /** An input held active or released (slot, drop, door, shock, tilt, case, key). */
  setInput(name: 'slot' | 'drop' | 'door' | 'shock' | 'tilt' | 'case' | 'key', active: boolean): Promise<void>;
  /** Plays timed input steps in emulated time, `repeat` times; resolves when they are queued. */
  queueSteps(repeat: number, steps: readonly [input: string, active: boolean, holdMs: number][]): Promise<void>;
  /** Resolves once every queued step has been played. */
  queueDone(timeoutMs?: number): Promise<void>;
  powerOff(): Promise<void>;
  powerOn(): Promise<void>;
  /** Jumps the firmware into a loop that never feeds the watchdog. */
  hang(): Promise<void>;
}

function parseState(reply: string): FirmwareBoardState {
  const fields = new Map(reply.split(' ').slice(1).map((kv) => kv.split('=') as [string, string]));
  const num = (k: string) => Number(fields.get(k) ?? 'NaN');
  const [ok, tooLong, notAscii, badSyntax, badChecksum, unknownType, badArgs, overruns, naks, lineErrors] = (fields.get('stats') ?? '').split(',').map(Number);
  return {
    queued: num('queued'),
    powered: num('powered') === 1,
    plugged: num('plugged') === 1,
    relay: num('relay') === 1,
    relayActivations: num('relayActivations'),
    relayLastOnMs: num('relayLastOnMs'),
    led: num('led') === 1,
    ledChanges: num('ledChanges'),
    lines: {
      ok: ok ?? NaN,
      too_long: tooLong ?? NaN,
      not_ascii: notAscii ?? NaN,
      bad_syntax: badSyntax ?? NaN,
      bad_checksum: badChecksum ?? NaN,
      unknown_type: unknownType ?? NaN,
      bad_args: badArgs ?? NaN,
      overruns: overruns ?? NaN,
      naks: naks ?? NaN,
      lineErrors: lineErrors ?? NaN,
    },
    txBytes: num('txBytes'),
    rxBytes: num('rxBytes'),
    dropLines: num('dropLines'),
    lastDropLineAtMs: Number(BigInt(fields.get('lastDropLineNs') ?? '0') / 1000n) / 1000,
  };
}

/** Every harness still running, killed if the process exits without stopping it. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Builds the firmware if needed and starts it on the emulator; the board is powered and says HELLO. */
export async function startFirmwareBoard(dir: string, options: FirmwareBoardOptions = {}): Promise<FirmwareBoard> {
  await buildFirmware();
  const files = firmwareFiles(options.variant ?? 'v2');
  const controllerPath = join(dir, `firmware-board-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const controlPath = `${controllerPath}.ctl`;
  const eepromFile = options.eepromFile ?? `${controllerPath}.eeprom`;
  const child = spawn(files.harness, ['--elf', files.elf, '--link', controllerPath, '--control', controlPath, '--eeprom', eepromFile, '--symbols', files.symbols], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`firmware harness did not start within ${HARNESS_START_TIMEOUT_MS} ms: ${stderr}`)), HARNESS_START_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`firmware harness exited with ${code}: ${stderr}`));
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    running.delete(child);
    throw err;
  });

  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(controlPath, () => resolve(s));
    s.once('error', reject);
  });
  socket.setEncoding('latin1');
  let buffered = '';
  const waiting: Array<{ resolve: (line: string) => void; reject: (e: Error) => void }> = [];
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.resolve(line);
    }
  });
  socket.on('close', () => {
    for (const w of waiting.splice(0)) w.reject(new Error('firmware harness control socket closed'));
  });
  // One command at a time: the harness answers in order, one line each.
  let chain: Promise<unknown> = Promise.resolve();
  const control = (command: string): Promise<string> => {
    const result = chain.then(
      () =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`firmware harness: no reply to "${command}" within ${CONTROL_REPLY_TIMEOUT_MS} ms`)), CONTROL_REPLY_TIMEOUT_MS);
          waiting.push({
            resolve: (line) => {
              clearTimeout(timer);
              if (line.startsWith('ok')) resolve(line);
              else reject(new Error(`firmware harness refused "${command}": ${line}`));
            },
            reject: (e) => {
              clearTimeout(timer);
              reject(e);
            },
          });
          socket.write(`${command}\n`);
        }),
    );
    chain = result.catch(() => undefined);
    return result;
  };

  const state = async () => parseState(await control('state'));
  const setInput: FirmwareBoard['setInput'] = async (name, active) => {
    await control(`set ${name} ${active ? 1 : 0}`);
  };
  const queueSteps: FirmwareBoard['queueSteps'] = async (repeat, steps) => {
    await control(`queue ${repeat} ${steps.map(([input, active, ms]) => `${input}:${active ? 1 : 0}:${ms}`).join(' ')}`);
  };
  const queueDone = async (timeoutMs = 120_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while ((await state()).queued > 0) {
      if (Date.now() > deadline) throw new Error(`firmware board: input steps still queued after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, QUEUE_POLL_MS));
    }
  };
  const envelopeSteps: [string, boolean, number][] = [
    ['slot', true, ENVELOPE_IN_SLOT_MS],
    ['slot', false, SLOT_TO_CHUTE_MS],
    ['drop', true, ENVELOPE_IN_CHUTE_MS],
    ['drop', false, AFTER_CHUTE_MS],
  ];

  const board: FirmwareBoard = {
    kind: 'firmware',
    controllerPath,
    control,
    state,
    setInput,
    queueSteps,
    queueDone,
    async drop(n = 1, opts = {}) {
      if (n <= 0) return;
      // Many envelopes at once fall straight down the chute (the slot beam would need 20 ms each way).
      const steps = opts.throughSlot === false ? envelopeSteps.slice(2) : envelopeSteps;
      await queueSteps(n, steps);
      await queueDone();
    },
    async forceDoor() {
      await setInput('door', true);
    },
    async openDoor() {
      if (!(await state()).relay) return false;
      await setInput('door', true);
      return true;
    },
    async closeDoor() {
      await setInput('door', false);
    },
    async fill(percent) {
      await control(`fill-mv ${fillMillivolts(percent)}`);
    },
    async tamper(code: TamperCode) {
      const input = code === 'SHOCK' ? 'shock' : code === 'TILT' ? 'tilt' : 'case';
      await queueSteps(1, [[input, true, 50], [input, false, 30]]);
      await queueDone();
    },
    async key(on) {
      await setInput('key', on);
    },
    async unplug() {
      await control('unplug');
    },
    async replug() {
      await control('replug');
    },
    async powerOff() {
      await control('power off');
    },
    async powerOn() {
      await control('power on');
    },
    async powerCycle() {
      await control('power off');
      await control('power on');
    },
    async hang() {
      await control('hang');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), HARNESS_STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      socket.destroy();
    },
  };
  if (!existsSync(controllerPath)) {
    await board.stop();
    throw new Error(`firmware harness did not create ${controllerPath}`);
  }
  return board;
}
