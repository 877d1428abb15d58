/**
 * A body over the limit is answered 413, and the client receives that answer: bodies
 * of 1, 5 and 50 MB, sent as fast as the socket takes them and slowly, with and
 * without a Content-Length. (Closing a socket with unread bytes resets it, and the
 * reset destroys the 413 in flight: the server drains for a bounded time first.)
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { HttpServer, type HttpRefusal } from '../src/http/server.js';

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;

/**
 * Fast: a raw socket writes the whole request as fast as the socket takes it and reads
 * only once it has written the last byte, like a simple synchronous client — the case a
 * reset hurts. Slow: Node's HTTP client sends 64 KiB every few ms and reads as it goes.
 */
function post(url: string, total: number, opts: { chunked: boolean; slow: boolean }): Promise<{ status: number | null; error: string | null }> {
  return opts.slow ? postSlowly(url, total, opts.chunked) : postFast(url, total, opts.chunked);
}

function postFast(url: string, total: number, chunked: boolean): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    // Connection: close, as urllib and many simple clients send: the server closes after answering.
    const head = `POST /api/tickets HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\nContent-Type: application/json\r\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${total}`}\r\n\r\n`;
    const chunk = Buffer.alloc(CHUNK, 0x20);
    const frame = (b: Buffer) => (chunked ? Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]) : b);
    let received = '';
    let settled = false;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      resolve({ status: m ? Number(m[1]) : null, error: m ? null : error ?? 'no answer' });
      socket.destroy();
    };
    socket.on('error', (err) => finish((err as NodeJS.ErrnoException).code ?? err.message));
    socket.pause(); // nothing is read until the whole body is written
    socket.once('connect', () => {
      socket.write(head);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const n = Math.min(CHUNK, total - sent);
          sent += n;
          if (!socket.write(frame(n === CHUNK ? chunk : chunk.subarray(0, n)))) return void socket.once('drain', pump);
        }
        socket.write(chunked ? '0\r\n\r\n' : '', () => {
          socket.on('data', (d: Buffer) => {
            received += d.toString('latin1');
            if (received.includes('\r\n\r\n')) finish(null);
          });
          socket.on('end', () => finish('closed without an answer'));
          socket.resume();
        });
      };
      pump();
    });
  });
}

function postSlowly(url: string, total: number, chunked: boolean): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    const u = new URL('/api/tickets', url);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!chunked) headers['content-length'] = String(total);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers });
    let status: number | null = null;
    let settled = false;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      resolve({ status, error: status === null ? error : null });
      req.destroy();
    };
    req.on('response', (res) => {
      status = res.statusCode ?? null;
      res.resume();
      res.on('end', () => finish(null));
    });
    req.on('error', (err) => finish((err as NodeJS.ErrnoException).code ?? err.message));
    const chunk = Buffer.alloc(CHUNK, 0x20);
    let sent = 0;
    const pump = () => {
      if (sent >= total) return void req.end();
      if (settled) return;
      const n = Math.min(CHUNK, total - sent);
      sent += n;
      if (req.write(n === CHUNK ? chunk : chunk.subarray(0, n))) setTimeout(pump, 2);
      else req.once('drain', () => setTimeout(pump, 2));
    };
    pump();
  });
}

describe('oversized request bodies', () => {
  let server: HttpServer;
  let url: string;
  const refusals: HttpRefusal[] = [];

  beforeAll(async () => {
    server = new HttpServer({ host: '127.0.0.1', port: 0, log: silentLogger(), onRefused: (r) => refusals.push(r) });
    server.route('POST', '/api/tickets', () => ({ status: 201, body: { ticket: 'P001' } }));
    url = (await server.listen()).url;
  });
  afterAll(() => server.close());

  for (const size of [1, 5, 50]) {
    for (const slow of [false, true]) {
      for (const chunked of [false, true]) {
        it(`${size} MB sent ${slow ? 'slowly' : 'fast'}${chunked ? ', chunked' : ''}: the client reads the 413`, async () => {
          const before = refusals.length;
          const result = await post(url, size * MB, { chunked, slow });
          expect(result).toEqual({ status: 413, error: null });
          expect(refusals.slice(before)).toEqual([{ status: 413, reason: 'body_too_large', method: 'POST', path: '/api/tickets' }]);
        }, 60_000);
      }
    }
  }

  it('five 5 MB bodies in a row, fast, each answered 413 (the reported 4-in-5 EPIPE)', async () => {
    for (let i = 0; i < 5; i++) expect(await post(url, 5 * MB, { chunked: false, slow: false })).toEqual({ status: 413, error: null });
  }, 60_000);

  it('a small body still works on the same server', async () => {
    const r = await post(url, 2, { chunked: false, slow: false });
    expect(r.status).toBe(400);
  });
});
