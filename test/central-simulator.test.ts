import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker } from '../sim/broker.js';
import { startCentralSimulator, type CentralSimulator } from '../sim/central/centralSimulator.js';

const REPLY_TIMEOUT_MS = 2_000;
const MOSQUITTO_START_TIMEOUT_MS = 5_000;
const MOSQUITTO = '/usr/sbin/mosquitto';
const PREFIX = 'siga';
const KIOSK = 'k1';
const SERVICES = [
  { id: 'prestacoes', prefix: 'P' },
  { id: 'contribuicoes', prefix: 'C' },
];
/** The simulator's clock: Monday 23 Nov 2026, 10:00 in Lisbon (UTC+0 in winter). */
const NOW = new Date('2026-11-23T10:00:00Z');

interface Broker {
  url: string;
  close(): Promise<void>;
}

async function startMosquitto(): Promise<Broker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'central-sim-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n`);
  const proc: ChildProcess = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitForPort(port, MOSQUITTO_START_TIMEOUT_MS);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50)); // polling a starting process, not a timeout under test
  }
}

/** A stand-in kiosk: sends requests and events, collects every reply as raw text. */
class FakeKiosk {
  readonly replies: { text: string; retain: boolean }[] = [];
  private readonly listeners = new Set<() => void>();
  private constructor(
    readonly client: MqttClient,
    readonly site: string,
  ) {}

