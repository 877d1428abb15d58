/**
 * Offline ticket numbers (CONTRACT §5): issued by the kiosk itself when central is
 * silent. Pure: the counter state goes in and out as data; TicketLedger stores it.
 *
 * Format: `<service prefix>[*]-<kiosk tag>-<nnn>`, e.g. `P-K1-007`, priority `P*-K1-008`.
 *  - Never equal to a central number: central numbers are a prefix, an optional `*` and
 *    digits (`P042`, `P*001`, `A001`) and never contain `-`; every offline number does.
 *  - Distinct between kiosks of one office: the kiosk tag (the last segment of
 *    `kiosk.id`, e.g. "lisboa-01-k1" → "K1") is in the number, so two kiosks offline at
 *    the same time do not hand out the same paper number.
 *  - Unique per kiosk and office day across restarts: one counter per service, kept
 *    durably, restarted at 1 only when the office's local date moves forward (a clock
 *    stepped back keeps counting, so it cannot repeat a number).
 * It is printed at 4× width (12 columns of 48): short enough for one line.
 */

import { dateTimeFormat } from '../timeFormat.js';

/** State key (outbox state table) of the offline counters. */
export const OFFLINE_SEQ_STATE_KEY = 'tickets.offlineSeq';
/** The kiosk tag keeps at most this many characters (the end of the last id segment). */
export const KIOSK_TAG_MAX_LENGTH = 4;

export interface OfflineSeqState {
  /** The office day ("YYYY-MM-DD", local to the office) the counters belong to. */
  day: string;
  /** Last number issued per service id on that day. */
  last: Record<string, number>;
}

/** The office's local date of `at`, "YYYY-MM-DD". */
export function officeDay(at: Date, timeZone: string): string {
  const parts = dateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (t: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** "lisboa-01-k1" → "K1", "kiosk7" → "OSK7": letters and digits, upper case, the last four. */
export function kioskTag(kioskId: string): string {
  const segments = kioskId.split(/[-_]/).filter((s) => /[A-Za-z0-9]/.test(s));
  const last = (segments.at(-1) ?? kioskId).replace(/[^A-Za-z0-9]/g, '').toUpperCase();
  return (last.length > 0 ? last : 'K').slice(-KIOSK_TAG_MAX_LENGTH);
}

export function formatOfflineNumber(prefix: string, priority: boolean, tag: string, n: number): string {
  return `${prefix}${priority ? '*' : ''}-${tag}-${String(n).padStart(3, '0')}`;
}

/** True for a number this module made (central's never contain "-"). */
export function isOfflineNumber(ticket: string): boolean {
  return ticket.includes('-');
}

export function parseOfflineSeqState(raw: string | null): OfflineSeqState | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const { day, last } = v as { day?: unknown; last?: unknown };
    if (typeof day !== 'string' || typeof last !== 'object' || last === null) return null;
    const counters: Record<string, number> = {};
    for (const [k, n] of Object.entries(last)) if (Number.isSafeInteger(n) && (n as number) > 0) counters[k] = n as number;
    return { day, last: counters };
  } catch {
    return null;
  }
}

/**
 * The next number for `serviceId` on office day `day`, and the counter state to store
 * with it. A later day starts again at 1; an earlier day (clock stepped back) does not.
 */
export function nextOfflineSeq(state: OfflineSeqState | null, serviceId: string, day: string): { n: number; state: OfflineSeqState } {
  const current = state === null || day > state.day ? { day, last: {} } : state;
  const n = (current.last[serviceId] ?? 0) + 1;
  return { n, state: { day: current.day, last: { ...current.last, [serviceId]: n } } };
}
