/**
 * Loaded into the kiosk process by the ticket benchmark only (`node --expose-gc --import
 * tsx --import bench/kioskGcProbe.ts bin/kiosk.js run …`): on SIGUSR2 it runs a full
 * garbage collection and writes the process's memory to KIOSK_GC_PROBE_FILE, so the
 * benchmark can compare the kiosk's resident memory before and after 1,000 tickets
 * without the garbage that happens to be waiting for the collector.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.KIOSK_GC_PROBE_FILE;
const gc = (globalThis as { gc?: () => void }).gc;
if (file && gc) {
  let probe = 0;
  process.on('SIGUSR2', () => {
    gc();
    const m = process.memoryUsage();
    writeFileSync(file, JSON.stringify({ probe: ++probe, rss: m.rss, heapUsed: m.heapUsed, external: m.external }));
  });
}
