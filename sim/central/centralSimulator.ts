/**
 * A simulated central queue system on MQTT (CONTRACT §5): answers `ticket.request` and
 * `appointment.checkin` on each request's `replyTo`, keeps one queue per service,
 * publishes the retained queue state on `P/S/queues` after every change, and records the
 * kiosks' events and status. Fault modes (silent, delayed, malformed, wrong id) let tests
 * and `kiosk sim` exercise the kiosk's timeouts and offline tickets.
 *
 * Numbering (simulator's choice, like a real central's):
 *  - walk-in tickets: the service prefix and a sequence per service from 1, at least three
 *    digits: P001, P002, …;
 *  - priority tickets: their own sequence per service, marked with "*" after the prefix
 *    (P*001), so they can never equal a normal number nor another service's two-letter
 *    prefix;
 *  - appointment check-ins: one sequence "A" for all services (A001), queued in the
 *    appointment's service.
 * People ahead = tickets waiting in that service (all kinds) when the ticket is issued;
 * estimated wait = people ahead × minutesPerPerson.
 * A request id seen before gets the same reply again (at-least-once requests issue one
 * ticket); an appointment checked in twice under different ids is 'already_checked_in'.
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { EventEnvelope } from '../../src/upstream/events.js';
import { silentLogger, type Logger } from '../../src/log.js';

const MS_PER_MINUTE = 60_000;
/** Replies kept for repeated request ids; older ones are forgotten. */
const REPLY_CACHE_SIZE = 1000;
/** How long the simulator waits for the broker at start before giving up. */
export const CENTRAL_CONNECT_TIMEOUT_MS = 5_000;
/** Reconnect pace when the broker goes away (a test may restart it). */
const CENTRAL_RECONNECT_PERIOD_MS = 500;
export const DEFAULT_MINUTES_PER_PERSON = 5;
export const DEFAULT_EARLY_MIN = 30;
export const DEFAULT_LATE_MIN = 15;

export interface CentralSimulatorOptions {
  url: string;
  prefix: string;
  site: string;
  services: ReadonlyArray<{ id: string; prefix: string }>;
  log?: Logger;
  minutesPerPerson?: number;
  /** Serve this many tickets per minute in each service automatically; 0 (default) = only `serve()`. */
  servedPerMinute?: number;
  /** The simulator's clock for appointment windows and `ts`; tests inject a fixed one. */
  now?: () => Date;
  /** Extra mqtt.connect options, e.g. the TLS CA, certificate and key of a broker that requires them. */
  connectOptions?: Partial<IClientOptions>;
}

export interface Appointment {
  code: string;
  service: string;
  at: Date;
  /** Minutes before `at` from which check-in is accepted. */
  earlyMin?: number;
  /** Minutes after `at` until which check-in is accepted. */
  lateMin?: number;
}

export interface CentralRequest {
  v: 1;
  id: string;
  kiosk: string;
  type: string;
  replyTo: string;
  data: Record<string, unknown>;
}

export type CentralReply =
  | { v: 1; id: string; ok: true; data: Record<string, unknown> }
  | { v: 1; id: string; ok: false; error: { code: string; message: string; comeBackAt?: string } };

export interface QueueState {
  v: 1;
  ts: string;
  services: Record<string, { waiting: number; estimatedWaitMin: number }>;
}

export interface QueuedTicket {
  ticket: string;
  kind: 'normal' | 'priority' | 'appointment' | 'offline';
}

