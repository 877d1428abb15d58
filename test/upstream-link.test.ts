import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import type { EventEnvelope, NewEvent } from '../src/upstream/events.js';
import { OutboxStore } from '../src/upstream/outbox.js';
import { Upstream, type UpstreamOptions } from '../src/facades/upstream.js';
import { buildConnectOptions } from '../src/upstream/session.js';
import { collectEvents, startMosquitto, type EventCollector, type Mosquitto, type ReceivedMessage } from './support/mosquitto.js';
import { waitUntil } from './support/waitUntil.js';

const KIOSK = 'lisboa-01-k1';
const SITE = 'lisboa-01';
const BASE = `siga/${SITE}`;
const EVENTS = `${BASE}/${KIOSK}/events`;
const STATUS = `${BASE}/${KIOSK}/status`;
const REPLIES = `${BASE}/${KIOSK}/replies`;
/** Short, pinned backoff so reconnection in tests takes tens of ms, not seconds. */
const TEST_BACKOFF = { initialMs: 40, maxMs: 150 };

let dir: string;
let broker: Mosquitto;
let outbox: OutboxStore;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiosk-link-'));
  broker = await startMosquitto();
  outbox = OutboxStore.open({ file: join(dir, 'outbox.db'), kiosk: KIOSK, site: SITE, maxBytes: 64 * 1024 * 1024, log: silentLogger() });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  outbox.close();
  await broker.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Connections go to a dead port while the gate is closed, so a test decides when the link may reach the broker. */
function gatedConnect(): { connect: NonNullable<UpstreamOptions['connect']>; open: boolean; clients: MqttClient[] } {
  const gate = {
    open: true,
    clients: [] as MqttClient[],
    connect: (url: string, o: IClientOptions): MqttClient => {
      const c = mqtt.connect(gate.open ? url : 'mqtt://127.0.0.1:1', o);
      gate.clients.push(c);
      return c;
    },
  };
  return gate;
}

function makeLink(extra: Partial<UpstreamOptions> = {}): Upstream {
  const link = new Upstream({
    url: broker.url,
    prefix: 'siga',
    site: SITE,
    kiosk: KIOSK,
    username: null,
    password: null,
    outbox,
    log: silentLogger(),
    version: '0.1.0-test',
    backoff: TEST_BACKOFF,
    ...extra,
  });
  cleanups.push(() => link.stop());
  return link;
}

async function collector(topic: string): Promise<EventCollector> {
  const c = await collectEvents(broker.url, topic);
  cleanups.push(() => c.stop());
  return c;
}

function nextEvent(link: Upstream, event: 'connected' | 'disconnected'): Promise<void> {
  return new Promise((resolve) => {
    const off = link.on(event, () => {
      off();
      resolve();
    });
  });
}


function envelopes(messages: readonly ReceivedMessage[]): EventEnvelope[] {
  return messages.filter((m) => m.topic === EVENTS).map((m) => JSON.parse(m.payload) as EventEnvelope);
}

/** What a consumer sees after dropping repeated ids (CONTRACT §5: delivery is at least once). */
function dedupedSeqs(messages: readonly ReceivedMessage[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (const e of envelopes(messages)) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e.seq);
  }
  return out;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function deposits(from: number, n: number): NewEvent[] {
  return range(from, from + n - 1).map((count) => ({ type: 'dropbox.deposit', data: { box: 'box-1', count, inferred: false } }));
}

