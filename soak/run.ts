/**
 * `npm run soak [-- --minutes N]`: N minutes (default 30) of random faults and load on
 * the real controller (test/support/faultRig.ts): envelopes and tickets all the time;
 * at random, kill -9 of the controller, kill -9 of the broker, a half-open broker link,
 * a pulled board cable, bursts of fuzzed board frames and HTTP requests, slowloris
 * sockets. Fails (exit 1) on any lost or invented event, a gap in seq, a ticket issued
 * twice or answered 201 and never issued, or RSS / open descriptors growing without
 * bound. Prints the figures as JSON at the end (docs/reliability.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultRig, sleep } from '../test/support/faultRig.js';

const args = process.argv.slice(2);
const minutes = Number(args[args.indexOf('--minutes') + 1] ?? 30) || 30;
const killCycles = Number(args.includes('--kills') ? args[args.indexOf('--kills') + 1] : 200);
/** RSS may grow this much within one controller's life before it counts as unbounded. */
const RSS_GROWTH_LIMIT_MB = 64;
const FDS_LIMIT = 200;
const FUZZ_FRAMES_TARGET = 100_000;
/** Samples (5 s apart) of a controller's start-up, left out of the growth check. */
const WARM_UP_SAMPLES = 6;

const log = (msg: string, extra: Record<string, unknown> = {}) => process.stdout.write(`${new Date().toISOString()} ${msg} ${Object.keys(extra).length ? JSON.stringify(extra) : ''}\n`);

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-soak-'));
  const rig = await FaultRig.start(dir);
  const started = Date.now();
  const endAt = started + minutes * 60_000;
  const counters = { fuzzFrames: 0, httpFuzz: 0, http5xx: 0, slowlorisSockets: 0, halfOpens: 0, unplugs: 0, tickets: 0, dropsMade: 0, halfOpenNoticedMs: [] as number[] };
  let running = true;
  try {
    await rig.startController();
    // Load: an envelope every ~0.5 s, a ticket every ~2 s; resource samples every 5 s.
    const load = (async () => {
      while (running) {
        if (Math.random() < 0.5) {
          rig.board.sim.drop(1);
          counters.dropsMade++;
        }
        if (Math.random() < 0.12) {
          counters.tickets++;
          void rig.requestTicket();
        }
        await sleep(250);
      }
    })();
    const sampler = setInterval(() => rig.sample(), 5000);
    // Kill cycles spread over the first two thirds; the last third is one long life, for
    // the RSS and descriptor growth check. The other faults run all along.
    const killPhaseEnd = started + (minutes * 60_000 * 2) / 3;
    const nextKillAt = () => {
      const left = killCycles - rig.kills;
      if (left <= 0) return Infinity;
      return Date.now() + Math.max(300, (killPhaseEnd - Date.now()) / left) * (0.5 + Math.random());
    };
    let nextKill = nextKillAt();
    while (Date.now() < endAt) {
      const now = Date.now();
      if (now >= nextKill) {
        await rig.killController();
        if (Math.random() < 0.5) rig.board.sim.drop(1 + Math.floor(Math.random() * 3)); // counted while it is dead
        await rig.startController();
        nextKill = Date.now() >= killPhaseEnd ? Infinity : nextKillAt();
        continue;
      }
      const r = Math.random();
      if (r < 0.005) {
        log('broker kill -9');
        await rig.killBroker();
      } else if (r < 0.01) {
        log('half-open broker link');
        counters.halfOpens++;
        const t0 = Date.now();
        const accepted = rig.proxy.accepted;
        rig.proxy.halfOpenExisting();
        // Noticed when the controller gives up the silent link and connects again.
        while (Date.now() - t0 < 120_000 && rig.proxy.accepted === accepted) await sleep(200);
        counters.halfOpenNoticedMs.push(Date.now() - t0);
      } else if (r < 0.02) {
        counters.unplugs++;
        await rig.board.unplug();
        rig.board.sim.drop(1);
        await sleep(500 + Math.random() * 4000);
        await rig.board.replug();
      } else if (r < 0.03) {
        const stopSlow = rig.slowloris(100);
        counters.slowlorisSockets += 100;
        await sleep(5000);
        stopSlow();
      } else if (r < 0.5) {
        rig.fuzzBoard(200);
        counters.fuzzFrames += 200;
      } else if (r < 0.6) {
        const f = await rig.fuzzHttp(20);
        counters.httpFuzz += f.sent;
        counters.http5xx += f.serverErrors;
      }
      // Keep the fuzzed frames on pace for the target even in a short run.
      const due = (FUZZ_FRAMES_TARGET * (Date.now() - started)) / (minutes * 60_000);
      if (counters.fuzzFrames < due) {
        rig.fuzzBoard(500);
        counters.fuzzFrames += 500;
      }
      await sleep(100 + Math.random() * 400);
    }
    running = false;
    await load;
    clearInterval(sampler);
    log('load stopped: settling');
    await sleep(2000);
    await rig.settle(120_000);
    await sleep(2000);
    rig.sample();
    await rig.stopController();
    const { problems, figures } = rig.verify();
    // Growth within the longest life, after its first 30 s (start-up: modules compiled and loaded).
    const longest = rig.longestLifetimeRss;
    const settled = longest.slice(WARM_UP_SAMPLES);
    const third = Math.max(1, Math.floor(settled.length / 3));
    const growthMb = settled.length >= 6 ? Math.round((Math.max(...settled.slice(-third)) - Math.max(...settled.slice(0, third))) / 1024) : 0;
    if (growthMb > RSS_GROWTH_LIMIT_MB) problems.push(`RSS grew ${growthMb} MB within one controller's life (${longest.length} samples)`);
    if (figures.maxFds > FDS_LIMIT) problems.push(`the controller held ${figures.maxFds} descriptors`);
    if (counters.http5xx > 0) problems.push(`${counters.http5xx} fuzzed HTTP request(s) answered 5xx`);
    const halfOpen = counters.halfOpenNoticedMs;
    const result = {
      minutes,
      ok: problems.length === 0,
      problems,
      ...figures,
      ...counters,
      halfOpenNoticedMs: halfOpen.length ? { n: halfOpen.length, max: Math.max(...halfOpen), median: halfOpen.sort((a, b) => a - b)[Math.floor(halfOpen.length / 2)] } : null,
      longestLifeRssMb: settled.length ? { samples: longest.length, afterWarmUp: Math.round(settled[0]! / 1024), last: Math.round(settled.at(-1)! / 1024), max: Math.round(Math.max(...settled) / 1024), growthMb } : null,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    running = false;
    await rig.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak failed to run: ${err.stack ?? err.message}\n`);
    process.exit(2);
  },
);
