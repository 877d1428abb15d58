/**
 * The serial barcode/QR scanner: its line protocol (pure), and the scanner machine behind
 * its façade over the two serial seams — MockBinding (bytes pushed, XState's simulated
 * clock for the reopen backoff) and a real socat PTY with the simulated scanner —
 * including garbage on the wire and the cable pulled and plugged back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { SCAN_MAX_LINE_BYTES, SCAN_PARTIAL_LINE_MS, ScanLineFramer, encodeScan } from '../devices/scanner/protocol.js';
import { backoffCeilingMs } from '../devices/link/backoff.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import type { SerialTransportFactory } from '../devices/serial/transport.js';
import { startScanner, type Scan, type Scanner } from '../src/facades/scanner.js';
import { createLogger, silentLogger } from '../src/log.js';
import { SCANNER_LINK_POLICY } from '../src/machines/scannerMachine.js';
import { codeHint, isAppointmentCode, normalizeAppointmentCode } from '../src/tickets/appointments.js';
import { startPtyScanner, type PtyScanner } from '../sim/scanner/scannerSimulator.js';
import { createMockSerialFactory, type MockSerialFactory } from '../sim/serial/mockTransport.js';
import { Writable } from 'node:stream';
import { waitUntil } from './support/waitUntil.js';

const PATH = '/dev/ttyACM1';
const FAST_BACKOFF = { initialMs: 20, maxMs: 100 };
const WAIT_MS = 3_000;
const POLL_MS = 10;
const WAITING = { timeoutMs: WAIT_MS, pollMs: POLL_MS };


const lines = (items: ReturnType<ScanLineFramer['push']>) => items.map((i) => (i.ok ? i.line : `!${i.reason}`));

describe('the scanner line protocol', () => {
  it('gives one code per line whether the scanner ends lines with CR, LF or CR LF', () => {
    const f = new ScanLineFramer('\r');
    expect(lines(f.push(Buffer.from('AB12-CD34\rEF56-GH78\r\nIJ90-KL12\n'), 0))).toEqual(['AB12-CD34', 'EF56-GH78', 'IJ90-KL12']);
  });

  it('joins a code split across chunks', () => {
    const f = new ScanLineFramer('\r\n');
    expect(f.push(Buffer.from('SIM-ON'), 0)).toEqual([]);
    expect(lines(f.push(Buffer.from('-TIME\r\n'), 5))).toEqual(['SIM-ON-TIME']);
  });

  it('rejects a line with non-printable bytes and an over-long line, and goes on with the next code', () => {
    const f = new ScanLineFramer();
    const long = 'X'.repeat(SCAN_MAX_LINE_BYTES + 1);
    expect(lines(f.push(Buffer.from(`\x00\xffAB\x07CD\r${long}\rGOOD-CODE\r`, 'latin1'), 0))).toEqual(['!not_printable', '!too_long', 'GOOD-CODE']);
  });

  it('drops a half code left without its line end, so it cannot prefix the next one', () => {
    const f = new ScanLineFramer();
    expect(f.push(Buffer.from('HALF-'), 0)).toEqual([]);
    expect(lines(f.push(Buffer.from('AB12-CD34\r'), SCAN_PARTIAL_LINE_MS + 1))).toEqual(['!stale', 'AB12-CD34']);
  });

  it('encodes a scan as the code and the configured line ending', () => {
    expect(encodeScan('AB12-CD34', '\r\n').toString('latin1')).toBe('AB12-CD34\r\n');
  });
});

describe('appointment code shape', () => {
  it('accepts 6 to 32 capital letters, digits and inner dashes, after trimming and upper-casing', () => {
    for (const ok of ['SIM-ON-TIME', 'AB12CD', 'A'.repeat(32), normalizeAppointmentCode('  ab12-cd34 ')]) expect(isAppointmentCode(ok), ok).toBe(true);
    for (const bad of ['ABCDE', 'A'.repeat(33), '-ABCDEF', 'ABCDEF-', 'AB CD EF', 'ABÇDEF', 'ab12cd', 'https://x.pt/abc']) expect(isAppointmentCode(bad), bad).toBe(false);
    expect(codeHint('SIM-ON-TIME')).toBe('*******TIME');
  });
});

function captureLog() {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: sink }), text: () => chunks.join('') };
}

/** The scanner with the real link machine; on a simulated clock when one is given. */
function makeScanner(openSerial: SerialTransportFactory, path: string, log = silentLogger(), clock?: SimulatedClock) {
  const scanner = startScanner({
    path,
    baudRate: 9600,
    openSerial,
    validate: (c) => isAppointmentCode(normalizeAppointmentCode(c)),
    mask: codeHint,
    log,
    ...(clock ? { clock, now: () => clock.now() } : { backoff: FAST_BACKOFF }),
  });
  const scans: Scan[] = [];
  const faults: string[] = [];
  scanner.onScan((s) => scans.push(s));
  scanner.onFault((e) => faults.push(`${e.kind}:${e.code}`));
  return { scanner, scans, faults };
}

