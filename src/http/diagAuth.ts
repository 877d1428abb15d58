/**
 * Technician diagnostics sessions (CONTRACT §6): a PIN login guarded by a lockout that
 * grows with each wrong PIN, sessions that end after inactivity (sliding) or after an
 * absolute cap, and an upstream event for every login, failure, lockout and logout.
 *
 * No I/O beyond crypto: the clock and the event sink are handed in, so tests drive the
 * lockout and the expiry on a simulated clock. One lockout counter for the whole kiosk:
 * the API is on loopback, so every caller is the same caller. So that nobody can keep a
 * technician out with one wrong PIN every 15 minutes, the lockout ends when the board's
 * key switch is turned on (`endLockout`), and logins over the local socket (file
 * permissions, `local: true`) neither meet nor feed it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { NewEvent } from '../upstream/events.js';
import { verifyPin } from './pin.js';

/** Wrong PINs in a row that are answered 401 before attempts start meeting 429. */
export const LOCKOUT_AFTER_FAILURES = 5;
/** Lockout after the 5th wrong PIN; doubled for each further one. */
export const LOCKOUT_FIRST_DELAY_MS = 30_000;
export const LOCKOUT_MAX_DELAY_MS = 15 * 60_000;
/** A session ends this long after login even if it is used all the time. */
export const SESSION_MAX_AGE_MS = 8 * 60 * 60_000;
/** Open sessions kept at once; a new login beyond this ends the oldest. */
export const MAX_SESSIONS = 8;
/** 256-bit session tokens. */
const TOKEN_BYTES = 32;

export const DIAG_COOKIE = 'kiosk_diag';
export const DIAG_COOKIE_PATH = '/api/diag';

/** How long the kiosk refuses logins after `consecutiveFailures` wrong PINs in a row (0 = not locked). */
export function lockoutDelayMs(consecutiveFailures: number): number {
  if (consecutiveFailures < LOCKOUT_AFTER_FAILURES) return 0;
  const doublings = Math.min(consecutiveFailures - LOCKOUT_AFTER_FAILURES, 30);
  return Math.min(LOCKOUT_FIRST_DELAY_MS * 2 ** doublings, LOCKOUT_MAX_DELAY_MS);
}

export interface DiagSession {
  /** A random id for logs and events; not the token, useless to sign in with. */
  id: string;
  createdAt: number;
  lastSeenAt: number;
}

export type LogoutReason = 'logout' | 'idle' | 'max_age' | 'evicted';

export type LoginResult =
  | { ok: true; token: string; session: DiagSession; expiresInS: number; maxAgeS: number }
  | { ok: false; reason: 'disabled' }
  | { ok: false; reason: 'wrong_pin'; consecutiveFailures: number }
  | { ok: false; reason: 'locked'; retryAfterS: number };

export type AuthResult = { ok: true; session: DiagSession } | { ok: false; reason: 'missing' | 'unknown' | 'expired' };

export interface DiagAuthOptions {
  /** The scrypt string from `kiosk pin-hash`; null when diagnostics are not configured. */
  pinHash: string | null;
  sessionIdleMinutes: number;
  /** Puts diag.* events in the outbox. A failure to record is logged, never blocks a technician. */
  record: (event: NewEvent) => void;
  log: Logger;
  now?: () => number;
  maxAgeMs?: number;
}

export class DiagAuth {
  private readonly now: () => number;
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  /** Keyed by the SHA-256 of the token, so the tokens themselves are not kept. */
  private readonly sessions = new Map<string, DiagSession>();
  private consecutiveFailures = 0;
  private lockedUntil = 0;

  constructor(private readonly opts: DiagAuthOptions) {
    this.now = opts.now ?? Date.now;
    this.idleMs = opts.sessionIdleMinutes * 60_000;
    this.maxAgeMs = opts.maxAgeMs ?? SESSION_MAX_AGE_MS;
  }

  get enabled(): boolean {
    return this.opts.pinHash !== null;
  }

  get idleTimeoutS(): number {
    return this.idleMs / 1000;
  }

  /** Wrong PINs in a row, and how long logins are still refused. */
  lockState(): { consecutiveFailures: number; retryAfterS: number } {
    return { consecutiveFailures: this.consecutiveFailures, retryAfterS: Math.max(0, Math.ceil((this.lockedUntil - this.now()) / 1000)) };
  }

  openSessions(): number {
    return this.sessions.size;
  }

  async login(pin: string, opts: { local?: boolean } = {}): Promise<LoginResult> {
    this.sweep();
    const pinHash = this.opts.pinHash;
    if (pinHash === null) return { ok: false, reason: 'disabled' };
    if (opts.local) return this.localLogin(pin, pinHash);
    const started = this.now();
    if (started < this.lockedUntil) return { ok: false, reason: 'locked', retryAfterS: Math.ceil((this.lockedUntil - started) / 1000) };

    // Count before verifying: scrypt is slow, so concurrent guesses would otherwise all
    // pass the lock check. Each takes a slot now; the 5th engages the lock at once.
    this.consecutiveFailures += 1;
    const attempt = this.consecutiveFailures;
    const delay = lockoutDelayMs(attempt);
    if (delay > 0) this.lockedUntil = started + delay;

    const right = await verifyPin(pin, pinHash).catch(() => false);
    if (right) {
      this.consecutiveFailures = 0;
      this.lockedUntil = 0;
      return this.openSession();
    }
    this.recordEvent({ type: 'diag.login_failed', data: { consecutiveFailures: attempt } });
    this.opts.log.warn({ consecutiveFailures: attempt }, 'diagnostics: wrong PIN');
    if (delay > 0) {
      this.recordEvent({ type: 'diag.locked_out', data: { consecutiveFailures: attempt, retryAfterS: delay / 1000 } });
      this.opts.log.warn({ consecutiveFailures: attempt, retryAfterS: delay / 1000 }, 'diagnostics: logins locked after repeated wrong PINs');
    }
    return { ok: false, reason: 'wrong_pin', consecutiveFailures: attempt };
  }

