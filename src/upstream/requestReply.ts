/**
 * Request/reply with central and the retained queue state (CONTRACT §5), over whatever
 * broker connection the session has at the moment. Requests are QoS 1 and never go
 * through the outbox; a reply is matched to its request by `id`; anything malformed or
 * unknown is logged (rate-limited) and ignored.
 */
import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { z } from 'zod';
import { RateLimitedLog, type Logger } from '../log.js';
import { queueStateSchema, type QueueState } from './queueState.js';

/** Malformed replies and queue states: one log line per this interval. */
const LOG_INTERVAL_MS = 10_000;

/** Central's error: `code` and `message`, plus whatever else it says (e.g. `comeBackAt`). */
export type CentralError = { code: string; message: string } & Record<string, unknown>;
export type RequestResult<T> = { ok: true; data: T } | { ok: false; error: CentralError } | { timeout: true };

export { queueStateSchema, type QueueState };

const replySchema = z.discriminatedUnion('ok', [
  z.object({ v: z.literal(1), id: z.string().min(1), ok: z.literal(true), data: z.unknown() }).loose(),
  z.object({ v: z.literal(1), id: z.string().min(1), ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }).loose() }).loose(),
]);

export interface RequestReplyOptions {
  kiosk: string;
  topics: { requests: string; replies: string };
  log: Logger;
}

export class RequestReply {
  private readonly pending = new Map<string, (result: RequestResult<unknown>) => void>();
  private lastQueues: QueueState | null = null;
  private readonly queueListeners = new Set<(q: QueueState) => void>();
  private readonly sendLog: RateLimitedLog;
  private readonly replyLog: RateLimitedLog;
  private readonly queuesLog: RateLimitedLog;

  constructor(private readonly opts: RequestReplyOptions) {
    this.sendLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
    this.replyLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
    this.queuesLog = new RateLimitedLog(opts.log, LOG_INTERVAL_MS);
  }

  /**
   * Sends a request on `client` and waits for the reply with the same id. `{timeout: true}`
   * at once without a client, or after `timeoutMs`. `data` of an ok reply is not validated
   * here: the caller knows its shape.
   */
  request<T>(client: MqttClient | null, type: string, data: unknown, timeoutMs: number): Promise<RequestResult<T>> {
    if (!client) return Promise.resolve({ timeout: true });
    const id = randomUUID();
    const payload = JSON.stringify({ v: 1, id, kiosk: this.opts.kiosk, type, replyTo: this.opts.topics.replies, data });
    return new Promise<RequestResult<T>>((resolve) => {
      const timer = setTimeout(() => settle({ timeout: true }), timeoutMs);
      const settle = (r: RequestResult<unknown>): void => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        resolve(r as RequestResult<T>);
      };
      this.pending.set(id, settle);
      client.publish(this.opts.topics.requests, payload, { qos: 1 }, (err) => {
        if (!err) return;
        this.sendLog.warn({ err: err.message, type }, 'request to central not accepted by the broker');
        settle({ timeout: true });
      });
    });
  }

  /** Every request still waiting answers `{timeout: true}` (shutdown). */
  cancelAll(): void {
    for (const settle of [...this.pending.values()]) settle({ timeout: true });
  }

  /** A message on the replies topic. */
  onReply(payload: Buffer): void {
    const parsed = replySchema.safeParse(parseJson(payload));
    if (!parsed.success) {
      this.replyLog.warn({ bytes: payload.length }, 'malformed reply from central ignored');
      return;
    }
    const reply = parsed.data;
    const settle = this.pending.get(reply.id);
    if (!settle) {
      this.replyLog.warn({ id: reply.id }, 'reply to an unknown or expired request ignored');
      return;
    }
    settle(reply.ok ? { ok: true, data: reply.data } : { ok: false, error: { ...reply.error, code: reply.error.code, message: reply.error.message } });
  }

  /** A message on the queues topic. */
  onQueueState(payload: Buffer): void {
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
        this.opts.log.error({ err: e instanceof Error ? e.message : String(e) }, 'queue state listener threw');
      }
    }
  }

  /** The last valid retained queue state, or null before the first. */
  queues(): QueueState | null {
    return this.lastQueues;
  }

  onQueues(listener: (q: QueueState) => void): () => void {
    this.queueListeners.add(listener);
    return () => this.queueListeners.delete(listener);
  }
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}
