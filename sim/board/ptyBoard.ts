/**
 * A simulated board behind a real pseudo-terminal: the controller opens
 * `controllerPath` exactly as it would open /dev/ttyACM0, through the real serial
 * port code. `unplug` makes the port vanish (socat killed) while the board keeps
 * running and counting; `replug` brings the port back with the same path.
 */
import { openSerialPort } from '../../devices/serial/serialPortTransport.js';
import type { SerialTransport } from '../../devices/serial/transport.js';
import { createPtyPair } from '../pty.js';
import { BoardSimulator, type BoardSimulatorOptions } from './boardSimulator.js';

/** The board side's line speed; a PTY ignores it, but the port API needs one. */
export const PTY_BOARD_BAUD_RATE = 115200;

export interface PtyBoard {
  /** The path the controller opens. */
  readonly controllerPath: string;
  readonly sim: BoardSimulator;
  /** The cable is pulled: the port vanishes; drops made now are counted, their frames lost. */
  unplug(): Promise<void>;
  /** The cable is back: same path, the board reattached (it does not reboot by itself). */
  replug(): Promise<void>;
  /** Stops the board and removes the port. */
  stop(): Promise<void>;
}

/** Starts a powered board (HELLO sent, heartbeats running) behind a fresh PTY pair in `dir`. */
export async function startPtyBoard(dir: string, simOptions: BoardSimulatorOptions = {}): Promise<PtyBoard> {
  const pair = await createPtyPair(dir);
  const sim = new BoardSimulator(simOptions);
  let boardEnd: SerialTransport | null = null;

  const connect = async (): Promise<void> => {
    const transport = await openSerialPort({ path: pair.boardPath, baudRate: PTY_BOARD_BAUD_RATE });
    boardEnd = transport;
    sim.attach(transport);
  };
  const disconnect = async (): Promise<void> => {
    sim.detach();
    const transport = boardEnd;
    boardEnd = null;
    await transport?.close();
  };

  try {
    await connect();
  } catch (e) {
    await pair.close();
    throw e;
  }
  sim.start();

  return {
    controllerPath: pair.controllerPath,
    sim,
    async unplug() {
      sim.detach();
      await pair.unplug();
      await disconnect();
    },
    async replug() {
      if (boardEnd) return;
      await pair.replug();
      await connect();
    },
    async stop() {
      sim.stop();
      await disconnect();
      await pair.close();
    },
  };
}
