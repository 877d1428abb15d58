import { beforeAll, describe, expect, it } from 'vitest';
import {
  DiagAuth,
  LOCKOUT_AFTER_FAILURES,
  LOCKOUT_FIRST_DELAY_MS,
  LOCKOUT_MAX_DELAY_MS,
  SESSION_MAX_AGE_MS,
  lockoutDelayMs,
  tokenFromHeaders,
} from '../src/http/diagAuth.js';
import { hashPin } from '../src/http/pin.js';
import { silentLogger } from '../src/log.js';
import type { NewEvent } from '../src/upstream/events.js';

const PIN = '482913';
const WRONG = '000000';
let pinHash: string;

beforeAll(async () => {
  // One real scrypt hash for the whole file; verifyPin stays at production cost.
  pinHash = await hashPin(PIN);
});

function setup(opts: { idleMinutes?: number; pinHash?: string | null } = {}) {
  let now = Date.parse('2026-11-28T09:00:00Z');
  const events: NewEvent[] = [];
  const auth = new DiagAuth({
    pinHash: opts.pinHash === undefined ? pinHash : opts.pinHash,
    sessionIdleMinutes: opts.idleMinutes ?? 5,
    record: (e) => events.push(e),
    log: silentLogger(),
    now: () => now,
  });
  return {
    auth,
    events,
    advance: (ms: number) => (now += ms),
    ofType: (type: string) => events.filter((e) => e.type === type).map((e) => e.data),
  };
}

async function failTimes(auth: DiagAuth, n: number) {
  for (let i = 0; i < n; i++) {
    const r = await auth.login(WRONG);
    expect(r).toMatchObject({ ok: false, reason: 'wrong_pin' });
  }
}

describe('diagnostics PIN lockout', () => {
  it('waits 30 s after the 5th wrong PIN, doubling for each further one, never more than 15 minutes', () => {
    expect([1, 4].map(lockoutDelayMs)).toEqual([0, 0]);
    expect([5, 6, 7, 8, 9, 10, 11, 50].map((n) => lockoutDelayMs(n) / 1000)).toEqual([30, 60, 120, 240, 480, 900, 900, 900]);
    expect(lockoutDelayMs(LOCKOUT_AFTER_FAILURES)).toBe(LOCKOUT_FIRST_DELAY_MS);
    expect(lockoutDelayMs(1000)).toBe(LOCKOUT_MAX_DELAY_MS);
  });

  it('refuses even the right PIN for 30 s after 5 wrong PINs in a row, then lets it in', async () => {
    const { auth, advance } = setup();
    await failTimes(auth, 5);
    expect(await auth.login(PIN)).toEqual({ ok: false, reason: 'locked', retryAfterS: 30 });
    advance(29_000);
    expect(await auth.login(PIN)).toEqual({ ok: false, reason: 'locked', retryAfterS: 1 });
    advance(1_000);
    expect(await auth.login(PIN)).toMatchObject({ ok: true });
    expect(auth.lockState()).toEqual({ consecutiveFailures: 0, retryAfterS: 0 });
  });

  it('makes each wrong PIN after the lockout wait longer: 60 s, then 120 s', async () => {
    const { auth, advance } = setup();
    await failTimes(auth, 5);
    advance(30_000);
    await failTimes(auth, 1);
    expect(await auth.login(PIN)).toEqual({ ok: false, reason: 'locked', retryAfterS: 60 });
    advance(60_000);
    await failTimes(auth, 1);
    expect(await auth.login(PIN)).toEqual({ ok: false, reason: 'locked', retryAfterS: 120 });
    advance(119_999);
    expect(await auth.login(PIN)).toMatchObject({ ok: false, reason: 'locked' });
    advance(1);
    expect(await auth.login(PIN)).toMatchObject({ ok: true });
  });

  it('does not count attempts refused during the lockout as further wrong PINs', async () => {
    const { auth, advance } = setup();
    await failTimes(auth, 5);
    for (let i = 0; i < 10; i++) expect(await auth.login(WRONG)).toMatchObject({ reason: 'locked' });
    expect(auth.lockState().consecutiveFailures).toBe(5);
    advance(30_000);
    await failTimes(auth, 1);
    expect(auth.lockState()).toEqual({ consecutiveFailures: 6, retryAfterS: 60 });
  });

  it('starts counting again from zero after a successful login', async () => {
    const { auth, advance } = setup();
    await failTimes(auth, 4);
    expect(await auth.login(PIN)).toMatchObject({ ok: true });
    await failTimes(auth, 4);
    expect(await auth.login(PIN)).toMatchObject({ ok: true });
    advance(1);
    expect(auth.lockState().consecutiveFailures).toBe(0);
  });

  it('gives many simultaneous wrong guesses no more than 5 tries before the lockout', async () => {
    const { auth } = setup();
    const results = await Promise.all(Array.from({ length: 12 }, () => auth.login(WRONG)));
    expect(results.filter((r) => !r.ok && r.reason === 'wrong_pin')).toHaveLength(5);
    expect(results.filter((r) => !r.ok && r.reason === 'locked')).toHaveLength(7);
    // The right PIN sent alongside is refused too: the lock is on.
    expect(await auth.login(PIN)).toMatchObject({ ok: false, reason: 'locked' });
  });

  it('answers "disabled" to every PIN when diagnostics are not configured', async () => {
    const { auth, events } = setup({ pinHash: null });
    expect(auth.enabled).toBe(false);
    expect(await auth.login(PIN)).toEqual({ ok: false, reason: 'disabled' });
    expect(events).toEqual([]);
  });
});

