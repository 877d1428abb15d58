import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../kernel/log.js';
import { hashPin } from '../src/http/pin.js';
import { HttpServer } from '../src/http/server.js';
import { createLogRing } from '../kernel/logRing.js';
import { registerDiagRoutes, type DiagDeps, type DiagRoutes, type SlotLightMode } from '../src/http/diagRoutes.js';
import type { NewEvent } from '../src/upstream/events.js';
import { dropboxView, printerView, upstreamStatus } from './support/diagFakes.js';

const PIN = '482913';
let pinHash: string;

beforeAll(async () => {
  pinHash = await hashPin(PIN);
});

interface Harness {
  url: string;
  events: NewEvent[];
  calls: { testPrint: number; led: SlotLightMode[]; unlock: number[] };
  advance(ms: number): void;
  routes: DiagRoutes;
  logRing: ReturnType<typeof createLogRing>;
}

let server: HttpServer | null = null;
let routes: DiagRoutes | null = null;

afterEach(async () => {
  routes?.stop();
  routes = null;
  await server?.close();
  server = null;
});

async function start(overrides: Partial<DiagDeps> = {}, diagnostics: DiagDeps['diagnostics'] = { pinHash, sessionIdleMinutes: 5 }): Promise<Harness> {
  let now = Date.parse('2026-11-28T09:00:00Z');
  const events: NewEvent[] = [];
  const calls: Harness['calls'] = { testPrint: 0, led: [], unlock: [] };
  const logRing = createLogRing(50);
  const deps: DiagDeps = {
    diagnostics,
    log: silentLogger(),
    now: () => now,
    printer: printerView,
    dropbox: dropboxView,
    scanner: null,
    upstream: upstreamStatus,
    outbox: {
      depth: () => 3,
      oldest: () => ({ seq: 41, ts: '2026-11-28T08:58:25.000Z' }),
      recent: () => [
        { seq: 42, type: 'dropbox.deposit', ts: '2026-11-28T08:59:00.000Z' },
        { seq: 43, type: 'dropbox.fill', ts: '2026-11-28T08:59:30.000Z' },
      ],
    },
    logs: logRing,
    actions: {
      testPrint: async () => {
        calls.testPrint++;
        return { printed: true, detail: null };
      },
      setSlotLight: (mode) => calls.led.push(mode),
      unlockDoor: (ms) => calls.unlock.push(ms),
    },
    defaultUnlockMs: 30_000,
    record: (e) => events.push(e),
    ...overrides,
  };
  server = new HttpServer({ host: '127.0.0.1', port: 0, log: silentLogger() });
  routes = registerDiagRoutes(server, deps);
  const { url } = await server.listen();
  return { url, events, calls, advance: (ms) => (now += ms), routes, logRing };
}

