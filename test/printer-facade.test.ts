/**
 * The printer façade (src/facades/printer.ts): what the rest of the controller sees of
 * the printer — a plain status, change notices, and print(job, { timeoutMs }) that
 * always answers in time, laid out for the configured model and paper width.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, createActor } from 'xstate';
import { openTcpPrinter } from '../devices/printer/printerTransport.js';
import { printerProfile } from '../devices/printer/models/index.js';
import type { PrintResult, PrinterDevice } from '../devices/printer/printerDriver.js';
import type { PrinterStatus } from '../devices/printer/statusProtocol.js';
import type { TicketContent } from '../devices/printer/ticketLayout.js';
import { printerFacade, startPrinter, type Printer, type PrinterEvent, type PrinterStatusView } from '../src/facades/printer.js';
import { createPrinterMachine } from '../src/machines/printerMachine.js';
import { decodeEscPos } from '../sim/printer/escposDecoder.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { silentLogger } from '../src/log.js';
import { sampleTicket } from './support/sampleTicket.js';

const ONLINE: PrinterStatus = { answered: true, valid: true, online: true, coverOpen: false, paperEnd: false, paperNearEnd: false, errorStopped: false, raw: [0x12, 0x12, 0x12] };
const PAPER_OUT: PrinterStatus = { ...ONLINE, online: false, paperEnd: true, paperNearEnd: true, raw: [0x1a, 0x32, 0x7e] };

/** A printer whose jobs never come back (a hung driver) and whose status the test sets. */
class HungPrinter implements PrinterDevice {
  status = ONLINE;
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  onDisconnect(): () => void {
    return () => undefined;
  }
  async readStatus(): Promise<PrinterStatus> {
    return this.status;
  }
  print(): Promise<PrintResult> {
    return new Promise(() => undefined);
  }
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const ticket = (over: Partial<TicketContent> = {}): TicketContent =>
  sampleTicket({ serviceName: 'Prestações de desemprego e subsídio de doença', contactLine: '', priority: true, ...over });

describe('printer façade on a simulated clock', () => {
  let printer: Printer | null = null;
  afterEach(async () => {
    await printer?.stop();
    printer = null;
  });

  function open(device: PrinterDevice, clock: SimulatedClock): Printer {
    const actor = createActor(createPrinterMachine(device), { input: { model: 'epson' }, clock });
    printer = printerFacade(actor, { profile: printerProfile('epson'), clock });
    return printer;
  }

  it('answers "timeout" exactly when timeoutMs has passed without an answer, and not before', async () => {
    const clock = new SimulatedClock();
    const p = open(new HungPrinter(), clock);
    await flush();
    expect(p.status()).toMatchObject({ state: 'online', ready: true });
    let answer: unknown = null;
    void p.print({ kind: 'ticket', content: ticket() }, { timeoutMs: 5000 }).then((a) => (answer = a));
    await flush();
    clock.increment(4999);
    await flush();
    expect(answer).toBeNull();
    clock.increment(1);
    await flush();
    expect(answer).toEqual({ confirmed: false, outcome: 'timeout', reason: 'print_timeout' });
  });

  it('tells its listeners when the status changes, once per change', async () => {
    const clock = new SimulatedClock();
    const device = new HungPrinter();
    const p = open(device, clock);
    await flush();
    const seen: PrinterStatusView[] = [];
    const events: PrinterEvent[] = [];
    const off = p.onChange((s) => seen.push(s));
    p.onEvent((e) => events.push(e));
    device.status = PAPER_OUT;
    clock.increment(2000); // the idle status poll
    await flush();
    clock.increment(2000); // another poll, same status: no notice
    await flush();
    expect(seen.map((s) => s.state)).toEqual(['paper_out']);
    expect(seen[0]).toMatchObject({ ready: false, paper: 'out', fault: 'printer.paper_out' });
    expect(events).toEqual([
      { type: 'paper', state: 'out' },
      { type: 'fault', code: 'printer.paper_out', detail: expect.any(String) },
    ]);
    off();
    device.status = ONLINE;
    clock.increment(2000);
    await flush();
    expect(seen).toHaveLength(1);
  });
});

describe('printer façade on the simulated Epson printer', () => {
  let sim: SimulatedPrinter;
  let printer: Printer | null = null;
  afterEach(async () => {
    await printer?.stop();
    await sim.close();
  });

  async function started(config: Parameters<typeof startPrinter>[0]): Promise<Printer> {
    sim = await startSimulatedPrinter();
    printer = startPrinter(config, { openTransport: () => openTcpPrinter('127.0.0.1', sim.port), log: silentLogger() });
    const t0 = Date.now();
    while (!printer.status().ready && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
    return printer;
  }

  it('a TM-T88 prints a ticket confirmed, laid out on 42 columns with no line wider, and reports the bytes it measured', async () => {
    const p = await started({ type: 'epson', model: 'tm-t88' });
    expect(p.columns).toBe(42);
    expect(p.diagnostics()).toMatchObject({ model: 'epson', profile: 'tm-t88', columns: 42 });
    const answered: PrinterEvent[] = [];
    p.onEvent((e) => e.type === 'jobAnswered' && answered.push(e));
    const answer = await p.print({ kind: 'ticket', content: ticket() }, { timeoutMs: 10_000 });
    expect(answer).toEqual({ confirmed: true, outcome: 'confirmed', reason: null });
    const [job] = await sim.waitForJobs(1);
    const lines = decodeEscPos(job!.raw, { printWidthDots: 1_000_000 }).lines;
    const widest = Math.max(...lines.map((l) => l.runs.reduce((n, r) => n + [...r.text].length * r.width, 0)));
    expect(widest).toBeLessThanOrEqual(42);
    expect(lines.map((l) => l.text)).toContain('Esta é uma senha prioritária');
    expect(answered).toMatchObject([{ type: 'jobAnswered', isTicket: true, outcome: 'confirmed' }]);
  });

  it('printer.columns overrides the model: 32 columns on a TM-T20', async () => {
    const p = await started({ type: 'epson', columns: 32 });
    expect(p.profile.key).toBe('tm-t20');
    await p.print({ kind: 'slip', lines: ['-'.repeat(32), 'a line of text that is a good deal longer than thirty-two columns'] }, { timeoutMs: 10_000 });
    const [job] = await sim.waitForJobs(1);
    const lines = decodeEscPos(job!.raw, { printWidthDots: 1_000_000 }).lines;
    expect(Math.max(...lines.map((l) => l.text.length))).toBe(32);
  });

  it('refuses at once while the paper is out, and stop() closes the connection', async () => {
    const p = await started({ type: 'epson' });
    sim.setStatus({ paper: 'out' });
    const answer = await p.print({ kind: 'ticket', content: ticket() }, { timeoutMs: 10_000 });
    expect(answer).toMatchObject({ confirmed: false, outcome: 'refused', reason: 'paperOut' });
    await p.stop();
    expect(p.status().state).toBe('disconnected');
  });
});
