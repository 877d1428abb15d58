/**
 * `kiosk run` under systemd (CONTRACT §8), against a real Unix datagram socket standing
 * in for systemd's: READY=1 only once the HTTP API answers (and never when the start
 * fails), WATCHDOG=1 at least twice per WATCHDOG_USEC, STOPPING=1 on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readNotifyEnvironment, statusMessage } from '../src/systemd/notifyProtocol.js';
import { listenNotifySocket, type NotifyListener } from './support/notifySocket.js';

/** The watchdog period the tests give: pings are due every third of it. */
const WATCHDOG_USEC = 1_500_000;

describe('notification environment', () => {
  it('reads the socket and pings three times per watchdog period', () => {
    expect(readNotifyEnvironment({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' }, 42)).toEqual({ socket: '/run/systemd/notify', watchdogPingMs: 10_000 });
  });
  it('does not ping for another process or without a socket', () => {
    expect(readNotifyEnvironment({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42).watchdogPingMs).toBeNull();
    expect(readNotifyEnvironment({ WATCHDOG_USEC: '30000000' }, 42)).toEqual({ socket: null, watchdogPingMs: null });
    expect(readNotifyEnvironment({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: 'soon' }, 42).watchdogPingMs).toBeNull();
  });
  it('keeps a status line on one line', () => {
    expect(statusMessage('a\nb')).toBe('STATUS=a b\n');
  });
});

describe('kiosk run speaks sd_notify', () => {
  let dir: string;
  let notify: NotifyListener;
  let child: ChildProcess | null = null;
  let blocker: Server | null = null;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiosk-sdnotify-'));
    notify = listenNotifySocket();
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    child = null;
    blocker?.close();
    blocker = null;
    notify.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const writeConfig = (port: number): string => {
    const file = join(dir, 'kiosk.json');
    // No broker at port 1: the controller must be ready without its upstream.
    writeFileSync(file, JSON.stringify({ kiosk: { id: 'k1', site: 's1' }, dataDir: './var', http: { port }, upstream: { url: 'mqtt://127.0.0.1:1', prefix: 'siga' } }));
    return file;
  };
  const run = (config: string, env: Record<string, string>): { proc: ChildProcess; stdout: () => string; exited: Promise<number | null> } => {
    let out = '';
    const proc = spawn(process.execPath, ['bin/kiosk.js', 'run', '--config', config], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child = proc;
    return { proc, stdout: () => out, exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
  };

  it('says READY once /api/health answers, pings the watchdog at least twice per period, and says STOPPING on SIGTERM', async () => {
    const { proc, stdout, exited } = run(writeConfig(0), { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: String(WATCHDOG_USEC) });
    const ready = await notify.waitFor((m) => m.text.includes('READY=1'));
    const url = /serving (http:\/\/[^\s\n]+)/.exec(ready.text)?.[1];
    expect(url, ready.text).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // At the moment it says READY the API answers.
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    expect(stdout()).toContain('kiosk controller started');

    // Watch the pings for four periods of the watchdog.
    const from = notify.messages.length;
    await new Promise((r) => setTimeout(r, (4 * WATCHDOG_USEC) / 1000));
    const pings = notify.messages.slice(from).filter((m) => m.text === 'WATCHDOG=1\n');
    expect(pings.length).toBeGreaterThanOrEqual(8);
    const gaps = pings.slice(1).map((p, i) => p.atMs - pings[i]!.atMs);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(WATCHDOG_USEC / 1000 / 2);

    proc.kill('SIGTERM');
    await notify.waitFor((m) => m.text === 'STOPPING=1\n');
    expect(await exited).toBe(0);
    expect(notify.messages.filter((m) => m.text.includes('READY=1'))).toHaveLength(1);
    // STOPPING came before the controller had stopped (it is what systemd waits on).
    expect(stdout()).toContain('kiosk controller stopped');
  }, 40_000);

  it('never says READY when the controller cannot start (its HTTP port is taken)', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    const { exited, stdout } = run(writeConfig(taken), { NOTIFY_SOCKET: notify.path });
    expect(await exited, stdout()).toBe(1);
    expect(notify.messages.some((m) => m.text.includes('READY=1'))).toBe(false);
  }, 30_000);

  it('runs without systemd: no socket, no notifications, still serving', async () => {
    const { proc, stdout, exited } = run(writeConfig(0), {});
    await waitUntil(() => stdout().includes('kiosk controller started'));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(notify.messages).toHaveLength(0);
  }, 30_000);
});

async function waitUntil(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 50));
  }
}
