/**
 * The ticket path end to end over real seams: POST /api/tickets on the real controller,
 * a real mosquitto, the simulated central on it, and the simulated Epson printer on TCP.
 * What the printer received is decoded and checked; what central received is checked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ControllerOptions } from '../src/main.js';
import { STATUS_POLL_MS } from '../src/machines/printerDelays.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { startKiosk as startHarnessKiosk, stopKiosks, type Kiosk as HarnessKiosk } from './support/kioskHarness.js';
import { useMosquitto } from './support/mosquitto.js';
import { waitUntil as pollUntil } from './support/waitUntil.js';

/** Central's answer is awaited this long in these tests (the contract default is 1500). */
const REQUEST_TIMEOUT_MS = 300;
/** Long enough for the printer machine to notice a status change at its next poll. */
const PRINTER_NOTICE_MS = STATUS_POLL_MS * 3;

const broker = useMosquitto();
afterEach(stopKiosks);

interface Kiosk extends HarnessKiosk {
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
}

const SERVICES = [
  { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' }, online: true },
  { id: 'contribuicoes', prefix: 'C', name: { 'pt-PT': 'Contribuições', en: 'Contributions' } },
  // Known to the kiosk, unknown to central: central answers an error other than closed.
  { id: 'pensoes', prefix: 'N', name: { 'pt-PT': 'Pensões' } },
];

async function startKiosk(extra: { config?: Record<string, unknown>; options?: ControllerOptions; centralServices?: { id: string; prefix: string }[] } = {}): Promise<Kiosk> {
  const kiosk = await startHarnessKiosk({
    brokerUrl: broker.url,
    central: { services: extra.centralServices ?? SERVICES.filter((s) => s.id !== 'pensoes') },
    config: { upstream: { url: broker.url, prefix: 'siga', requestTimeoutMs: REQUEST_TIMEOUT_MS }, services: SERVICES, ...extra.config },
    ...(extra.options ? { options: extra.options } : {}),
  });
  return Object.assign(kiosk, {
    post: (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => kiosk.request('POST', '/api/tickets', body, headers),
  });
}

const waitUntil = (what: string, pred: () => boolean, timeoutMs = PRINTER_NOTICE_MS) => pollUntil(what, pred, { timeoutMs });

const ticketEvents = (events: EventEnvelope[], type = 'ticket.issued') => events.filter((e) => e.type === type);

describe('a citizen takes a ticket', () => {
  it('gets the number central gave, printed in large type with the service name and a QR, and central hears it was issued', async () => {
    const k = await startKiosk();
    const res = await k.post({ service: 'prestacoes', priority: false });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ ticket: 'P001', service: 'prestacoes', peopleAhead: 0, offline: false, printed: true, estimatedWaitMin: 0, likelyNotServedBeforeClosing: false });

    const [job] = await k.printer.waitForJobs(1);
    expect(job!.complete).toBe(true);
    const numberLine = job!.document.lines.find((l) => l.text.trim() === 'P001');
    expect(numberLine, job!.text).toBeDefined();
    expect(numberLine!.width).toBeGreaterThanOrEqual(4);
    expect(numberLine!.height).toBeGreaterThanOrEqual(4);
    expect(job!.document.lines.some((l) => l.text.includes('Prestações'))).toBe(true);
    expect(job!.document.qrCodes).toEqual([`https://siga.seg-social.pt/t/${k.config.kiosk.site}/P001`]);
    expect(job!.text).toContain('Segurança Social Direta'); // the service can be done online
    expect(job!.text).not.toContain('OFFLINE');
    expect(job!.document.cuts).toBe(1);

    const issued = await k.central.waitForEvent((e) => e.type === 'ticket.issued', 5_000);
    expect(issued.data).toEqual({ ticket: 'P001', service: 'prestacoes', priority: false, offline: false, peopleAhead: 0 });
  });

  it('counts the people ahead from central and prints the wait as a range', async () => {
    const k = await startKiosk();
    await k.post({ service: 'contribuicoes' });
    await k.post({ service: 'contribuicoes' });
    const res = await k.post({ service: 'contribuicoes', priority: true });
    expect(res.body).toMatchObject({ ticket: 'C*001', peopleAhead: 2, offline: false });
    const jobs = await k.printer.waitForJobs(3);
    expect(jobs[2]!.text).toContain('Pessoas à sua frente: 2');
    expect(jobs[2]!.text).toMatch(/Tempo de espera estimado: 5-15 min/); // 2 × 5 min = 10, ±25 % in 5-minute steps
  });

  it('gets an offline ticket, marked offline, when central stays silent, and central hears offline: true', async () => {
    const k = await startKiosk();
    k.central.silent(true);
    const started = Date.now();
    const res = await k.post({ service: 'prestacoes' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ticket: 'P-K1-001', offline: true, printed: true, peopleAhead: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 20);
    const [job] = await k.printer.waitForJobs(1);
    expect(job!.text).toContain('SEM LIGAÇÃO (OFFLINE)');
    expect(job!.document.lines.find((l) => l.text.trim() === 'P-K1-001')?.width).toBeGreaterThanOrEqual(4);
    const issued = await k.central.waitForEvent((e) => e.type === 'ticket.issued', 5_000);
    expect(issued.data).toMatchObject({ ticket: 'P-K1-001', offline: true });
  });

  it('keeps offline numbers unique across a restart of the controller on the same data folder', async () => {
    const k = await startKiosk();
    k.central.silent(true);
    const before = [(await k.post({ service: 'prestacoes' })).body.ticket, (await k.post({ service: 'prestacoes' })).body.ticket];
    await k.restart();
    const after = [(await k.post({ service: 'prestacoes' })).body.ticket, (await k.post({ service: 'prestacoes', priority: true })).body.ticket];
    expect([...before, ...after]).toEqual(['P-K1-001', 'P-K1-002', 'P-K1-003', 'P*-K1-004']);
  });

  it('treats a malformed reply or one for another request as no answer: an offline ticket, nothing twice', async () => {
    const k = await startKiosk();
    k.central.malformedNext();
    const first = await k.post({ service: 'prestacoes' });
    k.central.replyWithWrongId();
    const second = await k.post({ service: 'prestacoes' });
    expect([first.body.ticket, second.body.ticket]).toEqual(['P-K1-001', 'P-K1-002']);
    expect(await k.printer.waitForJobs(2)).toHaveLength(2);
  });
});

describe('the printer cannot print', () => {
  it('answers 503 and prints nothing, and asks central for nothing, while the paper is out', async () => {
    const k = await startKiosk();
    k.printer.setStatus({ paper: 'out' });
    await waitUntil('printer sees paper out', () => k.controller.printer!.status().state === 'paper_out');
    const res = await k.post({ service: 'prestacoes' });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'printer_unavailable', detail: 'paper_out' });
    expect(typeof res.body.message).toBe('string');
    expect(k.printer.jobs).toHaveLength(0);
    expect(k.central.requests()).toHaveLength(0);
    const health = (await (await fetch(`${k.controller.url}/api/health`)).json()) as { devices: { printer: { state: string; ready: boolean } } };
    expect(health.devices.printer).toMatchObject({ state: 'paper_out', ready: false });
  });

  it('reads the status for each ticket: paper gone since the last read is caught before a byte of the ticket is sent', async () => {
    const k = await startKiosk();
    expect((await k.post({ service: 'prestacoes' })).status).toBe(201);
    // The kiosk last saw the printer ready (its read after the first job); the paper goes now.
    k.printer.setStatus({ paper: 'out' });
    const res = await k.post({ service: 'prestacoes' });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'printer_unavailable' });
    expect(k.printer.jobs).toHaveLength(1);
    expect(k.printer.heldBytes).toBe(0); // nothing of the second ticket was even sent
  });

  it('reprints the same number once the roll is changed when the paper ran out in the middle of the ticket, and reports it issued once', async () => {
    const k = await startKiosk();
    k.printer.paperOutAfterBytes(120);
    const res = await k.post({ service: 'prestacoes' });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'printer_unavailable' });
    expect(k.printer.jobs.map((j) => j.complete)).toEqual([false]);
    expect(ticketEvents(k.central.events())).toHaveLength(0);

    k.printer.refill();
    const jobs = await k.printer.waitForJobs(3, PRINTER_NOTICE_MS * 2);
    const reprint = jobs.at(-1)!;
    expect(reprint.complete).toBe(true);
    expect(reprint.continued).toBe(false);
    expect(reprint.document.lines.some((l) => l.text.trim() === 'P001' && l.width >= 4)).toBe(true);
    await k.central.waitForEvent((e) => e.type === 'ticket.issued', 5_000);
    expect(ticketEvents(k.central.events()).map((e) => e.data)).toEqual([
      { ticket: 'P001', service: 'prestacoes', priority: false, offline: false, peopleAhead: 0 },
    ]);
    // The next citizen gets the next number: nothing reused.
    expect((await k.post({ service: 'prestacoes' })).body.ticket).toBe('P002');
  }, 40_000);

  it('voids the number upstream with ticket.print_failed when the printer is not back in time', async () => {
    const k = await startKiosk({ options: { ticketTimings: { sweepMs: 100, reprintWindowMs: 400 } } });
    k.central.delayReplies(150);
    const pending = k.post({ service: 'prestacoes' });
    await k.central.waitForRequests((r) => r.length === 1, 2_000);
    k.printer.setStatus({ coverOpen: true }); // opened after the number was given, before the print
    const res = await pending;
    expect(res.status).toBe(503);
    const failed = await k.central.waitForEvent((e) => e.type === 'ticket.print_failed', 5_000);
    expect(failed.data).toMatchObject({ ticket: 'P001' });
    expect(ticketEvents(k.central.events())).toHaveLength(0);
    expect(k.printer.jobs).toHaveLength(0);
    expect(k.controller.tickets!.ledger.pending()).toEqual([]);
  });
});

