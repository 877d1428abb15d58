/**
 * A start that fails half-way, through the real CLI (`kiosk run` in a child process): the
 * controller says what failed and what to do, exits 1 on its own — nothing else may keep
 * the process alive, so a lingering link, timer or port shows as a process that does not
 * end — and leaves the data folder's lock and the HTTP port free for the next start.
 * The other parts are live when the failure comes: an upstream broker that does not
 * answer (reconnect timers), a printer that does not answer, a board port that is absent.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../kernel/errors.js';
import { lockDataDir } from '../src/dataDirLock.js';
import { OUTBOX_FILE } from '../src/main.js';
import { freePort, listenOn, writeRunConfig } from './support/cliRun.js';

/** A controller that failed to start must be gone well within this (its own stops take < 2 s). */
const EXITS_WITHIN_MS = 15_000;

let dir: string;
let dataDir: string;
const held: Array<() => void> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'failed-start-'));
  dataDir = join(dir, 'data');
});
afterEach(() => {
  for (const release of held.splice(0)) release();
  rmSync(dir, { recursive: true, force: true });
});

async function writeConfig(httpPort: number, overrides: Record<string, unknown> = {}): Promise<string> {
  return writeRunConfig(dir, httpPort, {
    printer: { type: 'epson', interface: `tcp://127.0.0.1:${await freePort()}` },
    dropbox: { id: 'box-1', port: join(dir, 'no-such-tty'), baudRate: 115200 },
    upstream: { url: `mqtt://127.0.0.1:${await freePort()}`, prefix: 'siga' },
    ...overrides,
  });
}

interface Run {
  code: number | null;
  stderr: string;
  ms: number;
}

function kioskRun(configFile: string): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, ['bin/kiosk.js', 'run', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KIOSK_LOG_LEVEL: 'silent' } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), EXITS_WITHIN_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

/** Nothing was left behind: another controller can take the data folder and the port. */
async function expectNothingLeft(httpPort: number): Promise<void> {
  lockDataDir(dataDir).release();
  const server = await listenOn(httpPort);
  await new Promise((r) => server.close(r));
}

describe('a start that fails half-way', () => {
  it('HTTP port taken: says which address, exits 1 by itself, and gives up the data folder', async () => {
    const taken = await listenOn(0);
    held.push(() => taken.close());
    const port = (taken.address() as { port: number }).port;
    const run = await kioskRun(await writeConfig(port));
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`The HTTP API cannot listen on 127.0.0.1:${port}: the port is taken`);
    expect(run.stderr).toContain(`error ${ErrorCode.HttpListenFailed}`);
    expect(run.ms).toBeLessThan(EXITS_WITHIN_MS);
    lockDataDir(dataDir).release();
  });

  it('an outbox file that is not a database: names the file, exits 1 by itself, leaves port and lock free', async () => {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, OUTBOX_FILE), 'this is not an SQLite database, it is a text file that someone put here\n'.repeat(100));
    const port = await freePort();
    const run = await kioskRun(await writeConfig(port));
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/The outbox .*outbox\.sqlite cannot be opened/);
    expect(run.stderr).toContain(`error ${ErrorCode.OutboxUnreadable}`);
    await expectNothingLeft(port);
  });

  it('a device path that is a directory: names the key, exits 1 by itself after stopping the outbox and the upstream link', async () => {
    const notADevice = join(dir, 'ttyACM0');
    mkdirSync(notADevice);
    const port = await freePort();
    const run = await kioskRun(await writeConfig(port, { dropbox: { id: 'box-1', port: notADevice, baudRate: 115200 } }));
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`dropbox.port is "${notADevice}", which is a directory, not a device`);
    expect(run.stderr).toContain(`error ${ErrorCode.DevicePathInvalid}`);
    await expectNothingLeft(port);
  });

  it('a data folder another controller holds: says so, exits 1 by itself, and the other keeps its lock', async () => {
    held.push(lockDataDir(dataDir).release);
    const port = await freePort();
    const run = await kioskRun(await writeConfig(port));
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('Another controller is running on the data folder');
    expect(run.stderr).toContain(`error ${ErrorCode.DataDirInUse}`);
    expect(() => lockDataDir(dataDir)).toThrow(/Another controller/);
    const server = await listenOn(port);
    await new Promise((r) => server.close(r));
  });
});
