import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, initialTransition, transition, type AnyEventObject } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  createPrinterMachine,
  printerDiagnostics,
  printerMachine,
  printerStatusView,
  requestPrint,
  type PrinterActor,
  type PrinterEmitted,
  type PrinterSnapshot,
} from '../src/machines/printerMachine.js';
import { PRINTER_LINK_POLICY, STATUS_POLL_MS } from '../src/machines/printerDelays.js';
import { backoffCeilingMs, backoffFloorMs } from '../devices/link/backoff.js';
import type { PrintResult, PrinterDevice } from '../devices/printer/printerDriver.js';
import type { PrinterCloseInfo } from '../devices/printer/printerTransport.js';
import { classifyStatus, noReplyStatus, type PrinterStatus } from '../devices/printer/statusProtocol.js';

type Cond = 'online' | 'nearEnd' | 'out' | 'cover' | 'error' | 'silent' | 'garbage';

function statusOf(c: Cond): PrinterStatus {
  const base: PrinterStatus = {
    answered: true,
    valid: true,
    online: true,
    coverOpen: false,
    paperEnd: false,
    paperNearEnd: false,
    errorStopped: false,
    raw: [0x12, 0x12, 0x12],
  };
  switch (c) {
    case 'online':
      return base;
    case 'nearEnd':
      return { ...base, paperNearEnd: true, raw: [0x12, 0x12, 0x1e] };
    case 'out':
      return { ...base, online: false, paperEnd: true, paperNearEnd: true, raw: [0x1a, 0x32, 0x7e] };
    case 'cover':
      return { ...base, online: false, coverOpen: true, raw: [0x1a, 0x16, 0x12] };
    case 'error':
      return { ...base, online: false, errorStopped: true, raw: [0x1a, 0x52, 0x12] };
    case 'silent':
      return noReplyStatus();
    case 'garbage':
      return { ...noReplyStatus([0xff, 0xff, 0xff]), answered: true };
  }
}

/** A printer device whose answers the test sets; no wire, no timers of its own. */
class FakePrinter implements PrinterDevice {
  condition: Cond = 'online';
  connectFailures = 0;
  connects = 0;
  statusReads = 0;
  closed = 0;
  printed: string[] = [];
  /** When set, print() waits for the test to call `finishPrint`. */
  holdPrints = false;
  private held: Array<() => void> = [];
  private listeners = new Set<(info: PrinterCloseInfo) => void>();

