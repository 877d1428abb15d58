/**
 * The fault matrix's test bench: the real controller as a child process (`kiosk run`,
 * so `kill -9` is real), in front of a real Mosquitto (behind a TCP proxy that can
 * half-open the link), the simulated board on a real PTY, the TCP printer simulator and
 * the simulated central. Everything the controller says upstream is collected; `verify`
 * checks it against the truth: the board's own count and the tickets answered 201.
 * Used by test/fault-matrix.test.ts (short) and soak/run.ts (`npm run soak`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { EventEnvelope } from '../../src/upstream/events.js';
import { startPtyBoard, type PtyBoard } from '../../sim/board/ptyBoard.js';
import { startCentralSimulator, type CentralSimulator } from '../../sim/central/centralSimulator.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../../sim/printer/simulatedPrinter.js';
import { formatFrame } from '../../devices/board/protocol.js';
import { collectEvents, startMosquitto, type EventCollector, type Mosquitto } from './mosquitto.js';
import { startTcpProxy, type TcpProxy } from './tcpProxy.js';

export const KIOSK = 'lisboa-01-k1';
export const SITE = 'lisboa-01';
const SERVICES = [
  { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' } },
  { id: 'contribuicoes', prefix: 'C', name: { 'pt-PT': 'Contribuições', en: 'Contributions' } },
];
/** The controller's start (tsx compiles on the fly) under a loaded CI machine. */
const START_TIMEOUT_MS = 60_000;

export interface RigFigures {
  envelopes: number;
  deposits: number;
  events: number;
  maxSeq: number;
  ticketsAnswered201: number;
  ticketsIssued: number;
  ticketRequestsUnanswered: number;
  controllerStarts: number;
  kills: number;
  brokerKills: number;
  maxRssMb: number;
  maxFds: number;
}

export class FaultRig {
  broker!: Mosquitto;
  proxy!: TcpProxy;
  board!: PtyBoard;
  printer!: SimulatedPrinter;
  central!: CentralSimulator;
  collector!: EventCollector;
  child: ChildProcess | null = null;
  httpPort = 0;
  readonly answered = new Map<string, number>();
  unanswered = 0;
  starts = 0;
  kills = 0;
  brokerKills = 0;
  maxRssKb = 0;
  maxFds = 0;
  /** RSS samples (KiB) of the current controller process, for the growth check. */
  lifetimeRss: number[] = [];
  longestLifetimeRss: number[] = [];
  private stderrTail = '';

  private constructor(readonly dir: string) {}

