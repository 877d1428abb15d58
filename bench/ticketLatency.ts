/**
 * Ticket latency benchmark: `POST /api/tickets` → the last byte of the ticket's job at
 * the simulated printer, with the simulated central answering at once over a local
 * mosquitto. Beside it, a floor measured in the same run: a bare script doing the same
 * MQTT request/reply (mqtt.js, TCP_NODELAY), the same node-thermal-printer encode and a
 * TCP send to a simulated printer. Both run in alternating blocks so drift hits both.
 * Reports p50/p99 of each, their ratio (targets: p99 <= 30 ms, ratio <= 1.25) and the
 * process RSS at the start and after all tickets.
 *
 * Alone: `node --import tsx bench/ticketLatency.ts [tickets]`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { encodeTicket } from '../devices/printer/ticketLayout.js';
import { configSchema } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import { startController } from '../src/main.js';
import { printerStatusView } from '../src/machines/printerMachine.js';
import { ticketContent } from '../src/tickets/ticketContent.js';
import { startCentralSimulator } from '../sim/central/centralSimulator.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { startMosquitto } from '../test/support/mosquitto.js';

const WARMUP_TICKETS = 50;
const BLOCK = 100;
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 10;
const MB = 1024 * 1024;

const SITE = 'bench';
const KIOSK = 'bench-k1';
const SERVICE = { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' }, online: true };

export async function benchTicketLatency(opts: { tickets: number }): Promise<Record<string, number>> {
  const n = opts.tickets;
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-bench-tickets-'));
  // Without it mosquitto holds each small reply for Nagle + the peer's delayed ACK (~40 ms).
  const broker = await startMosquitto({ extraConfig: ['set_tcp_nodelay true'] });
  const printer = await startSimulatedPrinter();
  const floorPrinter = await startSimulatedPrinter();
  const central = await startCentralSimulator({ url: broker.url, prefix: 'siga', site: SITE, services: [SERVICE] });
  const config = configSchema.parse({
    kiosk: { id: KIOSK, site: SITE, locale: 'pt-PT' },
    dataDir: dir,
    http: { host: '127.0.0.1', port: 0 },
    printer: { type: 'epson', interface: `tcp://127.0.0.1:${printer.port}` },
    upstream: { url: broker.url, prefix: 'siga' },
    services: [SERVICE],
  });
  const controller = await startController(config, { log: silentLogger() });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const floor = await startFloor(broker.url, floorPrinter);
  try {
    await waitFor(() => printerStatusView(controller.printer!.getSnapshot()).ready && controller.upstream.status().connected);
    const url = new URL('/api/tickets', controller.url);
    const body = JSON.stringify({ service: SERVICE.id, priority: false });

    const kioskTicket = async (): Promise<number> => {
      const jobSeen = nextJob(printer);
      const t0 = performance.now();
      const res = post(agent, url, body);
      const t1 = await jobSeen;
      const status = await res;
      if (status !== 201) throw new Error(`POST /api/tickets answered ${status}`);
      return t1 - t0;
    };

    for (let i = 0; i < WARMUP_TICKETS; i++) {
      await kioskTicket();
      await floor.ticket();
    }
    globalThis.gc?.();
    const rssStart = process.memoryUsage.rss();
    const heapStart = process.memoryUsage().heapUsed;
    const kiosk: number[] = [];
    const bare: number[] = [];
    for (let done = 0; done < n; done += BLOCK) {
      const k = Math.min(BLOCK, n - done);
      for (let i = 0; i < k; i++) kiosk.push(await kioskTicket());
      for (let i = 0; i < k; i++) bare.push(await floor.ticket());
      // The simulated printers keep every job (decoded); that is the simulator's memory, not the kiosk's.
      printer.jobs.length = 0;
      floorPrinter.jobs.length = 0;
    }
    globalThis.gc?.();
    const rssEnd = process.memoryUsage.rss();
    const heapEnd = process.memoryUsage().heapUsed;
    const kp50 = percentile(kiosk, 0.5);
    const kp99 = percentile(kiosk, 0.99);
    const fp50 = percentile(bare, 0.5);
    const fp99 = percentile(bare, 0.99);
    return {
      tickets: n,
      kioskP50Ms: round(kp50),
      kioskP99Ms: round(kp99),
      kioskMaxMs: round(Math.max(...kiosk)),
      floorP50Ms: round(fp50),
      floorP99Ms: round(fp99),
      ratioP50: round(kp50 / fp50),
      ratioP99: round(kp99 / fp99),
      rssStartMb: round(rssStart / MB),
      rssEndMb: round(rssEnd / MB),
      rssGrowthMb: round((rssEnd - rssStart) / MB),
      // Live JS heap after a full GC (needs --expose-gc): what the kiosk and simulators still hold.
      heapAfterGcStartMb: round(heapStart / MB),
      heapAfterGcEndMb: round(heapEnd / MB),
    };
  } finally {
    agent.destroy();
    await floor.close();
    await controller.stop('bench end');
    await central.close();
    await printer.close();
    await floorPrinter.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The floor: what any kiosk must do for a ticket, with nothing of ours around it. */
