/**
 * The deposit flow end to end over real seams: POST /api/deposits on the real controller,
 * the simulated board on a MockBinding serial port, the simulated Epson printer on TCP,
 * a real mosquitto and the simulated central receiving the events, all through the one
 * integration harness. The deposit machine runs on XState's SimulatedClock, so the
 * 2-minute wait for the envelope is advanced, not slept.
 */
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { BoardCommand } from '../devices/board/frames.js';
import { DEPOSIT_DROP_TIMEOUT_MS, DEPOSIT_RESULT_KEPT_MS } from '../src/dropbox/depositDesk.js';
import { STATUS_POLL_MS } from '../src/machines/printerDelays.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import type { BoardSimulator } from '../sim/board/boardSimulator.js';
import { startKiosk as startHarnessKiosk, stopKiosks, type Kiosk as HarnessKiosk } from './support/kioskHarness.js';
import { useMosquitto } from './support/mosquitto.js';
import { waitUntil as pollUntil } from './support/waitUntil.js';

const WAIT_MS = 5_000;

const broker = useMosquitto();
afterEach(stopKiosks);

interface Kiosk extends HarnessKiosk {
  /** The controller's clock: the deposit window and the drop box's timers advance with it. */
  clock: SimulatedClock & { advance(ms: number): void };
}

const waitUntil = (what: string, pred: () => boolean, timeoutMs = WAIT_MS) => pollUntil(what, pred, { timeoutMs });

async function startKiosk(opts: { boardAttached?: boolean } = {}): Promise<Kiosk> {
  const clock = Object.assign(new SimulatedClock(), {
    advance(ms: number) {
      clock.increment(ms);
    },
  });
  clock.set(Date.now());
  const kiosk = await startHarnessKiosk({
    brokerUrl: broker.url,
    kioskId: 'd1-k1',
    board: { on: 'mock', attached: opts.boardAttached !== false, sim: { boardId: 'DEP-1', heartbeatMs: 200 } },
    central: { services: [] },
    options: { clock },
  });
  return Object.assign(kiosk, { clock });
}

const ledCommands = (board: BoardSimulator) => board.commandsReceived.filter((r) => r.command.type === 'LED').map((r) => (r.command as Extract<BoardCommand, { type: 'LED' }>).mode);
const ofType = (events: EventEnvelope[], type: string) => events.filter((e) => e.type === type).map((e) => e.data);

