/**
 * The broker session (CONTRACT §5): one MQTT connection at a time, kept up by the shared
 * reconnecting link (devices/link/) with its backoff (full jitter: many kiosks losing one
 * broker must not come back in lockstep). Client id = kiosk id, persistent session,
 * retained online status on connect and last will offline; on a clean stop the retained
 * offline status is published before a clean DISCONNECT (so the will is not used).
 *
 * Each attempt uses a fresh mqtt.js client (reconnectPeriod 0), published on only while
 * connected, so mqtt.js never queues or resends anything of its own: the publisher
 * resends from the outbox after a reconnect.
 *
 * Hooks for what comes next: every connect option is built in `buildConnectOptions`
 * (TLS, credentials), and every incoming message passes `onMessage` (size limits) once.
 */
import type { Socket } from 'node:net';
import { type IClientOptions, type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt';
import { createActor, fromCallback, type Actor, type EventObject } from 'xstate';
import type { BackoffPolicy } from '../../devices/link/backoff.js';
import { createLinkMachine, type LinkConnectionEvent, type LinkMachine } from '../../devices/link/linkMachine.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { withTimeout } from '../withTimeout.js';
import type { NewEvent } from './events.js';
import { RefusalFaults, classifyConnectError, classifySubscribeError } from './refusalFaults.js';
import { connectGuarded } from './inboundSizeGuard.js';

/** Reconnecting to the broker: up to 500 ms after the first failure, doubling up to 30 s, full jitter. */
export const BROKER_LINK_POLICY: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: 1 };
/** Down this long (or never up since start) → a `device.fault` upstream.disconnected event. */
export const UPSTREAM_FAULT_AFTER_MS = 10_000;
/**
 * Connected this long before the backoff starts again from its first wait: a broker that
 * takes the connection and drops it at once (an ACL that denies this identity) is retried
 * with a growing wait, not every BROKER_LINK_POLICY.initialMs.
 */
export const BROKER_LINK_STABLE_MS = 10_000;
/** TCP connect + CONNACK must complete within this. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** MQTT keepalive: a dead broker is noticed within about 1.5× this. */
export const KEEPALIVE_S = 15;
/** stop(): how long the offline status publish and the clean DISCONNECT may take. */
export const STOP_TIMEOUT_MS = 2_000;
/** Errors that do not end the connection (a refused subscription…): one log line per this. */
const LOG_INTERVAL_MS = 10_000;

export type ConnectFn = (url: string, opts: IClientOptions) => MqttClient;

export interface UpstreamTopics {
  events: string;
  status: string;
  requests: string;
  replies: string;
  queues: string;
}

export function upstreamTopics(prefix: string, site: string, kiosk: string): UpstreamTopics {
  const base = `${prefix}/${site}`;
  return {
    events: `${base}/${kiosk}/events`,
    status: `${base}/${kiosk}/status`,
    requests: `${base}/central/requests`,
    replies: `${base}/${kiosk}/replies`,
    queues: `${base}/queues`,
  };
}

export interface ConnectSettings {
  kiosk: string;
  username: string | null;
  password: string | null;
  topics: Pick<UpstreamTopics, 'status'>;
}

