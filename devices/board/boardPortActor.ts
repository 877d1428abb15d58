/**
 * The board's serial port as the connection of the drop box's reconnecting link
 * (devices/link/): frames and parses every line at the edge and reports plain events;
 * writes the machine's commands. Stopping it closes the port as ours, not an unplug.
 */
import type { LinkConnectionEvent } from '../link/linkMachine.js';
import { createSerialConnectionLogic, type SerialConnectionInput } from '../link/serialConnection.js';
import type { SerialTransportFactory } from '../serial/transport.js';
import type { BoardCommand, BoardFrame, MalformedReason } from './frames.js';
import { LineFramer } from './protocol.js';
import { BoardProtocolSession } from './protocolSession.js';

/** What the port actor tells the machine. */
export type BoardPortEvent =
  | LinkConnectionEvent
  /** `at`: when the line arrived (ms, the port's clock), so the machine's assigns read no clock. */
  | { type: 'BOARD.FRAME'; frame: BoardFrame; raw: string; at: number }
  | { type: 'BOARD.MALFORMED'; reason: MalformedReason; detail: string; raw: string };

/** What the machine asks of the port actor (through the link's LINK.SEND). */
export type BoardPortCommand = { type: 'PORT.SEND'; seq: number; command: BoardCommand };

export type BoardPortInput = SerialConnectionInput;

/** Printable, bounded view of a raw line for diagnostics (never personal data: the board sends none). */
function printable(bytes: Buffer): string {
  return bytes
    .subarray(0, 140)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface BoardPortOptions {
  /**
   * Runs the handling of one received chunk as a unit. The composition root passes the
   * outbox's transaction, so every event the chunk's frames cause is committed with one
   * fsync (group commit) and nothing is announced before that commit.
   */
  batch?: <T>(fn: () => T) => T;
  /** Wall time in ms for each frame's `at`; Date.now unless the composition root says. */
  now?: () => number;
}

export function createBoardPortLogic(openPort: SerialTransportFactory, options: BoardPortOptions = {}) {
  const batch = options.batch ?? (<T>(fn: () => T): T => fn());
  const now = options.now ?? Date.now;
  // The board's protocol version outlives a reopened port, as the board behind it does.
  const session = new BoardProtocolSession();
  return createSerialConnectionLogic<BoardPortCommand>(openPort, {
    name: 'board port',
    encode: (msg) => session.encode(msg.seq, msg.command),
    reader(write) {
      const framer = new LineFramer();
      return (chunk, send) => {
        const items = framer.push(chunk);
        if (items.length === 0) return;
        const at = now();
        // Each event is handled synchronously by the idle link and machine, so all of it lands in the batch.
        try {
          batch(() => {
            for (const item of items) {
              if (!item.ok) {
                send({ type: 'BOARD.MALFORMED', reason: 'too_long', detail: `${item.bytes} bytes without a line end`, raw: '' });
                continue;
              }
              const raw = printable(item.line);
              const parsed = session.parse(item.line);
              if (parsed.ok) send({ type: 'BOARD.FRAME', frame: parsed.frame, raw, at });
              else send({ type: 'BOARD.MALFORMED', reason: parsed.reason, detail: parsed.detail, raw });
              // Commands written before the board's version was known go again in its version.
              for (const line of session.relearn()) write(line);
            }
          });
        } catch {
          // The commit itself failed (disk gone): durable counts rolled back with it, so
          // the next heartbeat reconciles the deposits; the outbox has logged the cause.
        }
      };
    },
  });
}
