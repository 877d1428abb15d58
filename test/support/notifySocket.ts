/**
 * A stand-in for systemd's notification socket: a real Unix datagram socket bound in a
 * temporary folder (unix-dgram: Node's dgram has no AF_UNIX), recording each datagram with
 * the time it arrived.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadUnixDgram } from '../../src/systemd/notifySocket.js';

export interface NotifyMessage {
  text: string;
  atMs: number;
}

export interface NotifyListener {
  path: string;
  messages: NotifyMessage[];
  /** Resolves with the first message (after those already consumed) matching `pred`. */
  waitFor(pred: (m: NotifyMessage) => boolean, timeoutMs?: number): Promise<NotifyMessage>;
  close(): void;
}

export function listenNotifySocket(): NotifyListener {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-notify-'));
  const path = join(dir, 'notify');
  const messages: NotifyMessage[] = [];
  let waiters: Array<() => void> = [];
  const sock = loadUnixDgram().createSocket('unix_dgram', (buf) => {
    messages.push({ text: buf.toString('utf8'), atMs: performance.now() });
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  sock.bind(path);
  return {
    path,
    messages,
    waitFor(pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no notification matched within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.text))}`)), timeoutMs);
        const check = (): void => {
          const hit = messages.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else waiters.push(check);
        };
        check();
      });
    },
    close() {
      sock.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
