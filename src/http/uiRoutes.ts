/**
 * The citizen touch UI over HTTP:
 *  - `GET /` and its two assets (`/kiosk.css`, `/kiosk.js`) from src/ui/public, with a
 *    strict Content-Security-Policy: nothing but this controller's own files runs or loads;
 *  - `GET /api/ui/stream`: server-sent events, one `view` event with the whole UiView on
 *    connect and on every change, and a comment line as heartbeat so a dead connection is
 *    noticed (by the browser, which reconnects, and by the server, which drops it);
 *  - `GET /api/ui/view`: the current view as JSON;
 *  - `POST /api/ui/events {type, ..., screen?}`: a tap, validated here, sent to the machine;
 *    `202 {accepted, screen}` (a tap the screen does not handle is accepted: false);
 *  - `POST /api/ui/keys {key, screen?}`: a keypad key (CONTRACT §7), handled by the controller
 *    (focus, choosing, back, Help, repeat, volume), `202 {accepted, screen}`.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { KEY_PATTERN, UI_SCREENS, type UiTapEvent } from '../machines/kioskUiMachine.js';
import { KEYPAD_KEY_PATTERN, type KioskUi } from '../ui/kioskUi.js';
import { jsonError, type HttpServer } from './server.js';
import { PAGE_CONTENT_SECURITY_POLICY, registerStaticPage, type PageAsset } from './staticPages.js';

/** A comment line this often keeps proxies and the browser from thinking the stream died. */
export const UI_HEARTBEAT_MS = 15_000;
/** Browsers reconnect after this long when the stream drops (SSE `retry:`). */
export const UI_RECONNECT_MS = 1_000;
/** More open streams than this is not a kiosk screen: refuse, so nothing can exhaust the controller. */
export const UI_MAX_STREAMS = 8;

/** The same policy as the diagnostics page. */
export const UI_CONTENT_SECURITY_POLICY = PAGE_CONTENT_SECURITY_POLICY;

const ASSETS: readonly PageAsset[] = [
  { paths: ['/'], file: 'index.html', type: 'text/html; charset=utf-8' },
  { paths: ['/kiosk.css'], file: 'kiosk.css', type: 'text/css; charset=utf-8' },
  { paths: ['/kiosk.js'], file: 'kiosk.js', type: 'text/javascript; charset=utf-8' },
];

const PUBLIC_DIR = new URL('../ui/public/', import.meta.url);

const screenSchema = z.enum(UI_SCREENS).optional();
const tapSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('LANGUAGE'), language: z.enum(['pt-PT', 'en']), screen: screenSchema }).strict(),
  z.object({ type: z.literal('ISSUE'), service: z.string().min(1).max(64), screen: screenSchema }).strict(),
  z.object({ type: z.literal('KEY'), key: z.string().regex(KEY_PATTERN), screen: screenSchema }).strict(),
  z.object({ type: z.literal('VOLUME'), step: z.union([z.literal(1), z.literal(-1)]), screen: screenSchema }).strict(),
  z.object({ type: z.literal('FOCUS'), key: z.string().min(1).max(64).nullable(), screen: z.enum(UI_SCREENS) }).strict(),
  ...(['PRIORITY', 'APPOINTMENT', 'DEPOSIT', 'CONFIRM', 'CANCEL', 'BACK', 'HOME', 'ERASE', 'SUBMIT', 'HELP', 'LARGE_TEXT', 'CONTRAST', 'TOUCH'] as const).map((type) =>
    z.object({ type: z.literal(type), screen: screenSchema }).strict(),
  ),
]);
const keySchema = z.object({ key: z.string().regex(KEYPAD_KEY_PATTERN), screen: screenSchema }).strict();

export interface UiRoutes {
  /** Ends every open stream and the heartbeat (before the server closes). */
  stop(): void;
}

export function registerUiRoutes(http: HttpServer, ui: KioskUi, opts: { heartbeatMs?: number } = {}): UiRoutes {
  registerStaticPage(http, PUBLIC_DIR, ASSETS);

  const streams = new Set<ServerResponse>();
  const send = (res: ServerResponse, chunk: string): void => {
    if (!res.writableEnded) res.write(chunk);
  };
  const unsubscribe = ui.subscribe((view) => {
    const chunk = `event: view\ndata: ${JSON.stringify(view)}\n\n`;
    for (const res of streams) send(res, chunk);
  });
  const heartbeat = setInterval(() => {
    for (const res of streams) send(res, `: heartbeat ${Date.now()}\n\n`);
  }, opts.heartbeatMs ?? UI_HEARTBEAT_MS);
  heartbeat.unref();

  http.route('GET', '/api/ui/stream', (req, res) => {
    if (streams.size >= UI_MAX_STREAMS) return jsonError(503, 'too_many_streams', 'too many screens are connected to this kiosk');
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    streams.add(res);
    req.raw.on('close', () => streams.delete(res));
    send(res, `retry: ${UI_RECONNECT_MS}\nevent: view\ndata: ${JSON.stringify(ui.view())}\n\n`);
    return null;
  });

  http.route('GET', '/api/ui/view', () => ({ status: 200, body: ui.view() }));

  http.route('POST', '/api/ui/events', (req) => {
    const parsed = tapSchema.safeParse(req.body);
    if (!parsed.success) return jsonError(400, 'invalid_event', 'send {"type": one of the touch UI events, ...} as JSON');
    const { screen, ...event } = parsed.data;
    // A focus event names its own screen: it is checked against the machine's, never dropped as stale.
    const result = event.type === 'FOCUS' ? ui.tap({ ...event, screen } as UiTapEvent) : ui.tap(event as UiTapEvent, screen);
    return { status: 202, body: result };
  });

  http.route('POST', '/api/ui/keys', (req) => {
    const parsed = keySchema.safeParse(req.body);
    if (!parsed.success) return jsonError(400, 'invalid_key', 'send {"key": a keypad key (ArrowUp, Enter, Escape, F1, F2, …)} as JSON');
    return { status: 202, body: ui.key(parsed.data.key, parsed.data.screen) };
  });

  return {
    stop() {
      clearInterval(heartbeat);
      unsubscribe();
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
