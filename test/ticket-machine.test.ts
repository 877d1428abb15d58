/**
 * The ticket machine and desk without a wire: offline numbering rules, the desk over an
 * in-memory event log with a fake clock (reprint and void windows), and model-based
 * paths from xstate/graph replayed on the machine.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, initialTransition, transition, type AnyEventObject } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import type { PrinterStatus } from '../devices/printer/statusProtocol.js';
import type { PrintResult, PrinterDevice } from '../devices/printer/printerDriver.js';
import type { PrinterCloseInfo } from '../devices/printer/printerTransport.js';
import { configSchema } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import { STATUS_POLL_MS } from '../src/machines/printerDelays.js';
import { printerFacade } from '../src/facades/printer.js';
import { printerProfile } from '../devices/printer/models/index.js';
import { createPrinterMachine } from '../src/machines/printerMachine.js';
import { REPRINT_SWEEP_MS, ticketMachine, type TicketEvent, type TicketOutcome, type TicketSnapshot } from '../src/machines/ticketMachine.js';
import { formatOfflineNumber, isOfflineNumber, kioskTag, nextOfflineSeq, officeDay } from '../src/tickets/offlineNumbering.js';
import { TicketDesk, toCentralAnswer, type CentralClient } from '../src/tickets/ticketDesk.js';
import type { HeldTicket } from '../src/tickets/ticketLedger.js';
import { waitRange } from '../src/tickets/ticketContent.js';
import type { RequestResult } from '../src/upstream/requestReply.js';
import { MemoryEventLog } from './support/memoryEventLog.js';

describe('offline ticket numbers', () => {
  it('look like P-K1-007 and can never be mistaken for a central number (P042, P*001, A001)', () => {
    expect(formatOfflineNumber('P', false, kioskTag('lisboa-01-k1'), 7)).toBe('P-K1-007');
    expect(formatOfflineNumber('CX', true, 'K2', 1234)).toBe('CX*-K2-1234');
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z]{1,2}$/), fc.boolean(), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.integer({ min: 1, max: 1_000_000 }), (prefix, priority, kiosk, n) => {
        const t = formatOfflineNumber(prefix, priority, kioskTag(kiosk), n);
        expect(t).not.toMatch(/^[A-Z]{1,2}\*?\d+$/);
        expect(isOfflineNumber(t)).toBe(true);
      }),
    );
  });

  it('restart at 1 on the next office day, and keep counting when the clock steps back a day', () => {
    const a = nextOfflineSeq(null, 'prestacoes', '2026-11-27');
    const b = nextOfflineSeq(a.state, 'prestacoes', '2026-11-27');
    expect([a.n, b.n]).toEqual([1, 2]);
    expect(nextOfflineSeq(b.state, 'contribuicoes', '2026-11-27').n).toBe(1);
    const nextDay = nextOfflineSeq(b.state, 'prestacoes', '2026-11-28');
    expect(nextDay.n).toBe(1);
    expect(nextOfflineSeq(nextDay.state, 'prestacoes', '2026-11-27').n).toBe(2);
  });

  it('belong to the office day in Lisbon, not in UTC', () => {
    // 23:30 UTC on 30 June is 00:30 on 1 July in Lisbon summer time.
    expect(officeDay(new Date('2026-06-30T23:30:00Z'), 'Europe/Lisbon')).toBe('2026-07-01');
  });
});

describe('what central says, as the desk takes it', () => {
  it('a number, closed, another error, silence, and an ok reply without a usable number', () => {
    expect(toCentralAnswer({ ok: true, data: { ticket: 'P042', peopleAhead: 3, estimatedWaitMin: 20 } })).toEqual({ kind: 'number', ticket: 'P042', peopleAhead: 3, estimatedWaitMin: 20 });
    expect(toCentralAnswer({ ok: true, data: { ticket: 'P042' } })).toEqual({ kind: 'number', ticket: 'P042', peopleAhead: null, estimatedWaitMin: null });
    expect(toCentralAnswer({ ok: false, error: { code: 'service_closed', message: 'x' } })).toMatchObject({ kind: 'closed' });
    expect(toCentralAnswer({ ok: false, error: { code: 'overloaded', message: 'x' } })).toMatchObject({ kind: 'error', code: 'overloaded' });
    expect(toCentralAnswer({ timeout: true })).toEqual({ kind: 'timeout' });
    for (const data of [null, {}, { ticket: 42 }, { ticket: '' }, { ticket: 'P 1\n' }]) expect(toCentralAnswer({ ok: true, data })).toEqual({ kind: 'timeout' });
  });

  it('an estimated wait is printed as a range in 5-minute steps, or unknown', () => {
    expect(waitRange(20)).toEqual({ low: 15, high: 25 });
    expect(waitRange(0)).toEqual({ low: 0, high: 5 });
    expect(waitRange(null)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------
// The desk with a fake clock


const OK_STATUS: PrinterStatus = { answered: true, valid: true, online: true, coverOpen: false, paperEnd: false, paperNearEnd: false, errorStopped: false, raw: [0x12, 0x12, 0x12] };
const PAPER_OUT: PrinterStatus = { ...OK_STATUS, online: false, paperEnd: true, paperNearEnd: true, raw: [0x1a, 0x32, 0x7e] };

/** A printer whose paper the test controls; a job "runs out" mid-way when `failNextJob` is set. */
class FakePrinter implements PrinterDevice {
  paperOut = false;
  failNextJob = false;
  readonly printed: Buffer[] = [];
  readonly reads: Array<{ forNextPrint?: boolean }> = [];
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  onDisconnect(_l: (info: PrinterCloseInfo) => void): () => void {
    return () => undefined;
  }
  async readStatus(opts: { forNextPrint?: boolean } = {}): Promise<PrinterStatus> {
    this.reads.push(opts);
    return this.paperOut ? PAPER_OUT : OK_STATUS;
  }
  async print(job: Buffer): Promise<PrintResult> {
    if (this.paperOut) return { outcome: 'refused', confirmed: false, reason: 'paperOut', status: PAPER_OUT };
    this.printed.push(job);
    if (this.failNextJob) {
      this.failNextJob = false;
      this.paperOut = true;
      return { outcome: 'unconfirmed', confirmed: false, reason: 'no_completion_reply', status: PAPER_OUT };
    }
    return { outcome: 'confirmed', confirmed: true, reason: null, status: OK_STATUS };
  }
}