  async connect(): Promise<void> {
    this.connects++;
    if (this.connectFailures > 0) {
      this.connectFailures--;
      throw new Error('ECONNREFUSED');
    }
  }
  async close(): Promise<void> {
    this.closed++;
  }
  onDisconnect(l: (info: PrinterCloseInfo) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async readStatus(): Promise<PrinterStatus> {
    this.statusReads++;
    return statusOf(this.condition);
  }
  async print(_job: Buffer, jobId: Buffer): Promise<PrintResult> {
    const status = statusOf(this.condition);
    // As the real driver: the status read right before the job decides.
    if (this.condition !== 'online' && this.condition !== 'nearEnd') {
      return { outcome: 'refused', confirmed: false, reason: classifyStatus(status) as PrintResult['reason'], status };
    }
    if (this.holdPrints) await new Promise<void>((r) => this.held.push(r));
    this.printed.push(jobId.toString());
    return { outcome: 'confirmed', confirmed: true, reason: null, status: statusOf(this.condition) };
  }
  finishPrint(): void {
    this.held.shift()?.();
  }
  loseConnection(): void {
    for (const l of [...this.listeners]) l({ byUs: false, error: new Error('ECONNRESET') });
  }
}

/** Lets promise callbacks (fake device answers) run without moving the clock. */
const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('printer machine', () => {
  let device: FakePrinter;
  let actor: PrinterActor;
  let emitted: PrinterEmitted[];
  const state = () => actor.getSnapshot().value;

  beforeEach(async () => {
    vi.useFakeTimers();
    device = new FakePrinter();
    emitted = [];
  });

  afterEach(() => {
    actor?.stop();
    vi.useRealTimers();
  });

  async function start(): Promise<void> {
    actor = createActor(createPrinterMachine(device), { input: { model: 'epson' } });
    actor.on('*', (e) => emitted.push(e));
    actor.subscribe({ error: (err) => emitted.push({ type: 'fault', code: 'actor-error', detail: String(err) }) });
    actor.start();
    await flush();
  }

  it('connects, reads status and settles online without reporting anything', async () => {
    await start();
    expect(state()).toEqual({ connected: 'online' });
    expect(emitted).toEqual([]);
    expect(printerStatusView(actor.getSnapshot())).toMatchObject({ state: 'online', ready: true, paper: 'ok', fault: null });
  });

  it('polls the status every STATUS_POLL_MS while idle, within the 5 s the contract allows', async () => {
    expect(STATUS_POLL_MS).toBeLessThanOrEqual(5000);
    await start();
    const before = device.statusReads;
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS * 3);
    expect(device.statusReads - before).toBe(3);
  });

  it('reports paper near end once, keeps printing, and reports ok after a new roll', async () => {
    await start();
    device.condition = 'nearEnd';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS);
    expect(state()).toEqual({ connected: 'paperNearEnd' });
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS * 2);
    expect(emitted.filter((e) => e.type === 'paper')).toEqual([{ type: 'paper', state: 'near_end' }]);
    const r = await requestPrint(actor, Buffer.from('job'), { jobId: '0001' });
    expect(r).toMatchObject({ outcome: 'confirmed', confirmed: true });
    expect(printerStatusView(actor.getSnapshot())).toMatchObject({ state: 'paper_near_end', ready: true });
  });

  it('paper out is a fault and refuses tickets; a refill recovers it and restarts the roll count', async () => {
    await start();
    await requestPrint(actor, Buffer.from('job'), { jobId: '0001' });
    expect(actor.getSnapshot().context.counters.ticketsSinceRollChange).toBe(1);
    device.condition = 'out';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS);
    expect(state()).toEqual({ connected: 'paperOut' });
    expect(emitted.filter((e) => e.type !== 'printResult')).toEqual([
      { type: 'paper', state: 'out' },
      { type: 'fault', code: 'printer.paper_out', detail: expect.any(String) },
    ]);
    const refused = await requestPrint(actor, Buffer.from('job'), { jobId: '0002' });
    expect(refused).toMatchObject({ outcome: 'refused', confirmed: false, reason: 'paperOut' });
    expect(device.printed).toEqual(['0001']);
    emitted = [];
    device.condition = 'online';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS);
    expect(emitted).toEqual([
      { type: 'paper', state: 'ok' },
      { type: 'recovered', code: 'printer.paper_out' },
    ]);
    expect(actor.getSnapshot().context.counters.ticketsSinceRollChange).toBe(0);
  });

  it('reads the status before printing: a cover opened since the last poll refuses the ticket', async () => {
    await start();
    device.condition = 'cover';
    const r = await requestPrint(actor, Buffer.from('job'), { jobId: '0003' });
    expect(r).toMatchObject({ outcome: 'refused', reason: 'coverOpen' });
    expect(device.printed).toEqual([]);
    expect(emitted).toContainEqual({ type: 'fault', code: 'printer.cover_open', detail: expect.any(String) });
  });

  it('prints a confirmed job and counts jobs, cuts and tickets', async () => {
    await start();
    const r = await requestPrint(actor, Buffer.from('job'), { jobId: '0042', cuts: 1 });
    expect(r).toMatchObject({ type: 'printResult', jobId: '0042', outcome: 'confirmed', confirmed: true });
    expect(actor.getSnapshot().context.counters).toMatchObject({ jobsPrinted: 1, cuts: 1, ticketsSinceRollChange: 1 });
    expect(state()).toEqual({ connected: 'online' });
  });

  it('a second job asked for while one is printing waits its turn and is printed after it', async () => {
    await start();
    device.holdPrints = true;
    const a = requestPrint(actor, Buffer.from('a'), { jobId: '0001' });
    await flush();
    expect(state()).toEqual({ connected: 'printing' });
    const b = requestPrint(actor, Buffer.from('b'), { jobId: '0002' });
    device.finishPrint();
    await flush();
    device.finishPrint();
    expect((await a).outcome).toBe('confirmed');
    expect((await b).outcome).toBe('confirmed');
    expect(device.printed).toEqual(['0001', '0002']);
  });

  it('a printer that stops answering is offline (a fault) and recovers when it answers again', async () => {
    await start();
    device.condition = 'silent';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS);
    expect(state()).toEqual({ connected: 'offline' });
    expect(emitted).toEqual([{ type: 'fault', code: 'printer.offline', detail: expect.any(String) }]);
    device.condition = 'online';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS);
    expect(emitted.at(-1)).toEqual({ type: 'recovered', code: 'printer.offline' });
  });

  it('garbage status is an error state and is counted', async () => {
    await start();
    device.condition = 'garbage';
    await vi.advanceTimersByTimeAsync(STATUS_POLL_MS);
    expect(state()).toEqual({ connected: 'error' });
    expect(actor.getSnapshot().context.counters.invalidStatusReplies).toBe(1);
    expect(printerDiagnostics(actor.getSnapshot()).rawStatus).toEqual(['ff', 'ff', 'ff']);
  });

  it('a lost connection mid-job leaves the job unconfirmed and reconnects with growing backoff', async () => {
    await start();
    device.holdPrints = true;
    const job = requestPrint(actor, Buffer.from('a'), { jobId: '0007' });
    await flush();
    device.connectFailures = 2;
    device.loseConnection();
    expect(await job).toMatchObject({ outcome: 'unconfirmed', confirmed: false, reason: 'connection_lost' });
    expect(state()).toBe('reconnecting');
    expect(emitted).toContainEqual({ type: 'fault', code: 'printer.disconnected', detail: expect.any(String) });
    expect(printerStatusView(actor.getSnapshot())).toMatchObject({ state: 'reconnecting', ready: false });
    const refused = await requestPrint(actor, Buffer.from('b'), { jobId: '0008' });
    expect(refused).toMatchObject({ outcome: 'refused', reason: 'not_connected' });

    const connectsBefore = device.connects;
    const floor1 = backoffFloorMs(PRINTER_LINK_POLICY, 1);
    await vi.advanceTimersByTimeAsync(floor1 - 1);
    expect(device.connects).toBe(connectsBefore);
    await vi.advanceTimersByTimeAsync(backoffCeilingMs(PRINTER_LINK_POLICY, 1) - floor1 + 1); // attempt 1 fails
    expect(device.connects).toBe(connectsBefore + 1);
    await vi.advanceTimersByTimeAsync(backoffCeilingMs(PRINTER_LINK_POLICY, 2)); // attempt 2 fails
    expect(device.connects).toBe(connectsBefore + 2);
    expect(backoffCeilingMs(PRINTER_LINK_POLICY, 3)).toBe(4 * PRINTER_LINK_POLICY.initialMs);
    await vi.advanceTimersByTimeAsync(backoffCeilingMs(PRINTER_LINK_POLICY, 3)); // attempt 3 succeeds
    expect(state()).toEqual({ connected: 'online' });
    expect(emitted.at(-1)).toEqual({ type: 'recovered', code: 'printer.disconnected' });
    expect(actor.getSnapshot().context.reconnectAttempts).toBe(0);
  });

  it('our own close is not a fault: it answers waiting jobs and stays disconnected', async () => {
    await start();
    actor.send({ type: 'CLOSE' });
    await flush();
    expect(state()).toBe('disconnected');
    expect(device.closed).toBe(1);
    expect(emitted.filter((e) => e.type === 'fault')).toEqual([]);
    expect(await requestPrint(actor, Buffer.from('x'), { jobId: '0009' })).toMatchObject({ outcome: 'refused' });
    expect(printerStatusView(actor.getSnapshot()).state).toBe('disconnected');
  });

  it('a driver that throws while printing gives an unconfirmed result, not a dead machine', async () => {
    await start();
    device.print = async () => {
      throw new Error('boom');
    };
    const r = await requestPrint(actor, Buffer.from('x'), { jobId: '0010' });
    expect(r).toMatchObject({ outcome: 'unconfirmed', confirmed: false, reason: 'boom' });
    await flush();
    expect(state()).toEqual({ connected: 'online' });
    expect(emitted.filter((e) => e.type === 'fault' && e.code === 'actor-error')).toEqual([]);
  });
});

