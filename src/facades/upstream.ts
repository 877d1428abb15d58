/**
 * The upstream link as the rest of the controller sees it (CONTRACT §5): a plain status,
 * `onChange`, connected/disconnected, request/reply with central and the retained queue
 * state. Inside, three parts: the broker session (src/upstream/session.ts, on the shared
 * reconnecting link), the in-order publisher draining the outbox (publisher.ts) and
 * request/reply (requestReply.ts). Listener errors are logged and never reach the link.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
import type { NewEvent } from '../upstream/events.js';
import type { OutboxStore } from '../upstream/outbox.js';
import { OrderedPublisher } from '../upstream/publisher.js';
import { RequestReply, type QueueState, type RequestResult } from '../upstream/requestReply.js';
import { UpstreamSession, upstreamTopics, type ConnectFn, type UpstreamTopics } from '../upstream/session.js';

export type { CentralError, QueueState, RequestResult } from '../upstream/requestReply.js';
export type { ConnectFn } from '../upstream/session.js';

/** stop(): how long in-flight events may take to be PUBACKed before the link lets go. */
export const STOP_DRAIN_MS = 1_000;

export interface UpstreamOptions {
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
  /** The reconnect backoff (tests shorten it); random: [0,1) for the jitter (tests may pin it). */
  backoff?: { initialMs: number; maxMs: number; random?: () => number };
  /** Defaults to UPSTREAM_FAULT_AFTER_MS. */
  faultAfterMs?: number;
  now?: () => Date;
  /** TLS options (CA, client certificate and key) read afresh for each attempt (connectOptions.ts). */
  tlsOptions?: () => Partial<IClientOptions>;
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

type LinkEvent = 'connected' | 'disconnected';

export class Upstream {
  private readonly topics: UpstreamTopics;
  private readonly session: UpstreamSession;
  private readonly publisher: OrderedPublisher;
  private readonly requests: RequestReply;
  private readonly now: () => Date;
  private readonly log: Logger;
  private running = false;
  private unsubscribeOutbox: Array<() => void> = [];
  private readonly linkListeners: Record<LinkEvent, Set<() => void>> = { connected: new Set(), disconnected: new Set() };

  constructor(private readonly opts: UpstreamOptions) {
    this.topics = upstreamTopics(opts.prefix, opts.site, opts.kiosk);
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log;
    this.publisher = new OrderedPublisher({
      outbox: opts.outbox,
      topic: this.topics.events,
      log: opts.log,
      now: this.now,
      onRefused: (seq, err) => this.session.dropConnection(err, `broker did not accept event seq ${seq}`),
    });
    this.requests = new RequestReply({ kiosk: opts.kiosk, topics: this.topics, log: opts.log });
    this.session = new UpstreamSession({
      url: opts.url,
      kiosk: opts.kiosk,
      site: opts.site,
      username: opts.username,
      password: opts.password,
      topics: this.topics,
      version: opts.version,
      log: opts.log,
      record: (event) => this.record(event),
      onConnected: (client: MqttClient) => this.publisher.attach(client),
      onDisconnected: () => this.publisher.detach(),
      onMessage: (topic, payload) => this.routeIncoming(topic, payload),
      ...(opts.connect ? { connect: opts.connect } : {}),
      ...(opts.backoff ? { backoff: { initialMs: opts.backoff.initialMs, maxMs: opts.backoff.maxMs } } : {}),
      ...(opts.backoff?.random ? { random: opts.backoff.random } : {}),
      ...(opts.faultAfterMs !== undefined ? { faultAfterMs: opts.faultAfterMs } : {}),
      ...(opts.tlsOptions ? { tlsOptions: opts.tlsOptions } : {}),
      now: this.now,
    });
    this.session.onLink((event) => this.emitLink(event));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { outbox } = this.opts;
    this.unsubscribeOutbox = [
      outbox.on('appended', () => this.publisher.schedulePump()),
      outbox.on('full', (info) => {
        this.log.error({ code: 'upstream.outbox_full', ...info, depth: outbox.depth() }, 'outbox full: new events are refused until the broker takes the backlog');
      }),
      outbox.on('space', (info) => this.log.info({ code: 'upstream.outbox_full', ...info }, 'outbox has room again')),
    ];
    this.session.start();
  }

  /** Publishes the retained offline status, disconnects cleanly and stops reconnecting. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const u of this.unsubscribeOutbox) u();
    this.unsubscribeOutbox = [];
    this.requests.cancelAll();
    await this.session.stop(async () => {
      await this.publisher.waitIdle(STOP_DRAIN_MS);
      this.publisher.flushAcks();
    });
  }

  /** Connected to the broker now (status() without reading the outbox). */
  isConnected(): boolean {
    return this.session.isConnected();
  }

  status(): UpstreamStatus {
    const { outbox } = this.opts;
    const oldest = outbox.oldest();
    const session = this.session.status();
    const ack = this.publisher.lastAcknowledged();
    return {
      connected: session.connected,
      outboxDepth: outbox.depth(),
      oldestEventAgeS: oldest ? Math.max(0, (this.now().getTime() - Date.parse(oldest.ts)) / 1000) : null,
      lastAckSeq: ack?.seq ?? null,
      lastAckAt: ack?.at ?? null,
      reconnects: session.reconnects,
      lastError: session.lastError,
      outboxFull: outbox.isFull(),
    };
  }

  on(event: LinkEvent, listener: () => void): () => void {
    this.linkListeners[event].add(listener);
    return () => this.linkListeners[event].delete(listener);
  }

  /** After every connect and disconnect, with the status then. */
  onChange(listener: (status: UpstreamStatus) => void): () => void {
    const call = (): void => listener(this.status());
    const offs = [this.on('connected', call), this.on('disconnected', call)];
    return () => offs.forEach((off) => off());
  }

  /** The last valid retained queue state, or null before the first. */
  queues(): QueueState | null {
    return this.requests.queues();
  }

  onQueues(listener: (q: QueueState) => void): () => void {
    return this.requests.onQueues(listener);
  }

  /**
   * Sends a request to central (QoS 1, not through the outbox) and waits for the reply
   * with the same id. `{timeout: true}` at once when not connected, or after `timeoutMs`.
   */
  request<T>(type: string, data: unknown, timeoutMs: number): Promise<RequestResult<T>> {
    return this.requests.request<T>(this.running ? this.session.currentClient() : null, type, data, timeoutMs);
  }

  /** Every message from the broker passes here once. */
  private routeIncoming(topic: string, payload: Buffer): void {
    if (topic === this.topics.replies) this.requests.onReply(payload);
    else if (topic === this.topics.queues) this.requests.onQueueState(payload);
  }

  private record(event: NewEvent): boolean {
    try {
      this.opts.outbox.append([event]);
      return true;
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e), event: event.type }, 'upstream event could not be stored in the outbox');
      return false;
    }
  }

  private emitLink(event: LinkEvent): void {
    for (const l of this.linkListeners[event]) {
      try {
        l();
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e), event }, 'upstream link listener threw');
      }
    }
  }
}