describe('the upstream link publishing events', () => {
  it('publishes stored and new events on P/S/K/events in seq order with the stored envelope, and deletes them once acknowledged', async () => {
    const stored = outbox.append(deposits(1, 20));
    const events = await collector(EVENTS);
    const link = makeLink();
    const connected = nextEvent(link, 'connected');
    link.start();
    await connected;
    const fresh = [...outbox.append(deposits(21, 5)), ...outbox.append(deposits(26, 5))];

    await events.waitFor((m) => m.length >= 30);
    expect(events.messages.every((m) => m.topic === EVENTS)).toBe(true);
    expect(envelopes(events.messages)).toEqual([...stored, ...fresh]);
    await waitUntil('outbox drained', () => outbox.depth() === 0, { timeoutMs: 10_000 });
    const s = link.status();
    expect(s).toMatchObject({ connected: true, outboxDepth: 0, oldestEventAgeS: null, lastAckSeq: 30, reconnects: 0, lastError: null, outboxFull: false });
    expect(s.lastAckAt).toEqual(expect.any(String));
  });

  it('announces the kiosk online (retained) on connect and offline (retained) on a clean stop', async () => {
    const link = makeLink();
    const connected = nextEvent(link, 'connected');
    link.start();
    await connected;
    const status = await collector(STATUS);
    await status.waitFor((m) => m.length >= 1);
    expect(status.messages[0]!.retain).toBe(true);
    expect(JSON.parse(status.messages[0]!.payload)).toEqual({ state: 'online', kiosk: KIOSK, site: SITE, version: '0.1.0-test', ts: expect.any(String) });

    await link.stop();
    await status.waitFor((m) => m.length >= 2);
    expect(JSON.parse(status.messages[1]!.payload)).toMatchObject({ state: 'offline', kiosk: KIOSK, site: SITE });
    const later = await collector(STATUS);
    await later.waitFor((m) => m.length >= 1);
    expect(later.messages[0]!.retain).toBe(true);
    expect(JSON.parse(later.messages[0]!.payload)).toMatchObject({ state: 'offline', kiosk: KIOSK });
    expect(link.status().connected).toBe(false);
  });

  it('leaves the last will "offline" on the broker when its connection drops uncleanly, then comes back online by itself', async () => {
    const gate = gatedConnect();
    const link = makeLink({ connect: gate.connect });
    const connected = nextEvent(link, 'connected');
    link.start();
    await connected;
    const status = await collector(STATUS);
    await status.waitFor((m) => m.length >= 1);

    const reconnected = nextEvent(link, 'connected');
    (gate.clients.at(-1)!.stream as Socket).destroy(); // the cable is pulled: no DISCONNECT
    await status.waitFor((m) => m.length >= 2);
    expect(status.messages[1]!.payload).toBe('{"state":"offline"}');
    await reconnected;
    await status.waitFor((m) => m.length >= 3);
    expect(JSON.parse(status.messages[2]!.payload)).toMatchObject({ state: 'online' });
    expect(link.status().reconnects).toBe(1);
  });

  it('keeps events on disk while the broker is down and delivers all of them in order when it is back', async () => {
    const gate = gatedConnect();
    const events = await collector(EVENTS);
    const link = makeLink({ connect: gate.connect });
    const connected = nextEvent(link, 'connected');
    link.start();
    await connected;
    outbox.append(deposits(1, 5));
    await events.waitFor((m) => m.length >= 5);
    await waitUntil('first events acknowledged', () => outbox.depth() === 0, { timeoutMs: 10_000 });

    const down = nextEvent(link, 'disconnected');
    gate.open = false;
    await broker.stop();
    await down;
    for (let i = 6; i < 306; i += 15) outbox.append(deposits(i, 15)); // seqs 6…305
    expect(outbox.depth()).toBe(300);
    expect(link.status()).toMatchObject({ connected: false, outboxDepth: 300 });
    expect(events.messages).toHaveLength(5);

    await broker.restart();
    await events.subscribed(2); // the restarted broker forgot subscriptions: let the consumer back first
    const up = nextEvent(link, 'connected');
    gate.open = true;
    await up;
    await events.waitFor((m) => m.length >= 305 && dedupedSeqs(m).length >= 305);
    expect(dedupedSeqs(events.messages)).toEqual(range(1, 305));
    await waitUntil('outbox drained', () => outbox.depth() === 0, { timeoutMs: 10_000 });
    expect(link.status().reconnects).toBe(1);
  });

  it('loses and reorders nothing when the broker crashes (SIGKILL) mid-drain: only events the consumer got were deleted', async () => {
    const N = 3000;
    for (let i = 1; i <= N; i += 500) outbox.append(deposits(i, 500));
    const events = await collector(EVENTS);
    const gate = gatedConnect();
    const link = makeLink({ connect: gate.connect });
    link.start();
    await events.waitFor((m) => m.length >= 500);

    gate.open = false;
    const down = nextEvent(link, 'disconnected');
    await broker.stop('SIGKILL');
    await down;
    await waitUntil('consumer saw the broker go', () => !events.connected, { timeoutMs: 10_000 });
    const firstLeft = outbox.oldest()?.seq ?? N + 1;
    const received = new Set(dedupedSeqs(events.messages));
    expect(firstLeft).toBeGreaterThan(1); // some were acknowledged and deleted…
    expect(firstLeft).toBeLessThanOrEqual(N); // …some were not: the crash came mid-drain…
    expect(range(1, firstLeft - 1).filter((s) => !received.has(s))).toEqual([]); // …and the consumer has every one of them

    await broker.restart();
    await events.subscribed(2);
    gate.open = true;
    await events.waitFor((m) => m.length >= N && dedupedSeqs(m).length >= N, 15_000);
    expect(dedupedSeqs(events.messages)).toEqual(range(1, N));
    await waitUntil('outbox drained', () => outbox.depth() === 0, { timeoutMs: 10_000 });
  });

  it('reports the upstream as faulty after being down for a while, and recovered once connected, through the outbox', async () => {
    const events = await collector(EVENTS);
    await broker.stop();
    const gate = gatedConnect();
    const link = makeLink({ faultAfterMs: 100, connect: gate.connect });
    link.start();
    await waitUntil('fault event stored', () => outbox.depth() === 1, { timeoutMs: 10_000 });
    const fault = JSON.parse(outbox.peek(0, 1)[0]!.payload) as EventEnvelope<'device.fault'>;
    expect(fault.type).toBe('device.fault');
    expect(fault.data).toMatchObject({ device: 'upstream', code: 'upstream.disconnected' });
    expect(link.status().lastError).toMatch(/ECONNREFUSED/);
    expect(link.status().connected).toBe(false);
    expect(link.status().oldestEventAgeS).toEqual(expect.any(Number));

    gate.open = false;
    await broker.restart();
    await events.subscribed(2);
    gate.open = true;
    await events.waitFor((m) => m.length >= 2);
    expect(envelopes(events.messages).map((e) => [e.seq, e.type, e.data])).toEqual([
      [1, 'device.fault', fault.data],
      [2, 'device.recovered', { device: 'upstream', code: 'upstream.disconnected' }],
    ]);
  });

  it('keeps retrying with backoff, without crashing, when the broker refuses the kiosk', async () => {
    await broker.stop();
    broker = await startMosquitto({ allowAnonymous: false });
    const gate = gatedConnect();
    const link = makeLink({ connect: gate.connect });
    link.start();
    await waitUntil('three connection attempts', () => gate.clients.length >= 3, { timeoutMs: 10_000 });
    expect(link.status().connected).toBe(false);
    expect(link.status().lastError).toMatch(/not authori[sz]ed/i);
  });
});

