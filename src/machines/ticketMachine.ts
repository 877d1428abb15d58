/**
 * The ticket desk as a state machine (XState v5): one ticket at a time per kiosk.
 *
 *   ISSUE → (hours, printer ready?) → askingCentral → holding → printing → recording → idle
 *
 * - Hours and cut-off are decided by the caller at the moment of the request and come in
 *   the ISSUE event (`decision`), so the machine itself has no clock.
 * - Central: a number → that number; `service_closed` → closed; another error → central
 *   error; no usable answer within the request timeout → an offline number.
 * - `holding` stores the numbered ticket durably as pending before anything is printed.
 * - A ticket is issued only when the printer confirmed it (`recording` writes
 *   `ticket.issued`). Otherwise it stays pending: reprinted with the same number once the
 *   printer reports ready again, or voided (`ticket.print_failed`) by the periodic sweep
 *   once its reprint window has passed.
 * - A second ISSUE while one is being served (or a reprint runs) is answered `busy` at
 *   once: a double tap on the screen must not print two tickets.
 *
 * An appointment check-in is an ISSUE carrying `appointment: {code}` (issue #4): no
 * service is named (central names it in its reply), central is asked `appointment.checkin`,
 * and a silent central gives a provisional ticket from the offline numbering; the rest —
 * hold, print confirmation, reprint, void — is the same path.
 *
 * Every ISSUE is answered by exactly one emitted `ticketResult` with its `requestId`.
 * I/O happens only in the named actors (`askCentral`, `holdTicket`, `printTicket`,
 * `recordIssued`, `sweep`), which TicketDesk provides; context holds plain data only.
 */
