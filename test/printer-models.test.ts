/**
 * Printer models as profiles (devices/printer/models/): each model family's status
 * requests and their decoding, its confirmation strategy and its paper geometry, the
 * config keys that choose one, and the driver following the profile on the wire.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  PRINTER_MODELS,
  PRINTER_MODEL_KEYS,
  printerColumns,
  printerProfile,
  type PrinterProfile,
} from '../devices/printer/models/index.js';
import { classifyStatus } from '../devices/printer/statusProtocol.js';
import { PrinterDriver, STATUS_REPLY_TIMEOUT_MS, starSettleMs } from '../devices/printer/printerDriver.js';
import { openTcpPrinter } from '../devices/printer/printerTransport.js';
import { FONT_A_WIDTH_DOTS, encodeTicket } from '../devices/printer/ticketLayout.js';
import { parseConfig } from '../src/config/load.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { encodeAsb, starBehaviours, startStarPrinterSimulator, type StarPrinterSimulator } from '../sim/printer/starSimulator.js';

const example = JSON.parse(readFileSync(new URL('../examples/kiosk.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const withPrinter = (printer: Record<string, unknown>) => ({ ...example, printer: { interface: 'tcp://127.0.0.1:9100', ...printer } });

const bytes = (p: PrinterProfile) => p.statusRequests.map((r) => [...r.bytes]);
const decode = (p: PrinterProfile, ...replies: number[][]) => classifyStatus(p.decodeStatus(replies.map((r) => Buffer.from(r))));

describe('the model registry', () => {
  it('has the TM-T20 (576 dots, 48 columns), TM-T88 (512 dots, 42 columns) and TSP100/650 (576 dots, 48 columns) families', () => {
    expect(PRINTER_MODEL_KEYS).toEqual(['tm-t20', 'tm-t88', 'tsp100']);
    const geometry = Object.values(PRINTER_MODELS).map((p) => [p.key, p.family, p.headDots, p.columns]);
    expect(geometry).toEqual([
      ['tm-t20', 'epson', 576, 48],
      ['tm-t88', 'epson', 512, 42],
      ['tsp100', 'star', 576, 48],
    ]);
  });

  it("each model's columns of font A fit its head", () => {
    for (const p of Object.values(PRINTER_MODELS)) expect(p.columns * FONT_A_WIDTH_DOTS).toBeLessThanOrEqual(p.headDots);
  });

  it('a type alone means its 48-column model; a model of another type is refused', () => {
    expect(printerProfile('epson').key).toBe('tm-t20');
    expect(printerProfile('star').key).toBe('tsp100');
    expect(printerProfile('epson', 'tm-t88').key).toBe('tm-t88');
    expect(() => printerProfile('star', 'tm-t88')).toThrow(/not a star printer/);
  });

  it('columns: printer.columns wins, else the named model, else 48', () => {
    expect(printerColumns({})).toBe(48);
    expect(printerColumns({ model: 'tm-t88' })).toBe(42);
    expect(printerColumns({ model: 'tm-t88', columns: 32 })).toBe(32);
  });
});

describe('the config keys printer.type, printer.model and printer.columns', () => {
  it('accept the contract\'s "epson" and "star" alone, columns defaulting to none (48 at use)', () => {
    expect(parseConfig(withPrinter({ type: 'star' }), '/k.json').printer).toMatchObject({ type: 'star' });
    expect(parseConfig(withPrinter({ type: 'epson' }), '/k.json').printer?.columns).toBeUndefined();
  });

  it('accept a model of the type and 32, 42 or 48 columns', () => {
    expect(parseConfig(withPrinter({ type: 'epson', model: 'tm-t88', columns: 42 }), '/k.json').printer).toMatchObject({ model: 'tm-t88', columns: 42 });
    expect(parseConfig(withPrinter({ type: 'epson', columns: 32 }), '/k.json').printer?.columns).toBe(32);
  });

  it('refuse a model of another type, an unknown model and other column counts, naming the key', () => {
    expect(() => parseConfig(withPrinter({ type: 'star', model: 'tm-t88' }), '/k.json')).toThrow(/printer\.model/);
    expect(() => parseConfig(withPrinter({ type: 'epson', model: 'tm-u220' }), '/k.json')).toThrow(/printer\.model/);
    expect(() => parseConfig(withPrinter({ type: 'epson', columns: 40 }), '/k.json')).toThrow(/printer\.columns/);
  });
});

describe.each(['tm-t20', 'tm-t88'] as const)('Epson %s profile', (key) => {
  const p = PRINTER_MODELS[key];

  it('asks DLE EOT 1, 2 and 4, one byte each, and confirms with GS ( H', () => {
    expect(bytes(p)).toEqual([
      [0x10, 0x04, 0x01],
      [0x10, 0x04, 0x02],
      [0x10, 0x04, 0x04],
    ]);
    expect(p.statusRequests.map((r) => r.replyLength(0x12))).toEqual([1, 1, 1]);
    expect(p.confirmation).toEqual({ kind: 'completionRequest' });
  });

  it('decodes online, offline, cover open, paper near end, paper out and garbage (CONTRACT §4 bits)', () => {
    expect(decode(p, [0x12], [0x12], [0x12])).toBe('online');
    expect(decode(p, [0x1a], [0x12], [0x12])).toBe('offline');
    expect(decode(p, [0x1a], [0x16], [0x12])).toBe('coverOpen');
    expect(decode(p, [0x12], [0x12], [0x1e])).toBe('paperNearEnd');
    expect(decode(p, [0x1a], [0x32], [0x7e])).toBe('paperOut');
    expect(decode(p, [0x12], [0x52], [0x12])).toBe('error');
    expect(p.decodeStatus([Buffer.from([0xff]), Buffer.from([0x12]), Buffer.from([0x12])]).valid).toBe(false);
    expect(decode(p, [0x12])).toBe('offline'); // two answers missing
  });
});

describe('Star TSP100/650 profile', () => {
  const p = PRINTER_MODELS.tsp100;

  it('asks ESC ACK SOH, reads an ASB message of the length its header gives, and confirms by a status read after the job', () => {
    expect(bytes(p)).toEqual([[0x1b, 0x06, 0x01]]);
    expect(p.statusRequests[0]!.replyLength(0x23)).toBe(9);
    expect(p.statusRequests[0]!.replyLength(0x0f)).toBe(7);
    expect(p.statusRequests[0]!.replyLength(0x12)).toBeNull();
    expect(p.confirmation).toEqual({ kind: 'statusAfterJob', settleBaseMs: 2500 });
  });

  it('decodes online, offline, cover open, paper near end, paper out, cutter error and garbage', () => {
    const asb = (s: Partial<Parameters<typeof encodeAsb>[0]>) => [...encodeAsb({ paper: 'ok', coverOpen: false, offline: false, error: false, ...s })];
    expect(decode(p, asb({}))).toBe('online');
    expect(decode(p, asb({ coverOpen: true }))).toBe('coverOpen');
    expect(decode(p, asb({ paper: 'near_end' }))).toBe('paperNearEnd');
    expect(decode(p, asb({ paper: 'out' }))).toBe('paperOut');
    expect(decode(p, asb({ error: true }))).toBe('error');
    expect(decode(p, [0x23, 0x06, 0x08, 0, 0, 0, 0, 0, 0])).toBe('offline');
    expect(p.decodeStatus([Buffer.from([0x23, 0x06, 0xff, 0, 0, 0, 0, 0, 0])]).valid).toBe(false);
  });
});

describe('the driver follows the profile on the wire', () => {
  let epson: SimulatedPrinter | null = null;
  let star: StarPrinterSimulator | null = null;
  let driver: PrinterDriver | null = null;
  afterEach(async () => {
    vi.useRealTimers();
    await driver?.close();
    await epson?.close();
    await star?.close();
    driver = null;
    epson = null;
    star = null;
  });

  it('a TM-T88 prints a 42-column ticket confirmed by GS ( H on the Epson simulator', async () => {
    epson = await startSimulatedPrinter();
    driver = new PrinterDriver({ type: 'epson', profile: PRINTER_MODELS['tm-t88'], openTransport: () => openTcpPrinter('127.0.0.1', epson!.port) });
    await driver.connect();
    const job = encodeTicket(
      { number: 'P042', serviceName: 'Prestações', office: 'Lisboa', issuedAt: new Date(0), timeZone: 'UTC', locale: 'pt-PT', peopleAhead: 3, waitMin: null, qrUrl: 'https://x.pt/P042', contactLine: '', onlineHint: false, likelyNotServedBeforeClosing: false, offline: false, kind: 'ticket' },
      { type: 'epson', columns: 42 },
    );
    const r = await driver.print(job, Buffer.from('0042'));
    expect(r).toMatchObject({ outcome: 'confirmed', confirmed: true });
    expect(epson.received.includes(Buffer.from([0x1d, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30, 0x30, 0x30, 0x34, 0x32]))).toBe(true);
  });

  it('a TSP100 reads one ASB per status read and, without an answer within 1 s, is offline', async () => {
    star = await startStarPrinterSimulator();
    driver = new PrinterDriver({ type: 'star', openTransport: () => openTcpPrinter('127.0.0.1', star!.port) });
    await driver.connect();
    expect(classifyStatus(await driver.readStatus())).toBe('online');
    star.setStatus({ coverOpen: true });
    expect(classifyStatus(await driver.readStatus())).toBe('coverOpen');
    expect(star.received.equals(Buffer.from([0x1b, 0x06, 0x01, 0x1b, 0x06, 0x01]))).toBe(true);
    star.use(starBehaviours.silentStatus);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const read = driver.readStatus();
    await vi.advanceTimersByTimeAsync(STATUS_REPLY_TIMEOUT_MS);
    expect(classifyStatus(await read)).toBe('offline');
  });

  it('a TSP100 job is confirmed by the status read after it, not before the settle time', async () => {
    star = await startStarPrinterSimulator();
    driver = new PrinterDriver({ type: 'star', openTransport: () => openTcpPrinter('127.0.0.1', star!.port) });
    await driver.connect();
    const job = encodeTicket(
      { number: 'P043', serviceName: 'Prestações', office: 'Lisboa', issuedAt: new Date(0), timeZone: 'UTC', locale: 'pt-PT', peopleAhead: 3, waitMin: null, qrUrl: 'https://x.pt/P043', contactLine: '', onlineHint: false, likelyNotServedBeforeClosing: false, offline: false, kind: 'ticket' },
      { type: 'star' },
    );
    // The pre-print read on real timers (made for this print), the settle wait on fake ones.
    expect(classifyStatus(await driver.readStatus({ forNextPrint: true }))).toBe('online');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let settled = false;
    const print = driver.print(job, Buffer.from('0043')).finally(() => (settled = true));
    const t0 = Date.now();
    while (star.jobs.length === 0 && Date.now() - t0 < 3000) await new Promise((r) => setImmediate(r));
    expect(star.jobs).toHaveLength(1);
    expect(star.jobs[0]!.text).toContain('P043');
    await vi.advanceTimersByTimeAsync(starSettleMs(job.length) - 100);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    vi.useRealTimers();
    expect(await print).toMatchObject({ outcome: 'confirmed', confirmed: true });
    // Before the job and after it: two ASB requests, and no Epson command on a Star.
    expect(star.received.includes(Buffer.from([0x10, 0x04]))).toBe(false);
    expect(star.received.includes(Buffer.from([0x1d, 0x28, 0x48]))).toBe(false);
  });
});