export interface CentralSimulator {
  /** Calls the next ticket of a service (first in, first out); null when none waits. */
  serve(service: string): string | null;
  /** Tickets waiting in a service, oldest first. */
  queue(service: string): QueuedTicket[];
  /** Closes (or reopens) every service, or just one: requests get 'service_closed'. */
  setClosed(closed: boolean, service?: string): void;
  addAppointment(appointment: Appointment): void;
  /** While on, requests are recorded but never answered. */
  silent(on: boolean): void;
  /** Every following reply is sent `ms` after the request arrived (0 = at once). */
  delayReplies(ms: number): void;
  /** The next reply is garbage instead of JSON. */
  malformedNext(): void;
  /** The next reply carries an id that matches no request. */
  replyWithWrongId(): void;
  /** Requests received, in arrival order (including unanswered ones). */
  requests(): CentralRequest[];
  waitForRequests(pred: (requests: CentralRequest[]) => boolean, timeoutMs: number): Promise<CentralRequest[]>;
  /** Events received on P/S/+/events, repeated ids dropped, in arrival order. */
  events(): EventEnvelope[];
  /** Event messages received, repeats included. */
  readonly rawEventCount: number;
  waitForEvents(pred: (events: EventEnvelope[]) => boolean, timeoutMs: number): Promise<EventEnvelope[]>;
  waitForEvent(pred: (event: EventEnvelope) => boolean, timeoutMs: number): Promise<EventEnvelope>;
  /** The last status a kiosk published on P/S/K/status, parsed; undefined if none. */
  statusOf(kioskId: string): Record<string, unknown> | undefined;
  waitForStatus(kioskId: string, pred: (status: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  /** The queue state as last published. */
  queueState(): QueueState;
  close(): Promise<void>;
}

interface ServiceQueue {
  id: string;
  prefix: string;
  normalSeq: number;
  prioritySeq: number;
  waiting: QueuedTicket[];
}

export async function startCentralSimulator(options: CentralSimulatorOptions): Promise<CentralSimulator> {
  const log = options.log ?? silentLogger();
  const minutesPerPerson = options.minutesPerPerson ?? DEFAULT_MINUTES_PER_PERSON;
  const now = options.now ?? (() => new Date());
  const base = `${options.prefix}/${options.site}`;
  const topics = {
    requests: `${base}/central/requests`,
    queues: `${base}/queues`,
    events: `${base}/+/events`,
    status: `${base}/+/status`,
  };

  const services = new Map<string, ServiceQueue>(
    options.services.map((s) => [s.id, { id: s.id, prefix: s.prefix, normalSeq: 0, prioritySeq: 0, waiting: [] }]),
  );
  const closedServices = new Set<string>();
  let allClosed = false;
  const appointments = new Map<string, Required<Appointment>>();
  const checkedIn = new Set<string>();
  let appointmentSeq = 0;

  let isSilent = false;
  let replyDelayMs = 0;
  let malformedPending = false;
  let wrongIdPending = false;
  const replyCache = new Map<string, CentralReply>();
  const receivedRequests: CentralRequest[] = [];

  const eventIds = new Set<string>();
  const receivedEvents: EventEnvelope[] = [];
  let rawEventCount = 0;
  const statuses = new Map<string, Record<string, unknown>>();
  const timers = new Set<NodeJS.Timeout>();
  /** Re-checked after every message; each resolves itself when satisfied. */
  const waiters = new Map<() => void, (err: Error) => void>();

  const client: MqttClient = await mqtt.connectAsync(options.url, {
    clientId: `central-sim-${options.site}-${randomUUID().slice(0, 8)}`,
    protocolVersion: 4, // aedes speaks 3.1.1 only
    clean: true,
    connectTimeout: CENTRAL_CONNECT_TIMEOUT_MS,
    reconnectPeriod: CENTRAL_RECONNECT_PERIOD_MS,
    ...options.connectOptions,
  });
  const noDelay = (): void => {
    // One small packet per reply: without TCP_NODELAY, Nagle + delayed ACK adds ~40 ms.
    const stream = client.stream as unknown as { setNoDelay?: (on: boolean) => void };
    stream.setNoDelay?.(true);
  };
  noDelay();
  client.on('connect', noDelay);
  client.on('error', (err) => log.warn({ err: err.message }, 'central simulator: MQTT error'));

  client.on('message', (topic, payload) => {
    try {
      if (topic === topics.requests) onRequest(payload);
      else if (topic.endsWith('/events')) onEvent(payload);
      else if (topic.endsWith('/status')) onStatus(topic, payload);
    } catch (err) {
      log.warn({ topic, err: (err as Error).message }, 'central simulator: message handling failed');
    }
    for (const w of [...waiters.keys()]) w();
  });

  await client.subscribeAsync({ [topics.requests]: { qos: 1 }, [topics.events]: { qos: 1 }, [topics.status]: { qos: 1 } });
  await publishQueueState();

  const servedPerMinute = options.servedPerMinute ?? 0;
  if (servedPerMinute > 0) {
    const every = setInterval(() => {
      for (const s of services.values()) serve(s.id);
    }, MS_PER_MINUTE / servedPerMinute);
    timers.add(every);
  }

  // --- requests -------------------------------------------------------------------------

  function onRequest(payload: Buffer): void {
    let req: unknown;
    try {
      req = JSON.parse(payload.toString('utf8'));
    } catch {
      log.warn('central simulator: request is not JSON, dropped');
      return;
    }
    if (!isRecord(req) || typeof req.id !== 'string' || typeof req.replyTo !== 'string' || req.replyTo === '') {
      log.warn('central simulator: request without id or replyTo, dropped');
      return;
    }
    const request: CentralRequest = {
      v: 1,
      id: req.id,
      kiosk: typeof req.kiosk === 'string' ? req.kiosk : '',
      type: typeof req.type === 'string' ? req.type : '',
      replyTo: req.replyTo,
      data: isRecord(req.data) ? req.data : {},
    };
    receivedRequests.push(request);
    if (isSilent) return;

    let reply = replyCache.get(request.id);
    if (!reply) {
      reply = answer(request);
      replyCache.set(request.id, reply);
      if (replyCache.size > REPLY_CACHE_SIZE) replyCache.delete(replyCache.keys().next().value as string);
    }
    sendReply(request.replyTo, reply);
  }

  function answer(req: CentralRequest): CentralReply {
    const fail = (code: string, message: string, extra: { comeBackAt?: string } = {}): CentralReply => ({
      v: 1,
      id: req.id,
      ok: false,
      error: { code, message, ...extra },
    });
    switch (req.type) {
      case 'ticket.request': {
        const serviceId = req.data.service;
        const service = typeof serviceId === 'string' ? services.get(serviceId) : undefined;
        if (!service) return fail('unknown_service', `no service "${String(serviceId)}" at this site`);
        if (allClosed || closedServices.has(service.id)) return fail('service_closed', `service "${service.id}" is closed`);
        const priority = req.data.priority === true;
        const ticket = priority
          ? `${service.prefix}*${number(++service.prioritySeq)}`
          : `${service.prefix}${number(++service.normalSeq)}`;
        const peopleAhead = enqueue(service, { ticket, kind: priority ? 'priority' : 'normal' });
        return { v: 1, id: req.id, ok: true, data: { ticket, peopleAhead, estimatedWaitMin: peopleAhead * minutesPerPerson } };
      }
      case 'appointment.checkin': {
        const code = req.data.code;
        const appt = typeof code === 'string' ? appointments.get(code) : undefined;
        if (!appt) return fail('unknown_appointment', 'no appointment with this code');
        const service = services.get(appt.service);
        if (!service) return fail('unknown_service', `no service "${appt.service}" at this site`);
        if (allClosed || closedServices.has(service.id)) return fail('service_closed', `service "${service.id}" is closed`);
        if (checkedIn.has(appt.code)) return fail('already_checked_in', 'this appointment has already been checked in');
        const t = now().getTime();
        const opensAt = appt.at.getTime() - appt.earlyMin * MS_PER_MINUTE;
        const closesAt = appt.at.getTime() + appt.lateMin * MS_PER_MINUTE;
        if (t < opensAt) {
          const comeBackAt = new Date(opensAt).toISOString();
          return fail('too_early', `check-in opens at ${comeBackAt}`, { comeBackAt });
        }
        if (t > closesAt) return fail('too_late', 'the check-in window for this appointment has passed');
        checkedIn.add(appt.code);
        const ticket = `A${number(++appointmentSeq)}`;
        const peopleAhead = enqueue(service, { ticket, kind: 'appointment' });
        return {
          v: 1,
          id: req.id,
          ok: true,
          data: {
            ticket,
            peopleAhead,
            estimatedWaitMin: peopleAhead * minutesPerPerson,
            appointment: { service: appt.service, at: appt.at.toISOString() },
          },
        };
      }
      default:
        return fail('unknown_request', `unknown request type "${req.type}"`);
    }
  }

  function sendReply(topic: string, reply: CentralReply): void {
    let body: string;
    if (malformedPending) {
      malformedPending = false;
      body = '{"v":1,"id":\u0000garbage';
    } else if (wrongIdPending) {
      wrongIdPending = false;
      body = JSON.stringify({ ...reply, id: randomUUID() });
    } else {
      body = JSON.stringify(reply);
    }
    const publish = (): void => {
      client.publish(topic, body, { qos: 1 }, (err) => {
        if (err) log.warn({ err: err.message }, 'central simulator: reply not published');
      });
    };
    if (replyDelayMs <= 0) {
      publish();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      publish();
    }, replyDelayMs);
    timers.add(timer);
  }

  // --- queues ---------------------------------------------------------------------------

  /** Adds a ticket and returns how many were waiting before it. */
  function enqueue(service: ServiceQueue, entry: QueuedTicket): number {
    const ahead = service.waiting.length;
    service.waiting.push(entry);
    void publishQueueState();
    return ahead;
  }

  function serve(serviceId: string): string | null {
    const service = services.get(serviceId);
    const served = service?.waiting.shift();
    if (!served) return null;
    void publishQueueState();
    return served.ticket;
  }

  function queueState(): QueueState {
    const state: QueueState = { v: 1, ts: now().toISOString(), services: {} };
    for (const s of services.values()) {
      state.services[s.id] = { waiting: s.waiting.length, estimatedWaitMin: s.waiting.length * minutesPerPerson };
    }
    return state;
  }

  async function publishQueueState(): Promise<void> {
    try {
      await client.publishAsync(topics.queues, JSON.stringify(queueState()), { qos: 1, retain: true });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'central simulator: queue state not published');
    }
  }

