/**
 * The board's serial port as an XState callback actor: opens the port through the
 * transport seam, frames and parses every line at the edge, and reports to its parent
 * with plain events. The port object lives only in this closure, never in a machine's
 * context. Stopping the actor closes the port as "ours", which is not an unplug.
 */
import { fromCallback } from 'xstate';
import type { SerialTransport, SerialTransportFactory } from '../serial/transport.js';
import type { BoardCommand, BoardFrame, MalformedReason } from './frames.js';
import { LineFramer } from './protocol.js';
import { BoardProtocolSession } from './protocolSession.js';

/** What the port actor tells the machine. */
export type BoardPortEvent =
  | { type: 'PORT.OPENED' }
  | { type: 'PORT.OPEN_FAILED'; message: string }
  | { type: 'PORT.CLOSED'; message: string }
  | { type: 'BOARD.FRAME'; frame: BoardFrame; raw: string }
  | { type: 'BOARD.MALFORMED'; reason: MalformedReason; detail: string; raw: string };

/** What the machine asks of the port actor. */
export type BoardPortCommand = { type: 'PORT.SEND'; seq: number; command: BoardCommand };

export interface BoardPortInput {
  path: string;
  baudRate: number;
}

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
}

export function createBoardPortLogic(openPort: SerialTransportFactory, options: BoardPortOptions = {}) {
  const batch = options.batch ?? (<T>(fn: () => T): T => fn());
  // The board's protocol version outlives a reopened port, as the board behind it does.
  const session = new BoardProtocolSession();
  return fromCallback<BoardPortCommand, BoardPortInput>(({ input, sendBack, receive }) => {
    let port: SerialTransport | null = null;
    let stopped = false;
    const framer = new LineFramer();

    const onChunk = (chunk: Buffer): void => {
      const items = framer.push(chunk);
      if (items.length === 0) return;
      // sendBack is handled synchronously by the idle parent, so all of it lands in the batch.
      try {
        batch(() => deliver(items));
      } catch {
        // The commit itself failed (disk gone): durable counts rolled back with it, so
        // the next heartbeat reconciles the deposits; the outbox has logged the cause.
      }
    };
    const deliver = (items: ReturnType<LineFramer['push']>): void => {
      for (const item of items) {
        if (!item.ok) {
          sendBack({ type: 'BOARD.MALFORMED', reason: 'too_long', detail: `${item.bytes} bytes without a line end`, raw: '' });
          continue;
        }
        const raw = printable(item.line);
        const parsed = session.parse(item.line);
        if (parsed.ok) sendBack({ type: 'BOARD.FRAME', frame: parsed.frame, raw });
        else sendBack({ type: 'BOARD.MALFORMED', reason: parsed.reason, detail: parsed.detail, raw });
        for (const line of session.relearn()) writeLine(line);
      }
    };
    const writeLine = (line: string): void => {
      // A failed write means the port is going away; its onClose reports that.
      port?.write(line).catch(() => undefined);
    };

    openPort({ path: input.path, baudRate: input.baudRate }).then(
      (opened) => {
        if (stopped) {
          void opened.close().catch(() => undefined);
          return;
        }
        port = opened;
        opened.onData(onChunk);
        opened.onClose((info) => {
          port = null;
          if (!info.byUs && !stopped) sendBack({ type: 'PORT.CLOSED', message: info.error?.message ?? 'port closed' });
        });
        sendBack({ type: 'PORT.OPENED' });
      },
      (err: unknown) => {
        if (!stopped) sendBack({ type: 'PORT.OPEN_FAILED', message: err instanceof Error ? err.message : String(err) });
      },
    );

    receive((msg) => {
      if (msg.type !== 'PORT.SEND' || !port) return;
      writeLine(session.encode(msg.seq, msg.command));
    });

    return () => {
      stopped = true;
      const p = port;
      port = null;
      if (p) void p.close().catch(() => undefined);
    };
  });
}
