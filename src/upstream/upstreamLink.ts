/**
 * The MQTT link to central (CONTRACT §5): drains the outbox onto `P/S/K/events` in seq
 * order, keeps the retained online/offline status, carries request/reply to central and
 * follows the retained queue state.
 *
 * Ordering and durability: events are read from the outbox in batches and published
 * QoS 1 with a bounded in-flight window; a row is deleted only once it and every event
 * before it are PUBACKed. Each connection attempt uses a fresh mqtt.js client, published
 * only while connected, so mqtt.js never queues or resends anything of its own: after a
 * reconnect the link resends everything not PUBACKed from the outbox, in seq order
 * (consumers drop repeated ids; reordering never happens).
 *
 * Reconnection is ours (mqtt.js reconnectPeriod 0): exponential backoff with full jitter.
 *
 * Listener API: `on('connected' | 'disconnected', fn)` and `onQueues(fn)` return an
 * unsubscribe function. Listener errors are logged and never reach the link.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { type IClientOptions, type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt';
import { z } from 'zod';
import { RateLimitedLog, type Logger } from '../log.js';
import type { NewEvent } from './events.js';
import type { OutboxRow, OutboxStore } from './outbox.js';
import { withTimeout } from '../withTimeout.js';
import { connectGuarded } from './inboundSizeGuard.js';
import { queueStateSchema, type QueueState } from './queueState.js';

/** First reconnect delay cap; doubles per failed attempt up to RECONNECT_MAX_MS (full jitter below it). */
export const RECONNECT_INITIAL_MS = 500;
export const RECONNECT_MAX_MS = 30_000;
/** Down this long (or never up since start) → a `device.fault` upstream.disconnected event. */
export const UPSTREAM_FAULT_AFTER_MS = 10_000;
/** QoS 1 events handed to mqtt.js and not yet PUBACKed: deep enough to hide the round trip. */
export const PUBLISH_WINDOW = 1024;
/**
 * PUBACKs refill the window only once this many slots are free, so events leave in bursts
 * (one socket write per burst) rather than one write per PUBACK.
 */
export const PUBLISH_REFILL_SLOTS = 256;
/** Outbox rows read per query: memory stays flat however long the backlog is. */
export const OUTBOX_READ_BATCH = 512;
/** PUBACKed rows deleted per transaction (each delete is an fsync). */
export const ACK_BATCH = 1024;
/** A partial ack batch waits at most this long before its rows are deleted. */
export const ACK_FLUSH_MS = 100;
/** TCP connect + CONNACK must complete within this. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** MQTT keepalive: a dead broker is noticed within about 1.5× this. */
export const KEEPALIVE_S = 15;
/** stop(): how long in-flight events may take to be PUBACKed before the link lets go. */
export const STOP_DRAIN_MS = 1_000;
/** stop(): how long the offline status publish and the clean DISCONNECT may take. */
export const STOP_TIMEOUT_MS = 2_000;
/** Repeated connection errors and malformed messages: one log line per this interval. */
const LOG_INTERVAL_MS = 10_000;

export type ConnectFn = (url: string, opts: IClientOptions) => MqttClient;

export interface UpstreamLinkOptions {
  url: string;
  prefix: string;
  site: string;
  kiosk: string;
  username: string | null;
  password: string | null;
  outbox: OutboxStore;
  log: Logger;
  /** Controller version, published in the online status. */
  version: string;
  /** mqtt.connect, or a test double. */
  connect?: ConnectFn;
  /** random: [0,1) for the jitter (tests may pin it). */
  backoff?: { initialMs: number; maxMs: number; random?: () => number };
  /** Defaults to UPSTREAM_FAULT_AFTER_MS. */
  faultAfterMs?: number;
  now?: () => Date;
}

export interface UpstreamStatus {
  connected: boolean;
  outboxDepth: number;
  oldestEventAgeS: number | null;
  /** Highest seq such that it and everything before it were PUBACKed and deleted. */
  lastAckSeq: number | null;
  lastAckAt: string | null;
  /** Successful connections after the first one. */
  reconnects: number;
  lastError: string | null;
  /** The outbox refuses events for lack of space (code upstream.outbox_full). */
  outboxFull: boolean;
}

/** Central's error: `code` and `message`, plus whatever else it says (e.g. `comeBackAt`). */
export type CentralError = { code: string; message: string } & Record<string, unknown>;
export type RequestResult<T> = { ok: true; data: T } | { ok: false; error: CentralError } | { timeout: true };

export { queueStateSchema, type QueueState };