  // --- events and status ----------------------------------------------------------------

  function onEvent(payload: Buffer): void {
    rawEventCount++;
    let e: unknown;
    try {
      e = JSON.parse(payload.toString('utf8'));
    } catch {
      log.warn('central simulator: event is not JSON, dropped');
      return;
    }
    if (!isRecord(e) || typeof e.id !== 'string' || typeof e.type !== 'string') {
      log.warn('central simulator: event without id or type, dropped');
      return;
    }
    if (eventIds.has(e.id)) return; // at-least-once delivery: repeats are expected
    eventIds.add(e.id);
    const event = e as unknown as EventEnvelope;
    receivedEvents.push(event);
    if (event.type === 'ticket.issued') {
      const data = event.data as EventEnvelope<'ticket.issued'>['data'];
      const service = services.get(data.service);
      // Central numbered the online tickets itself; only offline ones are news to it.
      if (data.offline && service) enqueue(service, { ticket: data.ticket, kind: 'offline' });
    }
  }

  function onStatus(topic: string, payload: Buffer): void {
    const kioskId = topic.slice(base.length + 1, -'/status'.length);
    if (payload.length === 0) {
      statuses.delete(kioskId); // a cleared retained message
      return;
    }
    const s: unknown = JSON.parse(payload.toString('utf8'));
    if (isRecord(s)) statuses.set(kioskId, s);
  }

