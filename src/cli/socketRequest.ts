/**
 * One HTTP request over a Unix socket (the controller's local diagnostics socket):
 * what `fetch` cannot do without an extra dispatcher. Answers like a small Response.
 */
import { request } from 'node:http';

export interface SocketReply {
  status: number;
  text: string;
  headers: Headers;
}

/** Answers bigger than this are cut (diagnostics answers are a few KiB). */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;

export function requestOverSocket(socketPath: string, path: string, init: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number }): Promise<SocketReply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: init.method, headers: { host: 'localhost', ...init.headers }, timeout: init.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_REPLY_BYTES) chunks.push(c);
      });
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${init.timeoutMs / 1000} s`), { name: 'TimeoutError' })));
    req.on('error', (err) => reject(Object.assign(new Error(err.message), { cause: err })));
    req.end(init.body);
  });
}
