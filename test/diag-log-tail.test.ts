/**
 * The technician's log tail under `kiosk run` (issue #9: it was always empty, because the
 * CLI passed its own logger and the ring was wired only without one). The real CLI in a
 * child process: GET /api/diag/logs shows the controller's recent lines, newest last,
 * and the same lines still go to standard output for the journal. And in-process: a
 * quieter terminal (kiosk sim's warn) does not thin the technician's tail.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPin } from '../src/http/pin.js';
import { freePort, writeRunConfig } from './support/cliRun.js';
import { startKiosk, stopKiosks } from './support/kioskHarness.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { waitUntil } from './support/waitUntil.js';

const PIN = '482913';

let dir: string;
let broker: Mosquitto;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'diag-log-tail-'));
  broker = await startMosquitto();
});
afterEach(stopKiosks);
afterAll(async () => {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the diagnostics log tail under kiosk run', () => {
  it("shows the controller's recent lines, newest last, while they also go to standard output", async () => {
    const port = await freePort();
    const file = writeRunConfig(dir, port, { upstream: { url: broker.url, prefix: 'siga' }, diagnostics: { pinHash: await hashPin(PIN) } });
    const child = spawn(process.execPath, ['bin/kiosk.js', 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KIOSK_LOG_LEVEL: 'info' } });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitUntil('the controller answering', () => fetch(`${url}/api/health`).then((r) => r.ok, () => false), { timeoutMs: 15_000, pollMs: 100 });
      await waitUntil('upstream connected', () => stdout.includes('upstream connected'), { timeoutMs: 10_000 });
      const login = await fetch(`${url}/api/diag/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: PIN }) });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const res = await fetch(`${url}/api/diag/logs`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const { lines } = (await res.json()) as { lines: string[] };
      const parsed = lines.map((l) => JSON.parse(l) as { msg: string; time: string });
      const messages = parsed.map((l) => l.msg);
      expect(messages).toContain('kiosk controller started');
      expect(messages).toContain('upstream connected');
      const times = parsed.map((l) => Date.parse(l.time));
      expect(times).toEqual([...times].sort((x, y) => x - y)); // newest last
      expect(stdout).toContain('"msg":"kiosk controller started"');
      expect(lines.join('\n')).not.toContain(PIN);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('keeps info lines for the technician while the terminal shows only warnings (kiosk sim runs at warn)', async () => {
    let terminal = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        terminal += chunk.toString();
        cb();
      },
    });
    const kiosk = await startKiosk({ brokerUrl: broker.url, printer: false, options: { logLevel: 'warn', logTo: sink } });
    const messages = kiosk.controller.logs.lines().map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toContain('kiosk controller started');
    expect(terminal).not.toContain('kiosk controller started');
    kiosk.controller.log.warn('a warning for the terminal');
    expect(terminal).toContain('a warning for the terminal');
  });
});
