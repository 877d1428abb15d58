/**
 * Config loading and the `kiosk` command line, as an operator meets them: a bad config
 * exits 2 with one message naming the file, the key and what is wrong; a good one runs
 * until SIGTERM and stops cleanly with exit 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configJsonSchema } from '../src/config/jsonSchema.js';
import { loadConfigFile, parseConfig } from '../src/config/load.js';
import { ErrorCode, KioskError } from '../src/errors.js';
import { verifyPin } from '../src/http/pin.js';
import { collectEvents, startMosquitto, type Mosquitto } from './support/mosquitto.js';

const example = JSON.parse(readFileSync(new URL('../examples/kiosk.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const kiosk = (...args: string[]) => spawnSync(process.execPath, ['bin/kiosk.js', ...args], { encoding: 'utf8', timeout: 30_000 });

function configError(raw: unknown): KioskError {
  try {
    parseConfig(raw, '/etc/kiosk/k1.json');
  } catch (e) {
    if (e instanceof KioskError) return e;
    throw e;
  }
  throw new Error('config was accepted');
}

describe('configuration file', () => {
  it('accepts the example from the contract and resolves dataDir against the file folder', () => {
    const c = parseConfig(example, '/etc/kiosk/k1.json');
    expect(c.dataDir).toBe('/etc/kiosk/var');
    expect(c.upstream.requestTimeoutMs).toBe(1500);
    expect(c.services.map((s) => s.prefix)).toEqual(['P', 'C']);
  });

  it('names the key of an unknown setting', () => {
    const e = configError({ ...example, upstream: { ...(example.upstream as object), timeout: 3 } });
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toContain('/etc/kiosk/k1.json');
    expect(e.message).toContain('upstream.timeout');
    expect(e.message).toContain('unknown key');
  });

  it('names the key and the expected type of an ill-typed setting', () => {
    const e = configError({ ...example, dropbox: { id: 'box-1', port: '/dev/ttyACM0', baudRate: 'fast' } });
    expect(e.message).toMatch(/dropbox\.baudRate.*number/);
  });

  it('rejects bad printer interfaces, time zones, hours and duplicate services', () => {
    expect(configError({ ...example, printer: { type: 'epson', interface: 'usb:thing' } }).message).toContain('printer.interface');
    expect(configError({ ...example, hours: { timezone: 'Mars/Olympus' } }).message).toContain('hours.timezone');
    expect(configError({ ...example, hours: { weekly: { mon: [['16:00', '09:00']] } } }).message).toContain('hours.weekly.mon.0');
    const services = example.services as object[];
    expect(configError({ ...example, services: [...services, services[0]] }).message).toContain('duplicate service id');
  });

  it('says which column counts a printer can have, and refuses a PIN hash that kiosk pin-hash did not make', () => {
    expect(configError({ ...example, printer: { type: 'epson', interface: 'tcp://127.0.0.1:9100', columns: 40 } }).message).toMatch(/printer\.columns.*32, 42, 48/);
    // A PIN written where its hash belongs would lock every technician out without a word.
    expect(configError({ ...example, diagnostics: { pinHash: '1234' } }).message).toMatch(/diagnostics\.pinHash.*kiosk pin-hash/);
  });

  it('treats dropbox and scanner as optional and hours absent as always open', () => {
    const { dropbox: _d, scanner: _s, hours: _h, ...rest } = example;
    const c = parseConfig(rest, '/tmp/k.json');
    expect(c.dropbox).toBeUndefined();
    expect(c.hours).toBeUndefined();
  });

  it('reports a missing file and invalid JSON with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    expect(() => loadConfigFile(join(dir, 'nope.json'))).toThrow(/nope\.json.*not found/);
    writeFileSync(join(dir, 'bad.json'), '{ "kiosk": ');
    expect(() => loadConfigFile(join(dir, 'bad.json'))).toThrow(/bad\.json: invalid JSON/);
    rmSync(dir, { recursive: true });
  });

  it('ships a JSON Schema for editors that matches the zod schema', () => {
    const onDisk = JSON.parse(readFileSync(new URL('../docs/config.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });
});

describe('kiosk command line', () => {
  let dir: string;
  let broker: Mosquitto;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-'));
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 2 with one message naming the file and the key for a bad config', () => {
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ ...example, kiosk: { id: 'k1', site: 's1', colour: 'blue' } }));
    const r = kiosk('run', '--config', file);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('kiosk.colour');
    expect(kiosk('run', '--config', join(dir, 'missing.json')).status).toBe(2);
  });

  it('describes every command in --help', () => {
    const r = kiosk('--help');
    expect(r.status).toBe(0);
    for (const cmd of ['run', 'sim', 'pin-hash']) expect(r.stdout).toContain(cmd);
    expect(kiosk('run', '--help').stdout).toContain('--config');
  });

  it('pin-hash prints a salted scrypt hash that verifies the PIN and differs each time', async () => {
    const a = spawnSync(process.execPath, ['bin/kiosk.js', 'pin-hash'], { input: '482913\n', encoding: 'utf8' });
    const b = spawnSync(process.execPath, ['bin/kiosk.js', 'pin-hash'], { input: '482913\n', encoding: 'utf8' });
    expect(a.status).toBe(0);
    const hash = a.stdout.trim();
    expect(hash).toMatch(/^scrypt\$/);
    expect(hash).not.toContain('482913');
    expect(hash).not.toBe(b.stdout.trim());
    expect(await verifyPin('482913', hash)).toBe(true);
    expect(await verifyPin('482914', hash)).toBe(false);
  });

  /** A config for `kiosk run` without devices, on the test broker: written to `name`.json, data in `dataDir`. */
  function writeRunConfig(name: string, dataDir: string, port = 0): string {
    const file = join(dir, `${name}.json`);
    const { dropbox: _d, scanner: _s, printer: _p, ...rest } = example;
    writeFileSync(file, JSON.stringify({ ...rest, dataDir: join(dir, dataDir), http: { host: '127.0.0.1', port }, upstream: { url: broker.url, prefix: 'siga' } }));
    return file;
  }
  const runKiosk = (file: string) => spawn(process.execPath, ['bin/kiosk.js', 'run', '--config', file], { stdio: 'ignore' });

  it('exits 1 with the reason, and does not linger, when its HTTP port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const file = writeRunConfig('port-taken', 'data-taken', port);
    const r = kiosk('run', '--config', file);
    blocker.close();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('EADDRINUSE');
  });

  it('refuses a second controller on the same data folder, and lets a new one have it once the first is killed -9', async () => {
    const file = writeRunConfig('shared', 'data-shared');
    const status = await collectEvents(broker.url, 'siga/lisboa-01/lisboa-01-k1/status');
    await status.subscribed();
    const onlineCount = (m: readonly { payload: string }[]) => m.filter((x) => x.payload.includes('"online"')).length;
    const first = runKiosk(file);
    let third: ReturnType<typeof spawn> | null = null;
    try {
      await status.waitFor((m) => onlineCount(m) === 1, 15_000);
      const second = kiosk('run', '--config', file);
      expect(second.status).toBe(1);
      expect(second.stderr).toContain('Another controller is running on the data folder');
      expect(first.exitCode).toBeNull();
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      // The lock ended with the process: no stale lock keeps the kiosk from starting.
      third = runKiosk(file);
      await status.waitFor((m) => onlineCount(m) === 2, 15_000);
      third.kill('SIGTERM');
      expect(await new Promise((r) => third!.once('exit', r))).toBe(0);
    } finally {
      if (first.exitCode === null && first.signalCode === null) first.kill('SIGKILL');
      if (third && third.exitCode === null && third.signalCode === null) third.kill('SIGKILL');
      await status.stop();
    }
  }, 60_000);

  it('runs until SIGTERM, then publishes offline status and exits 0', async () => {
    const file = writeRunConfig('ok', 'data');
    const status = await collectEvents(broker.url, 'siga/lisboa-01/lisboa-01-k1/status');
    await status.subscribed();
    const child = runKiosk(file);
    await status.waitFor((m) => m.some((x) => x.payload.includes('"online"')), 15_000);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    await status.waitFor((m) => (m.at(-1)?.payload ?? '').includes('"offline"'), 5_000);
    await status.stop();
  });
});