const replySchema = z.discriminatedUnion('ok', [
  z.object({ v: z.literal(1), id: z.string().min(1), ok: z.literal(true), data: z.unknown() }).loose(),
  z.object({ v: z.literal(1), id: z.string().min(1), ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }).loose() }).loose(),
]);

interface PendingRequest {
  settle(result: RequestResult<unknown>): void;
}

type LinkEvent = 'connected' | 'disconnected';

export class UpstreamLink {
  private readonly topics: { events: string; status: string; requests: string; replies: string; queues: string };
  private readonly connectFn: ConnectFn;
  private readonly backoff: { initialMs: number; maxMs: number; random: () => number };
  private readonly faultAfterMs: number;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly connLog: RateLimitedLog;
  private readonly publishLog: RateLimitedLog;
  private readonly replyLog: RateLimitedLog;
  private readonly queuesLog: RateLimitedLog;

  private running = false;
  private client: MqttClient | null = null;
  /** Bumped per connection attempt; callbacks from an older client are ignored. */
  private generation = 0;
  private connected = false;
  private everConnected = false;
  private attempt = 0;
  private reconnects = 0;
  private lastError: string | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private faultTimer: NodeJS.Timeout | null = null;
  private faultRaised = false;
  private unsubscribeOutbox: Array<() => void> = [];

  // Publishing state for the current connection.
  private cursor = 0;
  private buffer: OutboxRow[] = [];
  private bufferPos = 0;
  private inflight: number[] = [];
  private inflightHead = 0;
  private readonly ackedAhead = new Set<number>();
  private pumping = false;
  private pumpScheduled = false;
  private idleWaiters: Array<() => void> = [];

  // Acknowledgement state across connections.
  private ackedUpTo = 0;
  private deletedUpTo = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private lastAckSeq: number | null = null;
  private lastAckAt: string | null = null;

  private readonly pending = new Map<string, PendingRequest>();
  private lastQueues: QueueState | null = null;
  private readonly queueListeners = new Set<(q: QueueState) => void>();
  private readonly linkListeners: Record<LinkEvent, Set<() => void>> = { connected: new Set(), disconnected: new Set() };

  constructor(private readonly opts: UpstreamLinkOptions) {
    const base = `${opts.prefix}/${opts.site}`;
    this.topics = {
      events: `${base}/${opts.kiosk}/events`,
      status: `${base}/${opts.kiosk}/status`,
      requests: `${base}/central/requests`,
      replies: `${base}/${opts.kiosk}/replies`,
      queues: `${base}/queues`,
    };
    this.connectFn = opts.connect ?? ((url, o) => connectGuarded(url, o, (m) => this.queuesLog.warn({ topic: m.topic, bytes: m.bytes }, 'message from the broker over 256 KiB dropped unread')));
    this.backoff = {
      initialMs: opts.backoff?.initialMs ?? RECONNECT_INITIAL_MS,
      maxMs: opts.backoff?.maxMs ?? RECONNECT_MAX_MS,
      random: opts.backoff?.random ?? Math.random,
    };
    this.faultAfterMs = opts.faultAfterMs ?? UPSTREAM_FAULT_AFTER_MS;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log;
    this.connLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
    this.publishLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
    this.replyLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
    this.queuesLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { outbox } = this.opts;
    this.unsubscribeOutbox = [
      outbox.on('appended', () => this.schedulePump()),
      outbox.on('full', (info) => {
        this.log.error({ code: 'upstream.outbox_full', ...info, depth: outbox.depth() }, 'outbox full: new events are refused until the broker takes the backlog');
      }),
      outbox.on('space', (info) => this.log.info({ code: 'upstream.outbox_full', ...info }, 'outbox has room again')),
    ];
    this.armFaultTimer();
    this.connect();
  }

