/**
 * Follows the paper the printer uses and keeps the forecast (paperForecast.ts) current:
 *
 *  - every job the printer answers (anything but `refused`) is measured
 *    (estimateJobLengthMm, with the model's line pitch) and its length counts as paper used;
 *  - a roll change (technician's button, or the printer going from paper out back to
 *    ok) starts the count afresh and is recorded upstream as `printer.roll_changed`;
 *  - `printer.paper_forecast` goes upstream when the roll is first predicted empty
 *    within two hours, at most once an hour.
 *
 * Paper used since the roll change survives restarts (outbox state table), saved at
 * most once a minute so tickets do not pay an extra fsync each: a power cut loses at
 * most a minute of counting. The issue rate is kept in memory only; after a restart the
 * forecast waits until enough is seen again.
 */
import { every, systemClock, type Clock } from '../../kernel/clock.js';
import type { Logger } from '../log.js';
import type { PaperState, Printer } from '../facades/printer.js';
import type { EventLog, NewEvent } from '../upstream/events.js';
import {
  FORECAST_RATE_WINDOW_MS,
  estimateJobLengthMm,
  forecastPaper,
  formatEmptyAround,
  shouldAnnounceForecast,
  type PaperForecast,
  type PrintedLength,
} from './paperForecast.js';

/** How often the forecast is checked when nothing prints (time passes, the horizon nears). */
export const PAPER_FORECAST_CHECK_MS = 60_000;
/** Paper used is written to disk at most this often (and on stop, roll change, announcement). */
export const PAPER_STATE_SAVE_MS = 60_000;
export const PAPER_STATE_KEY = 'printer.paperUsage';
/** Tickets whose estimated length the running average follows. */
const TICKET_LENGTH_AVERAGE_OVER = 50;

interface StoredUsage {
  usedMm: number;
  tickets: number;
  rollChangedAt: number | null;
  lastAnnouncedAt: number | null;
  ticketMm: { avg: number; n: number };
}

export interface PaperWatchOptions {
  /** The printer; its profile gives the line pitch the jobs are measured with. */
  printer: Printer;
  rollLengthMm: number;
  /** `printer.ticketLengthMm` when configured; else the running estimate is used. */
  ticketLengthMm: number | null;
  /** Estimate before any ticket has printed (a typical ticket, see typicalTicketLengthMm). */
  defaultTicketLengthMm: number;
  timeZone: string;
  store: Pick<EventLog, 'append' | 'getState'>;
  log: Logger;
  clock?: Clock;
}

export type RollChangeReason = 'technician' | 'refilled_after_out';

export interface PaperForecastView extends PaperForecast {
  /** "HH:MM" in the kiosk's time zone, or null without a rate. */
  emptyAround: string | null;
  emptyAtIso: string | null;
  ticketLengthSource: 'configured' | 'estimated';
  rollChangedAt: string | null;
  paper: PaperState | null;
  lastAnnouncedAt: string | null;
}

export class PaperWatch {
  private readonly clock: Clock;
  private usage: StoredUsage;
  private readonly recent: PrintedLength[] = [];
  private readonly observedSince: number;
  private paper: PaperState | null;
  private dirty = false;
  private saveTimer: unknown = null;
  private stopChecks: (() => void) | null = null;
  private readonly offs: Array<() => void> = [];

  constructor(private readonly opts: PaperWatchOptions) {
    this.clock = opts.clock ?? systemClock;
    this.observedSince = this.clock.now();
    this.usage = loadUsage(opts.store.getState(PAPER_STATE_KEY));
    this.paper = opts.printer.status().paper;
  }

  start(): this {
    const { printer } = this.opts;
    this.offs.push(
      printer.onEvent((e) => {
        // Measured once answered, and after the answer has gone its way: off the ticket's path.
        if (e.type === 'jobAnswered' && e.outcome !== 'refused') {
          this.clock.setTimeout(() => this.paperUsed(estimateJobLengthMm(e.bytes, printer.profile), e.isTicket), 0);
        }
        if (e.type !== 'paper') return;
        const before = this.paper;
        this.paper = e.state;
        if (before === 'out' && e.state === 'ok') this.rollChanged('refilled_after_out');
        else this.check();
      }),
    );
    this.stopChecks = every(this.clock, PAPER_FORECAST_CHECK_MS, () => this.check());
    return this;
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    this.stopChecks?.();
    this.stopChecks = null;
    this.save();
  }

  /** A new roll is in: counting starts again (the printer's own counter too). */
  rollChanged(reason: RollChangeReason): void {
    if (reason === 'technician') this.opts.printer.rollChanged();
    this.usage = { ...this.usage, usedMm: 0, tickets: 0, rollChangedAt: this.clock.now(), lastAnnouncedAt: null };
    this.opts.log.info({ reason }, 'paper roll changed: paper count starts again');
    this.persist([{ type: 'printer.roll_changed', data: { reason } }]);
  }

