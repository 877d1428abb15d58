/**
 * A serial port as the connection of a reconnecting link (linkMachine.ts), for devices
 * on the serial seam (board, scanner): opens the port, hands each received chunk to the
 * device's framer, writes the device's commands while open, and closes as ours when the
 * link stops it. The port lives only in this closure, never in a machine's context.
 */
import { fromCallback, type AnyEventObject, type EventObject } from 'xstate';
import type { SerialTransport, SerialTransportFactory } from '../serial/transport.js';
import type { LinkConnectionEvent } from './linkMachine.js';

export interface SerialConnectionInput {
  path: string;
  baudRate: number;
}

export interface SerialConnectionOptions<TCommand extends EventObject> {
  /** The device's name in messages ("scanner port"). */
  name: string;
  /**
   * Called once per opened port (so a framer starts clean after a reopen); the handler it
   * returns gets every chunk and `send`s what it means. `write` answers on the same port
   * (a protocol that must resend in another version, say), outside any LINK.SEND.
   */
  reader(write: (bytes: Buffer | string) => void): (chunk: Buffer, send: (event: AnyEventObject) => void) => void;
  /** The bytes for a command the link passes on (LINK.SEND); none: the device only talks. */
  encode?(command: TCommand): Buffer | string;
}

export function createSerialConnectionLogic<TCommand extends EventObject = EventObject>(openSerial: SerialTransportFactory, opts: SerialConnectionOptions<TCommand>) {
  /** Our own closes still running: `released()` waits for them (shutdown gives the port back). */
  const closing = new Set<Promise<unknown>>();
  const closeAsOurs = (p: SerialTransport): void => {
    const done = p.close().catch(() => undefined);
    closing.add(done);
    void done.then(() => closing.delete(done));
  };

  const logic = fromCallback<TCommand, SerialConnectionInput>(({ input, sendBack, receive }) => {
    let port: SerialTransport | null = null;
    let stopped = false;
    const send = (e: AnyEventObject | LinkConnectionEvent): void => {
      if (!stopped) sendBack(e);
    };

    openSerial({ path: input.path, baudRate: input.baudRate }).then(
      (opened) => {
        if (stopped) {
          closeAsOurs(opened);
          return;
        }
        port = opened;
        // A failed write means the port is going away; its onClose reports that.
        const read = opts.reader((bytes) => void opened.write(bytes).catch(() => undefined));
        opened.onData((chunk) => read(chunk, send));
        opened.onClose((info) => {
          port = null;
          if (!info.byUs) send({ type: 'LINK.LOST', message: info.error?.message ?? `${opts.name} closed` });
        });
        send({ type: 'LINK.OPENED' });
      },
      (err: unknown) => send({ type: 'LINK.OPEN_FAILED', message: err instanceof Error ? err.message : String(err) }),
    );

    receive((command) => {
      if (!port || !opts.encode) return;
      // A failed write means the port is going away; its onClose reports that.
      port.write(opts.encode(command)).catch(() => undefined);
    });

    return () => {
      stopped = true;
      const p = port;
      port = null;
      if (p) closeAsOurs(p);
    };
  });

  return Object.assign(logic, {
    /** Resolves once every port this logic closed as ours is closed. */
    released: async (): Promise<void> => {
      await Promise.all([...closing]);
    },
  });
}