describe('opening hours', () => {
  // 2026-11-28 is a Saturday; November is winter time in Lisbon (UTC+0).
  const weekdays = { mon: [['09:00', '16:00']], tue: [['09:00', '16:00']], wed: [['09:00', '16:00']], thu: [['09:00', '16:00']], fri: [['09:00', '16:00']], sun: [['09:00', '16:00']] };
  let clock = new Date('2026-11-28T11:00:00Z');
  const hoursKiosk = () =>
    startKiosk({ config: { hours: { timezone: 'Europe/Lisbon', weekly: weekdays, cutoffMinutes: 30 } }, options: { now: () => clock } });

  it('answers 409 closed, with the next opening, on a day the office is closed, and prints nothing', async () => {
    const k = await hoursKiosk();
    clock = new Date('2026-11-28T11:00:00Z');
    const res = await k.post({ service: 'prestacoes' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'closed', reason: 'closed', nextOpening: '2026-11-29T09:00:00.000Z' });
    expect(typeof res.body.message).toBe('string');
    expect(k.printer.jobs).toHaveLength(0);
    expect(k.central.requests()).toHaveLength(0);
  });

  it('answers 409 after the cut-off before closing, and issues just before it', async () => {
    const k = await hoursKiosk();
    clock = new Date('2026-11-30T15:29:00Z'); // Monday 15:29, cut-off at 15:30
    expect((await k.post({ service: 'prestacoes' })).status).toBe(201);
    clock = new Date('2026-11-30T15:30:00Z');
    const res = await k.post({ service: 'prestacoes' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'closed', reason: 'cutoff' });
    expect(k.printer.jobs).toHaveLength(1);
  });

  it('follows the change to summer time: on 29 March 2026 the office opens at 09:00 and closes at 16:00 Lisbon summer time', async () => {
    const k = await hoursKiosk();
    clock = new Date('2026-03-29T08:05:00Z'); // 09:05 WEST: open (08:05 in UTC would be closed)
    expect((await k.post({ service: 'prestacoes' })).status).toBe(201);
    clock = new Date('2026-03-29T15:10:00Z'); // 16:10 WEST: closed (15:10 in UTC would be open)
    const res = await k.post({ service: 'prestacoes' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'closed', nextOpening: '2026-03-30T08:00:00.000Z' });
    const [job] = await k.printer.waitForJobs(1);
    expect(job!.text).toContain('29/03/2026 09:05'); // the printed time is Lisbon's too
  });

  it('prints a warning when the estimated wait ends after closing time', async () => {
    const k = await hoursKiosk();
    clock = new Date('2026-11-30T15:00:00Z'); // closes 16:00; 13 ahead × 5 min = 65 min
    for (let i = 0; i < 13; i++) await k.post({ service: 'contribuicoes' });
    clock = new Date('2026-11-30T15:00:00Z');
    await k.post({ service: 'contribuicoes' });
    const jobs = await k.printer.waitForJobs(14);
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    expect(flat(jobs[12]!.text)).not.toContain('antes da hora de fecho'); // 12 ahead: 60 min, ends 16:00 sharp
    expect(flat(jobs[13]!.text)).toContain('não seja atendido antes da hora de fecho');
  });
});