describe('the scanner on a serial port (MockBinding)', () => {
  let mock: MockSerialFactory;
  let stop: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await stop?.();
    stop = null;
  });

  it('offers each scanned code once, marks wrong-shape codes invalid, and never logs a code in full', async () => {
    mock = createMockSerialFactory();
    const logs = captureLog();
    const { scanner, scans } = makeScanner(mock, PATH, logs.log);
    stop = () => scanner.stop();
    await waitUntil('port open', () => scanner.status().state === 'ready');
    mock.emitData(PATH, 'AB12-CD34\r');
    mock.emitData(PATH, 'AB12-CD34\r'); // the same card held under the beam again
    mock.emitData(PATH, 'hello world\r\n');
    await waitUntil('two scans', () => scans.length === 2, WAITING);
    expect(scans.map((s) => [s.code, s.valid])).toEqual([
      ['AB12-CD34', true],
      ['hello world', false],
    ]);
    expect(Number.isNaN(Date.parse(scans[0]!.at))).toBe(false);
    expect(scanner.status().counters).toMatchObject({ scans: 2, valid: 1, invalid: 1, repeatsSuppressed: 1 });
    expect(logs.text()).toContain('*****CD34');
    expect(logs.text()).not.toContain('AB12-CD34');
  });

  it('counts garbage and over-long lines without offering them, and still reads the next code', async () => {
    mock = createMockSerialFactory();
    const { scanner, scans } = makeScanner(mock, PATH);
    stop = () => scanner.stop();
    await waitUntil('port open', () => scanner.status().state === 'ready');
    mock.emitData(PATH, Buffer.from('\x00\x01\xfe\xff\r', 'latin1'));
    mock.emitData(PATH, `${'9'.repeat(SCAN_MAX_LINE_BYTES * 3)}\r`);
    mock.emitData(PATH, 'SIM-ON-TIME\r');
    await waitUntil('one scan', () => scans.length === 1, WAITING);
    expect(scans[0]).toMatchObject({ code: 'SIM-ON-TIME', valid: true });
    expect(scanner.status().counters.rejected).toEqual({ not_printable: 1, too_long: 1, stale: 0 });
  });

  it('reports the cable pulled as a fault, reopens with backoff, reports the recovery and reads again', async () => {
    mock = createMockSerialFactory();
    const clock = new SimulatedClock();
    const { scanner, scans, faults } = makeScanner(mock, PATH, silentLogger(), clock);
    stop = () => scanner.stop();
    await waitUntil('port open', () => scanner.status().state === 'ready');
    const states: string[] = [];
    scanner.onChange((s) => states.push(s.state));
    mock.unplug(PATH);
    await waitUntil('port lost', () => scanner.status().state === 'reconnecting');
    expect(faults).toEqual(['fault:scanner.disconnected']);
    // Several failed reopens, each after its backoff on the simulated clock.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const opensBefore = mock.openCount(PATH);
      clock.increment(backoffCeilingMs(SCANNER_LINK_POLICY, attempt));
      await waitUntil(`reopen ${attempt} failed`, () => scanner.status().state === 'reconnecting' && scanner.status().lastError !== null);
      expect(mock.openCount(PATH)).toBe(opensBefore); // a failed open is not an open
    }
    expect(faults).toEqual(['fault:scanner.disconnected']); // reported once per outage
    expect(states.filter((x) => x === 'connecting')).toHaveLength(3); // each reopen attempt shows
    mock.replug(PATH);
    clock.increment(backoffCeilingMs(SCANNER_LINK_POLICY, 4));
    await waitUntil('port back', () => scanner.status().state === 'ready');
    expect(faults).toEqual(['fault:scanner.disconnected', 'recovered:scanner.disconnected']);
    mock.emitData(PATH, 'AB12-CD34\r');
    await waitUntil('scan after replug', () => scans.length === 1, WAITING);
    expect(mock.openCount(PATH)).toBe(2);
    expect(scanner.status().counters.portLost).toBe(1);
  });

  it('tells onChange listeners the plain status as it changes', async () => {
    mock = createMockSerialFactory();
    const { scanner } = makeScanner(mock, PATH);
    stop = () => scanner.stop();
    const seen: string[] = [];
    const off = scanner.onChange((s) => seen.push(`${s.state}:${s.counters.scans}`));
    await waitUntil('port open', () => scanner.status().state === 'ready');
    mock.emitData(PATH, 'AB12-CD34\r');
    await waitUntil('scan seen', () => seen.includes('ready:1'));
    off();
    mock.emitData(PATH, 'EF56-GH78\r');
    await waitUntil('second scan counted', () => scanner.status().counters.scans === 2);
    expect(seen.at(-1)).toBe('ready:1'); // unsubscribed
    expect(seen).toContain('ready:0');
  });

  it('our own stop closes the port and is never reported as a fault', async () => {
    mock = createMockSerialFactory();
    const { scanner, faults } = makeScanner(mock, PATH);
    await waitUntil('port open', () => scanner.status().state === 'ready');
    expect(mock.isOpen(PATH)).toBe(true);
    await scanner.stop();
    expect(mock.isOpen(PATH)).toBe(false);
    expect(scanner.status().state).toBe('disconnected');
    await new Promise((r) => setTimeout(r, FAST_BACKOFF.maxMs * 2));
    expect(faults).toEqual([]);
    expect(mock.openCount(PATH)).toBe(1);
  });

  it('starts without its scanner plugged in and picks it up when it is', async () => {
    mock = createMockSerialFactory({ ports: [] });
    const { scanner, faults } = makeScanner(mock, PATH);
    stop = () => scanner.stop();
    await waitUntil('first open failed', () => scanner.status().state === 'reconnecting');
    expect(scanner.status().lastError).toMatch(/not found/);
    mock.addPort(PATH);
    await waitUntil('port open', () => scanner.status().state === 'ready', WAITING);
    expect(faults).toEqual(['fault:scanner.disconnected', 'recovered:scanner.disconnected']);
  });
});