  forecast(): PaperForecast {
    const now = this.clock.now();
    return forecastPaper({
      now,
      rollLengthMm: this.opts.rollLengthMm,
      ticketLengthMm: this.ticketLengthMm(),
      usedMm: this.usage.usedMm,
      ticketsSinceRollChange: this.usage.tickets,
      recent: this.recent,
      observedSince: this.observedSince,
      paper: this.paper,
    });
  }

  view(): PaperForecastView {
    const now = this.clock.now();
    const f = this.forecast();
    return {
      ...f,
      usedMm: Math.round(f.usedMm),
      remainingMm: Math.round(f.remainingMm),
      ticketLengthMm: Math.round(f.ticketLengthMm * 10) / 10,
      ticketsPerHour: f.ticketsPerHour === null ? null : Math.round(f.ticketsPerHour * 10) / 10,
      emptyAround: f.emptyAt === null ? null : formatEmptyAround(f.emptyAt, now, this.opts.timeZone),
      emptyAtIso: f.emptyAt === null ? null : new Date(f.emptyAt).toISOString(),
      ticketLengthSource: this.opts.ticketLengthMm !== null ? 'configured' : 'estimated',
      rollChangedAt: this.usage.rollChangedAt === null ? null : new Date(this.usage.rollChangedAt).toISOString(),
      paper: this.paper,
      lastAnnouncedAt: this.usage.lastAnnouncedAt === null ? null : new Date(this.usage.lastAnnouncedAt).toISOString(),
    };
  }

  /** Sends `printer.paper_forecast` when due (see shouldAnnounceForecast). */
  check(): void {
    const now = this.clock.now();
    const f = this.forecast();
    if (this.paper === 'out' || !shouldAnnounceForecast(f, now, this.usage.lastAnnouncedAt)) return;
    const emptyAt = f.emptyAt!;
    const data = {
      emptyAround: formatEmptyAround(emptyAt, now, this.opts.timeZone),
      emptyAt: new Date(emptyAt).toISOString(),
      ticketsLeft: f.ticketsLeft,
      ticketsPerHour: Math.round((f.ticketsPerHour ?? 0) * 10) / 10,
    };
    this.usage = { ...this.usage, lastAnnouncedAt: now };
    this.opts.log.warn(data, 'paper roll expected to run out soon');
    this.persist([{ type: 'printer.paper_forecast', data }]);
  }

  private ticketLengthMm(): number {
    if (this.opts.ticketLengthMm !== null) return this.opts.ticketLengthMm;
    return this.usage.ticketMm.n > 0 ? this.usage.ticketMm.avg : this.opts.defaultTicketLengthMm;
  }

  private paperUsed(mm: number, isTicket: boolean): void {
    const now = this.clock.now();
    const t = this.usage.ticketMm;
    const n = Math.min(t.n + 1, TICKET_LENGTH_AVERAGE_OVER);
    this.usage = {
      ...this.usage,
      usedMm: this.usage.usedMm + mm,
      tickets: this.usage.tickets + (isTicket ? 1 : 0),
      ticketMm: isTicket ? { avg: t.avg + (mm - t.avg) / n, n } : t,
    };
    this.recent.push({ at: now, mm });
    while (this.recent.length > 0 && this.recent[0]!.at <= now - FORECAST_RATE_WINDOW_MS) this.recent.shift();
    this.dirty = true;
    this.saveTimer ??= this.clock.setTimeout(() => {
      this.saveTimer = null;
      this.save();
    }, PAPER_STATE_SAVE_MS);
    this.check();
  }

  private save(): void {
    if (this.saveTimer !== null) this.clock.clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (this.dirty) this.persist([]);
  }

  private persist(events: NewEvent[]): void {
    try {
      this.opts.store.append(events, { [PAPER_STATE_KEY]: JSON.stringify(this.usage) });
      this.dirty = false;
    } catch (err) {
      this.dirty = true;
      this.opts.log.error({ err: (err as Error).message, events: events.map((e) => e.type) }, 'paper usage could not be stored; kept in memory');
    }
  }
}

function loadUsage(raw: string | null): StoredUsage {
  const fresh: StoredUsage = { usedMm: 0, tickets: 0, rollChangedAt: null, lastAnnouncedAt: null, ticketMm: { avg: 0, n: 0 } };
  if (raw === null) return fresh;
  try {
    const v = JSON.parse(raw) as Partial<StoredUsage>;
    const num = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : d);
    const orNull = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
    return {
      usedMm: num(v.usedMm, 0),
      tickets: Math.floor(num(v.tickets, 0)),
      rollChangedAt: orNull(v.rollChangedAt),
      lastAnnouncedAt: orNull(v.lastAnnouncedAt),
      ticketMm: { avg: num(v.ticketMm?.avg, 0), n: Math.floor(num(v.ticketMm?.n, 0)) },
    };
  } catch {
    return fresh;
  }
}
