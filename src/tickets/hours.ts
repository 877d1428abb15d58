/**
 * Opening hours (CONTRACT §2 `hours`): is the office open, may a ticket be issued, when
 * does it close, when does it next open. Pure: `now` is always a parameter, no timers.
 *
 * Every "HH:MM" is local wall time in `hours.timezone` on that date, converted through
 * Intl (Node 20 has no Temporal), so the DST days come out right:
 *  - a wall time that does not exist (spring gap, Lisbon 01:00–02:00 on the last Sunday
 *    of March) maps forward by the gap: "01:30" is 02:30 WEST;
 *  - a wall time that happens twice (autumn overlap, Lisbon 01:00–02:00 on the last
 *    Sunday of October) is its first occurrence (the summer-time one), so an office never
 *    opens an hour late. Both rules are Temporal's "compatible" disambiguation.
 * "24:00" as an end means midnight at the end of that date; adjacent periods merge, so
 * mon ["18:00","24:00"] + tue ["00:00","02:00"] is one period closing Tuesday 02:00.
 */
import type { HoursConfig } from '../config/schema.js';
import { dateTimeFormat } from '../timeFormat.js';

/** How far ahead `nextOpening` looks: two weeks covers any holiday bridge. */
export const OPENING_SEARCH_DAYS = 14;

const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = 86_400_000;

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** Indexed by `Date.getUTCDay()` of a calendar date (0 = Sunday). */
const WEEKDAY_BY_UTC_DAY: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WEEK: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

// The machine's vocabulary (src/machines/ticketMachine.ts): tickets/ imports machines/, never the reverse.
export type { TicketDecision } from '../machines/ticketMachine.js';
import type { TicketDecision } from '../machines/ticketMachine.js';

/** A half-open period [start, end) in epoch ms; ±Infinity for "always". */
interface Period {
  start: number;
  end: number;
}

const ALWAYS: readonly Period[] = [{ start: -Infinity, end: Infinity }];

export function isOpen(hours: HoursConfig | undefined, now: Date): boolean {
  if (!hours) return true;
  const t = now.getTime();
  return openPeriods(hours, now).some((p) => p.start <= t && t < p.end);
}

/** When the current opening period ends; null when closed now or never closing. */
export function currentClosingTime(hours: HoursConfig | undefined, now: Date): Date | null {
  if (!hours) return null;
  const t = now.getTime();
  const p = openPeriods(hours, now).find((q) => q.start <= t && t < q.end);
  return p ? toDate(p.end) : null;
}

/**
 * The start of the first opening period that begins after `now` (so while open, the one
 * after the current one); null when always open or nothing opens within the search window.
 */
export function nextOpening(hours: HoursConfig | undefined, now: Date): Date | null {
  if (!hours) return null;
  const t = now.getTime();
  const p = openPeriods(hours, now).find((q) => q.start > t);
  return p ? toDate(p.start) : null;
}

/**
 * Whether a ticket for a service may be issued now: the kiosk's hours and the service's
 * own hours must both be open, and neither may be within its `cutoffMinutes` of closing.
 * `nextOpening` on refusal is the next moment a ticket could be issued.
 */
export function canIssueTicket(
  kioskHours: HoursConfig | undefined,
  serviceHours: HoursConfig | undefined,
  now: Date,
): TicketDecision {
  const t = now.getTime();
  const kioskOpen = kioskHours ? openPeriods(kioskHours, now) : ALWAYS;
  const serviceOpen = serviceHours ? openPeriods(serviceHours, now) : ALWAYS;
  const windows = intersect(
    ticketWindows(kioskOpen, kioskHours?.cutoffMinutes ?? 0),
    ticketWindows(serviceOpen, serviceHours?.cutoffMinutes ?? 0),
  );
  const current = windows.find((w) => w.start <= t && t < w.end);
  if (current) {
    const open = intersect(kioskOpen, serviceOpen).find((p) => p.start <= t && t < p.end);
    return { ok: true, closesAt: open ? toDate(open.end) : null, ticketsUntil: toDate(current.end) };
  }
  const bothOpen = isOpen(kioskHours, now) && isOpen(serviceHours, now);
  const next = windows.find((w) => w.start > t);
  return { ok: false, reason: bothOpen ? 'cutoff' : 'closed', nextOpening: next ? toDate(next.start) : null };
}

