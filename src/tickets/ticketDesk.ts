/**
 * The ticket desk: the ticket machine bound to the real things it needs — central over
 * the upstream link, the ticket ledger in the outbox, the printer machine — and a promise
 * API for the HTTP route: `issue(service, priority)` resolves with the one answer.
 *
 * The printer's readiness reaches the machine as PRINTER events, sent whenever the
 * printer machine's public view changes between ready and not ready (or its state name).
 *
 * Appointment check-in (`checkIn(code)`, issue #4) goes through the same machine: central
 * is asked `appointment.checkin`; a silent central gives a provisional ticket with an
 * offline number (`A-K1-001`); the ticket is held, printed, confirmed, reprinted or
 * voided like any other, and recorded as `appointment.checkin` instead of `ticket.issued`.
 */
import { randomUUID } from 'node:crypto';
import { createActor, fromPromise, type Actor } from 'xstate';
import type { KioskConfig, ServiceConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { EncodedJob, Printer } from '../facades/printer.js';
import {
  REPRINT_WINDOW_MS,
  ticketMachine,
  ticketStatusView,
  type CentralAnswer,
  type CentralQuestion,
  type HoldInput,
  type PrintAnswer,
  type SweepOutput,
  type TicketMachine,
  type TicketOutcome,
  type TicketResultEvent,
} from '../machines/ticketMachine.js';
import type { NewEvent, StateLog } from '../upstream/events.js';
import type { QueueState, RequestResult } from '../upstream/requestReply.js';
import {
  APPOINTMENT_COUNTER_KEY,
  APPOINTMENT_OFFLINE_PREFIX,
  appointmentContent,
  appointmentOf,
  appointmentReplyDetails,
  codeHint,
  comeBackAtOf,
  normalizeAppointmentCode,
  type AppointmentInfo,
} from './appointments.js';
import { canIssueTicket, currentClosingTime, isOpen, nextOpening, type TicketDecision } from './hours.js';
import { ticketContent, type TicketContentSettings } from './ticketContent.js';
import { ErrorCode, KioskError } from '../errors.js';
import { PrintedMarks } from './printedMarks.js';
import { TicketLedger, type HeldTicket, type TicketFields } from './ticketLedger.js';

/** The printer machine answers every PRINT; should it not, the ticket is treated as unconfirmed after this. */
export const PRINT_RESULT_TIMEOUT_MS = 60_000;
/** Zone used for printed times and the offline day when no `hours` are configured. */
export const DEFAULT_TIME_ZONE = 'Europe/Lisbon';

/** What the desk needs of the upstream link (the Upstream façade is the real one). */
export interface CentralClient {
  request<T>(type: string, data: unknown, timeoutMs: number): Promise<RequestResult<T>>;
  queues(): QueueState | null;
}

export interface TicketDeskTimings {
  /** Idle sweep of pending tickets (ticketMachine REPRINT_SWEEP_MS). */
  sweepMs?: number;
  /** How long a failed ticket may wait for the printer before it is voided. */
  reprintWindowMs?: number;
  printResultTimeoutMs?: number;
}

export interface TicketDeskOptions {
  config: Pick<KioskConfig, 'kiosk' | 'services' | 'hours' | 'upstream' | 'printer'>;
  events: StateLog;
  central: CentralClient;
  /** The printer; null when the kiosk has no printer (every ticket is 503). */
  printer: Printer | null;
  log: Logger;
  now?: () => Date;
  timings?: TicketDeskTimings;
  /** Base of the QR's follow-the-ticket URL (ticketContent DEFAULT_FOLLOW_URL_BASE). */
  followUrlBase?: string;
  /** The data folder: printed tickets are marked there until recorded (PrintedMarks). */
  dataDir?: string;
  /** The outbox cannot take an event (cap or disk full): no ticket is held or printed then (503). */
  storageFull?: () => boolean;
}

export class TicketDesk {
  readonly ledger: TicketLedger;
  readonly actor: Actor<TicketMachine>;
  private readonly now: () => Date;
  private readonly waiters = new Map<string, (outcome: TicketOutcome) => void>();
  private readonly subscriptions: Array<{ unsubscribe(): void }> = [];
  private readonly settings: TicketContentSettings;
  private lastPrinter = { ready: false, detail: '' };
  /** The appointment ticket whose `ticket.issued` the ledger is writing right now (see recordIssued). */
  private recordingAppointment: { held: HeldTicket; info: AppointmentInfo } | null = null;
  /**
   * The job of the ticket just held, encoded while the disk flushed the hold; the print
   * that follows takes it (a Buffer is not plain data, so it stays out of the machine).
   */
  private encodedJob: { ticket: string; job: EncodedJob } | null = null;
  /**
   * Tickets whose hold could not be flushed and whose void the outbox refused too: never
   * printed, voided again at each sweep (ticket → reason).
   */
  private readonly voidLater = new Map<string, string>();
  private readonly marks: PrintedMarks | null;

  constructor(private readonly opts: TicketDeskOptions) {
    this.now = opts.now ?? (() => new Date());
    const timeZone = opts.config.hours?.timezone ?? DEFAULT_TIME_ZONE;
    // The ledger records a printed ticket as ticket.issued; an appointment ticket is
    // reported as appointment.checkin instead, in the same transaction as the ledger's state.
    const events = opts.events;
    const ledgerLog: StateLog = {
      append: (list, state) => events.append(this.asAppointmentEvents(list), state),
      putState: (state) => events.putState(state),
      getState: (key) => events.getState(key),
    };
    this.ledger = new TicketLedger(ledgerLog, { kioskId: opts.config.kiosk.id, timeZone, now: this.now });
    this.settings = {
      site: opts.config.kiosk.site,
      locale: opts.config.kiosk.locale,
      timeZone,
      ...(opts.followUrlBase ? { followUrlBase: opts.followUrlBase } : {}),
    };
    const pending = this.ledger.pending();
    this.marks = opts.dataDir ? new PrintedMarks(opts.dataDir, opts.log) : null;
    const unrecorded = this.printedBeforeRestart(pending);
    if (pending.length > unrecorded.length) opts.log.warn({ pending: pending.map((p) => p.ticket).filter((t) => !unrecorded.includes(t)) }, 'tickets from before the restart wait for a reprint');
    if (unrecorded.length > 0) opts.log.warn({ unrecorded }, 'tickets printed before the restart are recorded once the outbox takes them');
    this.actor = createActor(this.machine(), {
      input: { services: opts.config.services, pending, unrecorded, ...(opts.timings?.sweepMs ? { sweepMs: opts.timings.sweepMs } : {}) },
    });
  }

  start(): this {
    this.subscriptions.push(
      this.actor.on('ticketResult', (e: TicketResultEvent) => {
        const w = this.waiters.get(e.requestId);
        if (!w) return;
        this.waiters.delete(e.requestId);
        w(e.outcome);
      }),
      this.actor.on('reprinted', (e) => this.opts.log.info({ ticket: e.ticket }, 'pending ticket reprinted with its number and issued')),
      this.actor.on('voided', (e) => this.opts.log.warn({ ticket: e.ticket }, 'pending ticket voided: the printer did not come back in time')),
    );
    this.actor.subscribe({ error: (err) => this.opts.log.fatal({ err: (err as Error).message }, 'ticket machine stopped on an error') });
    this.actor.start();
    // Printed before a restart and not recorded: recorded now if the outbox takes them.
    if (this.actor.getSnapshot().context.unrecorded.length > 0) this.roomAgain();
    const printer = this.opts.printer;
    if (printer) {
      const off = printer.onChange((s) => this.notePrinter(s.ready, s.state));
      this.subscriptions.push({ unsubscribe: off });
      const now = printer.status();
      this.notePrinter(now.ready, now.state);
    } else this.notePrinter(false, 'absent');
    return this;
  }

  stop(): void {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    this.actor.stop();
    for (const [id, w] of this.waiters) {
      this.waiters.delete(id);
      w({ kind: 'printer_unavailable', detail: 'shutting_down' });
    }
  }

  service(id: string): ServiceConfig | undefined {
    return this.opts.config.services.find((s) => s.id === id);
  }

  /** Asks for one ticket; resolves with the machine's answer (never rejects). */
  issue(service: string, priority: boolean): Promise<TicketOutcome> {
    const at = this.now();
    const svc = this.service(service);
    const decision = svc ? canIssueTicket(this.opts.config.hours, svc.hours, at) : { ok: true as const, closesAt: null, ticketsUntil: null };
    const requestId = randomUUID();
    return new Promise((resolve) => {
      this.waiters.set(requestId, resolve);
      this.actor.send({ type: 'ISSUE', request: { requestId, service, priority, at: at.getTime() }, decision });
    });
  }

  /**
   * Checks an appointment in (the code already shape-checked by the caller); resolves with
   * the machine's answer (never rejects). Opening hours apply, the walk-in cut-off does not:
   * an appointment near closing time is still honoured.
   */
  checkIn(code: string): Promise<TicketOutcome> {
    const at = this.now();
    const hours = this.opts.config.hours;
    const decision: TicketDecision = isOpen(hours, at)
      ? { ok: true, closesAt: currentClosingTime(hours, at), ticketsUntil: null }
      : { ok: false, reason: 'closed', nextOpening: nextOpening(hours, at) };
    const requestId = randomUUID();
    return new Promise((resolve) => {
      this.waiters.set(requestId, resolve);
      this.actor.send({
        type: 'ISSUE',
        request: { requestId, service: '', priority: false, at: at.getTime(), appointment: { code: normalizeAppointmentCode(code) } },
        decision,
      });
    });
  }

  status() {
    return ticketStatusView(this.actor.getSnapshot());
  }

  /** The outbox has room again: printed tickets waiting for their ticket.issued are recorded now. */
  roomAgain(): void {
    this.actor.send({ type: 'SWEEP' });
  }

  /** Pending tickets the printer had confirmed (marked); marks of tickets no longer pending go. */
  private printedBeforeRestart(pending: readonly HeldTicket[]): string[] {
    if (!this.marks) return [];
    const marked = this.marks.list();
    const held = new Set(pending.map((p) => p.ticket));
    for (const t of marked) if (!held.has(t)) this.marks.clear(t);
    return pending.map((p) => p.ticket).filter((t) => marked.has(t));
  }

  /** Records `held` as issued (ticket.issued, or appointment.checkin for an appointment ticket). */
  private recordIssued(held: HeldTicket): void {
    const info = appointmentOf(held);
    this.recordingAppointment = info ? { held, info } : null;
    try {
      this.ledger.recordIssued(held);
    } finally {
      this.recordingAppointment = null;
    }
    this.marks?.clear(held.ticket);
    if (info) this.opts.log.info({ ticket: held.ticket, codeHint: info.codeHint, provisional: info.provisional }, 'appointment checked in');
  }

  private asAppointmentEvents(list: readonly NewEvent[]): readonly NewEvent[] {
    const rec = this.recordingAppointment;
    if (!rec) return list;
    return list.map((e): NewEvent => {
      if (e.type !== 'ticket.issued' || (e as NewEvent<'ticket.issued'>).data.ticket !== rec.held.ticket) return e;
      const { held, info } = rec;
      return {
        type: 'appointment.checkin',
        data: {
          ticket: held.ticket,
          service: info.provisional || held.service === '' ? null : held.service,
          offline: held.offline,
          provisional: info.provisional,
          result: info.provisional ? 'provisional' : 'checked_in',
          peopleAhead: held.peopleAhead,
          codeHint: info.codeHint,
        },
      };
    });
  }

  /** Counter of provisional appointment numbers: shared with a service whose prefix is "A", so none repeats. */
  private appointmentCounterKey(): string {
    return this.opts.config.services.find((s) => s.prefix === APPOINTMENT_OFFLINE_PREFIX)?.id ?? APPOINTMENT_COUNTER_KEY;
  }

  private notePrinter(ready: boolean, detail: string): void {
    if (ready === this.lastPrinter.ready && detail === this.lastPrinter.detail) return;
    this.lastPrinter = { ready, detail };
    this.actor.send({ type: 'PRINTER', ready, detail });
  }

  private machine(): TicketMachine {
    const { config, central, log } = this.opts;
    const timeoutMs = config.upstream.requestTimeoutMs;
    const windowMs = this.opts.timings?.reprintWindowMs ?? REPRINT_WINDOW_MS;
    const printTimeoutMs = this.opts.timings?.printResultTimeoutMs ?? PRINT_RESULT_TIMEOUT_MS;
    return ticketMachine.provide({
      actors: {
        askCentral: fromPromise<CentralAnswer, CentralQuestion>(async ({ input }) => {
          const asked =
            input.appointmentCode !== null
              ? central.request<unknown>('appointment.checkin', { code: input.appointmentCode }, timeoutMs).then((r) => toCheckinAnswer(r, log))
              : central.request<unknown>('ticket.request', { service: input.service, priority: input.priority }, timeoutMs).then((r) => toCentralAnswer(r, log));
          // With the question on its way, the printer reads its status for this ticket:
          // that read overlaps central's answer instead of adding to the citizen's wait.
          this.opts.printer?.prepare();
          return asked;
        }),
        holdTicket: fromPromise<{ held: HeldTicket; pending: HeldTicket[] }, HoldInput>(async ({ input }) => {
          if (this.opts.storageFull?.()) throw new KioskError(ErrorCode.OutboxFull, 'the outbox cannot take events (cap reached or disk full): no ticket is printed');
          const { request, central: number } = input;
          const base = { service: request.service, priority: request.priority, issuedAt: request.at, closesAt: input.closesAt };
          let held: HeldTicket;
          let onDisk = Promise.resolve();
          if (request.appointment) {
            const hint = codeHint(request.appointment.code);
            if (number) {
              const fields: TicketFields & { appointment: AppointmentInfo } = {
                ...base,
                service: number.appointment?.service ?? '',
                offline: false,
                peopleAhead: number.peopleAhead,
                estimatedWaitMin: number.estimatedWaitMin,
                appointment: { codeHint: hint, provisional: false, at: number.appointment?.at ?? null },
              };
              ({ held, onDisk } = this.ledger.holdCentral(number.ticket, fields));
            } else {
              const fields: TicketFields & { appointment: AppointmentInfo } = {
                ...base,
                service: this.appointmentCounterKey(),
                offline: true,
                peopleAhead: null,
                estimatedWaitMin: null,
                appointment: { codeHint: hint, provisional: true, at: null },
              };
              held = this.ledger.holdOffline(APPOINTMENT_OFFLINE_PREFIX, fields);
              log.warn({ ticket: held.ticket, codeHint: hint }, 'central did not answer the check-in: provisional appointment ticket');
            }
          } else if (number) {
            ({ held, onDisk } = this.ledger.holdCentral(number.ticket, { ...base, offline: false, peopleAhead: number.peopleAhead, estimatedWaitMin: number.estimatedWaitMin }));
          } else {
            // Central is silent: the last queue state it published is the best estimate there is.
            const q = central.queues()?.services[request.service];
            held = this.ledger.holdOffline(input.prefix, { ...base, offline: true, peopleAhead: q?.waiting ?? null, estimatedWaitMin: q?.estimatedWaitMin ?? null });
            log.warn({ ticket: held.ticket, service: request.service }, 'central did not answer: offline ticket');
          }
          // The ticket is encoded while the disk flushes the hold; it is sent only after both.
          this.encodeAhead(held);
          try {
            await onDisk;
          } catch (e) {
            this.dropUnflushedHold(held);
            throw e;
          }
          return { held, pending: this.pendingToPrint() };
        }),
        printTicket: fromPromise<PrintAnswer, HeldTicket>(({ input }) => this.print(input, printTimeoutMs)),
        recordIssued: fromPromise<{ pending: HeldTicket[] }, HeldTicket>(async ({ input }) => {
          this.recordIssued(input);
          return { pending: this.pendingToPrint() };
        }),
        sweep: fromPromise<SweepOutput, { pending: HeldTicket[]; unrecorded: string[] }>(async ({ input }) => {
          const unrecorded: string[] = [];
          for (const ticket of input.unrecorded) {
            const held = input.pending.find((p) => p.ticket === ticket);
            try {
              if (held) this.recordIssued(held);
            } catch (e) {
              unrecorded.push(ticket);
              log.error({ ticket, err: (e as Error).message }, 'printed ticket still cannot be recorded');
            }
          }
          for (const p of this.ledger.pending()) {
            const reason = this.voidLater.get(p.ticket);
            if (reason === undefined) continue;
            try {
              this.ledger.voidTicket(p, reason);
            } catch (e) {
              log.error({ ticket: p.ticket, err: (e as Error).message }, 'ticket whose hold was not flushed still cannot be voided');
            }
          }
          const stillPending = new Set(this.ledger.pending().map((p) => p.ticket));
          for (const ticket of this.voidLater.keys()) if (!stillPending.has(ticket)) this.voidLater.delete(ticket);
          const t = this.now().getTime();
          for (const p of this.ledger.pending()) {
            if (unrecorded.includes(p.ticket) || this.voidLater.has(p.ticket) || t - p.heldAt < windowMs) continue;
            try {
              this.ledger.voidTicket(p, `printer_unavailable: not printed within ${Math.round(windowMs / 1000)} s`);
            } catch (e) {
              log.error({ ticket: p.ticket, err: (e as Error).message }, 'expired ticket cannot be voided yet');
            }
          }
          return { pending: this.pendingToPrint(), unrecorded };
        }),
      },
    });
  }

  /** The printer job for `held`, or null when there is no printer or its service is unknown. */
  private encode(held: HeldTicket): EncodedJob | null {
    const printer = this.opts.printer;
    const service = this.service(held.service);
    const appointment = appointmentOf(held);
    if (!printer || (!service && !appointment)) return null;
    const content = appointment
      ? appointmentContent(held, appointment, appointment.provisional ? undefined : service, this.settings)
      : ticketContent(held, service!, this.settings);
    return printer.encode({ kind: 'ticket', content, isTicket: true });
  }

  private encodeAhead(held: HeldTicket): void {
    try {
      const job = this.encode(held);
      this.encodedJob = job ? { ticket: held.ticket, job } : null;
    } catch (e) {
      // print() encodes again and answers for it.
      this.encodedJob = null;
      this.opts.log.error({ ticket: held.ticket, err: (e as Error).message }, 'ticket could not be encoded');
    }
  }

  /**
   * The hold was committed but its flush failed (a disk error): the number is given back
   * upstream now rather than printed later on a hold that may not survive a power cut.
   */
  private dropUnflushedHold(held: HeldTicket): void {
    this.encodedJob = null;
    const reason = 'storage_error: the ticket could not be stored';
    try {
      this.ledger.voidTicket(held, reason);
    } catch (e) {
      // The citizen was told it failed: it must never print. Voided at a later sweep.
      this.voidLater.set(held.ticket, reason);
      this.opts.log.error({ ticket: held.ticket, err: (e as Error).message }, 'ticket whose hold was not flushed cannot be voided yet: voided at the next sweep');
    }
  }

  /** Pending tickets the machine may print again: not those waiting to be voided. */
  private pendingToPrint(): HeldTicket[] {
    return this.ledger.pending().filter((p) => !this.voidLater.has(p.ticket));
  }

  private async print(held: HeldTicket, timeoutMs: number): Promise<PrintAnswer> {
    const printer = this.opts.printer;
    const ahead = this.encodedJob?.ticket === held.ticket ? this.encodedJob.job : null;
    this.encodedJob = null;
    if (!printer) return { confirmed: false, reason: 'no_printer' };
    const job = ahead ?? this.encode(held);
    if (!job) return { confirmed: false, reason: 'unknown_service' };
    const r = await printer.print(job, { timeoutMs });
    if (r.confirmed) this.marks?.printed(held.ticket);
    return { confirmed: r.confirmed, reason: r.reason };
  }
}

/**
 * Central's reply to `appointment.checkin` as the machine sees it: a number (with the
 * service and time central named), `closed`, or an error carrying the refusal code
 * (`too_early` with `comeBackAt`, `too_late`, `unknown_appointment`, `already_checked_in`).
 */
export function toCheckinAnswer(r: RequestResult<unknown>, log?: Logger): CentralAnswer {
  if ('ok' in r && !r.ok && r.error.code !== 'service_closed') {
    const comeBackAt = r.error.code === 'too_early' ? comeBackAtOf(r.error as { message: string } & Record<string, unknown>) : undefined;
    return { kind: 'error', code: r.error.code, message: r.error.message, ...(comeBackAt !== undefined ? { comeBackAt } : {}) };
  }
  const answer = toCentralAnswer(r, log);
  return answer.kind === 'number' ? { ...answer, appointment: appointmentReplyDetails(r) } : answer;
}

/** Central's reply as the machine sees it. An ok reply without a usable number counts as no answer. */
export function toCentralAnswer(r: RequestResult<unknown>, log?: Logger): CentralAnswer {
  if ('timeout' in r) return { kind: 'timeout' };
  if (!r.ok) return r.error.code === 'service_closed' ? { kind: 'closed', message: r.error.message } : { kind: 'error', code: r.error.code, message: r.error.message };
  const d = r.data as { ticket?: unknown; peopleAhead?: unknown; estimatedWaitMin?: unknown } | null;
  const ticket = d?.ticket;
  if (typeof ticket !== 'string' || !/^[\x21-\x7e]{1,16}$/.test(ticket)) {
    log?.warn('central answered without a usable ticket number: treated as no answer');
    return { kind: 'timeout' };
  }
  const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
  const ahead = count(d?.peopleAhead);
  return { kind: 'number', ticket, peopleAhead: ahead === null ? null : Math.round(ahead), estimatedWaitMin: count(d?.estimatedWaitMin) };
}
