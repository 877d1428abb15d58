/**
 * `npm run bench`: every benchmark, each beside a floor measured in the same run (this
 * machine is noisy: ratios matter more than absolute figures). Prints the tables and
 * rewrites docs/benchmarks.md with them, the command, the date and the machine.
 *
 * `npm run bench -- frames|drain|tickets|speech` runs one of them.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { benchBoards } from './boardLatency.js';
import { benchFrameLatency } from './frameLatency.js';
import { benchOutboxDrain } from './outboxDrain.js';
import { TICKET_FLOOR_NOTES, benchTicketLatency } from './ticketLatency.js';
import { benchBoot } from './boot.js';
import { benchSpeechLatency } from './speechLatency.js';

interface Section {
  key: string;
  title: string;
  what: string;
  targets: string;
  /** Kept under the table: how to read it (the ticket floor's account, issue #9). */
  notes?: string;
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
    title: 'POST /api/tickets → 201 (printed and recorded)',
    what: 'The kiosk runs as in an office, `kiosk run --config` in a process of its own; central (simulator) answers at once over a local Mosquitto; the job goes to the TCP printer simulator, which confirms it (`GS ( H`). Latency from the POST sent to its `201`. Floor (bench/ticketFloor.ts), a process of its own doing the same mandated work with bare libraries: node:http, the MQTT request/reply while `DLE EOT` 1, 2, 4 are read one at a time, the number committed (better-sqlite3, WAL, fsync) while the ticket is encoded, the job sent with `GS ( H` and its reply awaited, `ticket.issued` committed (synchronous FULL), 201. Kiosk and floor in alternating blocks of 100 on the same broker, central and printer simulator. Split: POST → the job\'s cut at the printer, and the cut → 201. Memory: the kiosk process after a forced full GC (bench/kioskGcProbe.ts), after 200 warm-up tickets and after 1,000 more.',
    targets: 'ratio to the floor <= 1.5 at p50 and p99; p99 <= 30 ms; RSS back after 1,000 tickets',
    notes: TICKET_FLOOR_NOTES,
    run: () => benchTicketLatency({ tickets: 1000 }),
  },
  {
    key: 'boot',
    title: '`kiosk run`: boot to the first /api/health 200, and a minute idle',
    what: 'Spawn to the first 200 from GET /api/health (median of 7 runs each, the variants in turn, a fresh data folder each), then RSS (VmRSS) after 60 s idle and CPU (utime+stime of the process and its children, clock ticks of 10 ms) from 5 s to 30 s after the first 200 (`AfterBoot`) and from 30 s to 60 s (`Idle`), connected to a local Mosquitto: `compiled` is the controller built by `npm run build` and run with no loader; `loader` the sources through tsx (any child process, such as an esbuild service, counted in its RSS). Floor: bench/bootFloor.mjs, a bare Node process that imports the same runtime dependencies, opens an outbox (SQLite WAL, synchronous=FULL) and listens.',
    targets: 'compiled boot <= 1.5 × the floor; idle RSS <= 1.3 × the floor; idle CPU < 1 % of one core',
    run: () => benchBoot({ runs: 7, idleS: 60 }),
  },
  {
    key: 'speech',
    title: 'Key press → first audio byte of the ticket screen\'s utterance',
    what: 'The simulated kiosk (`startKioskSim`, speech `dir:`, in the benchmark\'s process), headset plugged in through its FIFO, a ticket taken; each sample is F2 on the ticket screen sent as the page sends it (`POST /api/ui/keys`), timed until the speech device has written the first byte of the ticket utterance\'s WAV (235 characters, said whole: number, service, people ahead, wait, notes). Floor, in alternating blocks of 20: bare `espeak-ng` with the same voice, rate, amplitude and text, its WAV on stdout written to a file, from the spawn to the first byte written.',
    targets: 'p99 <= 1.3 × the floor',
    run: () => benchSpeechLatency({ samples: 300 }),
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
  const table = [`## ${s.title}`, '', s.what, '', `Targets: ${s.targets}.`, '', '| measure | value |', '|---|---|', ...rows, '', ...(s.notes ? [s.notes] : [])].join('\n');
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
    '- **Speech.** Key press → first WAV byte of the ticket screen\'s utterance, against bare espeak-ng with the same text to a file: both are dominated by espeak-ng\'s start-up and first synthesis; the kiosk adds the HTTP request, the key handling (the utterance in progress cut, a new espeak-ng spawned) and the WAV opened in the speech folder, in a process that also runs the simulated devices.',
    '- **Drain.** The link reads the backlog from disk in batches and keeps at most 1,024 events in flight; its live heap after the drain is the figure to watch (RSS moves with garbage between collections). The bare loop has to hold every payload in memory, hence its larger RSS.',
    '- **Tickets.** See the section "Ticket floor (issue #9)" for how the floor is built, the cuts made in the kiosk and where the rest of the time goes. Memory, after a forced GC in the kiosk process: its heap grows by about 0.2 KB per ticket, which is the paper forecast keeping the last hour of tickets (FORECAST_RATE_WINDOW_MS); RSS moves with the allocator, not with the tickets.',
    "- **Boot.** Three runs on 2026-12-01 (load average about 10 on the 2 cores), compiled against the floor: boot 1.14, 1.31 and 0.86 times it (1.2 to 1.7 s, most of it loading modules on a busy machine); idle RSS 1.09, 1.29 and 1.26 times it (78 to 98 MB against 66 to 75 MB); idle CPU 0.78, 0.69 and 0.70 % of a core, against 0 to 0.13 % for the floor. RSS moves by up to 20 MB from run to run, so one run can come within a few percent of the 1.3 target. The controller's own JavaScript is idle: a CPU profile of 22 s idle found a few milliseconds, in the outbox checkpoint and one XState step. The rest is per-thread time outside JavaScript. Measured alone, one compiled kiosk connected to Mosquitto used 10 clock ticks (0.33 %) in the 30 s after its start, spread over its threads (V8's background compilation and collection), and then 0 and 1 tick in the two 30 s windows after that (under 0.05 %). The figure in the benchmark includes the contention of three kiosks and a broker sharing the loaded machine. With the loader, boot takes 1.5 to 2 times the floor's time and RSS is 1.36 to 1.64 times it: tsx compiles each TypeScript file at start, in process (no esbuild service process stays beside it). That is why `kiosk run` on a kiosk runs the compiled build.",
    '',
  ].join('\n');
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), header + '\n' + parts.join('\n'));
  console.log('written docs/benchmarks.md');
} else if (!previous) {
  console.log('(partial run: docs/benchmarks.md not written)');
}
