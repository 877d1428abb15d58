/**
 * The paper forecast: job lengths estimated from the printer bytes, "roll empty around
 * HH:MM" from paper used and the issue rate, and the upstream warning's timing — on a
 * simulated clock, with the real printer machine on a fake device.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { encodeLines, encodeTicket, type TicketContent } from '../devices/printer/ticketLayout.js';
import type { PrintResult, PrinterDevice } from '../devices/printer/printerDriver.js';
import type { PrinterCloseInfo } from '../devices/printer/printerTransport.js';
import type { PrinterStatus } from '../devices/printer/statusProtocol.js';
import { silentLogger } from '../src/log.js';
import { printerFacade, type Printer } from '../src/facades/printer.js';
import { printerProfile } from '../devices/printer/models/index.js';
import { createPrinterMachine, type PrinterActor } from '../src/machines/printerMachine.js';
import { STATUS_POLL_MS } from '../src/machines/printerDelays.js';
import {
  FORECAST_ANNOUNCE_HORIZON_MS,
  estimateJobLengthMm,
  forecastPaper,
  formatEmptyAround,
  qrModules,
  shouldAnnounceForecast,
  typicalTicketLengthMm,
  type PaperForecastInput,
} from '../src/printer/paperForecast.js';
import { PAPER_STATE_KEY, PaperWatch } from '../src/printer/paperWatch.js';
import type { EventLog, NewEvent } from '../src/upstream/events.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

function ticket(over: Partial<TicketContent> = {}): TicketContent {
  return {
    number: 'P042',
    serviceName: 'Prestações',
    office: 'Lisboa',
    issuedAt: new Date('2026-11-28T09:15:00Z'),
    timeZone: 'Europe/Lisbon',
    locale: 'pt-PT',
    peopleAhead: 3,
    waitMin: { low: 10, high: 20 },
    qrUrl: 'https://siga.seg-social.pt/t/lisboa-01/P042',
    contactLine: '',
    onlineHint: false,
    likelyNotServedBeforeClosing: false,
    offline: false,
    kind: 'ticket',
    ...over,
  };
}

describe('ticket length estimated from the print job', () => {
  it('a queue ticket comes out between 9 and 20 cm on both printer models', () => {
    for (const type of ['epson', 'star'] as const) {
      const mm = estimateJobLengthMm(encodeTicket(ticket(), { type }), type);
      expect(mm).toBeGreaterThan(90);
      expect(mm).toBeLessThan(200);
    }
    expect(typicalTicketLengthMm('epson')).toBeGreaterThan(90);
  });

  it('each extra line adds one line pitch (1/6 inch ≈ 4.25 mm)', () => {
    const short = estimateJobLengthMm(encodeLines(['a'], { type: 'epson' }), 'epson');
    const long = estimateJobLengthMm(encodeLines(['a', 'b', 'c', 'd', 'e'], { type: 'epson' }), 'epson');
    expect(long - short).toBeCloseTo(4 * 4.25, 0);
  });

  it('large characters, a QR code and feeds make a ticket longer', () => {
    const withQr = estimateJobLengthMm(encodeTicket(ticket(), { type: 'epson' }), 'epson');
    const withoutQr = estimateJobLengthMm(encodeTicket(ticket({ qrUrl: '' }), { type: 'epson' }), 'epson');
    // A ~43-byte URL at level M is version 4: 33 modules (+2 quiet) × 6 dots, plus the "follow" lines.
    expect(qrModules(43, 'M')).toBe(33);
    expect(withQr - withoutQr).toBeGreaterThan((35 * 6) / 8);
    const feed = Buffer.from([0x1b, 0x64, 0x04]); // ESC d 4
    expect(estimateJobLengthMm(feed, 'epson')).toBeCloseTo((4 * 34) / 8, 5);
    const big = Buffer.from([0x1d, 0x21, 0x33, 0x41, 0x0a]); // GS ! 4×4, "A", LF
    expect(estimateJobLengthMm(big, 'epson')).toBeCloseTo((4 * 24) / 8, 5);
  });

  it('never throws on garbage or truncated commands', () => {
    for (const bytes of [Buffer.from([0x1d, 0x28]), Buffer.from([0x1b]), Buffer.alloc(64, 0xff), Buffer.from([0x1d, 0x76, 0x30, 0, 1, 0, 255, 255])]) {
      expect(Number.isFinite(estimateJobLengthMm(bytes, 'epson'))).toBe(true);
    }
  });
});

describe('the forecast', () => {
  const now = Date.parse('2026-11-28T10:00:00Z');
  const base = (over: Partial<PaperForecastInput> = {}): PaperForecastInput => ({
    now,
    rollLengthMm: 80_000,
    ticketLengthMm: 125,
    usedMm: 75_000,
    ticketsSinceRollChange: 600,
    recent: Array.from({ length: 30 }, (_, i) => ({ at: now - i * 2 * MIN, mm: 125 })), // 30 an hour
    observedSince: now - 8 * HOUR,
    paper: 'ok',
    ...over,
  });

  it('tickets per roll is the roll length over the ticket length', () => {
    expect(forecastPaper(base()).ticketsPerRoll).toBe(640);
  });

  it('5 m left at 30 tickets of 12.5 cm an hour: 40 tickets, empty in 80 minutes', () => {
    const f = forecastPaper(base());
    expect(f.remainingMm).toBe(5000);
    expect(f.ticketsLeft).toBe(40);
    expect(f.ticketsPerHour).toBeCloseTo(30, 5);
    expect(f.emptyAt! - now).toBe(80 * MIN);
    expect(formatEmptyAround(f.emptyAt!, now, 'Europe/Lisbon')).toBe('11:20');
  });

  it('gives no time before it has seen enough tickets over enough time', () => {
    expect(forecastPaper(base({ observedSince: now - 5 * MIN })).emptyAt).toBeNull();
    expect(forecastPaper(base({ recent: [{ at: now - MIN, mm: 125 }] })).emptyAt).toBeNull();
    // Jobs older than the hour do not count.
    expect(forecastPaper(base({ recent: base().recent.map((j) => ({ ...j, at: j.at - 2 * HOUR })) })).ticketsPerHour).toBeNull();
  });

  it('a rate measured over less than an hour is scaled to the time actually observed', () => {
    const f = forecastPaper(base({ observedSince: now - 30 * MIN, recent: Array.from({ length: 10 }, (_, i) => ({ at: now - i * 2 * MIN, mm: 125 })) }));
    expect(f.ticketsPerHour).toBeCloseTo(20, 5);
  });

  it('paper out means nothing is left', () => {
    const f = forecastPaper(base({ paper: 'out', usedMm: 10 }));
    expect(f.ticketsLeft).toBe(0);
    expect(shouldAnnounceForecast(f, now, null)).toBe(false);
  });

  it('prints the time in the kiosk zone, with the date when it is not today', () => {
    const summer = Date.parse('2026-07-01T12:00:00Z');
    expect(formatEmptyAround(summer + 30 * MIN, summer, 'Europe/Lisbon')).toBe('13:30');
    expect(formatEmptyAround(Date.parse('2026-11-29T08:10:00Z'), now, 'Europe/Lisbon')).toBe('29/11 08:10');
  });

  it('warns upstream within two hours of the end, not more than once an hour', () => {
    const f = forecastPaper(base());
    expect(shouldAnnounceForecast(f, now, null)).toBe(true);
    expect(shouldAnnounceForecast(f, now, now - 30 * MIN)).toBe(false);
    expect(shouldAnnounceForecast(f, now, now - HOUR)).toBe(true);
    const far = forecastPaper(base({ usedMm: 10_000 }));
    expect(far.emptyAt! - now).toBeGreaterThan(FORECAST_ANNOUNCE_HORIZON_MS);
    expect(shouldAnnounceForecast(far, now, null)).toBe(false);
  });
});

/** A printer that always prints; paper state set by the test. */
class FakePrinter implements PrinterDevice {
  paper: 'ok' | 'out' = 'ok';
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  onDisconnect(_l: (info: PrinterCloseInfo) => void): () => void {
    return () => undefined;
  }
  status(): PrinterStatus {
    const out = this.paper === 'out';
    return { answered: true, valid: true, online: !out, coverOpen: false, paperEnd: out, paperNearEnd: out, errorStopped: false, raw: out ? [0x1a, 0x32, 0x7e] : [0x12, 0x12, 0x12] };
  }
  async readStatus(): Promise<PrinterStatus> {
    return this.status();
  }
  async print(): Promise<PrintResult> {
    if (this.paper === 'out') return { outcome: 'refused', confirmed: false, reason: 'paperOut' as PrintResult['reason'], status: this.status() };
    return { outcome: 'confirmed', confirmed: true, reason: null, status: this.status() };
  }
}