  /** Publishes the retained offline status, disconnects cleanly and stops reconnecting. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const u of this.unsubscribeOutbox) u();
    this.unsubscribeOutbox = [];
    this.clearTimer('reconnectTimer');
    this.clearTimer('faultTimer');
    for (const p of [...this.pending.values()]) p.settle({ timeout: true });

    const client = this.client;
    const wasConnected = this.connected;
    if (client && wasConnected) {
      // Let what is in flight be acknowledged, so fewer events are sent twice.
      await this.waitIdle(STOP_DRAIN_MS);
      this.flushAcks();
      const offline = JSON.stringify({ state: 'offline', kiosk: this.opts.kiosk, site: this.opts.site, version: this.opts.version, ts: this.now().toISOString() });
      await withTimeout(client.publishAsync(this.topics.status, offline, { qos: 1, retain: true }), STOP_TIMEOUT_MS, timedOut(STOP_TIMEOUT_MS)).catch((e: unknown) =>
        this.log.warn({ err: describe(e) }, 'offline status not acknowledged before disconnecting'),
      );
    }
    this.flushAcks();
    // The connection may have dropped during the awaits above (then onClose already told).
    const stillConnected = this.connected;
    this.generation++;
    this.client = null;
    this.connected = false;
    this.resetPublishing();
    if (client) {
      // A clean DISCONNECT: the broker then does not publish the last will.
      const ended = await withTimeout(client.endAsync(!wasConnected), STOP_TIMEOUT_MS, timedOut(STOP_TIMEOUT_MS)).then(
        () => true,
        () => false,
      );
      if (!ended) client.end(true);
    }
    if (stillConnected) this.emitLink('disconnected');
  }

  /** Connected to the broker now (status() without reading the outbox). */
  isConnected(): boolean {
    return this.connected;
  }

  status(): UpstreamStatus {
    const { outbox } = this.opts;
    const oldest = outbox.oldest();
    return {
      connected: this.connected,
      outboxDepth: outbox.depth(),
      oldestEventAgeS: oldest ? Math.max(0, (this.now().getTime() - Date.parse(oldest.ts)) / 1000) : null,
      lastAckSeq: this.lastAckSeq,
      lastAckAt: this.lastAckAt,
      reconnects: this.reconnects,
      lastError: this.lastError,
      outboxFull: outbox.isFull(),
    };
  }

  on(event: LinkEvent, listener: () => void): () => void {
    this.linkListeners[event].add(listener);
    return () => this.linkListeners[event].delete(listener);
  }

  /** The last valid retained queue state, or null before the first. */
  queues(): QueueState | null {
    return this.lastQueues;
  }

  onQueues(listener: (q: QueueState) => void): () => void {
    this.queueListeners.add(listener);
    return () => this.queueListeners.delete(listener);
  }