/** Every option of the MQTT connection, in one place. */
export function buildConnectOptions(s: ConnectSettings): IClientOptions {
  const o: IClientOptions = {
    clientId: s.kiosk,
    clean: false,
    // MQTT 3.1.1: every broker speaks it (aedes, the embedded broker of `kiosk sim`, speaks
    // nothing newer), and with clean=false its session persists without an expiry to set.
    protocolVersion: 4,
    // Reconnection is the link's, with backoff; a fresh client per attempt keeps mqtt.js stores empty.
    reconnectPeriod: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    keepalive: KEEPALIVE_S,
    will: { topic: s.topics.status, payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
    queueQoSZero: false,
    resubscribe: false,
  };
  if (s.username !== null) o.username = s.username;
  if (s.password !== null) o.password = s.password;
  return o;
}

export interface UpstreamSessionOptions {
  url: string;
  kiosk: string;
  site: string;
  username: string | null;
  password: string | null;
  topics: UpstreamTopics;
  /** Controller version, published in the online status. */
  version: string;
  log: Logger;
  /** Stores the session's own fault/recovery events (through the outbox); false when it could not. */
  record(event: NewEvent): boolean;
  /** A fresh connection (publish from here) and its end (stop publishing). */
  onConnected(client: MqttClient): void;
  onDisconnected(): void;
  /** Every message from the broker, once. */
  onMessage(topic: string, payload: Buffer): void;
  /** mqtt.connect, or a test double. */
  connect?: ConnectFn;
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  faultAfterMs?: number;
  now?: () => Date;
  /** TLS options (CA, client certificate and key) read afresh for each attempt (connectOptions.ts). */
  tlsOptions?: () => Partial<IClientOptions>;
}

export class UpstreamSession {
  private readonly connectFn: ConnectFn;
  private readonly faultAfterMs: number;
  private readonly now: () => Date;
  private readonly errorLog: RateLimitedLog;
  private readonly link: Actor<LinkMachine<undefined>>;

  private running = false;
  private client: MqttClient | null = null;
  private connected = false;
  private everConnected = false;
  private reconnects = 0;
  private lastError: string | null = null;
  private faultTimer: NodeJS.Timeout | null = null;
  private faultRaised = false;
  /** A broker that refuses us: one fault per reason, recovered once accepted (refusalFaults.ts). */
  private readonly refusals: RefusalFaults;
  /** When the current connection was taken, and the timer that calls it stable. */
  private connectedAt = 0;
  /** Connections in a row the broker closed within BROKER_LINK_STABLE_MS (one may be a crash). */
  private quickDrops = 0;
  private stableTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: UpstreamSessionOptions) {
    this.refusals = new RefusalFaults((e) => opts.record(e));
    // Messages over 256 KiB are skipped before mqtt.js parses them (CONTRACT §5).
    this.connectFn = opts.connect ?? ((url, o) => connectGuarded(url, o, (m) => this.errorLog.warn({ topic: m.topic, bytes: m.bytes }, 'message from the broker over 256 KiB dropped unread')));
    this.faultAfterMs = opts.faultAfterMs ?? UPSTREAM_FAULT_AFTER_MS;
    this.now = opts.now ?? (() => new Date());
    this.errorLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
    const machine = createLinkMachine<undefined>({
      name: 'broker',
      policy: { ...BROKER_LINK_POLICY, ...opts.backoff },
      stableMs: BROKER_LINK_STABLE_MS,
      connection: this.connectionLogic(),
      log: opts.log,
      logFields: () => ({ url: redactUrl(opts.url) }),
      ...(opts.random ? { random: opts.random } : {}),
    });
    this.link = createActor(machine, { input: { connection: undefined, open: false } });
    this.link.subscribe({ error: (err) => opts.log.fatal({ err: describe(err) }, 'broker link stopped on an error') });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.armFaultTimer();
    this.link.start();
    this.link.send({ type: 'LINK.OPEN' });
  }

  /** Publishes the retained offline status, disconnects cleanly and stops reconnecting. */
  async stop(drain: () => Promise<void>): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.clearFaultTimer();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = null;
    const client = this.client;
    const wasConnected = this.connected;
    // Not connected: stop retrying now, and drop any attempt in flight.
    if (!wasConnected) this.link.send({ type: 'LINK.CLOSE' });
    if (client && wasConnected) {
      // Let what is in flight be acknowledged, so fewer events are sent twice.
      await drain();
      const offline = JSON.stringify({ state: 'offline', kiosk: this.opts.kiosk, site: this.opts.site, version: this.opts.version, ts: this.now().toISOString() });
      await withTimeout(client.publishAsync(this.opts.topics.status, offline, { qos: 1, retain: true }), STOP_TIMEOUT_MS, timedOut(STOP_TIMEOUT_MS)).catch((e: unknown) =>
        this.opts.log.warn({ err: describe(e) }, 'offline status not acknowledged before disconnecting'),
      );
    }
    // The connection may have dropped during the awaits above (then it was already told).
    const stillConnected = this.connected;
    this.client = null;
    this.connected = false;
    this.opts.onDisconnected();
    if (client && wasConnected) {
      // A clean DISCONNECT: the broker then does not publish the last will.
      const ended = await withTimeout(client.endAsync(false), STOP_TIMEOUT_MS, timedOut(STOP_TIMEOUT_MS)).then(
        () => true,
        () => false,
      );
      if (!ended) client.end(true);
    }
    this.link.send({ type: 'LINK.CLOSE' });
    this.link.stop();
    if (stillConnected) this.notify('disconnected');
  }

  /** The connection to publish on, while connected. */
  currentClient(): MqttClient | null {
    return this.running && this.connected ? this.client : null;
  }

  isConnected(): boolean {
    return this.connected;
  }

  status(): { connected: boolean; reconnects: number; lastError: string | null } {
    return { connected: this.connected, reconnects: this.reconnects, lastError: this.lastError };
  }

  /** Drops the connection (the broker refused an event): the link reconnects with backoff. */
  dropConnection(err: Error, what: string): void {
    this.noteError(err, what);
    this.client?.end(true);
  }

  /** Connected / disconnected, for the façade's listeners. */
  onLink(listener: (event: 'connected' | 'disconnected') => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  private readonly linkListeners = new Set<(event: 'connected' | 'disconnected') => void>();

  private notify(event: 'connected' | 'disconnected'): void {
    for (const l of [...this.linkListeners]) {
      try {
        l(event);
      } catch (e) {
        this.opts.log.error({ err: describe(e), event }, 'upstream link listener threw');
      }
    }
  }

  /** One connection attempt as the link's connection actor; its closure owns the client. */
  private connectionLogic() {
    return fromCallback<EventObject, undefined>(({ sendBack }) => {
      const send = (e: LinkConnectionEvent): void => sendBack(e);
      let live = true;
      let opened = false;
      let attemptError: string | null = null;
      const note = (err: unknown, what: string): void => {
        attemptError = this.noteError(err, what, { quiet: true });
      };
      let client: MqttClient;
      try {
        const options = buildConnectOptions({ kiosk: this.opts.kiosk, username: this.opts.username, password: this.opts.password, topics: this.opts.topics });
        // Credential files are read at each attempt, so a renewed certificate needs no restart.
        if (this.opts.tlsOptions) Object.assign(options, this.opts.tlsOptions());
        client = this.connectFn(this.opts.url, options);
      } catch (e) {
        this.refusals.note(classifyConnectError(e));
        note(e, 'cannot create the MQTT client');
        send({ type: 'LINK.OPEN_FAILED', message: attemptError ?? 'cannot create the MQTT client' });
        return () => undefined;
      }
      setNoDelay(client);
      client.on('connect', (connack) => {
        if (!live || !this.running) return;
        opened = true;
        this.connectedOn(client, connack);
        send({ type: 'LINK.OPENED' });
      });
      client.on('close', () => {
        if (!live) return;
        live = false;
        // Our own close (stop ends the client cleanly) is not a loss: stop() closes the link itself.
        if (!this.running) return;
        // Make sure the old client is gone for good (it never reconnects: reconnectPeriod 0).
        client.removeAllListeners('message');
        client.end(true);
        this.closedOn(client);
        if (this.stableTimer) clearTimeout(this.stableTimer);
        this.stableTimer = null;
        if (opened && Date.now() - this.connectedAt < BROKER_LINK_STABLE_MS) this.quickDrops++;
        // Twice in a row: a broker that keeps refusing the session, not one that crashed.
        if (opened && this.quickDrops >= 2) {
          this.refusals.note({ code: 'upstream.connection_dropped', reason: 'closed_after_connect', detail: `the broker accepted the connection and closed it within ${BROKER_LINK_STABLE_MS / 1000} s: check its ACL for this kiosk's identity and topics` });
        }
        const message = attemptError ?? 'connection closed';
        send(opened ? { type: 'LINK.LOST', message } : { type: 'LINK.OPEN_FAILED', message });
      });
      client.on('error', (err) => {
        if (!live) return;
        if (!opened) this.refusals.note(classifyConnectError(err));
        note(err, 'MQTT connection error');
      });
      client.on('disconnect', (packet: IDisconnectPacket) => {
        if (live) note(new Error(`broker sent DISCONNECT (reason ${packet.reasonCode ?? 0})`), 'broker closed the session');
      });
      client.on('message', (topic, payload) => {
        if (live && this.client === client) this.opts.onMessage(topic, payload);
      });
      return () => {
        if (!live) return;
        live = false;
        client.removeAllListeners('message');
        client.end(true);
      };
    });
  }

  private connectedOn(client: MqttClient, connack: IConnackPacket): void {
    setNoDelay(client);
    this.client = client;
    this.connected = true;
    this.lastError = null;
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    this.clearFaultTimer();
    this.refusals.connected();
    this.connectedAt = Date.now();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.quickDrops = 0;
      this.refusals.stable();
    }, BROKER_LINK_STABLE_MS).unref();
    this.opts.log.info({ url: redactUrl(this.opts.url), sessionPresent: connack.sessionPresent }, 'upstream connected');
    const { replies, queues, status } = this.opts.topics;
    client.subscribe([replies, queues], { qos: 1 }, (err) => {
      if (!err) return this.refusals.subscribed();
      this.refusals.note(classifySubscribeError(err, [replies, queues]));
      this.noteError(err, 'subscription to replies/queues refused');
    });
    const online = JSON.stringify({ state: 'online', kiosk: this.opts.kiosk, site: this.opts.site, version: this.opts.version, ts: this.now().toISOString() });
    client.publish(status, online, { qos: 1, retain: true }, (err) => err && this.noteError(err, 'online status refused'));
    if (this.faultRaised) {
      this.opts.record({ type: 'device.recovered', data: { device: 'upstream', code: 'upstream.disconnected' } });
      this.faultRaised = false;
    }
    this.opts.onConnected(client);
    this.notify('connected');
  }

  private closedOn(client: MqttClient): void {
    if (this.client !== client && this.client !== null) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.client = null;
    this.opts.onDisconnected();
    if (wasConnected) {
      this.opts.log.warn('upstream connection lost: events wait in the outbox');
      this.notify('disconnected');
    }
    this.armFaultTimer();
  }

  /** Remembers the error for status(); logged (rate-limited) unless the link logs it. Returns the text. */
  private noteError(err: unknown, what: string, opts: { quiet?: boolean } = {}): string {
    const code = (err as { code?: unknown } | null)?.code;
    // CONNACK refusals carry a numeric MQTT reason code: say so plainly.
    const hint = code === 134 || code === 135 || code === 4 || code === 5 ? ' (the broker refused the kiosk: check upstream.username / upstream.password and the broker ACL)' : '';
    this.lastError = `${what}: ${describe(err)}${hint}`;
    if (!opts.quiet) this.errorLog.warn({ err: describe(err), url: redactUrl(this.opts.url) }, `upstream: ${what}`);
    return this.lastError;
  }

  private armFaultTimer(): void {
    if (this.faultTimer || this.faultRaised || !this.running) return;
    this.faultTimer = setTimeout(() => {
      this.faultTimer = null;
      if (this.connected || !this.running) return;
      const detail = `no connection to the broker for ${Math.round(this.faultAfterMs / 1000)} s${this.lastError ? ` (${this.lastError})` : ''}`;
      this.faultRaised = this.opts.record({ type: 'device.fault', data: { device: 'upstream', code: 'upstream.disconnected', detail } });
    }, this.faultAfterMs);
  }

  private clearFaultTimer(): void {
    if (this.faultTimer) clearTimeout(this.faultTimer);
    this.faultTimer = null;
  }
}

/** Request/reply round trips otherwise wait ~40 ms for Nagle + delayed ACK. */
function setNoDelay(client: MqttClient): void {
  (client.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
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
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
