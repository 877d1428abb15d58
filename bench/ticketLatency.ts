/**
 * Ticket latency benchmark: `POST /api/tickets` → `201`, with the simulated central
 * answering at once over a local mosquitto and the job confirmed by the TCP printer
 * simulator (`GS ( H`). The kiosk runs as it does in an office: `kiosk run --config` in a
 * process of its own. Beside it, a floor measured in the same run, also a process of its
 * own (bench/ticketFloor.ts): the same mandated work with bare libraries — HTTP, the MQTT
 * request/reply while `DLE EOT` 1, 2, 4 are read one at a time, the number committed
 * (WAL, fsync) while the ticket is encoded, the job sent with `GS ( H` and its reply
 * awaited, `ticket.issued` committed, 201. The simulators (central, two printers) run
 * here, in the benchmark's process, and serve both alike. Kiosk and floor run in
 * alternating blocks so drift hits both.
 *
 * Reports p50/p99 of each, their ratio (target: <= 1.5 at p50 and p99; p99 <= 30 ms) and
 * the kiosk process's resident memory after the warm-up and after all tickets.
 *
 * Alone: `node --import tsx bench/ticketLatency.ts [tickets]`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startCentralSimulator } from '../sim/central/centralSimulator.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { startMosquitto } from '../test/support/mosquitto.js';

/** How the floor is built and where the kiosk's time goes, kept in docs/benchmarks.md under the table (measured 2026-12-01). */
export const TICKET_FLOOR_NOTES = `### Ticket floor (issue #9)

The old floor (MQTT request/reply, encode, a TCP write, timed to the job's last byte) left out
half of what CONTRACT §4 and §5 ask for one ticket, so its ratio of 2.7 (p50) mixed the
controller's overhead with mandated work. The floor now does all of it, in the order the kiosk
must (see the list above), and both are timed POST → 201. Measured that way, over ten runs of
400 to 1,000 tickets on 2026-12-01 after the cuts below, the ratio was 1.56 to 2.41 at p50
(median of the runs about 1.8) and 1.18 to 2.87 at p99: **the target (<= 1.5 at p50 and p99) is
not met**, by about 0.1 to 0.9 at p50 (the kiosk spends 1.3 to 3.3 ms more than the floor's
2.1 to 3.1 ms). The p99s move with the six other sessions on the machine, the floor's as much
as the kiosk's; the one run before the cuts (1.84 / 1.61) is inside that spread, so the cuts'
effect could not be told from the noise by whole runs.

Cut from the kiosk's path, as not mandated:
- the status read after a confirmed Epson job (three more \`DLE EOT\` round trips between the
  \`GS ( H\` reply and the 201): the reply is the confirmation (CONTRACT §4); a status read now
  follows only an unconfirmed job, to say why, and the idle poll catches any change after a
  confirmed one;
- the paper forecast's measuring of each job, which ran in the printer's answer, before the
  ticket machine heard it: it now runs on the next turn of the event loop;
- every printer snapshot no longer reaches the ticket desk and the touch UI: the printer
  façade builds the status once per snapshot and tells its listeners only of a change (before,
  the UI refreshed on every printer transition, several per ticket).

Where the rest goes (p50, run 1): of the kiosk's extra 1.6 ms, about 1.0 ms is before the job
reaches the printer (POST → cut 3.1 ms against 2.1 ms) and 0.5 ms after it (cut → 201 1.0 ms
against 0.5 ms). The disk is not it: both commit the hold and \`ticket.issued\` the same way
(the \`sqliteTransaction\` of \`ticket.issued\`, its fsync, is the single largest item of the
kiosk's CPU profile at about 0.65 ms a ticket, as it is the floor's). The difference is the
controller's layers on the path, each small: two XState machines (ticket and printer: about
0.65 ms of XState's own time per ticket in a CPU profile of 1,200 tickets, spread over some
twenty transitions and five promise actors, each with its AbortController), the ticket desk
and ledger around the outbox, the HTTP server's routing and checks, and the CPU the kiosk
spends between tickets on mandated work the floor does not do at all — publishing
\`ticket.issued\` to central and deleting it on PUBACK (\`writev\` of the MQTT client ≈ 0.5 ms a
ticket, \`ack\` ≈ 0.2 ms), taking central's queue updates and refreshing the touch screen — which
on two shared cores delays the next ticket. Turning the publish pump off in a trial run did not
move the p50 beyond the noise, so what remains is the machines and promise hops on the path;
meeting 1.5 would mean fewer actors between the HTTP request and the printer (e.g. the print
and the record as one actor), not removing work.
`;

const WARMUP_TICKETS = 200;
const BLOCK = 100;
const READY_TIMEOUT_MS = 20_000;
const POLL_MS = 50;
const MB = 1024 * 1024;

