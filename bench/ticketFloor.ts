/**
 * The ticket benchmark's floor, a process of its own like the kiosk it is compared with:
 * the work CONTRACT §4–§6 mandates for one ticket, done with bare libraries and nothing
 * of ours around it but the ticket layout (node-thermal-printer through our layout, the
 * same bytes the kiosk prints):
 *
 *  1. `POST /ticket` on a bare node:http server;
 *  2. the MQTT request to central (mqtt.js, QoS 1, TCP_NODELAY), and while central
 *     answers, the printer's status read with `DLE EOT` 1, 2 and 4, one at a time;
 *  3. the number committed (better-sqlite3, WAL; the commit at synchronous NORMAL and the
 *     WAL fdatasync'd on libuv's pool, as synchronous FULL would, while the ticket is
 *     encoded); not a byte to the printer before both;
 *  4. the job sent with `GS ( H` fn 48 behind it and the printer's `37 22 …` awaited;
 *  5. `ticket.issued` committed at synchronous FULL, then `201`.
 *
 * Prints `FLOOR-READY <httpPort>` when it can take tickets.
 *
 * `node --import tsx bench/ticketFloor.ts <brokerUrl> <printerPort> <site> <service json> <dataDir>`
 */
import { randomUUID } from 'node:crypto';
import { fdatasync, openSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { encodeTicket } from '../devices/printer/ticketLayout.js';
import type { ServiceConfig } from '../src/config/schema.js';
import { ticketContent } from '../src/tickets/ticketContent.js';

interface Reply {
  id: string;
  data: { ticket: string; peopleAhead: number; estimatedWaitMin: number };
}

const [brokerUrl = '', printerPort = '', site = '', serviceJson = '', dataDir = ''] = process.argv.slice(2);
if (!brokerUrl || !printerPort || !site || !serviceJson || !dataDir) throw new Error('usage: ticketFloor.ts <brokerUrl> <printerPort> <site> <service json> <dataDir>');
const service = JSON.parse(serviceJson) as ServiceConfig;

// ---------------------------------------------------------------- disk
const dbFile = join(dataDir, 'floor.sqlite');
const db = new Database(dbFile);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
db.exec('CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
const putState = db.prepare('INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)');
const insertEvent = db.prepare('INSERT INTO events (payload) VALUES (?)');
const deleteState = db.prepare('DELETE FROM state WHERE key = ?');
const syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
const syncFull = db.prepare('PRAGMA synchronous = FULL');
putState.run('warm', 'up'); // the WAL file exists from here on
const walFd = openSync(`${dbFile}-wal`, 'r+');

/** Commits at once and resolves when the WAL is on disk (the fsync on libuv's pool). */
function holdDurably(key: string, value: string): Promise<void> {
  syncNormal.run();
  try {
    putState.run(key, value);
  } finally {
    syncFull.run();
  }
  return new Promise((resolve, reject) => fdatasync(walFd, (err) => (err ? reject(err) : resolve())));
}

/** `ticket.issued` and the hold's removal in one transaction, fsync'd before it returns. */
const recordIssued = db.transaction((key: string, payload: string) => {
  insertEvent.run(payload);
  deleteState.run(key);
});

// ---------------------------------------------------------------- central
const replies = `siga/${site}/bench-floor/replies`;
const client = await mqtt.connectAsync(brokerUrl, { clientId: 'bench-floor', protocolVersion: 4, clean: true });
(client.stream as unknown as Socket).setNoDelay(true);
await client.subscribeAsync(replies, { qos: 1 });
const waiting = new Map<string, (data: Reply['data']) => void>();
client.on('message', (_topic, payload) => {
  const r = JSON.parse(payload.toString()) as Reply;
  waiting.get(r.id)?.(r.data);
  waiting.delete(r.id);
});

// ---------------------------------------------------------------- printer
const printer: Socket = await new Promise((resolve, reject) => {
  const s = connect(Number(printerPort), '127.0.0.1', () => resolve(s));
  s.once('error', reject);
});
printer.setNoDelay(true);
let received = Buffer.alloc(0);
let onReceived: (() => void) | null = null;
printer.on('data', (chunk: Buffer) => {
  received = Buffer.concat([received, chunk]);
  onReceived?.();
});

/** Resolves once `count` bytes have arrived since `from`, and takes them. */
function takeBytes(count: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (received.length < count) return;
      const bytes = received.subarray(0, count);
      received = received.subarray(count);
      onReceived = null;
      resolve(bytes);
    };
    onReceived = check;
    check();
  });
}

async function readStatus(): Promise<number[]> {
  const replies: number[] = [];
  for (const n of [1, 2, 4]) {
    printer.write(Buffer.from([0x10, 0x04, n]));
    replies.push((await takeBytes(1))[0]!);
  }
  return replies;
}

let jobCounter = 0;

async function printConfirmed(job: Buffer): Promise<void> {
  jobCounter = (jobCounter + 1) % 10_000;
  const jobId = Buffer.from(String(jobCounter).padStart(4, '0'), 'ascii');
  printer.write(Buffer.concat([job, Buffer.from([0x1d, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30]), jobId]));
  const reply = await takeBytes(7);
  if (reply[0] !== 0x37 || reply[1] !== 0x22 || !reply.subarray(2, 6).equals(jobId)) throw new Error(`unexpected completion reply ${reply.toString('hex')}`);
}

// ---------------------------------------------------------------- one ticket
async function ticket(): Promise<string> {
  const id = randomUUID();
  const answer = new Promise<Reply['data']>((resolve) => waiting.set(id, resolve));
  client.publish(
    `siga/${site}/central/requests`,
    JSON.stringify({ v: 1, id, kiosk: 'bench-floor', type: 'ticket.request', replyTo: replies, data: { service: service.id, priority: false } }),
    { qos: 1 },
  );
  const [data, status] = await Promise.all([answer, readStatus()]);
  if ((status[0]! & 0x08) !== 0 || (status[1]! & 0x24) !== 0 || (status[2]! & 0x60) !== 0) throw new Error('printer not ready');
  const now = Date.now();
  const held = { ticket: data.ticket, service: service.id, priority: false, offline: false, peopleAhead: data.peopleAhead, estimatedWaitMin: data.estimatedWaitMin, issuedAt: now, closesAt: null, heldAt: now };
  const key = 'tickets.pending';
  const onDisk = holdDurably(key, JSON.stringify([held]));
  const job = encodeTicket(ticketContent(held, service, { site, locale: 'pt-PT', timeZone: 'Europe/Lisbon' }), { type: 'epson' });
  await onDisk;
  await printConfirmed(job);
  recordIssued(key, JSON.stringify({ type: 'ticket.issued', id: randomUUID(), data: { ticket: data.ticket, service: service.id, priority: false, offline: false, peopleAhead: data.peopleAhead } }));
  return data.ticket;
}

// One ticket at a time, as the kiosk's ticket machine does.
let queue: Promise<unknown> = Promise.resolve();

const http = createHttpServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    const asked = JSON.parse(body) as { service?: unknown };
    if (asked.service !== service.id) {
      res.writeHead(400).end();
      return;
    }
    queue = queue.then(() =>
      ticket().then(
        (t) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ ticket: t, printed: true })),
        (e: unknown) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (e as Error).message })),
      ),
    );
  });
});
process.on('SIGTERM', () => {
  printer.destroy();
  http.close();
  void client.endAsync().then(() => {
    db.close();
    process.exit(0);
  });
});
http.listen(0, '127.0.0.1', () => {
  const a = http.address();
  process.stdout.write(`FLOOR-READY ${typeof a === 'object' && a ? a.port : 0}\n`);
});
