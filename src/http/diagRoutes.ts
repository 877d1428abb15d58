/**
 * Technician diagnostics API under /api/diag/ (CONTRACT §6). One prefix route per
 * method catches everything below /api/diag/, so an unauthenticated caller gets 401 for
 * every path, real or not, and learns nothing about which routes exist. Only
 * POST /api/diag/login answers without a session.
 *
 * Device state comes from getters the composition root hands in; nothing here holds a
 * port or an actor. Everything this API returns is free of personal data.
 */
import type { CollectionStatus } from '../dropbox/collectionSlip.js';
import type { Logger } from '../log.js';
import type { dropboxStatusView } from '../machines/dropboxMachine.js';
import type { PrinterDiagnosticsView } from '../facades/printer.js';
import type { PaperForecastView } from '../printer/paperWatch.js';
import type { EventType, NewEvent } from '../upstream/events.js';
import type { OutboxStore } from '../upstream/outbox.js';
import type { UpstreamStatus } from '../facades/upstream.js';
import { DiagAuth, LOCKOUT_AFTER_FAILURES, clearedSessionCookie, sessionCookie, tokenFromHeaders, type DiagSession } from './diagAuth.js';
import { jsonError, type HttpReply, type HttpRequest, type HttpServer } from './server.js';
import type { Refusal } from './refusalEvents.js';

/** Ends idle sessions (and records it upstream) even when nobody calls the API. */
export const DIAG_SESSION_SWEEP_MS = 30_000;
/** A test ticket that has not printed by then is reported as failed. */
export const DIAG_TEST_PRINT_TIMEOUT_MS = 30_000;
/** Door unlock bounds, as for `dropbox.unlockMs`. */
export const DIAG_UNLOCK_MIN_MS = 1_000;
export const DIAG_UNLOCK_MAX_MS = 600_000;
export const DIAG_LOG_LINES_DEFAULT = 100;
export const DIAG_OUTBOX_RECENT_KEPT = 20;
export const PIN_MAX_CHARS = 64;

export type { PrinterDiagnosticsView };
export type DropboxDiagnosticsView = ReturnType<typeof dropboxStatusView>;
export type SlotLightMode = 'OFF' | 'ON' | 'BLINK';

/** What /api/diag/outbox says about a recent event: never its data. */
export interface RecentOutboxEvent {
  seq: number;
  type: EventType;
  ts: string;
}

export interface OutboxDiagSource {
  depth(): number;
  oldest(): { seq: number; ts: string } | null;
  /** The last events appended (newest last), seq/type/ts only. */
  recent(): RecentOutboxEvent[];
}

export interface TestPrintResult {
  printed: boolean;
  /** Why it did not print (printer's reason), or null. */
  detail: string | null;
}

export interface DiagDeps {
  /** `config.diagnostics`; absent means diagnostics are disabled (every login answers 401). */
  diagnostics: { pinHash: string; sessionIdleMinutes: number } | null | undefined;
  log: Logger;
  /** Wall clock in ms (a simulated one in tests). */
  now?: () => number;
  /** Detailed state getters; null for a device this kiosk does not have. */
  printer: (() => PrinterDiagnosticsView) | null;
  dropbox: (() => DropboxDiagnosticsView) | null;
  scanner: (() => Record<string, unknown>) | null;
  upstream: () => UpstreamStatus;
  outbox: OutboxDiagSource;
  /** The log tail (see createLogRing). */
  logs: { lines(limit?: number): string[]; readonly size: number };
  actions: {
    /** Prints a test ticket and resolves once the printer confirmed it or gave up, within `timeoutMs`. */
    testPrint: ((timeoutMs: number) => Promise<TestPrintResult>) | null;
    /** Sends LED,<mode> to the board (the slot light). */
    setSlotLight: ((mode: SlotLightMode) => void) | null;
    /** Sends UNLOCK,<ms> to the board. */
    unlockDoor: ((ms: number) => void) | null;
    /** A new paper roll is in: the paper count starts again (issue #5). */
    rollChanged?: (() => void) | null;
  };
  /** The paper forecast; null or absent without a printer. */
  paperForecast?: (() => PaperForecastView) | null;
  /** The collection in progress and the last one; null or absent without a drop box. */
  collection?: (() => CollectionStatus) | null;
  /** Unlock time when the request names none (`config.dropbox.unlockMs`). */
  defaultUnlockMs: number;
  /** Notes a refused login (429 while locked out), for its event. */
  refused?: (r: Refusal) => void;
  /** Puts a diag.* event in the outbox (OutboxStore.append of one event). */
  record: (event: NewEvent) => void;
}