describe('a citizen deposits documents in the drop box', () => {
  it('gets a printed receipt, the slot lights up, and the envelope dropped is linked to the receipt upstream', async () => {
    const k = await startKiosk();
    const res = await k.request('POST', '/api/deposits');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ receipt: 'R-K1-000001', expiresInS: DEPOSIT_DROP_TIMEOUT_MS / 1000 });

    const [job] = await k.printer.waitForJobs(1);
    expect(job!.complete).toBe(true);
    expect(job!.document.lines.find((l) => l.text.trim() === 'R-K1-000001')?.width).toBeGreaterThanOrEqual(4);
    expect(job!.text).toContain('Comprovativo de entrega');
    expect(job!.text).toContain('Marco de entrega: box-1');
    expect(job!.text).toContain('Guarde este comprovativo');
    expect(job!.text).toMatch(/Emitida em: \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/);
    expect(job!.document.qrCodes).toEqual([`https://siga.seg-social.pt/r/${k.controller.config.kiosk.site}/R-K1-000001`]);
    expect(job!.document.cuts).toBe(1);

    await k.board.waitForCommand((c) => c.type === 'LED' && c.mode === 'ON', WAIT_MS);
    expect((await k.request('GET', '/api/deposits/current')).body).toEqual({ state: 'awaiting_drop', receipt: 'R-K1-000001', secondsLeft: 120, box: 'box-1', reason: null });
    k.clock.advance(30_000);
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ secondsLeft: 90 });

    k.board.drop(1);
    const deposit = await k.central.waitForEvent((e) => e.type === 'dropbox.deposit', WAIT_MS);
    expect(deposit.data).toEqual({ box: 'box-1', count: 1, inferred: false, receipt: 'R-K1-000001' });
    await waitUntil('light off', () => ledCommands(k.board).at(-1) === 'OFF');
    expect(ledCommands(k.board)).toEqual(['ON', 'OFF']);
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'received', receipt: 'R-K1-000001', secondsLeft: null });

    // The next envelope is nobody's receipt; the time running out later voids nothing.
    k.board.drop(1);
    await k.central.waitForEvents((es) => es.filter((e) => e.type === 'dropbox.deposit').length === 2, WAIT_MS);
    k.clock.advance(DEPOSIT_DROP_TIMEOUT_MS);
    expect(ofType(k.central.events(), 'dropbox.deposit')[1]).toEqual({ box: 'box-1', count: 2, inferred: false });
    const issued = ofType(k.central.events(), 'dropbox.receipt_issued');
    expect(issued).toEqual([{ box: 'box-1', receipt: 'R-K1-000001' }]);
    expect(ofType(k.central.events(), 'dropbox.receipt_voided')).toEqual([]);
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'idle', receipt: null });
  });

  it('voids the receipt upstream and turns the light off when no envelope comes within the time', async () => {
    const k = await startKiosk();
    expect((await k.request('POST', '/api/deposits')).status).toBe(201);
    await k.board.waitForCommand((c) => c.type === 'LED' && c.mode === 'ON', WAIT_MS);
    k.clock.advance(DEPOSIT_DROP_TIMEOUT_MS - 1);
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'awaiting_drop', secondsLeft: 1 });
    k.clock.advance(1);
    const voided = await k.central.waitForEvent((e) => e.type === 'dropbox.receipt_voided', WAIT_MS);
    expect(voided.data).toEqual({ box: 'box-1', receipt: 'R-K1-000001', reason: 'no_drop' });
    await waitUntil('light off', () => ledCommands(k.board).at(-1) === 'OFF');
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'voided', receipt: 'R-K1-000001', reason: 'no_drop' });

    k.board.drop(1); // too late: not linked to the void receipt
    const deposit = await k.central.waitForEvent((e) => e.type === 'dropbox.deposit', WAIT_MS);
    expect(deposit.data).toEqual({ box: 'box-1', count: 1, inferred: false });
    k.clock.advance(DEPOSIT_RESULT_KEPT_MS);
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'idle' });
  });

  it('gives a citizen in speech mode three times the drop window, on the paper too', async () => {
    const k = await startKiosk();
    const res = await k.request('POST', '/api/deposits', { moreTime: true });
    expect(res.body).toEqual({ receipt: 'R-K1-000001', expiresInS: (3 * DEPOSIT_DROP_TIMEOUT_MS) / 1000 });
    const [job] = await k.printer.waitForJobs(1);
    expect(job!.text).toContain(`${(3 * DEPOSIT_DROP_TIMEOUT_MS) / 60_000} min`);
    await k.board.waitForCommand((c) => c.type === 'LED' && c.mode === 'ON', WAIT_MS);
    k.clock.advance(DEPOSIT_DROP_TIMEOUT_MS);
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'awaiting_drop', secondsLeft: (2 * DEPOSIT_DROP_TIMEOUT_MS) / 1000 });
    k.clock.advance(2 * DEPOSIT_DROP_TIMEOUT_MS);
    const voided = await k.central.waitForEvent((e) => e.type === 'dropbox.receipt_voided', WAIT_MS);
    expect(voided.data).toMatchObject({ receipt: 'R-K1-000001', reason: 'no_drop' });
    expect((await k.request('POST', '/api/deposits', { moreTime: 'yes' })).status).toBe(400);
  });

  it('voids the receipt as cancelled when the citizen walks away', async () => {
    const k = await startKiosk();
    expect((await k.request('POST', '/api/deposits')).status).toBe(201);
    const cancel = await k.request('DELETE', '/api/deposits/current');
    expect({ status: cancel.status, body: cancel.body }).toEqual({ status: 200, body: { state: 'voided', receipt: 'R-K1-000001', reason: 'cancelled' } });
    const voided = await k.central.waitForEvent((e) => e.type === 'dropbox.receipt_voided', WAIT_MS);
    expect(voided.data).toMatchObject({ reason: 'cancelled' });
    await waitUntil('light off', () => ledCommands(k.board).at(-1) === 'OFF');
    const again = await k.request('DELETE', '/api/deposits/current');
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ error: 'no_deposit' });
  });
});

