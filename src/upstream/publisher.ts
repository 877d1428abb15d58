/**
 * The in-order publisher: drains the outbox onto `P/S/K/events` with QoS 1, strictly in
 * seq order, over the session's current connection.
 *
 * Events are read from the outbox in batches and published with a bounded in-flight
 * window; a row is deleted only once it and every event before it are PUBACKed. The
 * session hands over each fresh connection (`attach`) and takes it back when it goes
 * (`detach`); after any reconnect everything not PUBACKed is published again from the
 * oldest, in seq order (consumers drop repeated ids; reordering never happens).
 */
import type { MqttClient } from 'mqtt';
import { RateLimitedLog, type Logger } from '../log.js';
import type { OutboxRow, OutboxStore } from './outbox.js';

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
/** Outbox read and delete failures: one log line per this interval. */
const LOG_INTERVAL_MS = 10_000;

export interface OrderedPublisherOptions {
  outbox: OutboxStore;
  topic: string;
  log: Logger;
  /** The broker refused an event: skipping it would reorder, so the session drops the connection. */
  onRefused(seq: number, err: Error): void;
  now?: () => Date;
}

export class OrderedPublisher {
  private client: MqttClient | null = null;
  /** Bumped per attached connection; PUBACKs from an older one are ignored. */
  private generation = 0;
  private readonly log: RateLimitedLog;
  private readonly now: () => Date;

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
  private lastAck: { seq: number; at: string } | null = null;

  constructor(private readonly opts: OrderedPublisherOptions) {
    this.log = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
    this.now = opts.now ?? (() => new Date());
  }

  /** A fresh connection: publish from the oldest unacknowledged event. */
  attach(client: MqttClient): void {
    this.generation++;
    this.client = client;
    this.reset();
    this.pump();
  }

  /** The connection is gone (or closing as ours): delete what was acknowledged, stop publishing. */
  detach(): void {
    this.generation++;
    this.client = null;
    this.flushAcks();
    this.reset();
  }

  /** New events in the outbox; published soon, not in the producer's call stack. */
  schedulePump(): void {
    if (this.pumpScheduled || !this.client) return;
    this.pumpScheduled = true;
    // append() returns first, and many appends coalesce into one pump.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Resolves once nothing is in flight, or after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<void> {
    if (this.inflightHead === this.inflight.length) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Deletes every PUBACKed row not yet deleted. */
  flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.ackedUpTo <= this.deletedUpTo) return;
    try {
      this.opts.outbox.ack(this.ackedUpTo);
      this.deletedUpTo = this.ackedUpTo;
      this.lastAck = { seq: this.ackedUpTo, at: this.now().toISOString() };
    } catch (e) {
      // The rows stay and the next flush deletes them (ack deletes everything up to a seq).
      this.log.warn({ err: describe(e) }, 'cannot delete acknowledged events from the outbox');
    }
  }

  /** Highest seq such that it and everything before it were PUBACKed and deleted, and when. */
  lastAcknowledged(): { seq: number; at: string } | null {
    return this.lastAck;
  }

  private reset(): void {
    this.cursor = this.ackedUpTo;
    this.buffer = [];
    this.bufferPos = 0;
    this.inflight = [];
    this.inflightHead = 0;
    this.ackedAhead.clear();
    this.releaseIdleWaiters();
  }

  private pump(): void {
    const client = this.client;
    if (!client || this.pumping) return;
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
        client.publish(this.opts.topic, row.payload, { qos: 1 }, (err) => this.onPuback(gen, row.seq, err));
      }
    } catch (e) {
      this.log.warn({ err: describe(e) }, 'cannot read the outbox to publish events');
    } finally {
      this.pumping = false;
    }
  }

  private onPuback(gen: number, seq: number, err: Error | undefined): void {
    if (gen !== this.generation) return;
    if (err) {
      // Skipping the event would reorder: the connection goes and everything from the last ack is resent.
      this.opts.onRefused(seq, err);
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

  private releaseIdleWaiters(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
