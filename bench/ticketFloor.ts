/**
 * The ticket benchmark's floor, a process of its own like the kiosk it is compared with:
 * the bare minimum any kiosk must do for one ticket, with nothing of ours around it —
 * the MQTT request/reply to central (mqtt.js, TCP_NODELAY), the same ticket encoded by
 * node-thermal-printer through our layout, and a TCP send to a simulated printer.
 *
 * Triggered by one byte on a local TCP socket (the cheapest trigger there is; the kiosk
 * pays for a whole HTTP request), or — a second reference, to tell how much of the
 * kiosk's cost is HTTP itself — by `POST /ticket` on a bare node:http server, answered
 * 201 once the job is written. Prints `FLOOR-READY <port> <httpPort>` when it can take
 * tickets.
 *
 * `node --import tsx bench/ticketFloor.ts <brokerUrl> <printerPort> <site> <service json>`
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import mqtt from 'mqtt';
import { encodeTicket } from '../devices/printer/ticketLayout.js';
import type { ServiceConfig } from '../src/config/schema.js';
import { ticketContent } from '../src/tickets/ticketContent.js';

interface Reply {
  id: string;
  data: { ticket: string; peopleAhead: number; estimatedWaitMin: number };
}

const [brokerUrl = '', printerPort = '', site = '', serviceJson = ''] = process.argv.slice(2);
if (!brokerUrl || !printerPort || !site || !serviceJson) throw new Error('usage: ticketFloor.ts <brokerUrl> <printerPort> <site> <service json>');
const service = JSON.parse(serviceJson) as ServiceConfig;

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

const printer: Socket = await new Promise((resolve, reject) => {
  const s = connect(Number(printerPort), '127.0.0.1', () => resolve(s));
  s.once('error', reject);
});
printer.setNoDelay(true);
printer.on('data', () => undefined);

async function ticket(): Promise<void> {
  const id = randomUUID();
  const answer = new Promise<Reply['data']>((resolve) => waiting.set(id, resolve));
  client.publish(
    `siga/${site}/central/requests`,
    JSON.stringify({ v: 1, id, kiosk: 'bench-floor', type: 'ticket.request', replyTo: replies, data: { service: service.id, priority: false } }),
    { qos: 1 },
  );
  const data = await answer;
  const now = Date.now();
  const job = encodeTicket(
    ticketContent(
      { ticket: data.ticket, service: service.id, priority: false, offline: false, peopleAhead: data.peopleAhead, estimatedWaitMin: data.estimatedWaitMin, issuedAt: now, closesAt: null, heldAt: now },
      service,
      { site, locale: 'pt-PT', timeZone: 'Europe/Lisbon' },
    ),
    { type: 'epson' },
  );
  printer.write(job);
}

const trigger = createServer((s) => {
  s.setNoDelay(true);
  s.on('data', (chunk) => {
    for (let i = 0; i < chunk.length; i++) void ticket();
  });
  s.on('close', () => {
    printer.destroy();
    trigger.close();
    http.close();
    void client.endAsync().then(() => process.exit(0));
  });
});
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
    void ticket().then(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{}'));
  });
});
const portOf = (s: { address(): unknown }): number => {
  const a = s.address();
  return typeof a === 'object' && a !== null && 'port' in a ? Number(a.port) : 0;
};
trigger.listen(0, '127.0.0.1', () => {
  http.listen(0, '127.0.0.1', () => process.stdout.write(`FLOOR-READY ${portOf(trigger)} ${portOf(http)}\n`));
});