async function req(url: string, method: string, path: string, opts: { token?: string; cookie?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

async function login(h: Harness, pin = PIN) {
  return req(h.url, 'POST', '/api/diag/login', { body: { pin } });
}

async function token(h: Harness): Promise<string> {
  const r = await login(h);
  expect(r.status).toBe(200);
  return r.body.token as string;
}

const REAL_ROUTES: [string, string, unknown?][] = [
  ['GET', '/api/diag/status'],
  ['GET', '/api/diag/outbox'],
  ['GET', '/api/diag/logs'],
  ['GET', '/api/diag/session'],
  ['POST', '/api/diag/logout'],
  ['POST', '/api/diag/test-print', {}],
  ['POST', '/api/diag/dropbox/led', { mode: 'BLINK' }],
  ['POST', '/api/diag/dropbox/unlock', { ms: 5000 }],
];

describe('diagnostics API without a session', () => {
  it('answers 401 on every diagnostics route and method, real or made up, and does nothing', async () => {
    const h = await start();
    const probes: [string, string, unknown?][] = [
      ...REAL_ROUTES,
      ['GET', '/api/diag'],
      ['GET', '/api/diag/'],
      ['POST', '/api/diag'],
      ['GET', '/api/diag/login'],
      ['DELETE', '/api/diag/login'],
      ['GET', '/api/diag/no-such-thing'],
      ['POST', '/api/diag/no/such/thing', {}],
      ['DELETE', '/api/diag/status'],
      ['GET', '/api/diag/../diag/status'],
      ['GET', '/api/diag/status?token=x'],
    ];
    for (const [method, path, body] of probes) {
      for (const auth of [{}, { token: 'not-a-token' }, { cookie: 'kiosk_diag=forged' }]) {
        const r = await req(h.url, method, path, { body, ...auth });
        expect({ method, path, auth, status: r.status }).toEqual({ method, path, auth, status: 401 });
        expect(r.body.error).toMatch(/unauthorized|session_expired/);
        expect(typeof r.body.message).toBe('string');
      }
    }
    expect(h.calls).toEqual({ testPrint: 0, led: [], unlock: [] });
    expect(h.events).toEqual([]);
  });

  it('answers 401, not 400/413/415/405, to unauthenticated requests with bad bodies or other methods', async () => {
    const h = await start();
    const raw = async (method: string, path: string, headers: Record<string, string>, body?: string) => (await fetch(h.url + path, { method, headers, ...(body !== undefined ? { body } : {}) })).status;
    expect(await raw('POST', '/api/diag/dropbox/unlock', { 'content-type': 'application/json' }, '{not json')).toBe(401);
    expect(await raw('POST', '/api/diag/test-print', { 'content-type': 'text/plain' }, 'print')).toBe(401);
    expect(await raw('POST', '/api/diag/dropbox/led', { 'content-type': 'application/json' }, JSON.stringify({ mode: 'x'.repeat(100_000) }))).toBe(401);
    expect(await raw('PUT', '/api/diag/status', {})).toBe(401);
    expect(await raw('PATCH', '/api/diag/dropbox/unlock', { 'content-type': 'application/json' }, '{}')).toBe(401);
    expect(h.calls).toEqual({ testPrint: 0, led: [], unlock: [] });
  });

  it('says diagnostics are disabled when the config has no diagnostics section', async () => {
    const h = await start({}, null);
    const r = await login(h);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('diagnostics_disabled');
    expect(r.body.message).toMatch(/disabled/);
    expect((await req(h.url, 'GET', '/api/diag/status')).status).toBe(401);
  });

  it('answers 400 to a login without a PIN string, without counting it as a wrong PIN', async () => {
    const h = await start();
    for (const body of [{}, { pin: 1234 }, { pin: '' }, { pin: 'x'.repeat(65) }]) {
      expect((await req(h.url, 'POST', '/api/diag/login', { body })).status).toBe(400);
    }
    expect(h.routes.auth.lockState().consecutiveFailures).toBe(0);
  });
});

describe('diagnostics login over HTTP', () => {
  it('returns a token and an HttpOnly, SameSite=Strict cookie limited to /api/diag', async () => {
    const h = await start();
    const r = await login(h);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ expiresInS: 300, maxAgeS: 8 * 3600 });
    expect(r.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = r.headers.get('set-cookie') ?? '';
    expect(cookie).toContain(`kiosk_diag=${r.body.token as string}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/api\/diag(;|$)/);
    expect(h.events.map((e) => e.type)).toEqual(['diag.login']);
  });

  it('accepts the session as a bearer token and as the cookie', async () => {
    const h = await start();
    const t = await token(h);
    expect((await req(h.url, 'GET', '/api/diag/status', { token: t })).status).toBe(200);
    expect((await req(h.url, 'GET', '/api/diag/status', { cookie: `other=1; kiosk_diag=${t}` })).status).toBe(200);
  });

  it('answers 401 to a wrong PIN, then 429 with a growing Retry-After after 5 in a row', async () => {
    const h = await start();
    for (let i = 1; i <= 5; i++) {
      const r = await login(h, '111111');
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: 'wrong_pin', attemptsBeforeLockout: 5 - i });
    }
    const locked = await login(h);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('30');
    expect(locked.body).toMatchObject({ error: 'locked_out', retryAfterS: 30 });
    h.advance(30_000);
    expect((await login(h, '111111')).status).toBe(401);
    const longer = await login(h);
    expect(longer.status).toBe(429);
    expect(longer.headers.get('retry-after')).toBe('60');
    h.advance(60_000);
    expect((await login(h)).status).toBe(200);
    expect(h.events.map((e) => e.type)).toEqual([
      ...Array(5).fill('diag.login_failed'),
      'diag.locked_out',
      'diag.login_failed',
      'diag.locked_out',
      'diag.login',
    ]);
  });

  it('refuses a session after the idle time on the clock, and records its end', async () => {
    const h = await start();
    const t = await token(h);
    h.advance(4 * 60_000);
    expect((await req(h.url, 'GET', '/api/diag/status', { token: t })).status).toBe(200);
    h.advance(5 * 60_000 + 1);
    const r = await req(h.url, 'GET', '/api/diag/status', { token: t });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('session_expired');
    expect(h.events.at(-1)).toMatchObject({ type: 'diag.logout', data: { reason: 'idle', durationS: 540 } });
  });

  it('refuses a replayed token after logout, and clears the cookie', async () => {
    const h = await start();
    const t = await token(h);
    const out = await req(h.url, 'POST', '/api/diag/logout', { token: t });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/kiosk_diag=;.*Max-Age=0/);
    expect((await req(h.url, 'GET', '/api/diag/status', { token: t })).status).toBe(401);
    expect((await req(h.url, 'GET', '/api/diag/status', { cookie: `kiosk_diag=${t}` })).status).toBe(401);
    expect(h.events.map((e) => e.type)).toEqual(['diag.login', 'diag.logout']);
  });
});

describe('diagnostics API with a session', () => {
  it('shows every device in detail: printer status bytes, board frames and counters, upstream and outbox', async () => {
    const h = await start();
    const r = await req(h.url, 'GET', '/api/diag/status', { token: await token(h) });
    expect(r.status).toBe(200);
    expect(r.body.at).toBe('2026-11-28T09:00:00.000Z');
    expect(r.body.printer).toMatchObject({ state: 'paper_near_end', rawStatus: ['16', '12', '12', '1e'], counters: { cuts: 43 } });
    expect(r.body.dropbox).toMatchObject({ door: 'closed', fillPercent: 35, dropCount: 7, pendingReset: null, recentFrames: ['$1199,HB,3600,7*4A', '$1200,FILL,35*1B'], counters: { malformedTotal: 3 } });
    expect(r.body.scanner).toEqual({ state: 'absent' });
    expect(r.body.upstream).toMatchObject({ connected: false, outboxDepth: 3, oldestEventAgeS: 95, lastAckAt: '2026-11-28T08:58:00.000Z', oldestEvent: { seq: 41 } });
  });

  it('keeps showing the other devices when one cannot be read', async () => {
    const h = await start({
      printer: () => {
        throw new Error('printer actor stopped');
      },
    });
    const r = await req(h.url, 'GET', '/api/diag/status', { token: await token(h) });
    expect(r.status).toBe(200);
    expect(r.body.printer).toEqual({ state: 'unavailable', error: 'printer actor stopped' });
    expect(r.body.dropbox).toMatchObject({ state: 'online' });
  });

  it('lists the outbox depth, the oldest event and recent event types without their data', async () => {
    const h = await start();
    const r = await req(h.url, 'GET', '/api/diag/outbox', { token: await token(h) });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      depth: 3,
      oldest: { seq: 41, ts: '2026-11-28T08:58:25.000Z', ageS: 95 },
      recent: [
        { seq: 42, type: 'dropbox.deposit', ts: '2026-11-28T08:59:00.000Z' },
        { seq: 43, type: 'dropbox.fill', ts: '2026-11-28T08:59:30.000Z' },
      ],
      full: false,
    });
  });

  it('tails the log ring, with personal fields already redacted by the logger', async () => {
    const h = await start();
    const log = createLogger({ destination: h.logRing, level: 'info' });
    for (let i = 1; i <= 5; i++) log.info({ n: i }, `line ${i}`);
    log.info({ niss: '12345678901' }, 'citizen scanned');
    const t = await token(h);
    const r = await req(h.url, 'GET', '/api/diag/logs?limit=3', { token: t });
    expect(r.status).toBe(200);
    const lines = r.body.lines as string[];
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'line 4' });
    expect(lines[2]).toContain('[redacted]');
    expect(lines.join('\n')).not.toContain('12345678901');
    expect((await req(h.url, 'GET', '/api/diag/logs?limit=0', { token: t })).status).toBe(400);
    expect((await req(h.url, 'GET', '/api/diag/logs?limit=abc', { token: t })).status).toBe(400);
  });

  it('prints a test ticket and records the action upstream', async () => {
    const h = await start();
    const r = await req(h.url, 'POST', '/api/diag/test-print', { token: await token(h), body: {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ printed: true });
    expect(h.calls.testPrint).toBe(1);
    expect(h.events.at(-1)).toMatchObject({ type: 'diag.action', data: { action: 'test_print', detail: 'printed' } });
  });

  it('answers 503 with the reason when the test ticket does not print', async () => {
    const h = await start({ actions: { testPrint: async () => ({ printed: false, detail: 'paper out' }), setSlotLight: null, unlockDoor: null } });
    const r = await req(h.url, 'POST', '/api/diag/test-print', { token: await token(h) });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'printer_unavailable', detail: 'paper out' });
    expect(r.body.message).toContain('paper out');
  });

  it('sets the slot light, and refuses a mode the board does not know', async () => {
    const h = await start();
    const t = await token(h);
    expect((await req(h.url, 'POST', '/api/diag/dropbox/led', { token: t, body: { mode: 'blink' } })).status).toBe(202);
    const bad = await req(h.url, 'POST', '/api/diag/dropbox/led', { token: t, body: { mode: 'DISCO' } });
    expect(bad.status).toBe(400);
    expect(h.calls.led).toEqual(['BLINK']);
    expect(h.events.at(-1)).toMatchObject({ type: 'diag.action', data: { action: 'slot_light', detail: 'BLINK' } });
  });

  it('unlocks the door for the configured time by default, or the time asked within bounds', async () => {
    const h = await start();
    const t = await token(h);
    expect((await req(h.url, 'POST', '/api/diag/dropbox/unlock', { token: t })).body).toEqual({ unlocking: true, ms: 30_000 });
    expect((await req(h.url, 'POST', '/api/diag/dropbox/unlock', { token: t, body: { ms: 5000 } })).status).toBe(202);
    for (const ms of [999, 600_001, 1.5, '5000']) {
      expect((await req(h.url, 'POST', '/api/diag/dropbox/unlock', { token: t, body: { ms } })).status).toBe(400);
    }
    expect(h.calls.unlock).toEqual([30_000, 5000]);
    expect(h.events.filter((e) => e.type === 'diag.action').map((e) => e.data)).toEqual([
      expect.objectContaining({ action: 'door_unlock', detail: '30000 ms' }),
      expect.objectContaining({ action: 'door_unlock', detail: '5000 ms' }),
    ]);
  });

  it('answers 409 for drop-box and printer actions on a kiosk without them', async () => {
    const h = await start({ dropbox: null, printer: null, actions: { testPrint: null, setSlotLight: null, unlockDoor: null } });
    const t = await token(h);
    expect((await req(h.url, 'POST', '/api/diag/dropbox/unlock', { token: t })).body.error).toBe('no_dropbox');
    expect((await req(h.url, 'POST', '/api/diag/dropbox/led', { token: t, body: { mode: 'ON' } })).status).toBe(409);
    expect((await req(h.url, 'POST', '/api/diag/test-print', { token: t })).body.error).toBe('no_printer');
    const status = await req(h.url, 'GET', '/api/diag/status', { token: t });
    expect(status.body.dropbox).toEqual({ state: 'absent' });
  });

  it('answers 404 for an unknown path and 405 for a wrong method once signed in', async () => {
    const h = await start();
    const t = await token(h);
    expect((await req(h.url, 'GET', '/api/diag/nothing', { token: t })).status).toBe(404);
    const wrong = await req(h.url, 'DELETE', '/api/diag/status', { token: t });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect((await req(h.url, 'GET', '/api/diag/login', { token: t })).status).toBe(405);
  });
});

describe('log ring', () => {
  it('keeps only the newest lines, joins lines split across writes, and passes everything on', () => {
    const forwarded: string[] = [];
    const ring = createLogRing(3, { forwardTo: { write: (c: string | Buffer) => forwarded.push(String(c)) } as unknown as NodeJS.WritableStream });
    ring.write('a\nb\n');
    ring.write('c\nd');
    expect(ring.lines()).toEqual(['a', 'b', 'c']);
    ring.write('e\n');
    expect(ring.lines()).toEqual(['b', 'c', 'de']);
    expect(ring.lines(2)).toEqual(['c', 'de']);
    expect(forwarded.join('')).toBe('a\nb\nc\nde\n');
  });
});
