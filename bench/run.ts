/**
 * `npm run bench`: every benchmark, each beside a floor measured in the same run (this
 * machine is noisy: ratios matter more than absolute figures). Prints the tables and
 * rewrites docs/benchmarks.md with them, the command, the date and the machine.
 *
 * `npm run bench -- frames|drain|tickets` runs one of them.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { benchBoards } from './boardLatency.js';
import { benchFrameLatency } from './frameLatency.js';
import { benchOutboxDrain } from './outboxDrain.js';
import { benchTicketLatency } from './ticketLatency.js';

interface Section {
  key: string;
  title: string;
  what: string;
  targets: string;
  run: () => Promise<Record<string, number>>;
}

const sections: Section[] = [
  {
    key: 'frames',
    title: 'Drop-box frame → event fsync\'d in the outbox',
    what: 'DROP frames written on a real socat PTY; latency until the `dropbox.deposit` is committed (WAL, synchronous=FULL). Paced latency over 2,000 frames each, sent to the controller and the floor in alternating blocks of 100; sustained rate over a 20,000-frame burst, then a second burst checked for loss. Floor: bare serialport + ReadlineParser on its own PTY + one better-sqlite3 insert per line with synchronous=FULL.',
    targets: 'p99 <= 10 ms; >= 4,000 frames/s sustained with none lost; ratio to the floor <= 1.5',
    run: () => benchFrameLatency({ paced: 2000, burst: 20_000 }),
  },
  {
    key: 'drain',
    title: 'Outbox drain to Mosquitto after an outage',
    what: '100,000 events queued on disk while the broker is down, then drained by the upstream link (QoS 1, in seq order, rows deleted after PUBACK). Floor: a bare mqtt.js QoS 1 publish loop of the same payloads.',
    targets: '>= 0.8 of the floor; RSS flat during the drain',
    run: () => benchOutboxDrain({ events: 100_000 }),
  },
  {
    key: 'tickets',
    title: 'POST /api/tickets → last byte at the simulated printer',
    what: 'The kiosk runs as in an office, `kiosk run --config` in a process of its own; central (simulator) answers at once over a local Mosquitto; the job goes to the TCP printer simulator and is confirmed. Latency from the POST sent to the last byte of the job at the simulator. Floor: a bare script in a process of its own (bench/ticketFloor.ts) doing the same MQTT request/reply, node-thermal-printer encode and TCP send, triggered by one byte on a socket; floorHttp: the same script triggered by a POST to a bare node:http server. Memory: the kiosk process after a forced full GC (bench/kioskGcProbe.ts), after 200 warm-up tickets and after 1,000 more.',
    targets: 'p99 <= 30 ms; ratio to the floor <= 1.25; RSS back after 1,000 tickets',
    run: () => benchTicketLatency({ tickets: 1000 }),
  },
  {
    key: 'boards',
    title: 'Drop-box boards: the reference firmware on simavr beside the TypeScript board',
    what: 'Each board on its own PTY, read by the controller\'s own path (port actor → drop-box machine → ledger → outbox, fsync\'d), protocol v2. frame→fsync: 200 envelopes one at a time, from the DROP line handed to the PTY (stamped by the harness with CLOCK_MONOTONIC; for the TypeScript board, its write) to the `dropbox.deposit` committed. frames/s: STATUS commands kept 4 unanswered at a time for 3 s, frames received per second. envelopes/s: 500 envelopes down the chute as fast as the board counts them (5 ms in the beam, 5 ms out), until the last deposit is committed. The floor for each firmware figure is the TypeScript board in the same run.',
    targets: 'firmware frame→fsync within 1.5× the TypeScript board; every envelope counted; no byte lost by the firmware',
    run: () => benchBoards({ paced: 200, run: 500 }),
  },
];

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
}

// Each benchmark runs in a process of its own (with --expose-gc), so memory figures are
// not those of the benchmark before it.
const childKey = process.argv[2] === '--child' ? process.argv[3] : undefined;
if (childKey) {
  const section = sections.find((s) => s.key === childKey);
  if (!section) throw new Error(`no benchmark "${childKey}"`);
  const results = await section.run();
  process.stdout.write(`\nBENCH-RESULT ${JSON.stringify(results)}\n`);
  process.exit(0);
}

function runChild(key: string): Record<string, number> {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH-RESULT '));
  if (r.status !== 0 || !line) throw new Error(`benchmark ${key} failed (exit ${r.status}): ${r.stdout.slice(-2000)}`);
  return JSON.parse(line.slice('BENCH-RESULT '.length)) as Record<string, number>;
}

const only = process.argv.slice(2);
const chosen = only.length ? sections.filter((s) => only.includes(s.key)) : sections;
const previous = (() => {
  try {
    return readFileSync(new URL('../docs/benchmarks.md', import.meta.url), 'utf8');
  } catch {
    return '';
  }
})();

const parts: string[] = [];
for (const s of chosen) {
  process.stdout.write(`running ${s.key} …\n`);
  const results = runChild(s.key);
  const rows = Object.entries(results).map(([k, v]) => `| ${k} | ${fmt(v)} |`);
  const table = [`## ${s.title}`, '', s.what, '', `Targets: ${s.targets}.`, '', '| measure | value |', '|---|---|', ...rows, ''].join('\n');
  console.log(table);
  parts.push(table);
}

if (only.length === 0) {
  const header = [
    '# Benchmarks',
    '',
    `Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB.`,
    'Each figure has a floor measured in the same run; the machine is shared and noisy, so compare the ratios.',
    'Each benchmark runs in a process of its own (`--expose-gc`), so memory figures are its own.',
    '',
    '## Reading these figures',
    '',
    '- **Frames.** One commit (WAL, synchronous=FULL) per serial chunk: frames that arrive together share one fsync, which is why the sustained rate passes the floor (one fsync per line). The paced p50/p99 ratio moves between about 1.2 and 1.8 from run to run on this machine. The gap is JavaScript, not the disk: a paced commit costs the same with the controller\'s two rows (deposit and recorded count) as with the floor\'s one (0.69 and 0.68 ms at p50, measured alone), but for each paced DROP frame the XState machine\'s step takes about 0.3 ms and the ledger (recorded-count read, envelope, insert) about 0.18 ms (CPU profile of 3,000 paced frames, 2026-11-28). In a burst, frames that arrive together share one commit, hence the sustained rate above the floor\'s.',
    '- **Drain.** The link reads the backlog from disk in batches and keeps at most 1,024 events in flight; its live heap after the drain is the figure to watch (RSS moves with garbage between collections). The bare loop has to hold every payload in memory, hence its larger RSS.',
    '- **Tickets.** The ratio target (<= 1.25) is not met; the absolute one (p99 <= 30 ms) is. HTTP alone uses up the whole allowance: floorHttp, the floor behind a bare node:http server, is 1.25 to 1.29 times the floor at p50 on this machine (1.27, 1.27, 1.29, 1.25 in four runs on 2026-11-28), which leaves nothing for the rest. The rest of the gap is work the contract asks for and the floor leaves out: the number held durably before printing (its fsync overlaps the encoding; what is left shows), the status read before each ticket (begun while central answers, so its three round trips mostly overlap that wait), and the ticket and printer machines between them. Measured inside the kiosk (p50, one run): from the HTTP request to the central request 0.4 ms; central\'s reply to the hold 0.2 ms; the hold\'s commit 0.1 ms; encoding 0.85 ms, beside an fsync that ends 0.6 ms after it, when the status read (one request at a time, about 0.5 ms a round trip on this loaded machine) has also ended; then 0.5 ms to the printer. Memory, after a forced GC in the kiosk process: its heap grows by about 0.2 KB per ticket, which is the paper forecast keeping the last hour of tickets (FORECAST_RATE_WINDOW_MS), all of a benchmark\'s; RSS moves with the allocator, not with the tickets: from one run to the next it ended 7 MB lower to 39 MB higher than it started, and over longer runs it settles: read every 500 tickets (2026-11-28), 167, 162, 163, 152, 152, 152 MB over 3,000 and 168, 160, 150, 151, 150, 151, 151, 150, 150, 151 MB over 5,000.',
    '',
  ].join('\n');
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), header + '\n' + parts.join('\n'));
  console.log('written docs/benchmarks.md');
} else if (!previous) {
  console.log('(partial run: docs/benchmarks.md not written)');
}