describe('the scanner on a real pseudo-terminal with the simulated scanner', () => {
  let dir: string;
  let sim: PtyScanner | null = null;
  let scanner: Scanner | null = null;
  afterEach(async () => {
    await scanner?.stop();
    await sim?.stop();
    scanner = null;
    sim = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads codes ended by CR and by CR LF, ignores garbage, and survives an unplug and replug', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiosk-scanner-'));
    sim = await startPtyScanner(dir);
    const made = makeScanner(openSerialPort, sim.controllerPath);
    scanner = made.scanner;
    await waitUntil('port open', () => made.scanner.status().state === 'ready');
    await sim.scan('SIM-ON-TIME');
    await sim.sendRaw('AB12-CD34\r\n');
    await sim.sendRaw(Buffer.from('\x1b[2J\x00\r', 'latin1'));
    await sim.sendRaw('not a code\r');
    await waitUntil('three scans', () => made.scans.length === 3, WAITING);
    expect(made.scans.map((s) => [s.code, s.valid])).toEqual([
      ['SIM-ON-TIME', true],
      ['AB12-CD34', true],
      ['not a code', false],
    ]);
    expect(made.scanner.status().counters.rejected.not_printable).toBe(1);

    await sim.unplug();
    await waitUntil('unplug noticed', () => made.scanner.status().state !== 'ready', WAITING);
    await sim.replug();
    await waitUntil('reopened', () => made.scanner.status().state === 'ready', { timeoutMs: 5_000 });
    await sim.scan('EF56-GH78');
    await waitUntil('scan after replug', () => made.scans.length === 4, WAITING);
    expect(made.scans[3]).toMatchObject({ code: 'EF56-GH78', valid: true });
    expect(made.faults).toEqual(['fault:scanner.disconnected', 'recovered:scanner.disconnected']);
  });
});
