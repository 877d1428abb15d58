/**
 * Two refusals the HTTP server makes before it reads a body (CONTRACT §6):
 *
 * - Cross-site requests. A page served from any other origin — another port on
 *   127.0.0.1 counts, and SameSite cookies do not help there, it is the same site —
 *   must not change anything: a state-changing request whose `Origin` is present and
 *   not the kiosk's own, or whose `Sec-Fetch-Site` says `cross-site`/`same-site`, is
 *   answered 403.
 * - Oversized bodies. The 413 must reach the client: closing a socket with unread
 *   bytes in it makes the kernel send a reset that destroys the answer in flight, so
 *   the server keeps reading (and discarding) for a bounded time and size first — a
 *   lingering close, as web servers do.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Methods that change nothing, never refused for their origin. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type CrossSiteReason = 'foreign_origin' | 'cross_site_fetch';

/**
 * Why a request must be refused as cross-site, or null. The kiosk's own origin is
 * `http://` + the Host header, which the server has already checked is its own.
 */
export function crossSiteRefusal(method: string | undefined, headers: IncomingHttpHeaders): CrossSiteReason | null {
  if (SAFE_METHODS.has((method ?? 'GET').toUpperCase())) return null;
  const site = headerValue(headers['sec-fetch-site'])?.toLowerCase();
  if (site === 'cross-site' || site === 'same-site') return 'cross_site_fetch';
  const origin = headerValue(headers.origin);
  if (origin === undefined) return null;
  const host = headerValue(headers.host)?.toLowerCase();
  if (host === undefined) return 'foreign_origin';
  const own = [`http://${host}`, `https://${host}`];
  return own.includes(origin.trim().toLowerCase()) ? null : 'foreign_origin';
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** How long a refused oversized body is read and discarded before the socket is closed. */
export const OVERSIZE_LINGER_MS = 3_000;
/** At most this much of a refused body is read before the socket is closed anyway. */
export const OVERSIZE_LINGER_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Makes the server's close of this request's socket a lingering one: the answer is
 * sent and the write side shut (FIN), then incoming bytes are discarded until the
 * client closes, `OVERSIZE_LINGER_MAX_BYTES` have been read or `OVERSIZE_LINGER_MS`
 * have passed. Call before answering; the answer must say `connection: close`.
 */
export function lingerOnClose(req: IncomingMessage, limits = { ms: OVERSIZE_LINGER_MS, maxBytes: OVERSIZE_LINGER_MAX_BYTES }): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  if ((socket as { lingering?: boolean }).lingering) return;
  (socket as { lingering?: boolean }).lingering = true;
  // Node's server calls destroySoon() once a `connection: close` answer is written;
  // here that becomes: finish writing, then drain, then destroy.
  socket.destroySoon = () => {
    let drained = 0;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(done, limits.ms);
    timer.unref();
    // The HTTP parser keeps the socket and hands what arrives to the request, dumped.
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > limits.maxBytes) done();
    });
    req.once('end', done);
    socket.once('end', done);
    socket.once('close', () => clearTimeout(timer));
    socket.end();
    socket.resume();
  };
  req.resume();
}