  /**
   * The technician at the kiosk turned the key switch on: any lockout ends and the
   * count of wrong PINs starts again, so the next right PIN opens a session.
   */
  endLockout(reason: 'key_switch'): void {
    if (this.consecutiveFailures === 0 && this.lockedUntil === 0) return;
    this.consecutiveFailures = 0;
    this.lockedUntil = 0;
    this.recordEvent({ type: 'diag.lockout_ended', data: { reason } });
    this.opts.log.info({ reason }, 'diagnostics: lockout ended by the key switch');
  }

  /** Over the local socket only someone with the kiosk's own account can connect: no lockout. */
  private async localLogin(pin: string, pinHash: string): Promise<LoginResult> {
    const right = await verifyPin(pin, pinHash).catch(() => false);
    if (right) return this.openSession();
    this.recordEvent({ type: 'diag.login_failed', data: { consecutiveFailures: 0 } });
    this.opts.log.warn('diagnostics: wrong PIN on the local socket');
    return { ok: false, reason: 'wrong_pin', consecutiveFailures: 0 };
  }

  /** The session behind `token`, its idle timer restarted; expired sessions are ended here. */
  authenticate(token: string | null | undefined): AuthResult {
    if (!token) return { ok: false, reason: 'missing' };
    const key = tokenKey(token);
    const session = this.sessions.get(key);
    if (!session) {
      this.sweep();
      return { ok: false, reason: 'unknown' };
    }
    const expired = this.expiry(session, this.now());
    this.sweep();
    if (expired) return { ok: false, reason: 'expired' };
    session.lastSeenAt = this.now();
    return { ok: true, session };
  }

  /** Ends the session behind `token`; false when there was none (already ended). */
  logout(token: string | null | undefined): boolean {
    if (!token) return false;
    const key = tokenKey(token);
    const session = this.sessions.get(key);
    if (!session) return false;
    this.end(key, session, 'logout', this.now());
    return true;
  }

  /** Ends every session past its idle time or its absolute cap, recording each. */
  sweep(): void {
    const now = this.now();
    for (const [key, session] of this.sessions) {
      const expired = this.expiry(session, now);
      if (expired) this.end(key, session, expired.reason, expired.at);
    }
  }

  /** Ends every session (shutdown). */
  endAll(): void {
    const now = this.now();
    for (const [key, session] of this.sessions) this.end(key, session, 'logout', now);
  }

  private openSession(): LoginResult {
    const now = this.now();
    if (this.sessions.size >= MAX_SESSIONS) {
      const [oldestKey, oldest] = [...this.sessions].sort((a, b) => a[1].lastSeenAt - b[1].lastSeenAt)[0]!;
      this.end(oldestKey, oldest, 'evicted', now);
    }
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const session: DiagSession = { id: randomBytes(6).toString('hex'), createdAt: now, lastSeenAt: now };
    this.sessions.set(tokenKey(token), session);
    this.recordEvent({ type: 'diag.login', data: { session: session.id } });
    this.opts.log.info({ session: session.id }, 'diagnostics: technician signed in');
    return { ok: true, token, session, expiresInS: this.idleMs / 1000, maxAgeS: this.maxAgeMs / 1000 };
  }

  private expiry(session: DiagSession, now: number): { reason: 'idle' | 'max_age'; at: number } | null {
    const capAt = session.createdAt + this.maxAgeMs;
    const idleAt = session.lastSeenAt + this.idleMs;
    if (now >= Math.min(capAt, idleAt)) return capAt <= idleAt ? { reason: 'max_age', at: capAt } : { reason: 'idle', at: idleAt };
    return null;
  }

  private end(key: string, session: DiagSession, reason: LogoutReason, at: number): void {
    this.sessions.delete(key);
    const durationS = Math.max(0, Math.round((at - session.createdAt) / 1000));
    this.recordEvent({ type: 'diag.logout', data: { session: session.id, reason, durationS } });
    this.opts.log.info({ session: session.id, reason, durationS }, 'diagnostics: session ended');
  }

  private recordEvent(event: NewEvent): void {
    try {
      this.opts.record(event);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, type: event.type }, 'diagnostics: could not record the event upstream');
    }
  }
}

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The token from `Authorization: Bearer …`, else from the `kiosk_diag` cookie. */
export function tokenFromHeaders(headers: { authorization?: string | undefined; cookie?: string | undefined }): string | null {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1]!;
  }
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === DIAG_COOKIE) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

export function sessionCookie(token: string, maxAgeS: number): string {
  return `${DIAG_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=${DIAG_COOKIE_PATH}; Max-Age=${Math.floor(maxAgeS)}`;
}

export function clearedSessionCookie(): string {
  return `${DIAG_COOKIE}=; HttpOnly; SameSite=Strict; Path=${DIAG_COOKIE_PATH}; Max-Age=0`;
}
