/**
 * `kiosk diag` run as a technician would: the real bin/kiosk.js in a child process,
 * against a real HttpServer with the diagnostics routes on fake devices.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashPin } from '../src/http/pin.js';
import { HttpServer } from '../src/http/server.js';
import { createLogRing } from '../kernel/logRing.js';
import { createLogger, silentLogger } from '../kernel/log.js';
import { registerDiagRoutes, type DiagRoutes, type SlotLightMode } from '../src/http/diagRoutes.js';
import type { NewEvent } from '../src/upstream/events.js';
import { dropboxView, printerView, upstreamStatus } from './support/diagFakes.js';

const PIN = '482913';
const KIOSK_BIN = fileURLToPath(new URL('../bin/kiosk.js', import.meta.url));
const CLI_TIMEOUT_MS = 15_000;

let server: HttpServer;
let routes: DiagRoutes;
let url: string;
let events: NewEvent[];
let calls: { testPrint: number; led: SlotLightMode[]; unlock: number[] };
let fill = 35;
const logRing = createLogRing(100);

beforeAll(async () => {
  const pinHash = await hashPin(PIN);
  server = new HttpServer({ host: '127.0.0.1', port: 0, log: silentLogger() });
  routes = registerDiagRoutes(server, {
    diagnostics: { pinHash, sessionIdleMinutes: 5 },
    log: silentLogger(),
    printer: printerView,
    // Fill changes between readings so `sensors` shows live values.
    dropbox: () => ({ ...dropboxView(), fillPercent: (fill += 5) }),
    scanner: null,
    upstream: upstreamStatus,
    outbox: {
      depth: () => 3,
      oldest: () => ({ seq: 41, ts: new Date(Date.now() - 95_000).toISOString() }),
      recent: () => [{ seq: 43, type: 'dropbox.deposit', ts: '2026-11-28T08:59:00.000Z' }],
    },
    logs: logRing,
    actions: {
      testPrint: async () => {
        calls.testPrint++;
        return { printed: true, detail: null };
      },
      setSlotLight: (mode) => calls.led.push(mode),
      unlockDoor: (ms) => calls.unlock.push(ms),
    },
    defaultUnlockMs: 30_000,
    record: (e) => events.push(e),
  });
  url = (await server.listen()).url;
  const log = createLogger({ destination: logRing });
  log.warn({ device: 'printer', code: 'printer.paper_near_end' }, 'paper near end');
});

afterAll(async () => {
  routes?.stop();
  await server?.close();
});

beforeEach(() => {
  events = [];
  calls = { testPrint: 0, led: [], unlock: [] };
});

function kiosk(args: string[], opts: { pin?: string | null; stdin?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.KIOSK_DIAG_PIN;
  if (opts.pin !== null) env.KIOSK_DIAG_PIN = opts.pin ?? PIN;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KIOSK_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kiosk ${args.join(' ')} did not finish: ${stdout}${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('kiosk diag against a running controller', () => {
  it('shows every device readably after signing in with KIOSK_DIAG_PIN, then signs out', async () => {
    const r = await kiosk(['diag', 'status', '--url', url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Printer\s+paper_near_end\s+paper near_end/);
    expect(r.stdout).toContain('raw status bytes 16 12 12 1e');
    expect(r.stdout).toMatch(/Drop box\s+online\s+link ready/);
    expect(r.stdout).toContain('door closed');
    expect(r.stdout).toContain('dropCount 7');
    expect(r.stdout).toContain('$1200,FILL,35*1B');
    expect(r.stdout).toMatch(/Scanner\s+not configured/);
    expect(r.stdout).toMatch(/Upstream\s+NOT CONNECTED\s+outbox 3 event\(s\), oldest 95 s/);
    expect(events.map((e) => e.type)).toEqual(['diag.login', 'diag.logout']);
    expect(routes.auth.openSessions()).toBe(0);
  });

  it('prints the status as JSON with --json', async () => {
    const r = await kiosk(['diag', 'status', '--url', url, '--json']);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout) as { printer: { rawStatus: string[] }; upstream: { outboxDepth: number } };
    expect(status.printer.rawStatus).toEqual(['16', '12', '12', '1e']);
    expect(status.upstream.outboxDepth).toBe(3);
  });

  it('reads the PIN from standard input when KIOSK_DIAG_PIN is not set', async () => {
    const r = await kiosk(['diag', 'outbox', '--url', url], { pin: null, stdin: `${PIN}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Outbox: 3 event(s) waiting');
    expect(r.stdout).toMatch(/43\s+2026-11-28T08:59:00.000Z\s+dropbox.deposit/);
  });

  it('shows the log tail as readable lines', async () => {
    const r = await kiosk(['diag', 'logs', '--url', url, '--lines', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/WARN\s+paper near end device=printer code=printer.paper_near_end/);
  });

  it('prints a test ticket, blinks the slot light and unlocks the door on request', async () => {
    const print = await kiosk(['diag', 'test-print', '--url', url]);
    expect(print.stdout).toContain('Test ticket printed');
    const led = await kiosk(['diag', 'led', 'blink', '--url', url]);
    expect(led.stdout).toContain('Slot light set to BLINK');
    const unlock = await kiosk(['diag', 'unlock', '5000', '--url', url]);
    expect(unlock.stdout).toContain('Door lock released for 5 s');
    expect([print.code, led.code, unlock.code]).toEqual([0, 0, 0]);
    expect(calls).toEqual({ testPrint: 1, led: ['BLINK'], unlock: [5000] });
  });

  it('shows the sensors live, one reading a second, for --count readings', async () => {
    const r = await kiosk(['diag', 'sensors', '--url', url, '--count', '2']);
    expect(r.code).toBe(0);
    const readings = r.stdout.split('\n').filter((l) => l.includes('door '));
    expect(readings).toHaveLength(2);
    expect(readings[0]).toMatch(/online\s+door closed\s+fill\s+\d+%\s+slot empty\s+key OFF\s+dropCount 7/);
    expect(readings[0]).not.toBe(readings[1]);
  });

  it('says "Wrong PIN" and how many tries are left, and exits 1', async () => {
    const r = await kiosk(['diag', 'status', '--url', url], { pin: '000000' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Wrong PIN: 4 more wrong PIN(s) and logins are locked');
    expect(r.stdout).toBe('');
    // Clear the count for the next tests.
    expect((await kiosk(['diag', 'outbox', '--url', url])).code).toBe(0);
  });

  it('says how long to wait when logins are locked after repeated wrong PINs', async () => {
    for (let i = 0; i < 5; i++) await routes.auth.login('000000');
    const r = await kiosk(['diag', 'status', '--url', url]);
    expect(r.code).toBe(1);
    // The wait counts down from 30 s while the CLI starts (slowly on a loaded machine).
    const wait = /Too many wrong PINs: diagnostics are locked\. Try again in (\d+) s/.exec(r.stderr);
    expect(wait).not.toBeNull();
    expect(Number(wait![1])).toBeGreaterThan(0);
    expect(Number(wait![1])).toBeLessThanOrEqual(30);
  });

  it('asks whether the controller is running when nothing answers at --url', async () => {
    const r = await kiosk(['diag', 'status', '--url', `http://127.0.0.1:${await closedPort()}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot reach the controller at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is the controller running\?/);
  });
});
