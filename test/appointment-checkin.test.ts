/**
 * Appointment check-in end to end over real seams: POST /api/appointments/checkin on the
 * real controller, a real mosquitto, the simulated central with appointments registered
 * relative to now, the simulated Epson printer on TCP, and a scanner on MockBinding.
 * The controller's whole log is captured: an appointment code never appears in it in full.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Scan } from '../src/facades/scanner.js';
import { STATUS_POLL_MS } from '../src/machines/printerDelays.js';
import { DEFAULT_EARLY_MIN } from '../sim/central/centralSimulator.js';
import { MOCK_SCANNER_PATH, startKiosk as startHarnessKiosk, stopKiosks, type Kiosk as HarnessKiosk } from './support/kioskHarness.js';
import { useMosquitto } from './support/mosquitto.js';
import { waitUntil as pollUntil } from './support/waitUntil.js';

const REQUEST_TIMEOUT_MS = 300;
const NOTICE_MS = STATUS_POLL_MS * 3;
const HOUR_MS = 3_600_000;
const SCANNER_PATH = MOCK_SCANNER_PATH;

const CODES = { onTime: 'SIM-ON-TIME', early: 'SIM-EARLY-1', late: 'SIM-LATE-01', second: 'AB12-CD34-EF56' };
const ALL_CODES = Object.values(CODES);

const broker = useMosquitto();
afterEach(stopKiosks);

interface Kiosk extends HarnessKiosk {
  logText(): string;
  checkin(body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

const waitUntil = (what: string, pred: () => boolean, timeoutMs = NOTICE_MS) => pollUntil(what, pred, { timeoutMs });

async function startKiosk(): Promise<Kiosk> {
  const services = [
    { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' } },
    { id: 'contribuicoes', prefix: 'C', name: { 'pt-PT': 'Contribuições', en: 'Contributions' } },
  ];
  // The controller's whole log, at debug level: no appointment code may appear in it.
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const kiosk = await startHarnessKiosk({
    brokerUrl: broker.url,
    scanner: true,
    central: {},
    config: { upstream: { url: broker.url, prefix: 'siga', requestTimeoutMs: REQUEST_TIMEOUT_MS }, services },
    options: { logLevel: 'debug', logTo: sink },
  });
  const now = Date.now();
  kiosk.central.addAppointment({ code: CODES.onTime, service: 'prestacoes', at: new Date(now) });
  kiosk.central.addAppointment({ code: CODES.second, service: 'contribuicoes', at: new Date(now + 10 * 60_000) });
  kiosk.central.addAppointment({ code: CODES.early, service: 'prestacoes', at: new Date(now + 2 * HOUR_MS) });
  kiosk.central.addAppointment({ code: CODES.late, service: 'prestacoes', at: new Date(now - 2 * HOUR_MS) });
  return Object.assign(kiosk, {
    logText: () => chunks.join(''),
    checkin: (body: unknown) => kiosk.request('POST', '/api/appointments/checkin', body),
  });
}

function expectNoCodeIn(text: string): void {
  for (const code of ALL_CODES) expect(text, `code ${code} must not appear`).not.toContain(code);
}

describe('a citizen checks in for an appointment', () => {
  it('on time: gets the appointment number central gave, printed with the service, the time and a masked code; central hears appointment.checkin', async () => {
    const k = await startKiosk();
    const res = await k.checkin({ code: ' sim-on-time ' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ ticket: 'A001', service: 'prestacoes', peopleAhead: 0, offline: false, provisional: false, printed: true, estimatedWaitMin: expect.anything() });

    const [job] = await k.printer.waitForJobs(1);
    expect(job!.complete).toBe(true);
    expect(job!.document.lines.find((l) => l.text.trim() === 'A001')?.width).toBeGreaterThanOrEqual(4);
    expect(job!.text).toContain('Atendimento por marcação');
    expect(job!.document.lines.some((l) => l.text.includes('Prestações'))).toBe(true);
    expect(job!.text).toContain('Hora marcada');
    expect(job!.text).toContain('*******TIME');
    expect(job!.text).not.toContain('PROVISÓRIA');
    expect(job!.document.cuts).toBe(1);

    const event = await k.central.waitForEvent((e) => e.type === 'appointment.checkin', 5_000);
    expect(event.data).toEqual({ ticket: 'A001', service: 'prestacoes', offline: false, provisional: false, result: 'checked_in', peopleAhead: 0, codeHint: '*******TIME' });
    expect(k.central.events().filter((e) => e.type === 'ticket.issued')).toEqual([]);
    expect(k.central.requests().map((r) => [r.type, r.data])).toEqual([['appointment.checkin', { code: 'SIM-ON-TIME' }]]);
    expectNoCodeIn(JSON.stringify(k.central.events()));
    expect(k.logText()).toContain('appointment checked in');
    expectNoCodeIn(k.logText());
  });

  it('too early: 409 with the time to come back, and nothing printed', async () => {
    const k = await startKiosk();
    const res = await k.checkin({ code: CODES.early });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('too_early');
    expect(typeof res.body.message).toBe('string');
    const comeBackAt = Date.parse(String(res.body.comeBackAt));
    const expected = Date.now() + 2 * HOUR_MS - DEFAULT_EARLY_MIN * 60_000;
    expect(Math.abs(comeBackAt - expected)).toBeLessThan(60_000);
    await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
    expect(k.printer.jobs).toHaveLength(0);
    expectNoCodeIn(k.logText());
  });

  it('too late: 409 too_late (the screen offers a normal ticket), unknown code: 404, checked in twice: 409; nothing printed', async () => {
    const k = await startKiosk();
    const late = await k.checkin({ code: CODES.late });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: 'too_late' });
    const unknown = await k.checkin({ code: 'NO-SUCH-CODE' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'unknown_appointment' });
    expect(k.printer.jobs).toHaveLength(0);
    expect((await k.checkin({ code: CODES.second })).status).toBe(201);
    const twice = await k.checkin({ code: CODES.second });
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ error: 'already_checked_in' });
    expect(await k.printer.waitForJobs(1)).toHaveLength(1);
    expectNoCodeIn(k.logText());
  });

  it('refuses a code of the wrong shape with 400 invalid_code, without asking central', async () => {
    const k = await startKiosk();
    for (const code of ['abc', 'A'.repeat(33), 'AB CD EF', 42, '-ABCDEF']) {
      const res = await k.checkin({ code });
      expect(res.status, String(code)).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_code' });
    }
    expect((await k.checkin(['SIM-ON-TIME'])).body).toMatchObject({ error: 'invalid_request' });
    expect(k.central.requests()).toHaveLength(0);
    expect(k.printer.jobs).toHaveLength(0);
  });

  it('central silent: a provisional appointment ticket with the kiosk’s own number, marked provisional and offline on paper, reported upstream', async () => {
    const k = await startKiosk();
    k.central.silent(true);
    const res = await k.checkin({ code: CODES.onTime });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ ticket: 'A-K1-001', service: null, peopleAhead: null, offline: true, provisional: true, printed: true, estimatedWaitMin: null });
    const [job] = await k.printer.waitForJobs(1);
    expect(job!.document.lines.find((l) => l.text.trim() === 'A-K1-001')?.width).toBeGreaterThanOrEqual(4);
    expect(job!.text).toContain('SENHA PROVISÓRIA');
    expect(job!.text).toContain('SEM LIGAÇÃO (OFFLINE)');
    expect(job!.text).toContain('*******TIME');
    k.central.silent(false);
    const event = await k.central.waitForEvent((e) => e.type === 'appointment.checkin', 5_000);
    expect(event.data).toEqual({ ticket: 'A-K1-001', service: null, offline: true, provisional: true, result: 'provisional', peopleAhead: null, codeHint: '*******TIME' });
    expect(k.logText()).toContain('provisional appointment ticket');
    expectNoCodeIn(k.logText());
  });

  it('the printer out of paper: 503 and central is not asked, so the appointment is not used up', async () => {
    const k = await startKiosk();
    k.printer.setStatus({ paper: 'out' });
    await waitUntil('printer sees paper out', () => !k.controller.printer!.status().ready);
    const res = await k.checkin({ code: CODES.onTime });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'printer_unavailable' });
    expect(k.central.requests()).toHaveLength(0);
  });
});

describe('the printer fails in the middle of an appointment ticket', () => {
  it('reprints it with the same number once the roll is changed, and reports the check-in once', async () => {
    const k = await startKiosk();
    k.printer.paperOutAfterBytes(120);
    const res = await k.checkin({ code: CODES.onTime });
    expect(res.status).toBe(503);
    expect(k.printer.jobs.map((j) => j.complete)).toEqual([false]);
    k.printer.refill();
    const jobs = await k.printer.waitForJobs(3, NOTICE_MS * 2);
    const reprint = jobs.at(-1)!;
    expect(reprint.complete).toBe(true);
    expect(reprint.document.lines.some((l) => l.text.trim() === 'A001' && l.width >= 4)).toBe(true);
    expect(reprint.text).toContain('Atendimento por marcação');
    await k.central.waitForEvent((e) => e.type === 'appointment.checkin', 5_000);
    expect(k.central.events().filter((e) => e.type === 'appointment.checkin').map((e) => e.data)).toEqual([
      { ticket: 'A001', service: 'prestacoes', offline: false, provisional: false, result: 'checked_in', peopleAhead: 0, codeHint: '*******TIME' },
    ]);
    expect(k.controller.tickets!.ledger.pending()).toEqual([]);
    expectNoCodeIn(k.logText());
  }, 40_000);
});

describe('checking in with the scanner', () => {
  it('offers each scanned code to the screen, valid or not, and tells central a code was scanned (never which)', async () => {
    const k = await startKiosk();
    const scans: Scan[] = [];
    k.controller.scanner!.onScan((s) => scans.push(s));
    await waitUntil('scanner open', () => k.controller.scanner!.status().state === 'ready');
    k.serial.emitData(SCANNER_PATH, 'not-an-appointment code\r');
    k.serial.emitData(SCANNER_PATH, `${CODES.onTime}\r\n`);
    await waitUntil('two scans', () => scans.length === 2);
    expect(scans.map((s) => [s.code, s.valid])).toEqual([
      ['not-an-appointment code', false],
      [CODES.onTime, true],
    ]);
    const state = (await (await fetch(`${k.controller.url}/api/scanner`)).json()) as Record<string, unknown>;
    expect(state).toMatchObject({ state: 'ready', port: SCANNER_PATH, counters: { scans: 2, valid: 1, invalid: 1 } });

    await k.central.waitForEvents((es) => es.filter((e) => e.type === 'scanner.scan').length === 2, 5_000);
    expect(k.central.events().filter((e) => e.type === 'scanner.scan').map((e) => e.data)).toEqual([
      { kind: 'unrecognised', valid: false },
      { kind: 'appointment_code', valid: true },
    ]);
    expectNoCodeIn(JSON.stringify(k.central.events()));
    expectNoCodeIn(k.logText());
  });
});