const config = configSchema.parse({
  kiosk: { id: 'lisboa-01-k1', site: 'lisboa-01' },
  printer: { type: 'epson', interface: 'tcp://127.0.0.1:9100' },
  upstream: { url: 'mqtt://127.0.0.1:1883', prefix: 'siga', requestTimeoutMs: 1500 },
  services: [{ id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações' } }],
});

/** Central answering with consecutive numbers, or silent (then the request times out on the fake clock). */
class FakeCentral implements CentralClient {
  silent = false;
  next = 1;
  async request<T>(_type: string, _data: unknown, timeoutMs: number): Promise<RequestResult<T>> {
    if (this.silent) return new Promise((resolve) => setTimeout(() => resolve({ timeout: true }), timeoutMs));
    return { ok: true, data: { ticket: `P${String(this.next++).padStart(3, '0')}`, peopleAhead: 0, estimatedWaitMin: 0 } as T };
  }
  queues() {
    return null;
  }
}

describe('the ticket desk on a fake clock', () => {
  let log: MemoryEventLog;
  let device: FakePrinter;
  let central: FakeCentral;
  const stops: Array<() => void> = [];
  const start = new Date('2026-11-30T10:00:00Z');

  beforeEach(() => {
    vi.useFakeTimers({ now: start });
    log = new MemoryEventLog();
    device = new FakePrinter();
    central = new FakeCentral();
  });
  afterEach(() => {
    for (const s of stops.splice(0)) s();
    vi.useRealTimers();
  });

  async function openDesk(timings = {}) {
    const printer = createActor(createPrinterMachine(device), { input: { model: 'epson' } }).start();
    const desk = new TicketDesk({ config, events: log, central, printer: printerFacade(printer, { profile: printerProfile('epson') }), log: silentLogger(), timings }).start();
    stops.push(() => {
      desk.stop();
      printer.stop();
    });
    await vi.advanceTimersByTimeAsync(0);
    return desk;
  }

  const issued = () => log.events.filter((e) => e.type === 'ticket.issued').map((e) => e.data);

  it('reprints a ticket the printer lost with the same number once the paper is back, and records it issued once', async () => {
    const desk = await openDesk();
    device.failNextJob = true;
    const first = await desk.issue('prestacoes', false);
    expect(first).toEqual({ kind: 'printer_unavailable', detail: 'no_completion_reply' });
    expect(issued()).toEqual([]);
    expect(desk.ledger.pending().map((p) => p.ticket)).toEqual(['P001']);

    device.paperOut = false;
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS + 10);
    expect(device.printed).toHaveLength(2);
    expect(device.printed[1]!.includes(Buffer.from('P001'))).toBe(true);
    expect(issued()).toEqual([{ ticket: 'P001', service: 'prestacoes', priority: false, offline: false, peopleAhead: 0 }]);
    expect(desk.ledger.pending()).toEqual([]);
    expect(log.events.filter((e) => e.type === 'ticket.print_failed')).toEqual([]);
  });

  it('voids the number with ticket.print_failed when the printer is not back within the reprint window', async () => {
    const desk = await openDesk({ reprintWindowMs: 60_000 });
    device.failNextJob = true;
    await desk.issue('prestacoes', false);
    await vi.advanceTimersByTimeAsync(60_000 + REPRINT_SWEEP_MS);
    expect(log.events.filter((e) => e.type === 'ticket.print_failed').map((e) => (e.data as { ticket: string }).ticket)).toEqual(['P001']);
    expect(desk.ledger.pending()).toEqual([]);
    device.paperOut = false;
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS * 2);
    expect(device.printed).toHaveLength(1); // never printed after it was voided
    expect(issued()).toEqual([]);
  });

  it('finds a pending ticket again after a restart and reprints it', async () => {
    let desk = await openDesk();
    device.failNextJob = true;
    await desk.issue('prestacoes', false);
    for (const s of stops.splice(0)) s();
    device.paperOut = false;
    desk = await openDesk();
    await vi.advanceTimersByTimeAsync(10);
    expect(issued().map((d) => (d as { ticket: string }).ticket)).toEqual(['P001']);
    expect(desk.ledger.pending()).toEqual([]);
  });

  it('issues an offline number after the request timeout, and continues the numbering after a restart', async () => {
    central.silent = true;
    let desk = await openDesk();
    const pending = desk.issue('prestacoes', false);
    await vi.advanceTimersByTimeAsync(config.upstream.requestTimeoutMs);
    expect(await pending).toMatchObject({ kind: 'issued', ticket: 'P-K1-001', offline: true });
    for (const s of stops.splice(0)) s();
    desk = await openDesk();
    const again = desk.issue('prestacoes', true);
    await vi.advanceTimersByTimeAsync(config.upstream.requestTimeoutMs);
    expect(await again).toMatchObject({ ticket: 'P*-K1-002', offline: true });
  });

  it('has the printer read its status for the ticket while central answers', async () => {
    const desk = await openDesk();
    const before = device.reads.length;
    expect(await desk.issue('prestacoes', false)).toMatchObject({ kind: 'issued', ticket: 'P001' });
    expect(device.reads.slice(before)).toContainEqual({ forNextPrint: true });
  });

  it('sends nothing to the printer before the numbered ticket is on disk', async () => {
    const desk = await openDesk();
    log.holdFlushes = true;
    const answer = desk.issue('prestacoes', false);
    await vi.advanceTimersByTimeAsync(50);
    expect(JSON.parse(log.getState('tickets.pending')!)).toMatchObject([{ ticket: 'P001' }]); // committed…
    expect(device.printed).toHaveLength(0); // …but not yet flushed: nothing printed
    log.flushes[0]!.resolve();
    expect(await answer).toMatchObject({ kind: 'issued', ticket: 'P001' });
    expect(device.printed).toHaveLength(1);
  });

  it('prints nothing and gives the number back upstream when the disk cannot flush the hold', async () => {
    const desk = await openDesk();
    log.holdFlushes = true;
    const answer = desk.issue('prestacoes', false);
    await vi.advanceTimersByTimeAsync(50);
    log.flushes[0]!.reject(new Error('EIO'));
    expect(await answer).toMatchObject({ kind: 'storage_error' });
    expect(device.printed).toHaveLength(0);
    expect(log.events.filter((e) => e.type === 'ticket.print_failed').map((e) => (e.data as { ticket: string }).ticket)).toEqual(['P001']);
    expect(desk.ledger.pending()).toEqual([]);
    await vi.advanceTimersByTimeAsync(REPRINT_SWEEP_MS + STATUS_POLL_MS);
    expect(device.printed).toHaveLength(0); // and never reprinted
  });

  it('never prints a ticket whose hold was not flushed, even when its void must wait for a later sweep', async () => {
    const desk = await openDesk();
    log.holdFlushes = true;
    const answer = desk.issue('prestacoes', false);
    await vi.advanceTimersByTimeAsync(50);
    log.failNext = true; // the void is refused too
    log.flushes[0]!.reject(new Error('EIO'));
    expect(await answer).toMatchObject({ kind: 'storage_error' });
    const failed = () => log.events.filter((e) => e.type === 'ticket.print_failed').map((e) => (e.data as { ticket: string }).ticket);
    expect(failed()).toEqual([]);
    await vi.advanceTimersByTimeAsync(REPRINT_SWEEP_MS + STATUS_POLL_MS);
    expect(device.printed).toHaveLength(0);
    expect(failed()).toEqual(['P001']);
    expect(desk.ledger.pending()).toEqual([]);
  });

  it('answers storage_unavailable and prints nothing when the number cannot be stored', async () => {
    const desk = await openDesk();
    log.failNext = true;
    expect(await desk.issue('prestacoes', false)).toMatchObject({ kind: 'storage_error' });
    expect(device.printed).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------
// Model-based paths

const OPEN = { ok: true as const, closesAt: null, ticketsUntil: null };
const CLOSED = { ok: false as const, reason: 'closed' as const, nextOpening: null };
let requestNo = 0;
const issue = (decision: typeof OPEN | typeof CLOSED, service = 'prestacoes'): TicketEvent => ({
  type: 'ISSUE',
  request: { requestId: `r${++requestNo}`, service, priority: false, at: 0 },
  decision,
});
const done = (id: string, output: unknown): AnyEventObject => ({ type: `xstate.done.actor.${id}`, output });

function held(ticket: string): HeldTicket {
  return { ticket, service: 'prestacoes', priority: false, offline: false, peopleAhead: 0, estimatedWaitMin: 0, issuedAt: 0, closesAt: null, heldAt: 0 };
}

/** Events possible in a snapshot, with actor outputs consistent with its context. */
function modelEvents(s: TicketSnapshot): AnyEventObject[] {
  const c = s.context;
  const events: AnyEventObject[] = [
    issue(OPEN),
    issue(CLOSED),
    issue(OPEN, 'unknown'),
    { type: 'PRINTER', ready: true, detail: 'online' },
    { type: 'PRINTER', ready: false, detail: 'paper_out' },
    { type: 'xstate.after.reprintSweep.ticket.idle' },
  ];
  if (s.matches({ issuing: 'askingCentral' })) {
    events.push(
      done('central', { kind: 'number', ticket: `P${c.counters.issued + c.pending.length + 1}`, peopleAhead: 0, estimatedWaitMin: 0 }),
      done('central', { kind: 'timeout' }),
      done('central', { kind: 'closed', message: 'closed' }),
      done('central', { kind: 'error', code: 'x', message: 'x' }),
    );
  }
  if (s.matches({ issuing: 'holding' })) {
    const h = held(c.answer?.kind === 'number' ? c.answer.ticket : `P-K1-${c.pending.length + 1}`);
    events.push(done('hold', { held: h, pending: [...c.pending, h] }), { type: 'xstate.error.actor.hold', error: new Error('disk full') });
  }
  if (s.matches({ issuing: 'printing' }) || s.matches({ reprinting: 'printing' })) {
    events.push(done('print', { confirmed: true, reason: null }), done('print', { confirmed: false, reason: 'paperOut' }));
  }
  if (s.matches({ issuing: 'recording' }) || s.matches({ reprinting: 'recording' })) {
    events.push(done('record', { pending: c.pending.filter((p) => p.ticket !== c.held?.ticket) }), { type: 'xstate.error.actor.record', error: new Error('disk full') });
  }
  if (s.matches('sweeping')) {
    // The sweep voids every pending ticket (the window passed) and records the unrecorded.
    events.push(done('sweep', { pending: [], unrecorded: [] }));
  }
  return events;
}

describe('ticket machine model', () => {
  const input = { services: config.services, pending: [] };
  const paths = getShortestPaths(ticketMachine, {
    input,
    events: modelEvents as never,
    // Two pending tickets are enough to exercise every transition.
    filterEvents: (s, e) => !(e.type === 'ISSUE' && (s as TicketSnapshot).context.pending.length >= 2),
    serializeState: (s) => {
      const c = (s as TicketSnapshot).context;
      return JSON.stringify([s.value, c.printerReady, c.reprintBlocked, c.pending.length, c.unrecorded.length, c.request !== null, c.answer?.kind ?? null, c.lastPrint?.confirmed ?? null, Math.min(c.counters.issued, 1), Math.min(c.counters.reprinted, 1)]);
    },
  });

  it('reaches every state of the machine', () => {
    const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
    for (const leaf of ['askingCentral', 'holding', 'printing', 'recording']) expect(reached, leaf).toContain(JSON.stringify({ issuing: leaf }));
    for (const leaf of ['printing', 'recording']) expect(reached, leaf).toContain(JSON.stringify({ reprinting: leaf }));
    expect(reached).toContain(JSON.stringify('sweeping'));
  });

  it('on every path: one answer per request, "issued" only after a confirmed print and its record (or its record kept for later), never a ticket both issued and voided', () => {
    expect(paths.length).toBeGreaterThan(30);
    let issuedOverall = 0;
    for (const path of paths) {
      let [snap] = initialTransition(ticketMachine, input);
      const asked = new Set<string>();
      const answered = new Map<string, TicketOutcome>();
      const recordedTickets: string[] = [];
      let lastPrintConfirmed = false;
      for (const step of path.steps) {
        const event = step.event as AnyEventObject;
        if (event.type === 'xstate.init') continue;
        const before = snap;
        const [next, actions] = transition(ticketMachine, snap, event as never);
        if (event.type === 'ISSUE') asked.add((event as Extract<TicketEvent, { type: 'ISSUE' }>).request.requestId);
        if (event.type === 'xstate.done.actor.print') lastPrintConfirmed = (event.output as { confirmed: boolean }).confirmed;
        const recorded = event.type === 'xstate.done.actor.record' && (before.matches({ issuing: 'recording' }) || before.matches({ reprinting: 'recording' }));
        if (recorded) {
          expect(lastPrintConfirmed, 'recorded without a confirmed print').toBe(true);
          recordedTickets.push(before.context.held!.ticket);
        }
        for (const a of actions) {
          const emitted = (a as { params?: { event?: { type?: string; requestId?: string; outcome?: TicketOutcome } } }).params?.event;
          if ((a.type as string) !== 'xstate.emit' || emitted?.type !== 'ticketResult') continue;
          expect(answered.has(emitted.requestId!), `answered twice: ${emitted.requestId}`).toBe(false);
          answered.set(emitted.requestId!, emitted.outcome!);
          if (emitted.outcome!.kind === 'issued') {
            // Printed and confirmed: issued once recorded, or kept (held on disk) to be recorded once there is room.
            const keptToRecord = lastPrintConfirmed && next.context.unrecorded.includes(before.context.held?.ticket ?? '');
            expect(recorded || keptToRecord, 'issued without its record').toBe(true);
            issuedOverall++;
          }
        }
        snap = next;
        const c = snap.context;
        const where = `${JSON.stringify(snap.value)} after ${path.steps.map((s) => s.event.type).join(' → ')}`;
        // Nobody waits for an answer unless a ticket is being issued for them.
        const open = [...asked].filter((id) => !answered.has(id));
        expect(open.length, where).toBe(snap.matches('issuing') ? 1 : 0);
        if (snap.matches('issuing')) expect(c.request?.requestId, where).toBe(open[0]);
        // An issued ticket is never still pending (it could be reprinted or voided).
        for (const t of recordedTickets) expect(c.pending.map((p) => p.ticket), where).not.toContain(t);
      }
    }
    expect(issuedOverall).toBeGreaterThan(0);
  });
});
