/**
 * Outbox drain benchmark: N events queued while the broker is down, then the link
 * drains them into a real mosquitto. Compared with a floor: a bare mqtt.js QoS 1 publish
 * loop of the same payloads, all pipelined. Reports events/s, their ratio (target >= 0.8)
 * and the process RSS while draining (it must stay flat: the backlog is read in batches).
 *
 * Alone: `node --import tsx bench/outboxDrain.ts [events]`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqtt from 'mqtt';
import { silentLogger } from '../src/log.js';
import type { NewEvent } from '../src/upstream/events.js';
import { OutboxStore } from '../src/upstream/outbox.js';
import { Upstream } from '../src/facades/upstream.js';
import { startMosquitto } from '../test/support/mosquitto.js';

const RSS_SAMPLE_MS = 100;
// A settled heap before each measurement, without needing `node --expose-gc`.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const APPEND_BATCH = 1_000;
const MB = 1024 * 1024;
/** MQTT packet ids are 16-bit: no client can have more QoS 1 publishes in flight. */
const BARE_MAX_IN_FLIGHT = 65_000;

export async function benchOutboxDrain(opts: { events: number }): Promise<Record<string, number>> {
  const n = opts.events;
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-bench-outbox-'));
  const log = silentLogger();
  const outbox = OutboxStore.open({ file: join(dir, 'outbox.db'), kiosk: 'bench-k1', site: 'bench', maxBytes: 4096 * MB, log });
  const broker = await startMosquitto();
  try {
    // Broker down while the backlog builds up.
    await broker.stop();
    for (let i = 0; i < n; i += APPEND_BATCH) {
      const batch: NewEvent[] = [];
      for (let j = i; j < Math.min(n, i + APPEND_BATCH); j++) batch.push({ type: 'dropbox.deposit', data: { box: 'box-1', count: j + 1, inferred: false } });
      outbox.append(batch);
    }
    const sample = outbox.peek(0, 1)[0]!.payload;
    await broker.restart();

    // The link.
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const rss = sampleRss();
    const link = new Upstream({ url: broker.url, prefix: 'bench', site: 'bench', kiosk: 'bench-k1', username: null, password: null, outbox, log, version: 'bench' });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    link.start();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (outbox.depth() === 0) {
          clearInterval(check);
          resolve();
        }
      }, 2);
    });
    const linkMs = performance.now() - t0;
    const linkCpu = process.cpuUsage(c0);
    const linkRss = rss.stop();
    await link.stop();
    gc();
    // Live heap left after the drain: RSS above is V8's garbage sawtooth, this is what is kept.
    const heapRetained = process.memoryUsage().heapUsed - heapBefore;

    // The floor: bare mqtt.js, every publish pipelined, the same envelopes (fresh ids).
    const payloads = Array.from({ length: n }, (_, i) => {
      const env = JSON.parse(sample) as Record<string, unknown>;
      return JSON.stringify({ ...env, id: randomUUID(), seq: i + 1, data: { box: 'box-1', count: i + 1, inferred: false } });
    });
    gc();
    const bareRss = sampleRss();
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-bare', clean: true });
    const c1 = process.cpuUsage();
    const t1 = performance.now();
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      const publishNext = (): void => {
        const p = payloads[next++]!;
        client.publish('bench/bench/bench-bare/events', p, { qos: 1 }, (err) => {
          if (err) return reject(err);
          if (++done === payloads.length) resolve();
          else if (next < payloads.length) publishNext();
        });
      };
      // Everything at once, as far as MQTT's 16-bit packet ids allow.
      while (next < Math.min(payloads.length, BARE_MAX_IN_FLIGHT)) publishNext();
    });
    const bareMs = performance.now() - t1;
    const bareCpu = process.cpuUsage(c1);
    const bareRssStats = bareRss.stop();
    await client.endAsync();

    const linkRate = n / (linkMs / 1000);
    const bareRate = n / (bareMs / 1000);
    return {
      events: n,
      linkEventsPerS: Math.round(linkRate),
      bareEventsPerS: Math.round(bareRate),
      ratio: Number((linkRate / bareRate).toFixed(2)),
      // CPU time of this process per event: steadier than wall time on a busy machine.
      linkCpuUsPerEvent: Number(((linkCpu.user + linkCpu.system) / n).toFixed(1)),
      bareCpuUsPerEvent: Number(((bareCpu.user + bareCpu.system) / n).toFixed(1)),
      linkRssStartMb: toMb(linkRss.start),
      linkRssMaxMb: toMb(linkRss.max),
      linkRssEndMb: toMb(linkRss.end),
      linkRssGrowthMb: toMb(linkRss.max - linkRss.start),
      linkHeapRetainedMb: toMb(heapRetained),
      bareRssStartMb: toMb(bareRssStats.start),
      bareRssMaxMb: toMb(bareRssStats.max),
      bareRssGrowthMb: toMb(bareRssStats.max - bareRssStats.start),
    };
  } finally {
    await broker.stop();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sampleRss(): { stop(): { start: number; max: number; end: number } } {
  const start = process.memoryUsage.rss();
  let max = start;
  const timer = setInterval(() => {
    max = Math.max(max, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const end = process.memoryUsage.rss();
      return { start, max: Math.max(max, end), end };
    },
  };
}

function toMb(bytes: number): number {
  return Number((bytes / MB).toFixed(1));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const events = Number(process.argv[2] ?? 100_000);
  const r = await benchOutboxDrain({ events });
  console.table(Object.entries(r).map(([metric, value]) => ({ metric, value })));
  console.log(r.ratio !== undefined && r.ratio >= 0.8 ? 'drain rate within target (>= 0.8 of bare mqtt.js)' : 'drain rate BELOW target (< 0.8 of bare mqtt.js)');
}