class MemoryLog implements Pick<EventLog, 'append' | 'getState'> {
  events: NewEvent[] = [];
  state = new Map<string, string>();
  append(events: readonly NewEvent[], state: Readonly<Record<string, string | null>> = {}) {
    this.events.push(...events);
    for (const [k, v] of Object.entries(state)) {
      if (v === null) this.state.delete(k);
      else this.state.set(k, v);
    }
    return [];
  }
  getState(key: string): string | null {
    return this.state.get(key) ?? null;
  }
}

describe('paper watch on a simulated clock', () => {
  let device: FakePrinter;
  let actor: PrinterActor;
  let printer: Printer;
  let store: MemoryLog;
  let watch: PaperWatch | null = null;
  const ticketJob = encodeTicket(ticket(), { type: 'epson' });
  const ticketMm = estimateJobLengthMm(ticketJob, 'epson');

  beforeEach(async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-28T09:00:00Z') });
    device = new FakePrinter();
    store = new MemoryLog();
    actor = createActor(createPrinterMachine(device), { input: { model: 'epson' } });
    printer = printerFacade(actor, { profile: printerProfile('epson') });
    await vi.advanceTimersByTimeAsync(10);
  });

  afterEach(() => {
    watch?.stop();
    watch = null;
    actor.stop();
    vi.useRealTimers();
  });

  function startWatch(rollLengthMm: number): PaperWatch {
    watch = new PaperWatch({ printer, rollLengthMm, ticketLengthMm: null, defaultTicketLengthMm: 100, timeZone: 'Europe/Lisbon', store, log: silentLogger() }).start();
    return watch;
  }

  async function issueTickets(n: number, everyMs: number): Promise<void> {
    // One ticket in the middle of each slot, so an hour's window holds exactly its tickets.
    for (let i = 0; i < n; i++) {
      await vi.advanceTimersByTimeAsync(everyMs / 2);
      await printer.print({ kind: 'encoded', bytes: ticketJob, isTicket: true }, { timeoutMs: 60_000 });
      await vi.advanceTimersByTimeAsync(everyMs / 2);
    }
  }

  const forecasts = () => store.events.filter((e) => e.type === 'printer.paper_forecast');

  it('measures the tickets it prints and warns upstream once, about two hours before the roll runs out', async () => {
    // A short roll: 100 tickets. 30 tickets an hour → empty 3 h 20 min after the start.
    const w = startWatch(Math.round(ticketMm * 100));
    await issueTickets(30, 2 * MIN);
    const v = w.view();
    expect(v.ticketsSinceRollChange).toBe(30);
    expect(v.ticketLengthMm).toBeCloseTo(ticketMm, 0);
    expect(v.ticketLengthSource).toBe('estimated');
    expect(v.ticketsPerHour).toBeCloseTo(30, 0);
    expect(v.ticketsLeft).toBe(70);
    expect(v.emptyAround).toBe('12:20');
    expect(forecasts()).toHaveLength(0); // 2 h 20 min left: not yet

    // The 40th ticket (at 10:19) leaves 60 tickets: two hours at 30 an hour.
    await issueTickets(15, 2 * MIN);
    expect(forecasts()).toHaveLength(1);
    expect(forecasts()[0]!.data).toMatchObject({ emptyAround: '12:19', ticketsLeft: 60, ticketsPerHour: 30 });
    await issueTickets(24, 2 * MIN); // until 11:18: within the hour, no repeat
    expect(forecasts()).toHaveLength(1);
    await issueTickets(6, 2 * MIN); // an hour after the first: again
    expect(forecasts()).toHaveLength(2);
  });

  it('a technician changing the roll, or paper out then back, starts the count again and says so upstream', async () => {
    const w = startWatch(80_000);
    await issueTickets(5, MIN);
    expect(w.view().usedMm).toBeGreaterThan(0);
    w.rollChanged('technician');
    expect(w.view().usedMm).toBe(0);
    expect(printer.status().ticketsSinceRollChange).toBe(0);

    await issueTickets(3, MIN);
    device.paper = 'out';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS + 10);
    expect(w.view().ticketsLeft).toBe(0);
    device.paper = 'ok';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS + 10);
    expect(w.view().ticketsSinceRollChange).toBe(0);
    expect(store.events.filter((e) => e.type === 'printer.roll_changed').map((e) => e.data)).toEqual([{ reason: 'technician' }, { reason: 'refilled_after_out' }]);
  });

  it('paper used since the roll change survives a restart of the controller', async () => {
    const w = startWatch(80_000);
    await issueTickets(4, MIN);
    const used = w.view().usedMm;
    w.stop();
    watch = null;
    expect(JSON.parse(store.getState(PAPER_STATE_KEY)!)).toMatchObject({ tickets: 4 });
    const again = startWatch(80_000);
    expect(again.view().usedMm).toBe(used);
    expect(again.view().ticketsSinceRollChange).toBe(4);
  });
});