describe('the broker session', () => {
  it('builds one set of connect options: client id = kiosk, persistent session, retained last will "offline", no reconnect of its own', () => {
    const o = buildConnectOptions({ kiosk: KIOSK, username: 'k1', password: 'secret', topics: { status: STATUS } });
    expect(o).toMatchObject({ clientId: KIOSK, clean: false, protocolVersion: 4, reconnectPeriod: 0, username: 'k1', password: 'secret', resubscribe: false });
    expect(o.will).toMatchObject({ topic: STATUS, qos: 1, retain: true });
    expect(o.will!.payload.toString()).toBe('{"state":"offline"}');
    expect(buildConnectOptions({ kiosk: KIOSK, username: null, password: null, topics: { status: STATUS } })).not.toHaveProperty('username');
  });

  it('takes its own clean stop for no loss: no reconnect attempt afterwards, no "disconnected" twice', async () => {
    const gate = gatedConnect();
    const link = makeLink({ connect: gate.connect });
    const changes: boolean[] = [];
    link.onChange((s) => changes.push(s.connected));
    const connected = nextEvent(link, 'connected');
    link.start();
    await connected;
    let disconnects = 0;
    link.on('disconnected', () => disconnects++);
    await link.stop();
    expect(changes).toEqual([true, false]);
    const attempts = gate.clients.length;
    await new Promise((r) => setTimeout(r, TEST_BACKOFF.maxMs * 3));
    expect(gate.clients.length).toBe(attempts);
    expect(disconnects).toBe(1);
    expect(link.status()).toMatchObject({ connected: false, reconnects: 0 });
  });

  it('stops retrying at once when stopped while the broker is away', async () => {
    await broker.stop();
    const gate = gatedConnect();
    const link = makeLink({ connect: gate.connect });
    link.start();
    await waitUntil('two connection attempts', () => gate.clients.length >= 2, { timeoutMs: 10_000 });
    await link.stop();
    const attempts = gate.clients.length;
    await new Promise((r) => setTimeout(r, TEST_BACKOFF.maxMs * 3));
    expect(gate.clients.length).toBe(attempts);
    expect(gate.clients.every((c) => !c.connected)).toBe(true);
  });
});

