/**
 * From a clone to a kiosk in an office (issue #12): the systemd units pass systemd's own
 * checks and the controller's is locked down (exposure at most 2.5); `npm run package`
 * gives a Debian package that, unpacked into a folder, runs the compiled controller with
 * production modules only and no TypeScript loader, answering /api/health; `kiosk health`
 * says whether the controller and its configured devices work.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthProblems } from '../src/cli/health.js';
import { packageDeb } from '../scripts/package-deb.js';

const UNITS = ['deploy/systemd/kiosk-controller.service', 'deploy/systemd/kiosk-display.service'];
const MAX_EXPOSURE = 2.5;
const HEALTH_POLL_MS = 100;

describe('systemd units', () => {
  it('pass systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', ...UNITS], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // verify reports problems on stderr even when it exits 0: none may name our units.
    expect(r.stderr.split('\n').filter((l) => /kiosk-(controller|display)\.service/.test(l))).toEqual([]);
  });

  it(`lock the controller down to an exposure of at most ${MAX_EXPOSURE}`, () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', UNITS[0]!], { encoding: 'utf8' });
    const m = /Overall exposure level for kiosk-controller\.service: (\d+(?:\.\d+)?)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it('the controller unit is Type=notify with a watchdog, restarts always, and may write only its data folder', () => {
    const unit = readFileSync(UNITS[0]!, 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=main', 'Restart=always', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/kiosk', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectHome=yes', 'DevicePolicy=closed', 'User=kiosk']) {
      expect(unit.split('\n'), line).toContain(line);
    }
    expect(unit).toMatch(/^WatchdogSec=\d+s$/m);
    expect(unit).toMatch(/^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$/m);
    expect(unit).toMatch(/^SystemCallFilter=@system-service$/m);
    const display = readFileSync(UNITS[1]!, 'utf8');
    expect(display).toMatch(/^After=kiosk-controller\.service/m);
    expect(display).toMatch(/^ExecStart=\/usr\/bin\/cage -s -- \/opt\/siga-kiosk\/scripts\/kiosk-browser\.sh --once /m);
    expect(display).toMatch(/^Restart=always$/m);
  });
});

describe('bin/kiosk.js in a developer\'s clone', () => {
  let clone: string;
  beforeAll(() => {
    // A clone in miniature: bin/kiosk.js, sources and a build whose entry points say which ran.
    clone = mkdtempSync(join(tmpdir(), 'kiosk-stale-'));
    mkdirSync(join(clone, 'bin'));
    copyFileSync('bin/kiosk.js', join(clone, 'bin/kiosk.js'));
    symlinkSync(join(process.cwd(), 'node_modules'), join(clone, 'node_modules'));
    writeFileSync(join(clone, 'package.json'), '{"type":"module"}');
    mkdirSync(join(clone, 'src/cli'), { recursive: true });
    writeFileSync(join(clone, 'src/cli/main.ts'), "export async function runCli(): Promise<number> { process.stdout.write('ran src'); return 0; }\n");
    mkdirSync(join(clone, 'dist/src/cli'), { recursive: true });
    writeFileSync(join(clone, 'dist/src/cli/main.js'), "export async function runCli() { process.stdout.write('ran dist'); return 0; }\n");
    writeFileSync(join(clone, 'dist/build-stamp.json'), '{}');
  });
  afterAll(() => rmSync(clone, { recursive: true, force: true }));
  const run = (env: Record<string, string> = {}) => spawnSync(process.execPath, [join(clone, 'bin/kiosk.js')], { encoding: 'utf8', env: { ...process.env, KIOSK_RUN_FROM: '', ...env } });
  const age = (file: string, secondsAgo: number) => utimesSync(join(clone, file), new Date(Date.now() - secondsAgo * 1000), new Date(Date.now() - secondsAgo * 1000));

  it('runs the build when it is newer than every source, with nothing on stderr', () => {
    for (const f of ['package.json', 'src/cli/main.ts']) age(f, 60);
    age('dist/build-stamp.json', 10);
    const r = run();
    expect(r.stdout).toBe('ran dist');
    expect(r.stderr).toBe('');
  });

  it('runs the sources, and says why on stderr, when a source changed after the build', () => {
    age('dist/build-stamp.json', 10);
    age('src/cli/main.ts', 0);
    const r = run();
    expect(r.stdout).toBe('ran src');
    expect(r.stderr).toContain('dist/ is older than src/cli/main.ts');
    expect(run({ KIOSK_RUN_FROM: 'dist' }).stdout).toBe('ran dist');
  });
});

describe('kiosk health judges a health report', () => {
  const report = (printer: object, dropbox: object, connected = true) => ({ status: 'x', devices: { printer, dropbox }, upstream: { connected } });
  const config = { printer: { type: 'epson' } as never, dropbox: { id: 'b' } as never };
  it('healthy when every configured device works', () => {
    expect(healthProblems(report({ state: 'ready', ready: true }, { state: 'online' }), config, true)).toEqual([]);
  });
  it('names each device that does not work, and the broker', () => {
    const p = healthProblems(report({ state: 'offline', ready: false }, { state: 'offline' }, false), config, true);
    expect(p).toEqual([expect.stringContaining('printer not ready (offline'), expect.stringContaining('drop-box board not online'), 'upstream broker not connected']);
    expect(healthProblems(report({ state: 'ready', ready: true }, { state: 'online' }, false), config, false)).toEqual([]);
  });
  it('a configured device the controller does not report is a problem, an unconfigured one it reports too', () => {
    expect(healthProblems(report({ state: 'absent' }, { state: 'absent' }), config, true)).toHaveLength(2);
    expect(healthProblems(report({ state: 'ready', ready: true }, { state: 'absent' }), { printer: undefined, dropbox: undefined }, true)).toEqual(['printer reported but not configured']);
  });
});

describe('the Debian package', () => {
  let out: string;
  let deb: string;
  let root: string;
  let child: ChildProcess | null = null;
  let buildMs = 0;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'kiosk-deb-'));
    const t = Date.now();
    deb = packageDeb(out);
    buildMs = Date.now() - t;
    root = join(out, 'root');
    const x = spawnSync('dpkg-deb', ['-x', deb, root], { encoding: 'utf8' });
    if (x.status !== 0) throw new Error(x.stderr);
  }, 240_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(out, { recursive: true, force: true });
  });

  it('is architecture-specific, depends on Node 20, and carries the units, udev rules, policy and config', () => {
    const field = (f: string) => spawnSync('dpkg-deb', ['-f', deb, f], { encoding: 'utf8' }).stdout.trim();
    expect(field('Architecture')).toBe(spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim());
    expect(field('Depends')).toMatch(/nodejs \(>= 20\)/);
    for (const f of [
      'opt/siga-kiosk/bin/kiosk.js',
      'opt/siga-kiosk/dist/src/cli/main.js',
      'opt/siga-kiosk/dist/src/ui/public/index.html',
      'opt/siga-kiosk/scripts/kiosk-browser.sh',
      'etc/kiosk/kiosk.json',
      'lib/systemd/system/kiosk-controller.service',
      'lib/systemd/system/kiosk-display.service',
      'lib/udev/rules.d/70-siga-kiosk.rules',
      'etc/chromium/policies/managed/siga-kiosk.json',
      'var/lib/kiosk',
    ]) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    const rules = readFileSync(join(root, 'lib/udev/rules.d/70-siga-kiosk.rules'), 'utf8');
    for (const name of ['kiosk-board', 'kiosk-scanner', 'kiosk-printer']) expect(rules).toContain(`SYMLINK+="${name}"`);
    const control = spawnSync('dpkg-deb', ['-e', deb, join(out, 'control')], { encoding: 'utf8' });
    expect(control.status).toBe(0);
    const postinst = readFileSync(join(out, 'control', 'postinst'), 'utf8');
    expect(postinst).toMatch(/adduser --system --group .* kiosk/);
    expect(postinst).toContain('for g in dialout lp input');
    expect(readFileSync(join(out, 'control', 'conffiles'), 'utf8')).toContain('/etc/kiosk/kiosk.json');
    // The shipped config is a valid one (apart from the office's own values).
    expect(JSON.parse(readFileSync(join(root, 'etc/kiosk/kiosk.json'), 'utf8')).dataDir).toBe('/var/lib/kiosk');
    // Production modules only: no loader, no compiler, no test runner.
    const modules = readdirSync(join(root, 'opt/siga-kiosk/node_modules'));
    for (const dev of ['tsx', 'esbuild', 'typescript', 'vitest', 'eslint', 'playwright-core']) expect(modules, dev).not.toContain(dev);
    for (const prod of ['better-sqlite3', 'serialport', 'mqtt', 'unix-dgram', 'xstate', 'zod', 'pino']) expect(modules, prod).toContain(prod);
    process.stderr.write(`npm run package took ${buildMs} ms\n`);
  });

  it('unpacked into a folder, runs the compiled controller with no loader and answers /api/health; kiosk health agrees', async () => {
    const dir = join(out, 'kiosk');
    const config = join(out, 'kiosk.json');
    writeFileSync(config, JSON.stringify({ kiosk: { id: 'deb-k1', site: 's' }, dataDir: dir, http: { port: 0 }, upstream: { url: 'mqtt://127.0.0.1:1', prefix: 'siga' } }));
    let output = '';
    child = spawn(process.execPath, [join(root, 'opt/siga-kiosk/bin/kiosk.js'), 'run', '--config', config], { cwd: out, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (!(url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1])) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not start: ${output}`);
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
    const res = await fetch(`${url}/api/health`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { upstream: { connected: boolean } }).upstream.connected).toBe(false);

    // No TypeScript loader: nothing on the command line, no esbuild service beside it.
    const pid = child.pid!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline.filter((a) => /--(import|loader|require)|tsx/.test(a))).toEqual([]);
    const children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
    expect(children).toEqual([]);
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    expect(maps).not.toContain('esbuild');
    expect(maps).not.toContain(join(process.cwd(), 'node_modules')); // nothing from the clone's modules

    const kioskBin = join(root, 'opt/siga-kiosk/bin/kiosk.js');
    const healthy = spawnSync(process.execPath, [kioskBin, 'health', '--url', url!, '--no-upstream', '--timeout', '5'], { encoding: 'utf8' });
    expect(healthy.status, healthy.stderr).toBe(0);
    const unhealthy = spawnSync(process.execPath, [kioskBin, 'health', '--url', url!, '--timeout', '1'], { encoding: 'utf8' });
    expect(unhealthy.status).toBe(1);
    expect(unhealthy.stderr).toContain('upstream broker not connected');

    child.kill('SIGTERM');
    expect(await new Promise((r) => child!.once('exit', r))).toBe(0);
  }, 60_000);
});