describe('deposits the kiosk refuses', () => {
  it('answers 409 box_full when the drop box reports itself full, and prints nothing', async () => {
    const k = await startKiosk();
    k.board.fill(100);
    await waitUntil('box full', () => k.controller.dropbox!.status().fillLevel === 'full');
    const res = await k.request('POST', '/api/deposits');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'box_full' });
    expect(typeof res.body.message).toBe('string');
    expect(k.printer.jobs).toHaveLength(0);
    expect(ledCommands(k.board)).toEqual([]);
  });

  it('prints one receipt for a double tap: the second POST is 409 busy', async () => {
    const k = await startKiosk();
    const [a, b] = await Promise.all([k.request('POST', '/api/deposits'), k.request('POST', '/api/deposits')]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect((a.status === 409 ? a : b).body).toMatchObject({ error: 'busy' });
    expect((await k.request('POST', '/api/deposits')).body).toMatchObject({ error: 'busy' }); // still waiting for the envelope
    await k.central.waitForEvent((e) => e.type === 'dropbox.receipt_issued', WAIT_MS);
    await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
    expect(k.printer.jobs).toHaveLength(1);
    expect(ofType(k.central.events(), 'dropbox.receipt_issued')).toHaveLength(1);
  });

  it('answers 503 dropbox_unavailable when the board is silent, and 503 printer_unavailable with the paper out; nothing printed, no light', async () => {
    const silent = await startKiosk({ boardAttached: false });
    const res = await silent.request('POST', '/api/deposits');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'dropbox_unavailable' });
    expect(silent.printer.jobs).toHaveLength(0);

    const k = await startKiosk();
    k.printer.setStatus({ paper: 'out' });
    await waitUntil('printer sees paper out', () => !k.controller.printer!.status().ready, STATUS_POLL_MS * 3);
    const noPaper = await k.request('POST', '/api/deposits');
    expect(noPaper.status).toBe(503);
    expect(noPaper.body).toMatchObject({ error: 'printer_unavailable' });
    expect(k.printer.jobs).toHaveLength(0);
    expect(ledCommands(k.board)).toEqual([]);
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'idle' });
  });
});

describe('a receipt across a restart of the controller', () => {
  it('keeps waiting for the envelope with the time it had left, links it, and never reuses a receipt id', async () => {
    const k = await startKiosk();
    expect((await k.request('POST', '/api/deposits')).body).toMatchObject({ receipt: 'R-K1-000001' });
    k.clock.advance(60_000);
    await k.restart();
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'awaiting_drop', receipt: 'R-K1-000001', secondsLeft: 60 });
    await waitUntil('light on again', () => ledCommands(k.board).filter((m) => m === 'ON').length === 2);
    k.board.drop(1);
    const deposit = await k.central.waitForEvent((e) => e.type === 'dropbox.deposit', WAIT_MS);
    expect(deposit.data).toMatchObject({ count: 1, inferred: false, receipt: 'R-K1-000001' });
    await waitUntil('received', () => k.controller.deposits!.view().state === 'received');
    k.clock.advance(DEPOSIT_RESULT_KEPT_MS);
    expect((await k.request('POST', '/api/deposits')).body).toMatchObject({ receipt: 'R-K1-000002' });
  });

  it('voids a receipt whose time ran out while the controller was down', async () => {
    const k = await startKiosk();
    expect((await k.request('POST', '/api/deposits')).status).toBe(201);
    await k.controller.stop('down');
    k.clock.advance(DEPOSIT_DROP_TIMEOUT_MS + 1);
    await k.restart();
    const voided = await k.central.waitForEvent((e) => e.type === 'dropbox.receipt_voided', WAIT_MS);
    expect(voided.data).toEqual({ box: 'box-1', receipt: 'R-K1-000001', reason: 'no_drop' });
    expect((await k.request('GET', '/api/deposits/current')).body).toMatchObject({ state: 'voided' });
  });
});