  /**
   * Sends a request to central (QoS 1, not through the outbox) and waits for the reply
   * with the same id. `{timeout: true}` at once when not connected, or after `timeoutMs`.
   * `data` of an ok reply is not validated here: the caller knows its shape.
   */
  request<T>(type: string, data: unknown, timeoutMs: number): Promise<RequestResult<T>> {
    const client = this.client;
    if (!this.running || !this.connected || !client) return Promise.resolve({ timeout: true });
    const id = randomUUID();
    const payload = JSON.stringify({ v: 1, id, kiosk: this.opts.kiosk, type, replyTo: this.topics.replies, data });
    return new Promise<RequestResult<T>>((resolve) => {
      const timer = setTimeout(() => settle({ timeout: true }), timeoutMs);
      const settle = (r: RequestResult<unknown>): void => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        resolve(r as RequestResult<T>);
      };
      this.pending.set(id, { settle });
      client.publish(this.topics.requests, payload, { qos: 1 }, (err) => {
        if (!err) return;
        this.publishLog.warn({ err: describe(err), type }, 'request to central not accepted by the broker');
        settle({ timeout: true });
      });
    });
  }

  // ---- connection lifecycle ----

  private connect(): void {
    this.reconnectTimer = null;
    if (!this.running) return;
    const gen = ++this.generation;
    let client: MqttClient;
    try {
      client = this.connectFn(this.opts.url, this.clientOptions());
    } catch (e) {
      this.noteError(e, 'cannot create the MQTT client');
      this.scheduleReconnect();
      return;
    }
    this.client = client;
    setNoDelay(client);
    client.on('connect', (connack) => this.onConnect(gen, client, connack));
    client.on('close', () => this.onClose(gen, client));
    client.on('error', (err) => {
      if (gen === this.generation) this.noteError(err, 'MQTT connection error');
    });
    client.on('disconnect', (packet: IDisconnectPacket) => {
      if (gen === this.generation) this.noteError(new Error(`broker sent DISCONNECT (reason ${packet.reasonCode ?? 0})`), 'broker closed the session');
    });
    client.on('message', (topic, payload) => {
      if (gen === this.generation) this.onMessage(topic, payload);
    });
  }

  private clientOptions(): IClientOptions {
    const o: IClientOptions = {
      clientId: this.opts.kiosk,
      clean: false,
      // MQTT 3.1.1: every broker speaks it (aedes, the embedded broker of `kiosk sim`, speaks
      // nothing newer), and with clean=false its session persists without an expiry to set.
      protocolVersion: 4,
      // Reconnection is ours, with backoff; a fresh client per attempt keeps mqtt.js stores empty.
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      keepalive: KEEPALIVE_S,
      will: { topic: this.topics.status, payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
      queueQoSZero: false,
      resubscribe: false,
    };
    if (this.opts.username !== null) o.username = this.opts.username;
    if (this.opts.password !== null) o.password = this.opts.password;
    return o;
  }

  private onConnect(gen: number, client: MqttClient, connack: IConnackPacket): void {
    if (gen !== this.generation || !this.running) return;
    setNoDelay(client);
    this.connected = true;
    this.attempt = 0;
    this.lastError = null;
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    this.clearTimer('faultTimer');
    this.log.info({ url: redactUrl(this.opts.url), sessionPresent: connack.sessionPresent, depth: this.opts.outbox.depth() }, 'upstream connected');

    client.subscribe(
      [this.topics.replies, this.topics.queues],
      { qos: 1 },
      (err) => err && this.noteError(err, 'subscription to replies/queues refused'),
    );
    const online = JSON.stringify({ state: 'online', kiosk: this.opts.kiosk, site: this.opts.site, version: this.opts.version, ts: this.now().toISOString() });
    client.publish(this.topics.status, online, { qos: 1, retain: true }, (err) => err && this.noteError(err, 'online status refused'));

    if (this.faultRaised) {
      this.appendUpstreamEvent({ type: 'device.recovered', data: { device: 'upstream', code: 'upstream.disconnected' } });
      this.faultRaised = false;
    }
    this.resetPublishing();
    this.emitLink('connected');
    this.pump();
  }

  private onClose(gen: number, client: MqttClient): void {
    if (gen !== this.generation) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.client = null;
    this.flushAcks();
    this.resetPublishing();
    // Make sure the old client is gone for good (it never reconnects: reconnectPeriod 0).
    client.removeAllListeners('message');
    client.end(true);
    if (wasConnected) {
      this.log.warn({ depth: this.opts.outbox.depth() }, 'upstream connection lost: events wait in the outbox');
      this.emitLink('disconnected');
    }
    if (!this.running) return;
    this.armFaultTimer();
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running || this.reconnectTimer) return;
    const cap = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const delay = Math.floor(this.backoff.random() * cap);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private noteError(err: unknown, what: string): void {
    const text = describe(err);
    this.lastError = `${what}: ${text}`;
    const code = (err as { code?: unknown } | null)?.code;
    // CONNACK refusals carry a numeric MQTT reason code: say so plainly.
    const hint = code === 134 || code === 135 || code === 4 || code === 5 ? 'the broker refused the kiosk: check upstream.username / upstream.password and the broker ACL' : undefined;
    this.connLog.warn({ err: text, url: redactUrl(this.opts.url), attempt: this.attempt, hint }, `upstream: ${what}`);
  }

  private armFaultTimer(): void {
    if (this.faultTimer || this.faultRaised || !this.running) return;
    this.faultTimer = setTimeout(() => {
      this.faultTimer = null;
      if (this.connected || !this.running) return;
      const detail = `no connection to the broker for ${Math.round(this.faultAfterMs / 1000)} s${this.lastError ? ` (${this.lastError})` : ''}`;
      this.faultRaised = this.appendUpstreamEvent({ type: 'device.fault', data: { device: 'upstream', code: 'upstream.disconnected', detail } });
    }, this.faultAfterMs);
  }

  private appendUpstreamEvent(event: NewEvent): boolean {
    try {
      this.opts.outbox.append([event]);
      return true;
    } catch (e) {
      this.log.error({ err: describe(e), event: event.type }, 'upstream event could not be stored in the outbox');
      return false;
    }
  }

  // ---- publishing events ----

  private resetPublishing(): void {
    this.cursor = this.ackedUpTo;
    this.buffer = [];
    this.bufferPos = 0;
    this.inflight = [];
    this.inflightHead = 0;
    this.ackedAhead.clear();
    this.releaseIdleWaiters();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.connected) return;
    this.pumpScheduled = true;
    // Not in the producer's call stack: append() returns first, many appends coalesce.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const client = this.client;
    if (!this.running || !this.connected || !client || this.pumping) return;
    this.pumping = true;
    const gen = this.generation;
    try {
      while (this.inflight.length - this.inflightHead < PUBLISH_WINDOW && client.connected) {
        if (this.bufferPos >= this.buffer.length) {
          this.buffer = this.opts.outbox.peek(this.cursor, OUTBOX_READ_BATCH);
          this.bufferPos = 0;
          if (this.buffer.length === 0) break;
        }
        const row = this.buffer[this.bufferPos++]!;
        this.cursor = row.seq;
        this.inflight.push(row.seq);
        client.publish(this.topics.events, row.payload, { qos: 1 }, (err) => this.onPuback(gen, row.seq, err));
      }
    } catch (e) {
      this.publishLog.warn({ err: describe(e) }, 'cannot read the outbox to publish events');
    } finally {
      this.pumping = false;
    }
  }

  private onPuback(gen: number, seq: number, err: Error | undefined): void {
    if (gen !== this.generation) return;
    if (err) {
      // Skipping the event would reorder: drop the connection and resend from the last ack.
      this.noteError(err, `broker did not accept event seq ${seq}`);
      this.client?.end(true);
      return;
    }
    this.ackedAhead.add(seq);
    while (this.inflightHead < this.inflight.length && this.ackedAhead.delete(this.inflight[this.inflightHead]!)) {
      this.ackedUpTo = this.inflight[this.inflightHead]!;
      this.inflightHead++;
    }
    if (this.inflightHead > 4 * PUBLISH_WINDOW) {
      this.inflight = this.inflight.slice(this.inflightHead);
      this.inflightHead = 0;
    }
    const idle = this.inflightHead === this.inflight.length;
    if (this.ackedUpTo - this.deletedUpTo >= ACK_BATCH || idle) this.flushAcks();
    else if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), ACK_FLUSH_MS);
    if (this.inflight.length - this.inflightHead <= PUBLISH_WINDOW - PUBLISH_REFILL_SLOTS) this.pump();
    if (this.inflightHead === this.inflight.length) this.releaseIdleWaiters();
  }

  private flushAcks(): void {
    this.clearTimer('ackTimer');
    if (this.ackedUpTo <= this.deletedUpTo) return;
    try {
      this.opts.outbox.ack(this.ackedUpTo);
      this.deletedUpTo = this.ackedUpTo;
      this.lastAckSeq = this.ackedUpTo;
      this.lastAckAt = this.now().toISOString();
    } catch (e) {
      // The rows stay and the next flush deletes them (ack deletes everything up to a seq).
      this.publishLog.warn({ err: describe(e) }, 'cannot delete acknowledged events from the outbox');
    }
  }

  private waitIdle(timeoutMs: number): Promise<void> {
    if (this.inflightHead === this.inflight.length) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private releaseIdleWaiters(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  // ---- incoming messages ----

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === this.topics.replies) this.onReply(payload);
    else if (topic === this.topics.queues) this.onQueueState(payload);
  }

  private onReply(payload: Buffer): void {
    const parsed = replySchema.safeParse(parseJson(payload));
    if (!parsed.success) {
      this.replyLog.warn({ bytes: payload.length }, 'malformed reply from central ignored');
      return;
    }
    const reply = parsed.data;
    const p = this.pending.get(reply.id);
    if (!p) {
      this.replyLog.warn({ id: reply.id }, 'reply to an unknown or expired request ignored');
      return;
    }
    p.settle(reply.ok ? { ok: true, data: reply.data } : { ok: false, error: { ...reply.error, code: reply.error.code, message: reply.error.message } });
  }

  private onQueueState(payload: Buffer): void {
    if (payload.length === 0) return; // a cleared retained message
    const parsed = queueStateSchema.safeParse(parseJson(payload));
    if (!parsed.success) {
      this.queuesLog.warn({ bytes: payload.length }, 'malformed queue state from central ignored');
      return;
    }
    this.lastQueues = parsed.data;
    for (const l of this.queueListeners) {
      try {
        l(parsed.data);
      } catch (e) {
        this.log.error({ err: describe(e) }, 'queue state listener threw');
      }
    }
  }

  private emitLink(event: LinkEvent): void {
    for (const l of this.linkListeners[event]) {
      try {
        l();
      } catch (e) {
        this.log.error({ err: describe(e), event }, 'upstream link listener threw');
      }
    }
  }

  private clearTimer(name: 'reconnectTimer' | 'faultTimer' | 'ackTimer'): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = null;
  }
}

/** Request/reply round trips otherwise wait ~40 ms for Nagle + delayed ACK. */
function setNoDelay(client: MqttClient): void {
  (client.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A time-out answer for withTimeout: a rejection saying how long it waited. */
function timedOut(ms: number): () => never {
  return () => {
    throw new Error(`timed out after ${ms} ms`);
  };
}

/** Credentials never reach the log. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