const SITE = 'bench';
const KIOSK = 'bench-k1';
const SERVICE = { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' }, online: true };
const KIOSK_BIN = fileURLToPath(new URL('../bin/kiosk.js', import.meta.url));
const FLOOR_SCRIPT = fileURLToPath(new URL('./ticketFloor.ts', import.meta.url));
const GC_PROBE = fileURLToPath(new URL('./kioskGcProbe.ts', import.meta.url));

export async function benchTicketLatency(opts: { tickets: number }): Promise<Record<string, number>> {
  const n = opts.tickets;
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-bench-tickets-'));
  // Without it mosquitto holds each small reply for Nagle + the peer's delayed ACK (~40 ms).
  const broker = await startMosquitto({ extraConfig: ['set_tcp_nodelay true'] });
  const printer = await startSimulatedPrinter();
  const floorPrinter = await startSimulatedPrinter();
  const central = await startCentralSimulator({ url: broker.url, prefix: 'siga', site: SITE, services: [SERVICE] });
  const port = await freePort();
  const configFile = join(dir, 'kiosk.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      kiosk: { id: KIOSK, site: SITE, locale: 'pt-PT' },
      dataDir: join(dir, 'data'),
      http: { host: '127.0.0.1', port },
      printer: { type: 'epson', interface: `tcp://127.0.0.1:${printer.port}` },
      upstream: { url: broker.url, prefix: 'siga' },
      services: [SERVICE],
    }),
  );
  const probeFile = join(dir, 'gc-probe.json');
  // The kiosk as an office runs it, plus a probe that collects garbage on SIGUSR2 and says how much memory is left.
  // KIOSK_BENCH_CPU_PROFILE=<dir>: the kiosk writes a V8 CPU profile there when it stops.
  const profileDir = process.env.KIOSK_BENCH_CPU_PROFILE;
  const profiling = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const kiosk = startProcess(process.execPath, [...profiling, '--expose-gc', '--import', 'tsx', '--import', GC_PROBE, KIOSK_BIN, 'run', '--config', configFile], { KIOSK_GC_PROBE_FILE: probeFile });
  const floorProcess = startProcess(process.execPath, ['--import', 'tsx', FLOOR_SCRIPT, broker.url, String(floorPrinter.port), SITE, JSON.stringify(SERVICE), dir]);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const floorAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const base = new URL(`http://127.0.0.1:${port}`);
    await waitFor(() => kioskReady(agent, base), kiosk);
    const floorUrl = new URL(`http://127.0.0.1:${await floorPort(floorProcess)}/ticket`);
    const url = new URL('/api/tickets', base);
    const body = JSON.stringify({ service: SERVICE.id, priority: false });

    /** Where the time went: POST → the job's cut at the printer, and that cut → 201. */
    const split = { kiosk: { toCut: [] as number[], cutTo201: [] as number[] }, floor: { toCut: [] as number[], cutTo201: [] as number[] } };
    let recording = false;
    /** One ticket: POST sent → 201 received (and the job's cut seen at `at` by then). */
    const httpTicket = async (at: SimulatedPrinter, via: Agent, to: URL, into: { toCut: number[]; cutTo201: number[] }): Promise<number> => {
      const jobs = at.jobs.length;
      let cutAt = NaN;
      at.once('job', () => (cutAt = performance.now()));
      const t0 = performance.now();
      const { status, body: answer } = await post(via, to, body);
      const t1 = performance.now();
      if (status !== 201) throw new Error(`POST ${to.pathname} answered ${status}: ${answer}`);
      if (at.jobs.length !== jobs + 1) throw new Error(`POST ${to.pathname} answered 201 before its ticket printed`);
      if (recording) {
        into.toCut.push(cutAt - t0);
        into.cutTo201.push(t1 - cutAt);
      }
      return t1 - t0;
    };
    const kioskTicket = () => httpTicket(printer, agent, url, split.kiosk);
    const floorTicket = () => httpTicket(floorPrinter, floorAgent, floorUrl, split.floor);

    for (let i = 0; i < WARMUP_TICKETS; i++) {
      await kioskTicket();
      await floorTicket();
    }
    const atStart = await memoryAfterGc(kiosk, probeFile);
    recording = true;
    let rssMax = rssOf(kiosk);
    const kioskMs: number[] = [];
    const floorMs: number[] = [];
    for (let done = 0; done < n; done += BLOCK) {
      const k = Math.min(BLOCK, n - done);
      for (let i = 0; i < k; i++) kioskMs.push(await kioskTicket());
      for (let i = 0; i < k; i++) floorMs.push(await floorTicket());
      rssMax = Math.max(rssMax, rssOf(kiosk));
      // The simulated printers keep every job (decoded): that is the simulator's memory, not the kiosk's.
      printer.jobs.length = 0;
      floorPrinter.jobs.length = 0;
    }
    const atEnd = await memoryAfterGc(kiosk, probeFile);
    const kp50 = percentile(kioskMs, 0.5);
    const kp99 = percentile(kioskMs, 0.99);
    const fp50 = percentile(floorMs, 0.5);
    const fp99 = percentile(floorMs, 0.99);
    return {
      tickets: n,
      kioskP50Ms: round(kp50),
      kioskP99Ms: round(kp99),
      kioskMaxMs: round(Math.max(...kioskMs)),
      floorP50Ms: round(fp50),
      floorP99Ms: round(fp99),
      ratioP50: round(kp50 / fp50),
      ratioP99: round(kp99 / fp99),
      kioskPostToCutP50Ms: round(percentile(split.kiosk.toCut, 0.5)),
      kioskCutTo201P50Ms: round(percentile(split.kiosk.cutTo201, 0.5)),
      floorPostToCutP50Ms: round(percentile(split.floor.toCut, 0.5)),
      floorCutTo201P50Ms: round(percentile(split.floor.cutTo201, 0.5)),
      kioskRssStartMb: round(atStart.rss / MB),
      kioskRssMaxMb: round(rssMax / MB),
      kioskRssEndMb: round(atEnd.rss / MB),
      kioskRssGrowthMb: round((atEnd.rss - atStart.rss) / MB),
      kioskHeapStartMb: round(atStart.heapUsed / MB),
      kioskHeapEndMb: round(atEnd.heapUsed / MB),
    };
  } finally {
    agent.destroy();
    floorAgent.destroy();
    await stopProcess(floorProcess);
    await stopProcess(kiosk);
    await central.close();
    await printer.close();
    await floorPrinter.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Started {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
}

function startProcess(cmd: string, args: string[], env: Record<string, string> = {}): Started {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const stdout: string[] = [];
  const stderr: string[] = [];
  // Keep only the tail: the kiosk logs a line per ticket.
  const keep = (list: string[]) => (chunk: Buffer) => {
    list.push(chunk.toString());
    if (list.length > 50) list.shift();
  };
  child.stdout!.on('data', keep(stdout));
  child.stderr!.on('data', keep(stderr));
  return { child, stdout, stderr };
}

async function stopProcess(p: Started): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** The kiosk's memory right after a full collection (bench/kioskGcProbe.ts answers SIGUSR2). */
async function memoryAfterGc(p: Started, file: string): Promise<{ rss: number; heapUsed: number }> {
  const read = (): { probe: number; rss: number; heapUsed: number } | null => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { probe: number; rss: number; heapUsed: number };
    } catch {
      return null;
    }
  };
  const before = read()?.probe ?? 0;
  p.child.kill('SIGUSR2');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const m = read();
    if (m && m.probe > before) return m;
    if (Date.now() > deadline) throw new Error('the kiosk did not answer the memory probe');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Resident memory of a process, from /proc (Linux). */