import { likelyNotServedBeforeClosing } from '../tickets/ticketContent.js';
import { assign, enqueueActions, fromPromise, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { ServiceConfig } from '../config/schema.js';

/** A ticket whose number is taken and held durably until it is printed (the ticket ledger keeps it). */
export interface HeldTicket {
  ticket: string;
  service: string;
  priority: boolean;
  offline: boolean;
  peopleAhead: number | null;
  estimatedWaitMin: number | null;
  /** When the citizen asked for it (epoch ms): printed as the ticket's time, also on a reprint. */
  issuedAt: number;
  /** When the office closes for this service (epoch ms), null = never: for the "not before closing" line. */
  closesAt: number | null;
  /** When the number was taken (epoch ms): the reprint window counts from here. */
  heldAt: number;
}

/** Whether a ticket may be issued now (computed from the opening hours by src/tickets/hours.ts). */
export type TicketDecision =
  | {
      ok: true;
      /** When the office closes for this service (the earlier of kiosk and service); null = never. */
      closesAt: Date | null;
      /** When tickets stop, i.e. `closesAt` minus the cut-off; null = never. */
      ticketsUntil: Date | null;
    }
  | { ok: false; reason: 'closed' | 'cutoff'; nextOpening: Date | null };

/** How often pending tickets are looked at while idle: void the expired, retry the rest. */
export const REPRINT_SWEEP_MS = 15_000;
/** A ticket not printed within this of being numbered is voided: its citizen has gone. */
export const REPRINT_WINDOW_MS = 5 * 60_000;

export interface TicketRequest {
  requestId: string;
  service: string;
  priority: boolean;
  /** When it was asked (epoch ms): printed on the ticket. */
  at: number;
  /** An appointment check-in: `service` is empty until central names it. */
  appointment?: { code: string } | null;
}

export type CentralAnswer =
  | {
      kind: 'number';
      ticket: string;
      peopleAhead: number | null;
      estimatedWaitMin: number | null;
      /** Appointment check-in: the service and time central named. */
      appointment?: { service: string | null; at: string | null };
    }
  | { kind: 'timeout' }
  | { kind: 'closed'; message: string }
  | { kind: 'error'; code: string; message: string; comeBackAt?: string | null };

export interface PrintAnswer {
  confirmed: boolean;
  /** Why not, when not confirmed (printer machine reason or 'print_timeout'). */
  reason: string | null;
}

export interface SweepOutput {
  pending: HeldTicket[];
  /** Tickets printed whose record could not be written yet (retried each sweep). */
  unrecorded: string[];
}

export type TicketOutcome =
  | { kind: 'issued'; ticket: string; service: string; peopleAhead: number | null; offline: boolean; provisional?: boolean; estimatedWaitMin?: number | null; likelyNotServedBeforeClosing?: boolean }
  | { kind: 'closed'; reason: 'closed' | 'cutoff' | 'central'; nextOpening: string | null; message: string }
  | { kind: 'printer_unavailable'; detail: string }
  | { kind: 'busy' }
  | { kind: 'unknown_service'; service: string }
  | { kind: 'central_error'; code: string; message: string; comeBackAt?: string | null }
  | { kind: 'storage_error'; detail: string };

export interface TicketResultEvent {
  type: 'ticketResult';
  requestId: string;
  outcome: TicketOutcome;
}

export type TicketEmitted = TicketResultEvent | { type: 'reprinted'; ticket: string } | { type: 'voided'; ticket: string };

export type TicketEvent =
  | { type: 'ISSUE'; request: TicketRequest; decision: TicketDecision }
  /** The printer's readiness as the printer machine reports it (sent on every change). */
  | { type: 'PRINTER'; ready: boolean; detail: string }
  /** The outbox has room again: record what waits now rather than at the next sweep. */
  | { type: 'SWEEP' };

export interface TicketMachineInput {
  services: readonly ServiceConfig[];
  /** Pending tickets found in the ledger at start. */
  pending: readonly HeldTicket[];
  printerReady?: boolean;
  sweepMs?: number;
  /** Pending tickets known to be printed (PrintedMarks) whose ticket.issued is still to record. */
  unrecorded?: readonly string[];
}

/** What central is asked: a ticket for a service, or an appointment check-in when `appointmentCode` is set. */
export interface CentralQuestion {
  service: string;
  priority: boolean;
  appointmentCode: string | null;
}

export interface HoldInput {
  request: TicketRequest;
  /** The service's prefix, for an offline number. */
  prefix: string;
  closesAt: number | null;
  /** Central's number, or null for an offline one. */
  central: Extract<CentralAnswer, { kind: 'number' }> | null;
}

export interface TicketCounters {
  issued: number;
  issuedOffline: number;
  reprinted: number;
  printFailures: number;
  refusedBusy: number;
}

export interface TicketContext {
  services: readonly ServiceConfig[];
  sweepMs: number;
  printerReady: boolean;
  printerDetail: string;
  /** Set after a failed print; cleared when the printer reports ready again or at a sweep. */
  reprintBlocked: boolean;
  request: (TicketRequest & { closesAt: number | null }) | null;
  answer: CentralAnswer | null;
  held: HeldTicket | null;
  pending: HeldTicket[];
  unrecorded: string[];
  /** The printer's answer to the last print (diagnostics). */
  lastPrint: PrintAnswer | null;
  counters: TicketCounters;
}

const serviceOf = (context: TicketContext, id: string): ServiceConfig | undefined => context.services.find((s) => s.id === id);

const initialCounters = (): TicketCounters => ({ issued: 0, issuedOffline: 0, reprinted: 0, printFailures: 0, refusedBusy: 0 });

export const ticketMachine = setup({
  types: {
    context: {} as TicketContext,
    events: {} as TicketEvent,
    input: {} as TicketMachineInput,
    emitted: {} as TicketEmitted,
  },
  actors: {
    askCentral: fromPromise<CentralAnswer, CentralQuestion>(async () => ({ kind: 'timeout' })),
    holdTicket: fromPromise<{ held: HeldTicket; pending: HeldTicket[] }, HoldInput>(async () => {
      throw new Error('ticket machine: no ledger provided (use TicketDesk)');
    }),
    printTicket: fromPromise<PrintAnswer, HeldTicket>(async () => ({ confirmed: false, reason: 'no_printer' })),
    recordIssued: fromPromise<{ pending: HeldTicket[] }, HeldTicket>(async () => {
      throw new Error('ticket machine: no ledger provided (use TicketDesk)');
    }),
    sweep: fromPromise<SweepOutput, { pending: HeldTicket[]; unrecorded: string[] }>(async ({ input }) => input),
  },
  delays: {
    reprintSweep: ({ context }) => context.sweepMs,
  },
  guards: {
    unknownService: ({ context, event }) => event.type === 'ISSUE' && !event.request.appointment && !serviceOf(context, event.request.service),
    hoursRefuse: ({ event }) => event.type === 'ISSUE' && !event.decision.ok,
    printerNotReady: ({ context }) => !context.printerReady,
    canReprint: ({ context }) => context.printerReady && !context.reprintBlocked && reprintable(context).length > 0,
    answerIs: (_, params: { answer: CentralAnswer; kind: CentralAnswer['kind'] }) => params.answer.kind === params.kind,
    confirmed: (_, params: { answer: PrintAnswer }) => params.answer.confirmed,
  },
  actions: {
    answerBusy: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ISSUE') return;
      enqueue.emit({ type: 'ticketResult', requestId: event.request.requestId, outcome: { kind: 'busy' } });
      enqueue.assign({ counters: { ...context.counters, refusedBusy: context.counters.refusedBusy + 1 } });
    }),
    answerNow: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ISSUE') return;
      const { request, decision } = event;
      let outcome: TicketOutcome;
      if (!request.appointment && !serviceOf(context, request.service)) outcome = { kind: 'unknown_service', service: request.service };
      else if (!decision.ok) {
        outcome = {
          kind: 'closed',
          reason: decision.reason,
          nextOpening: decision.nextOpening?.toISOString() ?? null,
          message: decision.reason === 'cutoff' ? 'no more tickets today: the office closes soon' : 'the office is closed',
        };
      } else outcome = { kind: 'printer_unavailable', detail: context.printerDetail };
      enqueue.emit({ type: 'ticketResult', requestId: request.requestId, outcome });
    }),
    takeRequest: assign(({ event }) => {
      if (event.type !== 'ISSUE') return {};
      const closesAt = event.decision.ok ? (event.decision.closesAt?.getTime() ?? null) : null;
      return { request: { ...event.request, closesAt }, answer: null, held: null };
    }),
    /** Answers the request in hand and lets it go. */
    answer: enqueueActions(({ context, enqueue }, params: { outcome: TicketOutcome }) => {
      if (context.request) enqueue.emit({ type: 'ticketResult', requestId: context.request.requestId, outcome: params.outcome });
      enqueue.assign({ request: null, answer: null, held: null });
    }),
    notePrint: assign((_, params: { answer: PrintAnswer }) => ({ lastPrint: params.answer })),
    notePrinter: assign(({ context, event }) => {
      if (event.type !== 'PRINTER') return {};
      // Ready again after not being ready: the printer is "back", pending tickets may go.
      const back = event.ready && !context.printerReady;
      return { printerReady: event.ready, printerDetail: event.detail, reprintBlocked: back ? false : context.reprintBlocked };
    }),
  },
}).createMachine({
  id: 'ticket',
  context: ({ input }) => ({
    services: input.services,
    sweepMs: input.sweepMs ?? REPRINT_SWEEP_MS,
    printerReady: input.printerReady ?? false,
    printerDetail: 'connecting',
    reprintBlocked: false,
    request: null,
    answer: null,
    held: null,
    pending: [...input.pending],
    unrecorded: [...(input.unrecorded ?? [])],
    lastPrint: null,
    counters: initialCounters(),
  }),
  initial: 'idle',
  on: {
    ISSUE: { actions: 'answerBusy' },
    PRINTER: { actions: 'notePrinter' },
  },
  states: {
    idle: {
      always: { guard: 'canReprint', target: 'reprinting' },
      after: { reprintSweep: { target: 'sweeping' } },
      on: {
        SWEEP: { target: 'sweeping' },
        ISSUE: [
          { guard: 'unknownService', actions: 'answerNow' },
          { guard: 'hoursRefuse', actions: 'answerNow' },
          { guard: 'printerNotReady', actions: 'answerNow' },
          { target: 'issuing', actions: 'takeRequest' },
        ],
      },
    },
    issuing: {
      initial: 'askingCentral',
      states: {
        askingCentral: {
          invoke: {
            id: 'central',
            src: 'askCentral',
            input: ({ context }) => ({
              service: context.request!.service,
              priority: context.request!.priority,
              appointmentCode: context.request!.appointment?.code ?? null,
            }),
            onDone: [
              {
                guard: { type: 'answerIs', params: ({ event }) => ({ answer: event.output, kind: 'closed' }) },
                target: '#ticket.idle',
                actions: {
                  type: 'answer',
                  params: ({ event }) => ({
                    outcome: { kind: 'closed', reason: 'central', nextOpening: null, message: event.output.kind === 'closed' ? event.output.message : 'closed' },
                  }),
                },
              },
              {
                guard: { type: 'answerIs', params: ({ event }) => ({ answer: event.output, kind: 'error' }) },
                target: '#ticket.idle',
                actions: {
                  type: 'answer',
                  params: ({ event }) => {
                    const e = event.output as Extract<CentralAnswer, { kind: 'error' }>;
                    return { outcome: { kind: 'central_error', code: e.code, message: e.message, ...(e.comeBackAt !== undefined ? { comeBackAt: e.comeBackAt } : {}) } };
                  },
                },
              },
              { target: 'holding', actions: assign({ answer: ({ event }) => event.output }) },
            ],
            // The link never rejects; should it, the citizen still gets an offline ticket.
            onError: { target: 'holding', actions: assign({ answer: { kind: 'timeout' } }) },
          },
        },
        holding: {
          invoke: {
            id: 'hold',
            src: 'holdTicket',
            input: ({ context }) => {
              const r = context.request!;
              const a = context.answer;
              return { request: r, prefix: serviceOf(context, r.service)?.prefix ?? '?', closesAt: r.closesAt, central: a?.kind === 'number' ? a : null };
            },
            onDone: { target: 'printing', actions: assign({ held: ({ event }) => event.output.held, pending: ({ event }) => event.output.pending }) },
            onError: {
              target: '#ticket.idle',
              actions: {
                type: 'answer',
                params: ({ event }) => ({ outcome: { kind: 'storage_error', detail: event.error instanceof Error ? event.error.message : String(event.error) } }),
              },
            },
          },
        },
        printing: {
          invoke: {
            id: 'print',
            src: 'printTicket',
            input: ({ context }) => context.held!,
            onDone: [
              {
                guard: { type: 'confirmed', params: ({ event }) => ({ answer: event.output }) },
                target: 'recording',
                actions: { type: 'notePrint', params: ({ event }) => ({ answer: event.output }) },
              },
              {
                target: '#ticket.idle',
                actions: [
                  { type: 'notePrint', params: ({ event }) => ({ answer: event.output }) },
                  assign({ reprintBlocked: true, counters: ({ context }) => ({ ...context.counters, printFailures: context.counters.printFailures + 1 }) }),
                  { type: 'answer', params: ({ event }) => ({ outcome: { kind: 'printer_unavailable', detail: event.output.reason ?? 'unconfirmed' } }) },
                ],
              },
            ],
            onError: {
              target: '#ticket.idle',
              actions: [
                assign({ reprintBlocked: true, counters: ({ context }) => ({ ...context.counters, printFailures: context.counters.printFailures + 1 }) }),
                { type: 'answer', params: { outcome: { kind: 'printer_unavailable', detail: 'driver_error' } } },
              ],
            },
          },
        },
        recording: {
          invoke: {
            id: 'record',
            src: 'recordIssued',
            input: ({ context }) => context.held!,
            onDone: {
              target: '#ticket.idle',
              actions: [
                assign({
                  pending: ({ event }) => event.output.pending,
                  counters: ({ context }) => ({
                    ...context.counters,
                    issued: context.counters.issued + 1,
                    issuedOffline: context.counters.issuedOffline + (context.held?.offline ? 1 : 0),
                  }),
                }),
                {
                  type: 'answer',
                  params: ({ context }) => ({ outcome: issuedOutcome(context.held!) }),
                },
              ],
            },
            // Printed but not recorded (outbox full or failing): the citizen holds a printed,
            // confirmed ticket whose number is held on disk, so it is issued (201); never
            // reprinted, its ticket.issued recorded once there is room (sweep, SWEEP).
            onError: {
              target: '#ticket.idle',
              actions: [
                assign({ unrecorded: ({ context }) => [...context.unrecorded, context.held!.ticket] }),
                {
                  type: 'answer',
                  params: ({ context }) => ({ outcome: issuedOutcome(context.held!) }),
                },
              ],
            },
          },
        },
      },
    },
    reprinting: {
      entry: assign({ held: ({ context }) => reprintable(context)[0] ?? null }),
      initial: 'printing',
      states: {
        printing: {
          invoke: {
            id: 'print',
            src: 'printTicket',
            input: ({ context }) => context.held!,
            onDone: [
              {
                guard: { type: 'confirmed', params: ({ event }) => ({ answer: event.output }) },
                target: 'recording',
                actions: { type: 'notePrint', params: ({ event }) => ({ answer: event.output }) },
              },
              {
                target: '#ticket.idle',
                actions: [{ type: 'notePrint', params: ({ event }) => ({ answer: event.output }) }, assign({ held: null, reprintBlocked: true })],
              },
            ],
            onError: { target: '#ticket.idle', actions: assign({ held: null, reprintBlocked: true }) },
          },
        },
        recording: {
          invoke: {
            id: 'record',
            src: 'recordIssued',
            input: ({ context }) => context.held!,
            onDone: {
              target: '#ticket.idle',
              actions: enqueueActions(({ context, event, enqueue }) => {
                enqueue.emit({ type: 'reprinted', ticket: context.held!.ticket });
                enqueue.assign({
                  pending: event.output.pending,
                  held: null,
                  counters: { ...context.counters, issued: context.counters.issued + 1, reprinted: context.counters.reprinted + 1 },
                });
              }),
            },
            onError: {
              target: '#ticket.idle',
              actions: assign({ unrecorded: ({ context }) => [...context.unrecorded, context.held!.ticket], held: null }),
            },
          },
        },
      },
    },
    sweeping: {
      invoke: {
        id: 'sweep',
        src: 'sweep',
        input: ({ context }) => ({ pending: context.pending, unrecorded: context.unrecorded }),
        onDone: {
          target: 'idle',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const kept = new Set(event.output.pending.map((p) => p.ticket));
            for (const p of context.pending) if (!kept.has(p.ticket) && !context.unrecorded.includes(p.ticket)) enqueue.emit({ type: 'voided', ticket: p.ticket });
            enqueue.assign({ pending: event.output.pending, unrecorded: event.output.unrecorded, reprintBlocked: false });
          }),
        },
        onError: { target: 'idle', actions: assign({ reprintBlocked: false }) },
      },
    },
  },
});