describe('requests the kiosk refuses', () => {
  it('answers 400 for an unknown service, a bad priority, malformed JSON; 415 for another content type; 413 for a huge body; nothing printed', async () => {
    const k = await startKiosk();
    const unknown = await k.post({ service: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: 'unknown_service' });
    const badPriority = await k.post({ service: 'prestacoes', priority: 'yes' });
    expect(badPriority.status).toBe(400);
    expect(badPriority.body).toMatchObject({ error: 'invalid_request' });
    const malformed = await k.post('{"service": "prestacoes"');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: 'malformed_json' });
    const notJson = await k.post('service=prestacoes', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(notJson.status).toBe(415);
    const huge = await k.post({ service: 'prestacoes', pad: 'x'.repeat(64 * 1024) });
    expect(huge.status).toBe(413);
    for (const r of [unknown, badPriority, malformed, notJson, huge]) expect(typeof r.body.message).toBe('string');
    expect(k.printer.jobs).toHaveLength(0);
    expect(k.central.requests()).toHaveLength(0);
  });

  it('answers 409 closed when central says the service is closed, 502 for any other refusal, and prints nothing', async () => {
    const k = await startKiosk();
    k.central.setClosed(true, 'prestacoes');
    const closed = await k.post({ service: 'prestacoes' });
    expect(closed.status).toBe(409);
    expect(closed.body).toMatchObject({ error: 'closed', reason: 'central' });
    const refused = await k.post({ service: 'pensoes' });
    expect(refused.status).toBe(502);
    expect(refused.body).toMatchObject({ error: 'central_error', code: 'unknown_service' });
    expect(typeof refused.body.message).toBe('string');
    expect(k.printer.jobs).toHaveLength(0);
  });

  it('answers 503 busy to a second request while a ticket is being issued, and prints one ticket', async () => {
    const k = await startKiosk();
    k.central.delayReplies(100);
    const [a, b] = await Promise.all([k.post({ service: 'prestacoes' }), k.post({ service: 'prestacoes' })]);
    expect([a.status, b.status].sort()).toEqual([201, 503]);
    const busy = a.status === 503 ? a : b;
    expect(busy.body).toMatchObject({ error: 'busy' });
    expect(busy.headers.get('retry-after')).toBe('2');
    expect(await k.printer.waitForJobs(1)).toHaveLength(1);
  });
});