  static async connect(url: string, site: string, will = false): Promise<FakeKiosk> {
    const client = await mqtt.connectAsync(url, {
      clientId: `${KIOSK}-${randomUUID().slice(0, 8)}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...(will ? { will: { topic: `${PREFIX}/${site}/${KIOSK}/status`, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true } } : {}),
    });
    noDelay(client);
    const kiosk = new FakeKiosk(client, site);
    const repliesTopic = kiosk.topic('replies');
    client.on('message', (topic, payload) => {
      if (topic !== repliesTopic) return;
      kiosk.replies.push({ text: payload.toString('utf8'), retain: false });
      for (const l of [...kiosk.listeners]) l();
    });
    await client.subscribeAsync(repliesTopic, { qos: 1 });
    return kiosk;
  }

  topic(leaf: string): string {
    return `${PREFIX}/${this.site}/${KIOSK}/${leaf}`;
  }

  /** Publishes a request and returns its id. */
  async send(type: string, data: Record<string, unknown>, id: string = randomUUID()): Promise<string> {
    const request = { v: 1, id, kiosk: KIOSK, type, replyTo: this.topic('replies'), data };
    await this.client.publishAsync(`${PREFIX}/${this.site}/central/requests`, JSON.stringify(request), { qos: 1 });
    return id;
  }

  /** Resolves once `count` replies have arrived in all. */
  waitForReplies(count: number, timeoutMs = REPLY_TIMEOUT_MS): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.replies.length < count) return false;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve(this.replies.map((r) => r.text));
        return true;
      };
      const listener = (): void => void check();
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`expected ${count} replies, got ${this.replies.length}`));
      }, timeoutMs);
      this.listeners.add(listener);
      check();
    });
  }

  /** Sends a request and returns the parsed reply that carries its id. */
  async request(type: string, data: Record<string, unknown>, id?: string): Promise<Record<string, unknown>> {
    const already = this.replies.length;
    const sentId = await this.send(type, data, id);
    const texts = await this.waitForReplies(already + 1);
    const reply = JSON.parse(texts[already] ?? 'null') as Record<string, unknown>;
    expect(reply.id).toBe(sentId);
    return reply;
  }

  async publishEvent(event: Record<string, unknown>): Promise<void> {
    await this.client.publishAsync(this.topic('events'), JSON.stringify(event), { qos: 1 });
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** Small request/reply packets: without TCP_NODELAY each waits ~40 ms for a delayed ACK. */
function noDelay(client: MqttClient): void {
  (client.stream as unknown as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
}

function event(site: string, seq: number, type: string, data: Record<string, unknown>, id: string = randomUUID()) {
  return { v: 1, id, seq, ts: NOW.toISOString(), kiosk: KIOSK, site, type, data };
}

/** Subscribes a new client to the queue state and returns the first message (retained or live). */
async function firstQueueState(url: string, site: string): Promise<{ state: unknown; retained: boolean }> {
  const client = await mqtt.connectAsync(url, { clientId: `late-${randomUUID().slice(0, 8)}`, protocolVersion: 4, reconnectPeriod: 0 });
  try {
    const got = new Promise<{ state: unknown; retained: boolean }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no queue state received')), REPLY_TIMEOUT_MS);
      client.once('message', (_topic, payload, packet) => {
        clearTimeout(timer);
        resolve({ state: JSON.parse(payload.toString('utf8')), retained: packet.retain });
      });
    });
    await client.subscribeAsync(`${PREFIX}/${site}/queues`, { qos: 1 });
    return await got;
  } finally {
    await client.endAsync(true);
  }
}

const brokers: Array<[string, () => Promise<Broker>]> = [
  ['the embedded aedes broker', () => startEmbeddedBroker({ port: 0 })],
  ['mosquitto', startMosquitto],
];

describe.each(brokers)('the simulated central over %s', (_name, startBroker) => {
  let broker: Broker;
  let central: CentralSimulator;
  let kiosk: FakeKiosk;
  let site: string;
  let siteCounter = 0;

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.close();
  });

  beforeEach(async () => {
    // A fresh site per test: retained queue state from one test cannot leak into the next.
    site = `site-${++siteCounter}-${randomUUID().slice(0, 6)}`;
    central = await startCentralSimulator({ url: broker.url, prefix: PREFIX, site, services: SERVICES, now: () => NOW });
    kiosk = await FakeKiosk.connect(broker.url, site);
  });
  afterEach(async () => {
    await kiosk.close();
    await central.close();
  });

  describe('tickets', () => {
    it('numbers tickets per service from 001 and counts the people ahead', async () => {
      const first = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(first).toEqual({ v: 1, id: first.id, ok: true, data: { ticket: 'P001', peopleAhead: 0, estimatedWaitMin: 0 } });
      const second = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(second.data).toEqual({ ticket: 'P002', peopleAhead: 1, estimatedWaitMin: 5 });
      const other = await kiosk.request('ticket.request', { service: 'contribuicoes', priority: false });
      expect(other.data).toEqual({ ticket: 'C001', peopleAhead: 0, estimatedWaitMin: 0 });
    });

    it('gives priority tickets their own sequence, marked with an asterisk', async () => {
      await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      const priority = await kiosk.request('ticket.request', { service: 'prestacoes', priority: true });
      expect(priority.data).toEqual({ ticket: 'P*001', peopleAhead: 1, estimatedWaitMin: 5 });
    });

    it('has one fewer person ahead after a ticket is served', async () => {
      await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(central.serve('prestacoes')).toBe('P001');
      const third = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(third.data).toEqual({ ticket: 'P003', peopleAhead: 1, estimatedWaitMin: 5 });
      expect(central.serve('contribuicoes')).toBeNull();
    });

    it('answers unknown_service for a service it does not have', async () => {
      const reply = await kiosk.request('ticket.request', { service: 'pensoes', priority: false });
      expect(reply).toEqual({ v: 1, id: reply.id, ok: false, error: { code: 'unknown_service', message: expect.any(String) } });
    });

    it('answers service_closed while closed, and issues tickets again once reopened', async () => {
      central.setClosed(true);
      const closed = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(closed).toMatchObject({ ok: false, error: { code: 'service_closed' } });
      central.setClosed(false);
      const open = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(open).toMatchObject({ ok: true, data: { ticket: 'P001' } });
    });

    it('closes one service without closing the others', async () => {
      central.setClosed(true, 'contribuicoes');
      expect(await kiosk.request('ticket.request', { service: 'contribuicoes', priority: false })).toMatchObject({ ok: false, error: { code: 'service_closed' } });
      expect(await kiosk.request('ticket.request', { service: 'prestacoes', priority: false })).toMatchObject({ ok: true });
    });

    it('answers a repeated request id with the same ticket instead of issuing another', async () => {
      const id = randomUUID();
      const first = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false }, id);
      const again = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false }, id);
      expect(again).toEqual(first);
      expect(central.queue('prestacoes')).toHaveLength(1);
    });

    it('answers unknown_request for a request type it does not know', async () => {
      expect(await kiosk.request('coffee.request', {})).toMatchObject({ ok: false, error: { code: 'unknown_request' } });
    });
  });

  describe('appointments', () => {
    const at = new Date('2026-11-23T10:10:00Z');

    it('checks in an appointment on time and queues it in its service', async () => {
      await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      central.addAppointment({ code: 'ABC123', service: 'prestacoes', at });
      const reply = await kiosk.request('appointment.checkin', { code: 'ABC123' });
      expect(reply).toEqual({
        v: 1,
        id: reply.id,
        ok: true,
        data: { ticket: 'A001', peopleAhead: 1, estimatedWaitMin: 5, appointment: { service: 'prestacoes', at: at.toISOString() } },
      });
      expect(central.queue('prestacoes').map((q) => q.ticket)).toEqual(['P001', 'A001']);
    });

    it('refuses a check-in too early and says when to come back', async () => {
      central.addAppointment({ code: 'EARLY1', service: 'prestacoes', at: new Date('2026-11-23T11:00:00Z'), earlyMin: 30 });
      const reply = await kiosk.request('appointment.checkin', { code: 'EARLY1' });
      expect(reply).toEqual({
        v: 1,
        id: reply.id,
        ok: false,
        error: { code: 'too_early', message: expect.any(String), comeBackAt: '2026-11-23T10:30:00.000Z' },
      });
    });

    it('refuses a check-in after the late window has passed', async () => {
      central.addAppointment({ code: 'LATE01', service: 'prestacoes', at: new Date('2026-11-23T09:40:00Z'), lateMin: 15 });
      expect(await kiosk.request('appointment.checkin', { code: 'LATE01' })).toMatchObject({ ok: false, error: { code: 'too_late' } });
    });

    it('accepts a check-in at the very end of the late window', async () => {
      central.addAppointment({ code: 'EDGE01', service: 'prestacoes', at: new Date('2026-11-23T09:45:00Z'), lateMin: 15 });
      expect(await kiosk.request('appointment.checkin', { code: 'EDGE01' })).toMatchObject({ ok: true });
    });

    it('refuses an unknown appointment code', async () => {
      expect(await kiosk.request('appointment.checkin', { code: 'NOPE00' })).toMatchObject({ ok: false, error: { code: 'unknown_appointment' } });
    });

    it('refuses a second check-in of the same appointment', async () => {
      central.addAppointment({ code: 'TWICE1', service: 'prestacoes', at });
      await kiosk.request('appointment.checkin', { code: 'TWICE1' });
      expect(await kiosk.request('appointment.checkin', { code: 'TWICE1' })).toMatchObject({ ok: false, error: { code: 'already_checked_in' } });
    });
  });

  describe('fault modes', () => {
    it('never answers while silent, but records the request', async () => {
      central.silent(true);
      const unanswered = await kiosk.send('ticket.request', { service: 'prestacoes', priority: false });
      await central.waitForRequests((rs) => rs.some((r) => r.id === unanswered), REPLY_TIMEOUT_MS);
      central.silent(false);
      // Replies leave in request order: had the first been answered, it would arrive first.
      const answered = await kiosk.send('ticket.request', { service: 'prestacoes', priority: false });
      const [only] = await kiosk.waitForReplies(1);
      expect(JSON.parse(only ?? 'null')).toMatchObject({ id: answered, ok: true, data: { ticket: 'P001' } });
      expect(kiosk.replies).toHaveLength(1);
    });

    it('delays every reply by the configured time', async () => {
      const DELAY_MS = 300;
      central.delayReplies(DELAY_MS);
      const started = performance.now();
      const reply = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(performance.now() - started).toBeGreaterThanOrEqual(DELAY_MS);
      expect(reply).toMatchObject({ ok: true, data: { ticket: 'P001' } });
    });

    it('sends one garbage reply after malformedNext, then proper ones again', async () => {
      central.malformedNext();
      await kiosk.send('ticket.request', { service: 'prestacoes', priority: false });
      const [garbage] = await kiosk.waitForReplies(1);
      expect(() => JSON.parse(garbage ?? '')).toThrow();
      expect(await kiosk.request('ticket.request', { service: 'prestacoes', priority: false })).toMatchObject({ ok: true });
    });

    it('sends one reply with an id that matches no request after replyWithWrongId', async () => {
      central.replyWithWrongId();
      const id = await kiosk.send('ticket.request', { service: 'prestacoes', priority: false });
      const [text] = await kiosk.waitForReplies(1);
      const reply = JSON.parse(text ?? 'null') as { id: string; ok: boolean };
      expect(reply.id).not.toBe(id);
      expect(reply.ok).toBe(true);
      expect(await kiosk.request('ticket.request', { service: 'prestacoes', priority: false })).toMatchObject({ ok: true });
    });
  });

  describe('queue state', () => {
    it('keeps the queue state retained, so a display that subscribes late still gets it', async () => {
      await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      await kiosk.request('ticket.request', { service: 'prestacoes', priority: true });
      const { state, retained } = await firstQueueState(broker.url, site);
      expect(retained).toBe(true);
      expect(state).toEqual({
        v: 1,
        ts: NOW.toISOString(),
        services: { prestacoes: { waiting: 2, estimatedWaitMin: 10 }, contribuicoes: { waiting: 0, estimatedWaitMin: 0 } },
      });
    });

    it('publishes an empty queue state as soon as it starts', async () => {
      const { state } = await firstQueueState(broker.url, site);
      expect(state).toMatchObject({ services: { prestacoes: { waiting: 0 }, contribuicoes: { waiting: 0 } } });
    });
  });

  describe('events and status from kiosks', () => {
    it('drops repeated event ids but counts every message received', async () => {
      const first = event(site, 1, 'kiosk.started', { version: '0.1.0' });
      const second = event(site, 2, 'dropbox.deposit', { box: 'box-1', count: 1, inferred: false });
      await kiosk.publishEvent(first);
      await kiosk.publishEvent(first);
      await kiosk.publishEvent(second);
      const events = await central.waitForEvents((es) => es.length >= 2, REPLY_TIMEOUT_MS);
      expect(events.map((e) => e.id)).toEqual([first.id, second.id]);
      expect(central.rawEventCount).toBe(3);
    });

    it('adds an offline ticket reported by a kiosk to its queue, but not an online one', async () => {
      await kiosk.publishEvent(event(site, 1, 'ticket.issued', { ticket: 'P001', service: 'prestacoes', priority: false, offline: false, peopleAhead: 0 }));
      const offline = event(site, 2, 'ticket.issued', { ticket: 'PK1-0001', service: 'prestacoes', priority: false, offline: true, peopleAhead: null });
      await kiosk.publishEvent(offline);
      await kiosk.publishEvent(offline); // a repeat must not queue it twice
      await central.waitForEvent((e) => e.id === offline.id, REPLY_TIMEOUT_MS);
      await central.waitForEvents(() => central.rawEventCount === 3, REPLY_TIMEOUT_MS);
      expect(central.queue('prestacoes')).toEqual([{ ticket: 'PK1-0001', kind: 'offline' }]);
      const next = await kiosk.request('ticket.request', { service: 'prestacoes', priority: false });
      expect(next.data).toMatchObject({ peopleAhead: 1 });
    });

    it('tracks a kiosk\'s retained status, including its last will when it drops off', async () => {
      const withWill = await FakeKiosk.connect(broker.url, site, true);
      await withWill.client.publishAsync(withWill.topic('status'), JSON.stringify({ state: 'online', version: '0.1.0' }), { qos: 1, retain: true });
      await central.waitForStatus(KIOSK, (s) => s.state === 'online', REPLY_TIMEOUT_MS);
      expect(central.statusOf(KIOSK)).toEqual({ state: 'online', version: '0.1.0' });
      withWill.client.stream.destroy(); // an unplugged cable: no DISCONNECT, so the broker sends the will
      await central.waitForStatus(KIOSK, (s) => s.state === 'offline', REPLY_TIMEOUT_MS);
      await withWill.close();
      expect(central.statusOf('another-kiosk')).toBeUndefined();
    });
  });
});

describe('the embedded broker', () => {
  it('listens on a free port when asked for port 0 and stops accepting connections once closed', async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    await broker.close();
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(broker.port, '127.0.0.1', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    await client.endAsync(true);
  });

  it('rejects when the port is already taken', async () => {
    const first = await startEmbeddedBroker({ port: 0 });
    try {
      await expect(startEmbeddedBroker({ port: first.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