async function startFloor(brokerUrl: string, printer: SimulatedPrinter): Promise<{ ticket(): Promise<number>; close(): Promise<void> }> {
  const replies = `siga/${SITE}/bench-floor/replies`;
  const client = await mqtt.connectAsync(brokerUrl, { clientId: 'bench-floor', protocolVersion: 5, clean: true });
  (client.stream as unknown as Socket).setNoDelay(true);
  await client.subscribeAsync(replies, { qos: 1 });
  const waiting = new Map<string, (data: { ticket: string; peopleAhead: number; estimatedWaitMin: number }) => void>();
  client.on('message', (_topic, payload) => {
    const r = JSON.parse(payload.toString()) as { id: string; data: { ticket: string; peopleAhead: number; estimatedWaitMin: number } };
    waiting.get(r.id)?.(r.data);
    waiting.delete(r.id);
  });
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(printer.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  socket.on('data', () => undefined);
  return {
    async ticket() {
      const jobSeen = nextJob(printer);
      const t0 = performance.now();
      const id = randomUUID();
      const answer = new Promise<{ ticket: string; peopleAhead: number; estimatedWaitMin: number }>((resolve) => waiting.set(id, resolve));
      client.publish(`siga/${SITE}/central/requests`, JSON.stringify({ v: 1, id, kiosk: 'bench-floor', type: 'ticket.request', replyTo: replies, data: { service: SERVICE.id, priority: false } }), { qos: 1 });
      const data = await answer;
      const now = Date.now();
      const job = encodeTicket(
        ticketContent(
          { ticket: data.ticket, service: SERVICE.id, priority: false, offline: false, peopleAhead: data.peopleAhead, estimatedWaitMin: data.estimatedWaitMin, issuedAt: now, closesAt: null, heldAt: now },
          { ...SERVICE, hours: undefined },
          { site: SITE, locale: 'pt-PT', timeZone: 'Europe/Lisbon' },
        ),
        { type: 'epson' },
      );
      socket.write(job);
      return (await jobSeen) - t0;
    },
    async close() {
      socket.destroy();
      await client.endAsync();
    },
  };
}

/** Resolves with the time the printer finished the next job (its cut, the job's last command). */
function nextJob(printer: SimulatedPrinter): Promise<number> {
  return new Promise((resolve) => printer.once('job', () => resolve(performance.now())));
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(pred: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('the kiosk did not become ready (printer and upstream)');
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
  const ok = (r.kioskP99Ms ?? Infinity) <= 30 && (r.ratioP99 ?? Infinity) <= 1.25;
  console.log(ok ? 'ticket latency within target (p99 <= 30 ms, ratio <= 1.25)' : 'ticket latency OUTSIDE target (p99 <= 30 ms, ratio <= 1.25)');
}