const DAY_NAMES: Record<'pt' | 'en', Record<Weekday, string>> = {
  pt: { mon: 'Seg', tue: 'Ter', wed: 'Qua', thu: 'Qui', fri: 'Sex', sat: 'Sáb', sun: 'Dom' },
  en: { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' },
};
const CLOSED_WORD = { pt: 'encerrado', en: 'closed' } as const;
const ALWAYS_OPEN_LINE = { pt: 'Aberto todos os dias, 24 horas', en: 'Open every day, 24 hours' } as const;

/**
 * The weekly schedule as lines for the closed screen, Monday first, consecutive days with
 * the same periods grouped: ["Seg–Sex 09:00–16:00", "Sáb–Dom encerrado"].
 */
export function describeWeek(hours: HoursConfig | undefined, locale: string): string[] {
  const lang = locale.toLowerCase().startsWith('pt') ? 'pt' : 'en';
  if (!hours) return [ALWAYS_OPEN_LINE[lang]];
  const describeDay = (d: Weekday): string => {
    const periods = hours.weekly[d] ?? [];
    return periods.length === 0 ? CLOSED_WORD[lang] : periods.map(([a, b]) => `${a}–${b}`).join(', ');
  };
  const groups: { from: Weekday; to: Weekday; text: string }[] = [];
  for (const d of WEEK) {
    const text = describeDay(d);
    const last = groups.at(-1);
    if (last && last.text === text) last.to = d;
    else groups.push({ from: d, to: d, text });
  }
  const names = DAY_NAMES[lang];
  return groups.map((g) => `${g.from === g.to ? names[g.from] : `${names[g.from]}–${names[g.to]}`} ${g.text}`);
}

// ---------------------------------------------------------------------------------------
// Periods

/**
 * The merged opening periods from the day before `now`'s local date to
 * OPENING_SEARCH_DAYS (+1) after it, sorted. A period still open at the end of that
 * window has been open without a break for two weeks (a 24/7 schedule): it never closes.
 */
function openPeriods(hours: HoursConfig, now: Date): Period[] {
  const tz = hours.timezone;
  const today = wallClock(now.getTime(), tz);
  const closed = new Set(hours.closedDates);
  const periods: Period[] = [];
  const lastDay = OPENING_SEARCH_DAYS + 1;
  const windowEnd = localToInstant({ ...addDays(today, lastDay + 1), hour: 0, minute: 0 }, tz);
  for (let offset = -1; offset <= lastDay; offset++) {
    const date = addDays(today, offset);
    const weekday = WEEKDAY_BY_UTC_DAY[new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay()];
    if (!weekday || closed.has(isoDate(date))) continue;
    for (const [from, to] of hours.weekly[weekday] ?? []) {
      const start = localToInstant({ ...date, ...parseHhmm(from) }, tz);
      const end = localToInstant({ ...date, ...parseHhmm(to) }, tz);
      if (end > start) periods.push({ start, end });
    }
  }
  const merged = merge(periods);
  const last = merged.at(-1);
  if (last && last.end >= windowEnd) last.end = Infinity;
  return merged;
}

/** Each period shortened by the cut-off; periods left empty disappear. */
function ticketWindows(periods: readonly Period[], cutoffMinutes: number): Period[] {
  const cut = cutoffMinutes * MS_PER_MINUTE;
  return periods.map((p) => ({ start: p.start, end: p.end - cut })).filter((p) => p.end > p.start);
}

function merge(periods: Period[]): Period[] {
  const sorted = [...periods].sort((a, b) => a.start - b.start);
  const out: Period[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last && p.start <= last.end) last.end = Math.max(last.end, p.end);
    else out.push({ ...p });
  }
  return out;
}

function intersect(a: readonly Period[], b: readonly Period[]): Period[] {
  const out: Period[] = [];
  for (const p of a) {
    for (const q of b) {
      const start = Math.max(p.start, q.start);
      const end = Math.min(p.end, q.end);
      if (end > start) out.push({ start, end });
    }
  }
  return merge(out);
}

function toDate(ms: number): Date | null {
  return Number.isFinite(ms) ? new Date(ms) : null;
}

// ---------------------------------------------------------------------------------------
// Wall-clock arithmetic in an IANA zone through Intl

interface LocalDate {
  year: number;
  month: number; // 1–12
  day: number;
}
interface LocalDateTime extends LocalDate {
  hour: number; // 0–24 ("24:00" = next midnight)
  minute: number;
}

function formatterFor(tz: string): Intl.DateTimeFormat {
  return dateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
}

/** The wall clock in `tz` at instant `ms`, read back as if it were UTC (ms). */
function wallAsUtc(ms: number, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(tz).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const n = (k: string): number => parts[k] ?? 0;
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour') % 24, n('minute'), n('second'));
}

/** The zone's offset from UTC at instant `ms` (positive east of Greenwich). */
function offsetAt(ms: number, tz: string): number {
  const whole = Math.floor(ms / 1000) * 1000; // Intl drops milliseconds
  return wallAsUtc(whole, tz) - whole;
}

function wallClock(ms: number, tz: string): LocalDate {
  const d = new Date(wallAsUtc(ms, tz));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * The instant at which the wall clock in `tz` shows `local`. Offsets a day either side
 * give the two candidates; both valid = overlap (take the earlier), none valid = gap
 * (apply the offset in force before it, which lands after the gap).
 */
function localToInstant(local: LocalDateTime, tz: string): number {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const before = offsetAt(wall - MS_PER_DAY, tz);
  const after = offsetAt(wall + MS_PER_DAY, tz);
  const candidates = [wall - before, wall - after].filter((t) => wallAsUtc(t, tz) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before;
}

function addDays(d: LocalDate, days: number): LocalDate {
  const x = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: x.getUTCFullYear(), month: x.getUTCMonth() + 1, day: x.getUTCDate() };
}

function isoDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

function parseHhmm(s: string): { hour: number; minute: number } {
  const [h, m] = s.split(':');
  return { hour: Number(h), minute: Number(m) };
}
