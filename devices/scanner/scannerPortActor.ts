/**
 * The scanner's serial port as the connection of its reconnecting link: frames what the
 * scanner sends at the edge (protocol.ts) and reports each line, stamped with the time
 * it was read. The scanner only talks: nothing is ever written to it.
 */
import { createSerialConnectionLogic, type SerialConnectionInput } from '../link/serialConnection.js';
import type { SerialTransportFactory } from '../serial/transport.js';
import { ScanLineFramer, type ScanLineEnding, type ScanRejectReason } from './protocol.js';

/** What the port tells the scanner machine, besides the link's own events. */
export type ScannerPortEvent =
  | { type: 'SCANNER.LINE'; line: string; at: number }
  | { type: 'SCANNER.REJECTED'; reason: ScanRejectReason; bytes: number; at: number };

export type ScannerPortInput = SerialConnectionInput;

export interface ScannerPortOptions {
  lineEnding?: ScanLineEnding;
  /** Wall clock in ms, stamped on each line (the partial-line timeout uses it too). */
  now?: () => number;
}

export function createScannerPortLogic(openSerial: SerialTransportFactory, options: ScannerPortOptions = {}) {
  const now = options.now ?? Date.now;
  return createSerialConnectionLogic(openSerial, {
    name: 'scanner port',
    reader() {
      const framer = new ScanLineFramer(options.lineEnding ?? '\r');
      return (chunk, send) => {
        const at = now();
        for (const item of framer.push(chunk, at)) {
          const event: ScannerPortEvent = item.ok ? { type: 'SCANNER.LINE', line: item.line, at } : { type: 'SCANNER.REJECTED', reason: item.reason, bytes: item.bytes, at };
          send(event);
        }
      };
    },
  });
}
