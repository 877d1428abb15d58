/**
 * A simulated barcode/QR scanner behind a real pseudo-terminal pair (socat): the
 * controller opens `controllerPath` exactly as it would open /dev/ttyACM1, through the
 * real serial port code. `scan(code)` sends a code the way a scanner does (the code and
 * its line ending); `sendRaw` puts any bytes on the wire; `unplug`/`replug` pull the USB
 * cable and plug it back (same path).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeScan, type ScanLineEnding } from '../../devices/scanner/protocol.js';
import { openSerialPort } from '../../devices/serial/serialPortTransport.js';
import type { SerialTransport } from '../../devices/serial/transport.js';
import { createPtyPair } from '../pty.js';

/** The scanner side's line speed; a PTY ignores it, but the port API needs one. */
export const PTY_SCANNER_BAUD_RATE = 9600;

export interface PtyScannerOptions {
  /** What the scanner ends each code with (its factory setting: CR). */
  lineEnding?: ScanLineEnding;
}

export interface PtyScanner {
  /** The path the controller opens. */
  readonly controllerPath: string;
  /** Codes scanned so far, in order (never printed in full by the simulator). */
  readonly scanned: string[];
  /** A code read: the code and the line ending, in one burst. Rejects while unplugged. */
  scan(code: string): Promise<void>;
  /** Any bytes on the wire (garbage, a code with another ending, a half line). */
  sendRaw(bytes: Buffer | string): Promise<void>;
  /** The cable is pulled: the port vanishes. */
  unplug(): Promise<void>;
  /** The cable is back: same path. */
  replug(): Promise<void>;
  readonly plugged: boolean;
  stop(): Promise<void>;
}

/** Starts a scanner behind a fresh PTY pair in `<dir>/scanner/`. */
export async function startPtyScanner(dir: string, options: PtyScannerOptions = {}): Promise<PtyScanner> {
  const ptyDir = join(dir, 'scanner');
  mkdirSync(ptyDir, { recursive: true });
  const pair = await createPtyPair(ptyDir);
  const lineEnding = options.lineEnding ?? '\r';
  let deviceEnd: SerialTransport | null = null;
  const scanned: string[] = [];

  const connect = async (): Promise<void> => {
    deviceEnd = await openSerialPort({ path: pair.boardPath, baudRate: PTY_SCANNER_BAUD_RATE });
    // The scanner only talks; whatever the controller writes is ignored, as a real one does.
    deviceEnd.onData(() => undefined);
  };
  const disconnect = async (): Promise<void> => {
    const end = deviceEnd;
    deviceEnd = null;
    await end?.close().catch(() => undefined);
  };
  const write = async (bytes: Buffer | string): Promise<void> => {
    if (!deviceEnd) throw new Error('simulated scanner is unplugged');
    await deviceEnd.write(bytes);
  };

  try {
    await connect();
  } catch (e) {
    await pair.close();
    throw e;
  }

  return {
    controllerPath: pair.controllerPath,
    scanned,
    async scan(code) {
      await write(encodeScan(code, lineEnding));
      scanned.push(code);
    },
    sendRaw: write,
    async unplug() {
      await pair.unplug();
      await disconnect();
    },
    async replug() {
      if (deviceEnd) return;
      await pair.replug();
      await connect();
    },
    get plugged() {
      return deviceEnd !== null;
    },
    async stop() {
      await disconnect();
      await pair.close();
    },
  };
}
