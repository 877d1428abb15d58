/**
 * Local HTTP (CONTRACT §6), bound to loopback by default. Routes are plain handlers
 * registered by the composition root; every error body is JSON with an `error` code
 * and a human `message`. Requests whose Host header is not this kiosk's are refused,
 * so a web page elsewhere cannot reach the API through DNS rebinding.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, rmSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log.js';
import { crossSiteRefusal, lingerOnClose } from './requestGuards.js';

export const MAX_BODY_BYTES = 16 * 1024;

export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body for POST/PUT (validated by the handler). */
  body: unknown;
  raw: IncomingMessage;
  /** Came over the local socket (listenLocal): only the kiosk's own account can connect there. */
  local?: boolean;
}

export interface HttpReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw body (static files, event streams handled by `stream`). */
  text?: string | Buffer;
}

export type RouteHandler = (req: HttpRequest, res: ServerResponse) => Promise<HttpReply | null> | HttpReply | null;

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Exact path, or a prefix ending in "/*". */
  path: string;
  handler: RouteHandler;
}

export function jsonError(status: number, error: string, message: string, extra: Record<string, unknown> = {}): HttpReply {
  return { status, body: { error, message, ...extra } };
}

/** A request refused before any handler ran (403 cross-site, 413 too large): for events. */
export interface HttpRefusal {
  status: number;
  reason: string;
  method: string;
  path: string;
}

export class HttpServer {
  private readonly server: Server;
  private readonly routes: Route[] = [];
  private readonly guards: Array<{ prefix: string; check: (req: IncomingMessage) => HttpReply | null }> = [];
  private readonly allowedHosts = new Set<string>();
  private localServer: Server | null = null;
  private readonly localSockets = new WeakSet<Socket>();

  constructor(
    private readonly opts: { host: string; port: number; log: Logger; onRefused?: (r: HttpRefusal) => void },
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  route(method: Route['method'], path: string, handler: RouteHandler): this {
    this.routes.push({ method, path, handler });
    return this;
  }

  /**
   * A check run on every request under `prefix` before anything else is read — the body
   * included — so e.g. the diagnostics API answers 401 to anyone without a session,
   * whatever they send. Returns a reply to refuse, or null to go on.
   */
  guard(prefix: string, check: (req: IncomingMessage) => HttpReply | null): this {
    this.guards.push({ prefix, check });
    return this;
  }

  async listen(): Promise<{ host: string; port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    for (const h of [this.opts.host, 'localhost', '127.0.0.1', '[::1]']) {
      // CONTRACT §6: the kiosk's own address with the port; a client leaves the port out only for 80.
      if (addr.port === 80) this.allowedHosts.add(h.toLowerCase());
      this.allowedHosts.add(`${h.toLowerCase()}:${addr.port}`);
    }
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return { host: this.opts.host, port: addr.port, url: `http://${host}:${addr.port}` };
  }

  /**
   * Also serves the same routes on a Unix socket at `path`, mode 0600: file permissions
   * say who may connect, so `kiosk diag` on the kiosk itself is not subject to the HTTP
   * lockout (requests carry `local: true`).
   */
  async listenLocal(path: string): Promise<void> {
    rmSync(path, { force: true }); // a socket left by a killed controller (we hold the data folder's lock)
    const server = createServer((req, res) => {
      this.localSockets.add(req.socket);
      void this.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Created 0600 from the start (bind happens inside listen): no window where others could connect.
      const umask = process.umask(0o177);
      try {
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
    chmodSync(path, 0o600);
    this.localServer = server;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    const local = this.localServer;
    if (local) {
      local.closeAllConnections();
      await new Promise<void>((resolve) => local.close(() => resolve()));
      this.localServer = null;
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private hostAllowed(host: string | undefined): boolean {
    if (!host) return false;
    // Bound to all interfaces, any host name is the operator's choice.
    if (this.opts.host === '0.0.0.0' || this.opts.host === '::') return true;
    return this.allowedHosts.has(host.toLowerCase());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const reply = await this.dispatch(req, res);
      if (reply) send(res, reply);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, path: req.url }, 'http handler failed');
      if (!res.headersSent) send(res, jsonError(500, 'internal', 'the controller could not answer this request'));
      else res.end();
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<HttpReply | null> {
    // The local socket is reached through file permissions, never by a browser: no Host to check.
    if (!this.localSockets.has(req.socket) && !this.hostAllowed(req.headers.host)) return this.refuse(req, jsonError(421, 'bad_host', 'this kiosk answers only requests addressed to itself'), 'bad_host', (req.url ?? '/').split('?')[0]!);
    const url = new URL(req.url ?? '/', 'http://kiosk.local');
    const path = url.pathname;
    const crossSite = crossSiteRefusal(req.method, req.headers);
    if (crossSite) return this.refuse(req, jsonError(403, 'cross_site', 'this kiosk does not accept changes asked for by a page from another origin'), crossSite, path);
    for (const g of this.guards) {
      if (path !== g.prefix && !path.startsWith(g.prefix.endsWith('/') ? g.prefix : `${g.prefix}/`)) continue;
      const refused = g.check(req);
      if (refused) {
        req.resume();
        return refused;
      }
    }
    const candidates = this.routes.filter((r) => r.path === path || (r.path.endsWith('/*') && path.startsWith(r.path.slice(0, -1))));
    if (candidates.length === 0) return jsonError(404, 'not_found', `no such resource: ${path}`);
    const route = candidates.find((r) => r.method === req.method);
    if (!route) return { ...jsonError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}`), headers: { allow: candidates.map((r) => r.method).join(', ') } };

    let body: unknown = undefined;
    if (req.method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const length = Number(req.headers['content-length'] ?? '0');
      if (length > MAX_BODY_BYTES) return this.tooLarge(req, path);
      const raw = await readBody(req, MAX_BODY_BYTES);
      if (raw === null) return this.tooLarge(req, path);
      if (raw.length > 0 || type) {
        if (type !== 'application/json') return jsonError(415, 'unsupported_media_type', 'send the body as application/json');
        try {
          body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
        } catch {
          return jsonError(400, 'malformed_json', 'the request body is not valid JSON');
        }
      }
    }
    const local = this.localSockets.has(req.socket);
    return route.handler({ method: req.method ?? 'GET', path, query: url.searchParams, headers: req.headers, body, raw: req, local }, res);
  }

  private refuse(req: IncomingMessage, reply: HttpReply, reason: string, path: string): HttpReply {
    req.resume();
    try {
      this.opts.onRefused?.({ status: reply.status, reason, method: req.method ?? '', path: path.slice(0, 100) });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'http: could not record a refused request');
    }
    return reply;
  }

  /** 413, sent so that the client receives it: the socket lingers before it closes. */
  private tooLarge(req: IncomingMessage, path: string): HttpReply {
    lingerOnClose(req);
    const reply = jsonError(413, 'body_too_large', `the request body is over ${MAX_BODY_BYTES} bytes`);
    return this.refuse(req, { ...reply, headers: { connection: 'close' } }, 'body_too_large', path);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size <= limit) chunks.push(c);
      else {
        // Answer at once; the rest is drained by the lingering close.
        over = true;
        chunks.length = 0;
        resolve(null);
      }
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: HttpReply): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...reply.headers };
  if (reply.text !== undefined) {
    res.writeHead(reply.status, headers);
    res.end(reply.text);
    return;
  }
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}