describe('the upstream link asking central', () => {
  /** A central that answers each request type its own way. */
  async function fakeCentral(): Promise<{ requests: unknown[] }> {
    const requests: unknown[] = [];
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync(true));
    (c.stream as Socket).setNoDelay(true);
    await c.subscribeAsync(`${BASE}/central/requests`, { qos: 1 });
    c.on('message', (_t, payload) => {
      const req = JSON.parse(payload.toString()) as { id: string; type: string; replyTo: string };
      requests.push(req);
      const reply = (body: unknown): void => void c.publish(req.replyTo, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
      switch (req.type) {
        case 'ticket.request':
          reply({ v: 1, id: req.id, ok: true, data: { ticket: 'P042', peopleAhead: 3, estimatedWaitMin: 20 } });
          break;
        case 'closed':
          reply({ v: 1, id: req.id, ok: false, error: { code: 'service_closed', message: 'closed for lunch' } });
          break;
        case 'garbage-first':
          reply('{not json');
          reply({ v: 1, id: req.id, ok: 'yes' });
          reply({ v: 1, id: req.id, ok: true, data: { ticket: 'P043' } });
          break;
        case 'other-id-first':
          reply({ v: 1, id: '00000000-0000-4000-8000-000000000000', ok: true, data: { ticket: 'X999' } });
          reply({ v: 1, id: req.id, ok: true, data: { ticket: 'P044' } });
          break;
        case 'other-id-only':
          reply({ v: 1, id: '00000000-0000-4000-8000-000000000001', ok: true, data: { ticket: 'X998' } });
          break;
        default: // silence
      }
    });
    return { requests };
  }

  async function connectedLink(): Promise<Upstream> {
    const link = makeLink();
    const connected = nextEvent(link, 'connected');
    link.start();
    await connected;
    return link;
  }

  it('sends a well-formed request to central and returns its answer', async () => {
    const central = await fakeCentral();
    const link = await connectedLink();
    const r = await link.request<{ ticket: string }>('ticket.request', { service: 'prestacoes', priority: false }, 2_000);
    expect(r).toEqual({ ok: true, data: { ticket: 'P042', peopleAhead: 3, estimatedWaitMin: 20 } });
    expect(central.requests[0]).toEqual({
      v: 1,
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      kiosk: KIOSK,
      type: 'ticket.request',
      replyTo: REPLIES,
      data: { service: 'prestacoes', priority: false },
    });
    expect(outbox.depth()).toBe(0); // requests never go through the outbox
  });

  it("returns central's refusal with its code", async () => {
    await fakeCentral();
    const link = await connectedLink();
    expect(await link.request('closed', {}, 2_000)).toEqual({ ok: false, error: { code: 'service_closed', message: 'closed for lunch' } });
  });

  it('gives up after the timeout when central does not answer, and at once when not connected', async () => {
    await fakeCentral();
    const idle = makeLink();
    expect(await idle.request('ticket.request', {}, 60_000)).toEqual({ timeout: true });
    const link = await connectedLink();
    const t0 = Date.now();
    expect(await link.request('silence', {}, 150)).toEqual({ timeout: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('ignores malformed replies and replies meant for another request', async () => {
    await fakeCentral();
    const link = await connectedLink();
    expect(await link.request('garbage-first', {}, 2_000)).toEqual({ ok: true, data: { ticket: 'P043' } });
    expect(await link.request('other-id-first', {}, 2_000)).toEqual({ ok: true, data: { ticket: 'P044' } });
    expect(await link.request('other-id-only', {}, 200)).toEqual({ timeout: true });
    expect(link.status().connected).toBe(true);
  });

  it('follows the retained queue state and ignores a malformed one', async () => {
    const central = await mqtt.connectAsync(broker.url);
    cleanups.push(() => central.endAsync(true));
    const first = { v: 1, ts: '2026-11-28T09:15:00Z', services: { prestacoes: { waiting: 12, estimatedWaitMin: 35 } } };
    await central.publishAsync(`${BASE}/queues`, JSON.stringify(first), { qos: 1, retain: true });
    const link = makeLink();
    const seen: unknown[] = [];
    link.onQueues((q) => seen.push(q));
    link.start();
    await waitUntil('retained queue state', () => seen.length === 1, { timeoutMs: 10_000 });
    expect(link.queues()).toEqual(first);

    await central.publishAsync(`${BASE}/queues`, JSON.stringify({ v: 1, ts: 'x', services: { prestacoes: { waiting: -1 } } }), { qos: 1, retain: true });
    await central.publishAsync(`${BASE}/queues`, 'nonsense', { qos: 1, retain: true });
    const second = { v: 1, ts: '2026-11-28T09:16:00Z', services: { prestacoes: { waiting: 11, estimatedWaitMin: 30 } } };
    await central.publishAsync(`${BASE}/queues`, JSON.stringify(second), { qos: 1, retain: true });
    await waitUntil('second queue state', () => seen.length === 2, { timeoutMs: 10_000 });
    expect(seen).toEqual([first, second]);
    expect(link.queues()).toEqual(second);
  });
});