describe('diagnostics sessions', () => {
  it('ends a session after the configured minutes without use, and every use restarts that time', async () => {
    const { auth, advance } = setup({ idleMinutes: 5 });
    const r = await auth.login(PIN);
    if (!r.ok) throw new Error('login failed');
    expect(r.expiresInS).toBe(300);
    advance(4 * 60_000);
    expect(auth.authenticate(r.token)).toMatchObject({ ok: true });
    advance(4 * 60_000);
    expect(auth.authenticate(r.token)).toMatchObject({ ok: true });
    advance(5 * 60_000);
    expect(auth.authenticate(r.token)).toEqual({ ok: false, reason: 'expired' });
    expect(auth.authenticate(r.token)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('ends a session 8 hours after login even when it is used all the time', async () => {
    const { auth, advance, ofType } = setup({ idleMinutes: 5 });
    const r = await auth.login(PIN);
    if (!r.ok) throw new Error('login failed');
    for (let t = 0; t < SESSION_MAX_AGE_MS - 60_000; t += 60_000) {
      advance(60_000);
      expect(auth.authenticate(r.token).ok).toBe(true);
    }
    advance(60_000);
    expect(auth.authenticate(r.token)).toEqual({ ok: false, reason: 'expired' });
    expect(ofType('diag.logout')).toEqual([{ session: r.session.id, reason: 'max_age', durationS: 8 * 3600 }]);
  });

  it('refuses a token after logout', async () => {
    const { auth } = setup();
    const r = await auth.login(PIN);
    if (!r.ok) throw new Error('login failed');
    expect(auth.logout(r.token)).toBe(true);
    expect(auth.authenticate(r.token)).toEqual({ ok: false, reason: 'unknown' });
    expect(auth.logout(r.token)).toBe(false);
  });

  it('refuses a missing or made-up token', () => {
    const { auth } = setup();
    expect(auth.authenticate(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(auth.authenticate('x'.repeat(43))).toEqual({ ok: false, reason: 'unknown' });
  });

  it('gives each login its own 256-bit token', async () => {
    const { auth } = setup();
    const a = await auth.login(PIN);
    const b = await auth.login(PIN);
    if (!a.ok || !b.ok) throw new Error('login failed');
    expect(Buffer.from(a.token, 'base64url')).toHaveLength(32);
    expect(a.token).not.toBe(b.token);
    expect(a.session.id).not.toBe(b.session.id);
  });

  it('ends idle sessions on a sweep even when nobody uses them again', async () => {
    const { auth, advance, ofType } = setup({ idleMinutes: 2 });
    const r = await auth.login(PIN);
    if (!r.ok) throw new Error('login failed');
    advance(10 * 60_000);
    auth.sweep();
    expect(auth.openSessions()).toBe(0);
    // The recorded duration is when it expired, not when the sweep noticed.
    expect(ofType('diag.logout')).toEqual([{ session: r.session.id, reason: 'idle', durationS: 120 }]);
  });
});

describe('diagnostics events upstream', () => {
  it('records every login, wrong PIN, lockout and logout, without the PIN or the token', async () => {
    const { auth, events, advance } = setup();
    await failTimes(auth, 5);
    advance(30_000);
    const r = await auth.login(PIN);
    if (!r.ok) throw new Error('login failed');
    auth.logout(r.token);
    expect(events.map((e) => e.type)).toEqual([
      'diag.login_failed',
      'diag.login_failed',
      'diag.login_failed',
      'diag.login_failed',
      'diag.login_failed',
      'diag.locked_out',
      'diag.login',
      'diag.logout',
    ]);
    expect(events[4]!.data).toEqual({ consecutiveFailures: 5 });
    expect(events[5]!.data).toEqual({ consecutiveFailures: 5, retryAfterS: 30 });
    expect(events[7]!.data).toEqual({ session: r.session.id, reason: 'logout', durationS: 0 });
    const text = JSON.stringify(events);
    expect(text).not.toContain(PIN);
    expect(text).not.toContain(WRONG);
    expect(text).not.toContain(r.token);
  });

  it('still lets the technician in when the event cannot be recorded (outbox full)', async () => {
    let now = 0;
    const auth = new DiagAuth({
      pinHash,
      sessionIdleMinutes: 5,
      record: () => {
        throw new Error('outbox full');
      },
      log: silentLogger(),
      now: () => now++,
    });
    expect(await auth.login(PIN)).toMatchObject({ ok: true });
  });
});

describe('diagnostics token transport', () => {
  it('takes the token from a bearer header first, else from the kiosk_diag cookie', () => {
    expect(tokenFromHeaders({ authorization: 'Bearer abc' })).toBe('abc');
    expect(tokenFromHeaders({ cookie: 'theme=dark; kiosk_diag=def; other=1' })).toBe('def');
    expect(tokenFromHeaders({ authorization: 'Bearer abc', cookie: 'kiosk_diag=def' })).toBe('abc');
    expect(tokenFromHeaders({ authorization: 'Basic abc' })).toBeNull();
    expect(tokenFromHeaders({ cookie: 'kiosk_diag=' })).toBeNull();
    expect(tokenFromHeaders({})).toBeNull();
  });
});