/** Pending tickets that may be printed again (not those already printed and awaiting a record). */
/** The answer for a ticket printed and confirmed (an appointment ticket says whether it is provisional). */
function issuedOutcome(held: HeldTicket): TicketOutcome {
  const h = held as HeldTicket & { appointment?: { provisional: boolean } };
  const provisional = h.appointment ? { provisional: h.appointment.provisional } : {};
  // The wait and the closing-time warning are printed: the touch UI shows and speaks them too.
  const printed = { estimatedWaitMin: h.estimatedWaitMin, likelyNotServedBeforeClosing: likelyNotServedBeforeClosing(h) };
  return { kind: 'issued', ticket: h.ticket, service: h.service, peopleAhead: h.peopleAhead, offline: h.offline, ...provisional, ...printed };
}

function reprintable(context: TicketContext): HeldTicket[] {
  return context.pending.filter((p) => !context.unrecorded.includes(p.ticket));
}

export type TicketMachine = typeof ticketMachine;
export type TicketActor = ActorRefFrom<TicketMachine>;
export type TicketSnapshot = SnapshotFrom<TicketMachine>;

/** Public view for /api/health and diagnostics. */
export function ticketStatusView(snapshot: TicketSnapshot) {
  const c = snapshot.context;
  const state = snapshot.matches('idle') ? 'idle' : snapshot.matches('issuing') ? 'issuing' : snapshot.matches('reprinting') ? 'reprinting' : 'sweeping';
  return { state, pendingReprints: c.pending.length, unrecorded: c.unrecorded.length, counters: c.counters };
}