export interface DiagStatus {
  at: string;
  printer: PrinterDiagnosticsView | DeviceAbsent | DeviceUnavailable;
  dropbox: DropboxDiagnosticsView | DeviceAbsent | DeviceUnavailable;
  scanner: Record<string, unknown> | DeviceAbsent | DeviceUnavailable;
  upstream: UpstreamStatus & { oldestEvent: { seq: number; ts: string } | null };
  diagnostics: { openSessions: number; consecutiveFailures: number };
}

export interface DeviceAbsent {
  state: 'absent';
}
export interface DeviceUnavailable {
  state: 'unavailable';
  error: string;
}

export interface DiagOutboxView {
  depth: number;
  oldest: { seq: number; ts: string; ageS: number } | null;
  recent: RecentOutboxEvent[];
  full: boolean;
}

export interface DiagRoutes {
  readonly auth: DiagAuth;
  /** Stops the idle sweep and ends open sessions; call on shutdown. */
  stop(): void;
}

type SessionHandler = (req: HttpRequest, session: DiagSession) => Promise<HttpReply> | HttpReply;

const DIAG_ROOT = '/api/diag';
const LOGIN_PATH = `${DIAG_ROOT}/login`;

export function registerDiagRoutes(http: HttpServer, deps: DiagDeps): DiagRoutes {
  const now = deps.now ?? Date.now;
  const log = deps.log;
  const auth = new DiagAuth({
    pinHash: deps.diagnostics?.pinHash ?? null,
    sessionIdleMinutes: deps.diagnostics?.sessionIdleMinutes ?? 5,
    record: deps.record,
    log,
    now,
  });

  const recordAction = (session: DiagSession, action: 'test_print' | 'slot_light' | 'door_unlock' | 'collection_start' | 'roll_changed', detail: string) => {
    try {
      deps.record({ type: 'diag.action', data: { session: session.id, action, detail } });
    } catch (err) {
      log.error({ err: (err as Error).message, action }, 'diagnostics: could not record the action upstream');
    }
    log.info({ session: session.id, action, detail }, 'diagnostics: technician action');
  };

  const routes: Record<string, Partial<Record<HttpRequest['method'], SessionHandler>>> = {
    // Answered before authentication (see handle); listed so other methods get 405.
    [LOGIN_PATH]: { POST: (req) => login(auth, req, deps.refused) },
    [`${DIAG_ROOT}/session`]: {
      GET: (_req, session) => ({ status: 200, body: sessionView(session, auth.idleTimeoutS) }),
    },
    [`${DIAG_ROOT}/logout`]: {
      POST: (req) => {
        auth.logout(tokenFromHeaders(req.headers));
        return { status: 200, body: { loggedOut: true }, headers: { 'set-cookie': clearedSessionCookie() } };
      },
    },
    [`${DIAG_ROOT}/status`]: {
      GET: () => ({ status: 200, body: diagStatus(deps, auth) }),
    },
    [`${DIAG_ROOT}/outbox`]: {
      GET: () => ({ status: 200, body: outboxView(deps, now) }),
    },
    [`${DIAG_ROOT}/logs`]: {
      GET: (req) => {
        const limit = parseLimit(req.query.get('limit'), deps.logs.size);
        if (limit === null) return jsonError(400, 'bad_limit', `limit must be a whole number from 1 to ${deps.logs.size}`);
        return { status: 200, body: { lines: deps.logs.lines(limit), kept: deps.logs.size } };
      },
    },
    [`${DIAG_ROOT}/test-print`]: {
      POST: async (_req, session) => {
        const testPrint = deps.actions.testPrint;
        if (!testPrint) return jsonError(409, 'no_printer', 'this kiosk has no printer configured');
        const result = await testPrint(DIAG_TEST_PRINT_TIMEOUT_MS).catch((err: unknown): TestPrintResult => ({ printed: false, detail: (err as Error).message }));
        recordAction(session, 'test_print', result.printed ? 'printed' : `not printed: ${result.detail ?? 'unknown reason'}`);
        if (!result.printed) return jsonError(503, 'printer_unavailable', `the test ticket did not print: ${result.detail ?? 'unknown reason'}`, { detail: result.detail });
        return { status: 200, body: { printed: true } };
      },
    },
    [`${DIAG_ROOT}/dropbox/led`]: {
      POST: (req, session) => {
        const setSlotLight = deps.actions.setSlotLight;
        if (!setSlotLight) return jsonError(409, 'no_dropbox', 'this kiosk has no drop box configured');
        const raw = (req.body as { mode?: unknown } | undefined)?.mode;
        const mode = typeof raw === 'string' ? raw.toUpperCase() : null;
        if (mode !== 'OFF' && mode !== 'ON' && mode !== 'BLINK') return jsonError(400, 'bad_mode', 'send {"mode":"OFF"|"ON"|"BLINK"}');
        setSlotLight(mode);
        recordAction(session, 'slot_light', mode);
        return { status: 202, body: { mode } };
      },
    },
    [`${DIAG_ROOT}/dropbox/unlock`]: {
      POST: (req, session) => {
        const unlockDoor = deps.actions.unlockDoor;
        if (!unlockDoor) return jsonError(409, 'no_dropbox', 'this kiosk has no drop box configured');
        const raw = (req.body as { ms?: unknown } | undefined)?.ms;
        const ms = raw === undefined || raw === null ? deps.defaultUnlockMs : raw;
        if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < DIAG_UNLOCK_MIN_MS || ms > DIAG_UNLOCK_MAX_MS) {
          return jsonError(400, 'bad_unlock_ms', `ms must be a whole number of milliseconds from ${DIAG_UNLOCK_MIN_MS} to ${DIAG_UNLOCK_MAX_MS}`);
        }
        unlockDoor(ms);
        recordAction(session, 'door_unlock', `${ms} ms`);
        return { status: 202, body: { unlocking: true, ms } };
      },
    },
    [`${DIAG_ROOT}/forecast`]: {
      GET: () => {
        const forecast = deps.paperForecast;
        if (!forecast) return jsonError(409, 'no_printer', 'this kiosk has no printer configured');
        return { status: 200, body: forecast() };
      },
    },
    [`${DIAG_ROOT}/printer/roll-changed`]: {
      POST: (_req, session) => {
        const rollChanged = deps.actions.rollChanged;
        if (!rollChanged || !deps.paperForecast) return jsonError(409, 'no_printer', 'this kiosk has no printer configured');
        rollChanged();
        recordAction(session, 'roll_changed', 'new roll');
        return { status: 200, body: { rollChanged: true, forecast: deps.paperForecast() } };
      },
    },
    [`${DIAG_ROOT}/collection`]: {
      GET: () => {
        const collection = deps.collection;
        if (!collection) return jsonError(409, 'no_dropbox', 'this kiosk has no drop box configured');
        return { status: 200, body: collection() };
      },
    },
    // A collection: the door is unlocked and the count to take out is shown. Closing
    // the door records `dropbox.collected`, resets the board and prints the slip.
    [`${DIAG_ROOT}/collection/start`]: {
      POST: (req, session) => {
        const unlockDoor = deps.actions.unlockDoor;
        const collection = deps.collection;
        if (!unlockDoor || !collection) return jsonError(409, 'no_dropbox', 'this kiosk has no drop box configured');
        const raw = (req.body as { ms?: unknown } | undefined)?.ms;
        const ms = raw === undefined || raw === null ? deps.defaultUnlockMs : raw;
        if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < DIAG_UNLOCK_MIN_MS || ms > DIAG_UNLOCK_MAX_MS) {
          return jsonError(400, 'bad_unlock_ms', `ms must be a whole number of milliseconds from ${DIAG_UNLOCK_MIN_MS} to ${DIAG_UNLOCK_MAX_MS}`);
        }
        const before = collection();
        if (before.state !== 'online') return jsonError(409, 'dropbox_offline', `the drop-box board is ${before.state}: the door cannot be unlocked`);
        unlockDoor(ms);
        recordAction(session, 'collection_start', `${before.count ?? 'unknown'} envelope(s), unlock ${ms} ms`);
        return { status: 202, body: { unlocking: true, ms, collection: before } };
      },
    },
  };

  const handle = async (req: HttpRequest): Promise<HttpReply> => {
    if (req.path === LOGIN_PATH && req.method === 'POST') return login(auth, req, deps.refused);
    const authResult = auth.authenticate(tokenFromHeaders(req.headers));
    if (!authResult.ok) return unauthorized(authResult.reason, auth.enabled);
    const byMethod = routes[req.path];
    if (!byMethod) return jsonError(404, 'not_found', `no such diagnostics resource: ${req.path}`);
    const handler = byMethod[req.method];
    if (!handler) return { ...jsonError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}`), headers: { allow: Object.keys(byMethod).join(', ') } };
    return handler(req, authResult.session);
  };

  // Before the server reads a body or picks a route: without a session, every request
  // under /api/diag (any method, any body, any size) answers 401 — only login passes.
  http.guard(DIAG_ROOT, (raw) => {
    const path = new URL(raw.url ?? '/', 'http://kiosk.local').pathname;
    if (path === LOGIN_PATH) return null;
    const authResult = auth.authenticate(tokenFromHeaders(raw.headers));
    return authResult.ok ? null : unauthorized(authResult.reason, auth.enabled);
  });

  // Every method the server routes, on the root and below it: nothing under
  // /api/diag falls through to a 404/405 that would answer before authentication.
  for (const method of ['GET', 'POST', 'DELETE'] as const) {
    http.route(method, DIAG_ROOT, handle);
    http.route(method, `${DIAG_ROOT}/*`, handle);
  }

  const sweep = setInterval(() => auth.sweep(), DIAG_SESSION_SWEEP_MS);
  sweep.unref();

  return {
    auth,
    stop() {
      clearInterval(sweep);
      auth.endAll();
    },
  };
}

async function login(auth: DiagAuth, req: HttpRequest, refused?: (r: Refusal) => void): Promise<HttpReply> {
  const pin = (req.body as { pin?: unknown } | undefined)?.pin;
  if (!auth.enabled) return jsonError(401, 'diagnostics_disabled', 'diagnostics are disabled on this kiosk: set diagnostics.pinHash in the config (see kiosk pin-hash)');
  if (typeof pin !== 'string' || pin.length === 0 || pin.length > PIN_MAX_CHARS) return jsonError(400, 'bad_request', 'send {"pin":"..."} as JSON');
  const result = await auth.login(pin, { local: req.local === true });
  if (result.ok) {
    return {
      status: 200,
      body: { token: result.token, expiresInS: result.expiresInS, maxAgeS: result.maxAgeS, session: result.session.id },
      headers: { 'set-cookie': sessionCookie(result.token, result.maxAgeS) },
    };
  }
  switch (result.reason) {
    case 'disabled':
      return jsonError(401, 'diagnostics_disabled', 'diagnostics are disabled on this kiosk');
    case 'locked':
      refused?.({ status: 429, reason: 'locked_out', method: 'POST', path: LOGIN_PATH });
      return {
        ...jsonError(429, 'locked_out', `too many wrong PINs: try again in ${result.retryAfterS} s`, { retryAfterS: result.retryAfterS }),
        headers: { 'retry-after': String(result.retryAfterS) },
      };
    case 'wrong_pin':
      return jsonError(401, 'wrong_pin', 'wrong PIN', { attemptsBeforeLockout: Math.max(0, LOCKOUT_AFTER_FAILURES - result.consecutiveFailures) });
  }
}

function unauthorized(reason: 'missing' | 'unknown' | 'expired', enabled: boolean): HttpReply {
  const message = !enabled
    ? 'diagnostics are disabled on this kiosk'
    : reason === 'expired'
      ? 'the diagnostics session has ended after inactivity: sign in again with POST /api/diag/login'
      : 'sign in first: POST /api/diag/login {"pin":"..."}, then send the token as "Authorization: Bearer <token>" or the kiosk_diag cookie';
  return { ...jsonError(401, reason === 'expired' ? 'session_expired' : 'unauthorized', message), headers: { 'www-authenticate': 'Bearer realm="kiosk-diag"' } };
}

function sessionView(session: DiagSession, idleTimeoutS: number) {
  return { session: session.id, since: new Date(session.createdAt).toISOString(), idleTimeoutS };
}

/** One device's getter, kept from hiding the others when it throws. */
function device<T>(getter: (() => T) | null): T | DeviceAbsent | DeviceUnavailable {
  if (!getter) return { state: 'absent' };
  try {
    return getter();
  } catch (err) {
    return { state: 'unavailable', error: (err as Error).message };
  }
}

export function diagStatus(deps: DiagDeps, auth: DiagAuth): DiagStatus {
  const now = deps.now ?? Date.now;
  return {
    at: new Date(now()).toISOString(),
    printer: device(deps.printer),
    dropbox: device(deps.dropbox),
    scanner: device(deps.scanner),
    upstream: { ...deps.upstream(), oldestEvent: deps.outbox.oldest() },
    diagnostics: { openSessions: auth.openSessions(), consecutiveFailures: auth.lockState().consecutiveFailures },
  };
}

function outboxView(deps: DiagDeps, now: () => number): DiagOutboxView {
  const oldest = deps.outbox.oldest();
  return {
    depth: deps.outbox.depth(),
    oldest: oldest ? { ...oldest, ageS: Math.max(0, Math.round((now() - Date.parse(oldest.ts)) / 1000)) } : null,
    recent: deps.outbox.recent(),
    full: deps.upstream().outboxFull,
  };
}

function parseLimit(raw: string | null, max: number): number | null {
  if (raw === null) return Math.min(DIAG_LOG_LINES_DEFAULT, max);
  if (!/^\d{1,6}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= 1 && n <= max ? n : null;
}
/**
 * The outbox as diagnostics sees it: depth and oldest from the store, plus the last
 * events appended (seq, type, ts; never their data), kept from the store's `appended`
 * notifications. Call `stop()` on shutdown.
 */
export function trackOutboxForDiagnostics(outbox: OutboxStore, keep = DIAG_OUTBOX_RECENT_KEPT): OutboxDiagSource & { stop(): void } {
  const recent: RecentOutboxEvent[] = [];
  const off = outbox.on('appended', (events) => {
    for (const e of events) recent.push({ seq: e.seq, type: e.type, ts: e.ts });
    if (recent.length > keep) recent.splice(0, recent.length - keep);
  });
  return {
    depth: () => outbox.depth(),
    oldest: () => outbox.oldest(),
    recent: () => [...recent],
    stop: off,
  };
}
