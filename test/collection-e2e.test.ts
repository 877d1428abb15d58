/**
 * A collection end to end: the real controller with the simulated board on a PTY, the
 * simulated TCP printer and a real Mosquitto. Citizens deposit (with and without
 * receipts), the collector signs in on the diagnostics API, unlocks, opens, closes: the
 * count central receives in `dropbox.collected` must equal the deposits it received
 * since the last collection, the board must be reset, and the slip printed must say
 * the same count and the receipt range.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashPin } from '../src/http/pin.js';
import type { Controller } from '../src/main.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import type { PtyBoard } from '../sim/board/ptyBoard.js';
import type { PrintedJob, SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { startKiosk, stopKiosks } from './support/kioskHarness.js';
import { collectEvents, startMosquitto, type EventCollector, type Mosquitto } from './support/mosquitto.js';
import { waitUntil } from './support/waitUntil.js';

const KIOSK = 'lisboa-01-k1';
const SITE = 'lisboa-01';
const EVENTS_TOPIC = `siga/${SITE}/${KIOSK}/events`;
const PIN = '739164';
const WAIT_MS = 15_000;
const POLL_MS = 50;

let pinHash: string;
beforeAll(async () => {
  pinHash = await hashPin(PIN);
});

const until = <T>(what: string, probe: () => T | Promise<T>) => waitUntil(what, probe, { timeoutMs: WAIT_MS, pollMs: POLL_MS });

function received(collector: EventCollector): EventEnvelope[] {
  const seen = new Set<string>();
  const out: EventEnvelope[] = [];
  for (const m of collector.messages) {
    const e = JSON.parse(m.payload) as EventEnvelope;
    if (!seen.has(e.id)) {
      seen.add(e.id);
      out.push(e);
    }
  }
  return out.sort((a, b) => a.seq - b.seq);
}

const slipJobs = (printer: SimulatedPrinter): PrintedJob[] => printer.jobs.filter((j) => j.document.lines.some((l) => l.text.includes('Recolha de documentos')));
const lineStarting = (job: PrintedJob, prefix: string): string | undefined => job.document.lines.map((l) => l.text).find((t) => t.startsWith(prefix));

describe('a drop-box collection from the diagnostics API, end to end', () => {
  let broker: Mosquitto;
  let board: PtyBoard;
  let printer: SimulatedPrinter;
  let collector: EventCollector;
  let controller: Controller | null = null;
  let token = '';

  beforeEach(async () => {
    broker = await startMosquitto();
    collector = await collectEvents(broker.url, EVENTS_TOPIC);
    const kiosk = await startKiosk({
      brokerUrl: broker.url,
      kioskId: KIOSK,
      site: SITE,
      board: { on: 'pty', sim: { boardId: 'COLLECT-1' } },
      config: { upstream: { url: broker.url, prefix: 'siga' }, diagnostics: { pinHash } },
      options: { upstreamBackoff: { initialMs: 50, maxMs: 200 } },
      // Ready is what the diagnostics API says, below.
      ready: { printer: false, upstream: false, dropbox: false },
    });
    controller = kiosk.controller;
    board = kiosk.pty;
    printer = kiosk.printer;
    const login = await api('POST', '/api/diag/login', { pin: PIN });
    expect(login.status).toBe(200);
    token = String(login.body.token);
    await until('the board online and the printer ready', async () => {
      const s = (await api('GET', '/api/diag/status')).body as { dropbox: { state: string }; printer: { ready: boolean } };
      return s.dropbox.state === 'online' && s.printer.ready;
    });
  });

  afterEach(async () => {
    await stopKiosks();
    controller = null;
    await collector.stop();
    await broker.stop();
  });

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(controller!.url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  /** A citizen's deposit with a receipt: printed, then the envelope dropped. */
  async function depositWithReceipt(): Promise<string> {
    const before = controller!.dropbox!.status().recordedCount;
    const started = await controller!.deposits!.begin();
    if (started.kind !== 'started') throw new Error(`deposit not started: ${started.kind}`);
    board.sim.drop(1);
    await until('the deposit recorded', () => controller!.dropbox!.status().recordedCount === before + 1);
    return started.receipt;
  }

  async function collect(): Promise<void> {
    const start = await api('POST', '/api/diag/collection/start', {});
    expect(start.status).toBe(202);
    await board.sim.waitForCommand((c) => c.type === 'UNLOCK', WAIT_MS);
    expect(board.sim.openDoor()).toBe(true);
    await until('the door open on the collection screen', async () => ((await api('GET', '/api/diag/collection')).body.phase === 'door_open' ? true : null));
    board.sim.closeDoor();
  }

  it('the count collected equals the deposits central received, the board is reset, and the slip says the same count and receipts', async () => {
    const receipts = [await depositWithReceipt(), await depositWithReceipt()];
    board.sim.drop(1); // an envelope without a receipt
    await until('three deposits recorded', () => controller!.dropbox!.status().recordedCount === 3);

    const start = await api('POST', '/api/diag/collection/start', {});
    expect(start.status).toBe(202);
    expect((start.body.collection as { count: number }).count).toBe(3);
    await board.sim.waitForCommand((c) => c.type === 'UNLOCK', WAIT_MS);
    expect(board.sim.openDoor()).toBe(true);
    const open = await until('the live count while the door is open', async () => {
      const c = (await api('GET', '/api/diag/collection')).body;
      return c.phase === 'door_open' ? c : null;
    });
    expect(open.count).toBe(3);
    expect(open.sinceLast).toEqual({ receipts: 2, from: receipts[0], to: receipts[1] });
    board.sim.closeDoor();

    // The board acknowledged RESET: its counter is zero and nothing is pending.
    const reset = await board.sim.waitForCommand((c) => c.type === 'RESET', WAIT_MS);
    expect(reset.command).toEqual({ type: 'RESET', dropCount: 3 });
    expect(reset.answer).toBe('ack');
    await until('the reset confirmed', () => controller!.dropbox!.status().pendingReset === null);
    expect(board.sim.state.dropCount).toBe(0);

    // Central: collected count = deposits since the last collection; the slip event agrees.
    await collector.waitFor((ms) => ms.some((m) => m.payload.includes('"dropbox.collection_slip"')), WAIT_MS);
    const events = received(collector);
    const collected = events.filter((e) => e.type === 'dropbox.collected');
    expect(collected).toHaveLength(1);
    const deposits = events.filter((e) => e.type === 'dropbox.deposit' && e.seq < collected[0]!.seq);
    expect((collected[0]!.data as { count: number }).count).toBe(deposits.length);
    expect(deposits.map((e) => (e.data as { receipt?: string }).receipt).filter(Boolean)).toEqual(receipts);
    const slipEvent = events.find((e) => e.type === 'dropbox.collection_slip')!;
    expect(slipEvent.data).toEqual({ box: 'box-1', count: 3, receipts: 2, receiptsFrom: receipts[0], receiptsTo: receipts[1] });

    // The printed slip (decoded from the printer's bytes) says the same.
    const [slip] = slipJobs(printer);
    expect(slip).toBeDefined();
    expect(slip!.complete).toBe(true);
    expect(lineStarting(slip!, 'ENVELOPES RECOLHIDOS')).toBe('ENVELOPES RECOLHIDOS: 3');
    expect(lineStarting(slip!, 'Do nº')).toBe(`Do nº: ${receipts[0]}`);
    expect(lineStarting(slip!, 'Ao nº')).toBe(`Ao nº: ${receipts[1]}`);
    expect(lineStarting(slip!, 'Envelopes sem comprovativo')).toBe('Envelopes sem comprovativo: 1');
    expect(lineStarting(slip!, 'Caixa')).toBe('Caixa: box-1');
    expect(slip!.text).toContain('Testemunha:');
    expect(slip!.text).toContain('Recolhido por:');
    expect(slip!.document.cuts).toBe(1);

    // The next collection counts only what came after this one.
    const third = await depositWithReceipt();
    await collect();
    await until('the second slip', () => slipJobs(printer).length === 2);
    const second = slipJobs(printer)[1]!;
    expect(lineStarting(second, 'ENVELOPES RECOLHIDOS')).toBe('ENVELOPES RECOLHIDOS: 1');
    expect(lineStarting(second, 'Do nº')).toBe(`Do nº: ${third}`);
  });

  it('a board that never acknowledges the reset shows on the collection screen and is reported upstream; the slip still prints', async () => {
    board.sim.drop(2);
    await until('two deposits recorded', () => controller!.dropbox!.status().recordedCount === 2);
    expect((await api('POST', '/api/diag/collection/start', {})).status).toBe(202);
    await board.sim.waitForCommand((c) => c.type === 'UNLOCK', WAIT_MS);
    expect(board.sim.openDoor()).toBe(true);
    await until('the door open on the collection screen', async () => ((await api('GET', '/api/diag/collection')).body.phase === 'door_open' ? true : null));
    board.sim.ignoreCommands(true); // the board is deaf from now on: RESET is never acknowledged
    board.sim.closeDoor();
    const stuck = await until('the unacknowledged reset on the screen', async () => {
      const c = (await api('GET', '/api/diag/collection')).body;
      return c.phase === 'reset_pending' ? c : null;
    });
    expect(stuck.pendingReset).toBe(2);
    await collector.waitFor((ms) => ms.some((m) => m.payload.includes('dropbox.command_unacked')), WAIT_MS);
    await until('the slip', () => slipJobs(printer).length === 1);
    expect(lineStarting(slipJobs(printer)[0]!, 'ENVELOPES RECOLHIDOS')).toBe('ENVELOPES RECOLHIDOS: 2');
    // The count is never lost: still pending, shown on the board tab too.
    const status = (await api('GET', '/api/diag/status')).body as { dropbox: { pendingReset: number | null } };
    expect(status.dropbox.pendingReset).toBe(2);
  });
});