  static async start(dir: string): Promise<FaultRig> {
    const rig = new FaultRig(dir);
    rig.broker = await startMosquitto();
    rig.proxy = await startTcpProxy(rig.broker.port);
    rig.board = await startPtyBoard(dir, { boardId: 'RIG-1' });
    rig.printer = await startSimulatedPrinter({ port: 0 });
    rig.central = await startCentralSimulator({ url: rig.broker.url, prefix: 'siga', site: SITE, services: SERVICES });
    rig.collector = await collectEvents(rig.broker.url, `siga/${SITE}/${KIOSK}/events`);
    rig.httpPort = await freePort();
    writeFileSync(
      join(dir, 'kiosk.json'),
      JSON.stringify({
        kiosk: { id: KIOSK, site: SITE },
        dataDir: join(dir, 'data'),
        http: { host: '127.0.0.1', port: rig.httpPort },
        printer: { type: 'epson', interface: `tcp://127.0.0.1:${rig.printer.port}` },
        // No collection empties the bin during a soak (~3,800 envelopes in 30 min): a bin of the
        // default 1,000 would rightly stop believing the board (dropbox.count_implausible).
        dropbox: { id: 'box-1', port: rig.board.controllerPath, baudRate: 115200, capacity: 100_000 },
        upstream: { url: rig.proxy.url, prefix: 'siga', requestTimeoutMs: 800 },
        services: SERVICES,
      }),
    );
    return rig;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Starts `kiosk run` and waits until it answers /api/health. */
  async startController(): Promise<void> {
    if (this.child) return;
    const child = spawn(process.execPath, ['bin/kiosk.js', 'run', '--config', join(this.dir, 'kiosk.json')], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, KIOSK_LOG_LEVEL: 'error' },
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-4000)));
    this.child = child;
    this.starts++;
    this.lifetimeRss = [];
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the controller exited ${child.exitCode} at start: ${this.stderrTail}`);
      try {
        const res = await fetch(`${this.url}/api/health`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`the controller did not answer within ${START_TIMEOUT_MS} ms: ${this.stderrTail}`);
      await sleep(100);
    }
  }

  async killController(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.sample();
    if (this.lifetimeRss.length > this.longestLifetimeRss.length) this.longestLifetimeRss = this.lifetimeRss;
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    this.child = null;
    this.kills++;
  }

  async stopController(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.lifetimeRss.length > this.longestLifetimeRss.length) this.longestLifetimeRss = this.lifetimeRss;
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    this.child = null;
  }

  /** The broker killed -9 and started again; the kiosk is held off until the collector is back. */
  async killBroker(): Promise<void> {
    this.proxy.mode = 'refuse';
    // Counted before the kill: the collector may be back before restart() resolves.
    const connects = this.collector.connects;
    await this.broker.stop('SIGKILL');
    this.brokerKills++;
    await this.broker.restart();
    await this.collector.subscribed(connects + 1);
    this.proxy.mode = 'forward';
  }

  /** A ticket request; the answer is kept (a 201's number must be issued exactly once). */
  async requestTicket(): Promise<number | null> {
    try {
      const res = await fetch(`${this.url}/api/tickets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: Math.random() < 0.5 ? 'prestacoes' : 'contribuicoes', priority: Math.random() < 0.2 }),
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await res.json()) as { ticket?: string };
      if (res.status === 201 && body.ticket) this.answered.set(body.ticket, (this.answered.get(body.ticket) ?? 0) + 1);
      return res.status;
    } catch {
      this.unanswered++; // killed mid-request: the citizen got no answer
      return null;
    }
  }

  /** Valid-checksum frames that must change nothing: counts over capacity, single low counts, garbage. */
  fuzzBoard(n: number): void {
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = Math.random();
      const seq = Math.floor(Math.random() * 65536);
      if (r < 0.15) lines.push(formatFrame(seq, ['DROP', 1001 + Math.floor(Math.random() * 4294967296)]));
      else if (r < 0.3) lines.push(formatFrame(seq, ['HB', 5, 2 ** 53 - 1 - Math.floor(Math.random() * 1000)]));
      else if (r < 0.4) lines.push(formatFrame(seq, ['DROP', Math.floor(Math.random() * Math.max(1, this.board.sim.state.dropCount))]));
      else if (r < 0.7) lines.push(`$${seq},DROP,${Math.floor(Math.random() * 50)}*${Math.floor(Math.random() * 256).toString(16).toUpperCase().padStart(2, '0')}`);
      else lines.push(Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 140) }, () => Math.floor(Math.random() * 256))).toString('latin1').replace(/\n/g, ' '));
    }
    this.board.sim.sendRaw(Buffer.from(lines.join('\n') + '\n', 'latin1'));
  }

  /** Random methods, paths, headers and bodies; returns how many were answered 5xx. */
  async fuzzHttp(n: number): Promise<{ sent: number; serverErrors: number }> {
    const paths = ['/api/tickets', '/api/deposits', '/api/deposits/current', '/api/appointments/checkin', '/api/ui/events', '/api/diag/login', '/api/diag/status', '/api/health', '/api/nope', '/'];
    let serverErrors = 0;
    for (let i = 0; i < n; i++) {
      const path = paths[Math.floor(Math.random() * paths.length)]!;
      const method = ['GET', 'POST', 'DELETE', 'PUT'][Math.floor(Math.random() * 4)]!;
      const body = method === 'GET' ? undefined : randomBody();
      try {
        const res = await fetch(`${this.url}${path}`, {
          method,
          headers: { 'content-type': Math.random() < 0.7 ? 'application/json' : 'text/plain' },
          ...(body !== undefined ? { body } : {}),
          signal: AbortSignal.timeout(5000),
        });
        await res.arrayBuffer();
        if (res.status >= 500 && !(path === '/api/tickets' && res.status === 503) && !(res.status === 503 && path.startsWith('/api/deposits')) && res.status !== 502) serverErrors++;
      } catch {
        // the controller was killed meanwhile: not a 5xx
      }
    }
    return { sent: n, serverErrors };
  }

  /** Opens `n` sockets that send a request header one byte at a time, slowly; returns their closer. */
  slowloris(n: number): () => void {
    const sockets: Socket[] = [];
    const timers: NodeJS.Timeout[] = [];
    for (let i = 0; i < n; i++) {
      const s = connect(this.httpPort, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
      const text = `GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:${this.httpPort}\r\nX-Slow: `;
      let at = 0;
      const t = setInterval(() => s.writable && s.write(at < text.length ? text[at++]! : 'a'), 1000);
      timers.push(t);
    }
    return () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    };
  }

  /** RSS and open descriptors of the controller process (Linux /proc). */
  sample(): { rssKb: number; fds: number } | null {
    const pid = this.child?.pid;
    if (!pid) return null;
    try {
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      const fds = readdirSync(`/proc/${pid}/fd`).length;
      this.maxRssKb = Math.max(this.maxRssKb, rssKb);
      this.maxFds = Math.max(this.maxFds, fds);
      this.lifetimeRss.push(rssKb);
      return { rssKb, fds };
    } catch {
      return null;
    }
  }

  /** Events received, repeated ids dropped. */
  events(): EventEnvelope[] {
    const seen = new Set<string>();
    const out: EventEnvelope[] = [];
    for (const m of this.collector.messages) {
      const e = JSON.parse(m.payload) as EventEnvelope;
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      out.push(e);
    }
    return out;
  }

  /** Controller up and the proxy forwarding: waits until every envelope and every 201 ticket has arrived upstream. */
  async settle(timeoutMs: number): Promise<void> {
    this.proxy.mode = 'forward';
    await this.startController();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ev = this.events();
      const deposits = ev.filter((e) => e.type === 'dropbox.deposit').length;
      const issued = new Set(ev.filter((e) => e.type === 'ticket.issued').map((e) => (e.data as { ticket: string }).ticket));
      const ticketsIn = [...this.answered.keys()].every((t) => issued.has(t));
      let depth = -1;
      try {
        depth = ((await (await fetch(`${this.url}/api/health`)).json()) as { upstream: { outboxDepth: number } }).upstream.outboxDepth;
      } catch {
        // restarting
      }
      if (deposits >= this.board.sim.state.dropCount && ticketsIn && depth === 0) return;
      await sleep(200);
    }
  }

  /** Every problem found: lost or invented events, seq gaps, tickets issued twice or never. */
  verify(): { problems: string[]; figures: RigFigures } {
    const problems: string[] = [];
    const ev = this.events();
    const bySeq = new Map<number, EventEnvelope>();
    for (const e of ev) {
      const other = bySeq.get(e.seq);
      if (other) problems.push(`seq ${e.seq} carried by two different events (${other.type}, ${e.type})`);
      bySeq.set(e.seq, e);
    }
    // Not Math.max(...keys): a soak has far more events than arguments fit on the stack.
    let maxSeq = 0;
    for (const seq of bySeq.keys()) if (seq > maxSeq) maxSeq = seq;
    const gaps: number[] = [];
    for (let s = 1; s <= maxSeq; s++) if (!bySeq.has(s)) gaps.push(s);
    if (gaps.length) problems.push(`${gaps.length} seq gap(s), first ${gaps.slice(0, 10).join(', ')}`);
    const counts = ev.filter((e) => e.type === 'dropbox.deposit').map((e) => (e.data as { count: number }).count);
    const envelopes = this.board.sim.state.dropCount;
    const seenCounts = new Set<number>();
    const dup = counts.filter((c) => seenCounts.has(c) || (seenCounts.add(c), false));
    if (dup.length) problems.push(`deposit counts recorded twice: ${[...new Set(dup)].slice(0, 10).join(', ')}`);
    const invented = counts.filter((c) => c < 1 || c > envelopes);
    if (invented.length) problems.push(`${invented.length} invented deposit(s) beyond the board's ${envelopes}: ${invented.slice(0, 5).join(', ')}`);
    const missing: number[] = [];
    const have = new Set(counts);
    for (let c = 1; c <= envelopes; c++) if (!have.has(c)) missing.push(c);
    if (missing.length) problems.push(`${missing.length} envelope(s) never recorded: ${missing.slice(0, 10).join(', ')}`);
    const issued = ev.filter((e) => e.type === 'ticket.issued').map((e) => (e.data as { ticket: string }).ticket);
    const seenTickets = new Set<string>();
    const issuedTwice = issued.filter((t) => seenTickets.has(t) || (seenTickets.add(t), false));
    if (issuedTwice.length) problems.push(`ticket number(s) issued twice: ${issuedTwice.slice(0, 10).join(', ')}`);
    for (const [t, n] of this.answered) {
      if (n > 1) problems.push(`ticket ${t} answered 201 twice`);
      if (!issued.includes(t)) problems.push(`ticket ${t} answered 201 but never issued upstream`);
    }
    return {
      problems,
      figures: {
        envelopes,
        deposits: counts.length,
        events: ev.length,
        maxSeq,
        ticketsAnswered201: this.answered.size,
        ticketsIssued: issued.length,
        ticketRequestsUnanswered: this.unanswered,
        controllerStarts: this.starts,
        kills: this.kills,
        brokerKills: this.brokerKills,
        maxRssMb: Math.round(this.maxRssKb / 1024),
        maxFds: this.maxFds,
      },
    };
  }

  async stop(): Promise<void> {
    await this.stopController().catch(() => undefined);
    await this.collector?.stop().catch(() => undefined);
    await this.central?.close().catch(() => undefined);
    await this.printer?.close().catch(() => undefined);
    await this.board?.stop().catch(() => undefined);
    await this.proxy?.close().catch(() => undefined);
    await this.broker?.stop().catch(() => undefined);
  }
}

function randomBody(): string {
  const r = Math.random();
  if (r < 0.2) return '';
  if (r < 0.4) return JSON.stringify({ service: ['prestacoes', 'x', 42, null, '💥'][Math.floor(Math.random() * 5)], priority: [true, 'yes', 1][Math.floor(Math.random() * 3)] });
  if (r < 0.55) return '{"pin":' + JSON.stringify('9'.repeat(Math.floor(Math.random() * 20))) + '}';
  if (r < 0.7) return '{'.repeat(Math.floor(Math.random() * 2000));
  if (r < 0.8) return 'x'.repeat(Math.floor(Math.random() * 40_000));
  return Buffer.from(Array.from({ length: Math.floor(Math.random() * 600) }, () => Math.floor(Math.random() * 256))).toString('latin1');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