describe('printer machine, model-based paths (xstate/graph)', () => {
  const conds: Cond[] = ['online', 'nearEnd', 'out', 'cover', 'error', 'silent', 'garbage'];
  const job = Buffer.from('j');
  const okResult = (c: Cond): PrintResult => ({ outcome: 'confirmed', confirmed: true, reason: null, status: statusOf(c) });
  const events: AnyEventObject[] = [
    { type: 'LINK.READY', opens: 1 },
    { type: 'LINK.DOWN', message: 'refused', failures: 1, lost: false },
    ...conds.map((c) => ({ type: 'xstate.done.actor.readStatus', output: statusOf(c) })),
    { type: 'xstate.done.actor.printJob', output: okResult('online') },
    { type: 'xstate.done.actor.printJob', output: okResult('out') },
    { type: 'xstate.error.actor.printJob', error: new Error('boom') },
    { type: 'PRINT', jobId: '0001', job },
    { type: 'LINK.DOWN', message: 'ECONNRESET', failures: 1, lost: true },
    { type: 'CLOSE' },
    { type: 'xstate.done.actor.closeConnection' },
  ];

  const paths = getShortestPaths(printerMachine, {
    input: { model: 'epson' },
    events: events as never,
    // One waiting job is enough to exercise every transition; more only multiplies states.
    filterEvents: (s, e) => !(e.type === 'PRINT' && (s as PrinterSnapshot).context.queue.length > 0),
    serializeState: (s) => {
      const c = (s as PrinterSnapshot).context;
      return JSON.stringify([s.value, c.queue.length, c.condition, c.fault, c.paper]);
    },
  });

  it('reaches every state of the machine', () => {
    const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
    for (const leaf of ['online', 'paperNearEnd', 'paperOut', 'coverOpen', 'offline', 'error', 'printing', 'checking']) {
      expect(reached, leaf).toContain(JSON.stringify({ connected: leaf }));
    }
    for (const top of ['connecting', 'reconnecting', 'disconnected', 'closing']) expect(reached, top).toContain(JSON.stringify(top));
  });

  it('on every path, every PRINT gets exactly one printResult and nobody is left waiting where nothing can print', () => {
    expect(paths.length).toBeGreaterThan(20);
    let answeredOverall = 0;
    for (const path of paths) {
      let [snap] = initialTransition(printerMachine, { model: 'epson' });
      let asked = 0;
      let answered = 0;
      for (const step of path.steps) {
        if ((step.event.type as string) === 'xstate.init') continue;
        const [next, actions] = transition(printerMachine, snap, step.event as never);
        if (step.event.type === 'PRINT') asked++;
        for (const a of actions) {
          const emittedEvent = (a as { type: string; params?: { event?: { type?: string } } }).params?.event;
          if ((a.type as string) === 'xstate.emit' && emittedEvent?.type === 'printResult') answered++;
        }
        snap = next;
        const c = snap.context;
        const where = `${JSON.stringify(snap.value)} after ${path.steps.map((s) => s.event.type).join(' → ')}`;
        if (snap.matches({ connected: 'printing' })) expect(c.queue.length, where).toBeGreaterThan(0);
        if ((['paperOut', 'coverOpen', 'offline', 'error'] as const).some((s) => snap.matches({ connected: s }))) {
          expect(c.queue, where).toEqual([]);
        }
        if (!snap.matches('connected')) expect([c.queue.length, c.inFlight], where).toEqual([0, null]);
        expect(asked - answered, where).toBe(c.queue.length);
      }
      answeredOverall += answered;
    }
    // The emitted printResult events are really seen (the check above is not vacuous).
    expect(answeredOverall).toBeGreaterThan(5);
  });
});
