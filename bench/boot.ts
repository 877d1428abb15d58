/**
 * Boot and idle cost of `kiosk run` (issue #12): time from spawn to the first 200 from
 * GET /api/health, and RSS and CPU after a minute idle (connected to a local Mosquitto),
 * for the compiled controller (`npm run build`, no loader) and the sources through tsx,
 * beside a floor measured in the same run (bench/bootFloor.mjs: a bare Node process that
 * loads the same dependencies, opens an outbox and listens).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, buildControllerInto } from '../scripts/build.js';
import { freePort, startMosquitto } from '../test/support/mosquitto.js';

/** How often a starting process is asked for /api/health. */
const BOOT_POLL_MS = 5;
/**
 * CPU is read over two windows: from 5 s after the first 200 to half the idle time (the
 * start's after-work: V8's background compilation and the first collections, measured
 * at about 0.3 % of a core), and over the second half of the idle time (steady idle).
 */
const IDLE_SETTLE_MS = 5_000;
const CLOCK_TICKS_PER_S = 100;

type Variant = 'floor' | 'compiled' | 'loader';

export async function benchBoot(opts: { runs: number; idleS: number }): Promise<Record<string, number>> {
  const broker = await startMosquitto();
  const tmp = mkdtempSync(join(tmpdir(), 'kiosk-bench-boot-'));
  try {
    // The compiled controller as the package lays it out: bin/, dist/, node_modules (this clone's).
    const app = join(tmp, 'app');
    mkdirSync(join(app, 'bin'), { recursive: true });
    copyFileSync(join(REPO_ROOT, 'bin/kiosk.js'), join(app, 'bin/kiosk.js'));
    copyFileSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(app, 'node_modules'));
    buildControllerInto(join(app, 'dist'));
    const floorScript = fileURLToPath(new URL('./bootFloor.mjs', import.meta.url));

    let n = 0;
    const start = async (variant: Variant): Promise<{ proc: ChildProcess; port: number }> => {
      n++;
      const port = await freePort();
      const dir = join(tmp, `${variant}-${n}`);
      mkdirSync(dir);
      let args: string[];
      const env: NodeJS.ProcessEnv = { ...process.env, KIOSK_LOG_LEVEL: 'warn' };
      if (variant === 'floor') args = [floorScript, join(dir, 'outbox.sqlite'), String(port)];
      else {
        const config = join(dir, 'kiosk.json');
        writeFileSync(config, JSON.stringify({ kiosk: { id: `boot-${n}`, site: 'bench' }, dataDir: './var', http: { port }, upstream: { url: broker.url, prefix: 'siga' } }));
        args = [variant === 'compiled' ? join(app, 'bin/kiosk.js') : join(REPO_ROOT, 'bin/kiosk.js'), 'run', '--config', config];
        if (variant === 'loader') env.KIOSK_RUN_FROM = 'src';
      }
      const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env, cwd: dir });
      return { proc, port };
    };
    const stop = async (proc: ChildProcess): Promise<void> => {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    };

    // Boot: the variants in turn, so the machine's load drifts over all of them alike.
    const boots: Record<Variant, number[]> = { floor: [], compiled: [], loader: [] };
    for (let i = 0; i < opts.runs; i++) {
      for (const v of ['floor', 'compiled', 'loader'] as const) {
        const t0 = performance.now();
        const { proc, port } = await start(v);
        await untilHealthy(port, proc);
        boots[v].push(performance.now() - t0);
        await stop(proc);
      }
    }

    // Idle: the three side by side for the same minute.
    const idle = await Promise.all((['floor', 'compiled', 'loader'] as const).map(async (v) => {
      const { proc, port } = await start(v);
      await untilHealthy(port, proc);
      return { v, proc };
    }));
    await sleep(IDLE_SETTLE_MS);
    const settled = new Map(idle.map(({ v, proc }) => [v, cpuTicks(tree(proc.pid!))]));
    const t0 = performance.now();
    await sleep((opts.idleS * 1000) / 2 - IDLE_SETTLE_MS);
    const before = new Map(idle.map(({ v, proc }) => [v, cpuTicks(tree(proc.pid!))]));
    const t1 = performance.now();
    await sleep((opts.idleS * 1000) / 2);
    const afterBootS = (t1 - t0) / 1000;
    const elapsedS = (performance.now() - t1) / 1000;
    const r: Record<string, number> = { runs: opts.runs, idleS: opts.idleS };
    for (const { v, proc } of idle) {
      const pids = tree(proc.pid!);
      r[`${v}RssMb`] = round(rssKb([proc.pid!]) / 1024);
      if (v === 'loader') r.loaderRssWithChildrenMb = round(rssKb(pids) / 1024);
      r[`${v}AfterBootCpuPct`] = round(((before.get(v)! - settled.get(v)!) / CLOCK_TICKS_PER_S / afterBootS) * 100, 3);
      r[`${v}IdleCpuPct`] = round(((cpuTicks(pids) - before.get(v)!) / CLOCK_TICKS_PER_S / elapsedS) * 100, 3);
      if (v !== 'floor') r[`${v}Processes`] = pids.length;
    }
    await Promise.all(idle.map(({ proc }) => stop(proc)));
    for (const v of ['floor', 'compiled', 'loader'] as const) r[`${v}BootMs`] = round(median(boots[v]));
    r.compiledBootRatio = round(r.compiledBootMs! / r.floorBootMs!, 3);
    r.loaderBootRatio = round(r.loaderBootMs! / r.floorBootMs!, 3);
    r.compiledRssRatio = round(r.compiledRssMb! / r.floorRssMb!, 3);
    r.loaderRssRatio = round(r.loaderRssWithChildrenMb! / r.floorRssMb!, 3);
    return r;
  } finally {
    await broker.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function untilHealthy(port: number, proc: ChildProcess): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`process exited ${proc.exitCode} before answering`);
    if (await healthOk(port)) return;
    await sleep(BOOT_POLL_MS);
  }
}

function healthOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/health', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** A process and all its descendants (tsx's esbuild service, for the loader). */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function rssKb(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0), 0);
}

function cpuTicks(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return sum + Number(fields[11]) + Number(fields[12]); // utime, stime
  }, 0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