  // --- waiting helpers ------------------------------------------------------------------

  function waitFor<T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) {
        resolve(first);
        return;
      }
      const waiter = (): void => {
        const value = check();
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`central simulator: timed out after ${timeoutMs} ms waiting for ${what()}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        timers.delete(timer);
        waiters.delete(waiter);
      };
      timers.add(timer);
      waiters.set(waiter, (err) => {
        cleanup();
        reject(err);
      });
    });
  }

  let closing: Promise<void> | null = null;

  return {
    serve,
    queue: (serviceId) => [...(services.get(serviceId)?.waiting ?? [])].map((q) => ({ ...q })),
    setClosed(closed, serviceId) {
      if (serviceId === undefined) {
        allClosed = closed;
        if (!closed) closedServices.clear();
      } else if (closed) closedServices.add(serviceId);
      else closedServices.delete(serviceId);
    },
    addAppointment(a) {
      appointments.set(a.code, {
        code: a.code,
        service: a.service,
        at: a.at,
        earlyMin: a.earlyMin ?? DEFAULT_EARLY_MIN,
        lateMin: a.lateMin ?? DEFAULT_LATE_MIN,
      });
    },
    silent(on) {
      isSilent = on;
    },
    delayReplies(ms) {
      replyDelayMs = ms;
    },
    malformedNext() {
      malformedPending = true;
    },
    replyWithWrongId() {
      wrongIdPending = true;
    },
    requests: () => [...receivedRequests],
    waitForRequests: (pred, timeoutMs) =>
      waitFor(
        () => (pred(receivedRequests) ? [...receivedRequests] : undefined),
        timeoutMs,
        () => `requests (received ${receivedRequests.length}: ${receivedRequests.map((r) => r.type).join(', ')})`,
      ),
    events: () => [...receivedEvents],
    get rawEventCount() {
      return rawEventCount;
    },
    waitForEvents: (pred, timeoutMs) =>
      waitFor(
        () => (pred(receivedEvents) ? [...receivedEvents] : undefined),
        timeoutMs,
        () => `events (received ${receivedEvents.length}: ${receivedEvents.map((e) => `${e.seq}:${e.type}`).join(', ')})`,
      ),
    waitForEvent: (pred, timeoutMs) =>
      waitFor(
        () => receivedEvents.find(pred),
        timeoutMs,
        () => `an event (received ${receivedEvents.map((e) => `${e.seq}:${e.type}`).join(', ')})`,
      ),
    statusOf: (kioskId) => statuses.get(kioskId),
    waitForStatus: (kioskId, pred, timeoutMs) =>
      waitFor(
        () => {
          const s = statuses.get(kioskId);
          return s && pred(s) ? s : undefined;
        },
        timeoutMs,
        () => `status of ${kioskId} (last: ${JSON.stringify(statuses.get(kioskId) ?? null)})`,
      ),
    queueState,
    close() {
      closing ??= (async () => {
        for (const cancel of [...waiters.values()]) cancel(new Error('central simulator closed'));
        for (const t of timers) clearTimeout(t); // also clears the served-per-minute interval
        timers.clear();
        await client.endAsync();
      })();
      return closing;
    },
  };
}

/** At least three digits: 1 → "001", 1234 → "1234". */
function number(n: number): string {
  return String(n).padStart(3, '0');
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