function rssOf(p: Started): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS in /proc: Linux only');
  return Number(m[1]) * 1024;
}

async function kioskReady(agent: Agent, base: URL): Promise<boolean> {
  try {
    const { status, body } = await get(agent, new URL('/api/health', base));
    if (status !== 200) return false;
    const h = JSON.parse(body) as { devices?: { printer?: { ready?: boolean } }; upstream?: { connected?: boolean } };
    return h.devices?.printer?.ready === true && h.upstream?.connected === true;
  } catch {
    return false;
  }
}

async function floorPort(p: Started): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the floor script did not start: ${p.stderr.join('')}`)), READY_TIMEOUT_MS);
    const look = () => {
      const m = /FLOOR-READY (\d+)/.exec(p.stdout.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      } else setTimeout(look, POLL_MS);
    };
    look();
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function post(agent: Agent, url: URL, body: string): Promise<{ status: number; body: string }> {
  return send(agent, url, 'POST', body);
}

function get(agent: Agent, url: URL): Promise<{ status: number; body: string }> {
  return send(agent, url, 'GET', null);
}

function send(agent: Agent, url: URL, method: string, body: string | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request(url, { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

async function waitFor(pred: () => Promise<boolean>, p: Started): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await pred())) {
    if (p.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the kiosk did not become ready (printer and upstream): ${p.stderr.join('')}${p.stdout.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

function round(x: number): number {
  return Number(x.toFixed(2));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const tickets = Number(process.argv[2] ?? 1_000);
  const r = await benchTicketLatency({ tickets });
  console.table(Object.entries(r).map(([metric, value]) => ({ metric, value })));
  const ok = (r.kioskP99Ms ?? Infinity) <= 30 && (r.ratioP50 ?? Infinity) <= 1.5 && (r.ratioP99 ?? Infinity) <= 1.5;
  console.log(ok ? 'ticket latency within target (p99 <= 30 ms, ratio <= 1.5 at p50 and p99)' : 'ticket latency OUTSIDE target (p99 <= 30 ms, ratio <= 1.5 at p50 and p99)');
}
