/**
 * The printer as a state machine (XState v5). It keeps the connection up (reconnecting
 * with backoff), polls status while idle, prints one job at a time and answers every
 * PRINT with exactly one `printResult` emitted event carrying the same job id.
 *
 * I/O happens only in the named actors (`link`, `readStatus`, `printJob`,
 * `closeConnection`); `createPrinterMachine(device)` binds them to a PrinterDevice (the
 * real PrinterDriver, or a fake in tests). Context holds data only. The connection is
 * the shared reconnecting link (devices/link/): it connects, retries with backoff and
 * reports LINK.READY / LINK.DOWN; this machine mirrors it (connecting, reconnecting).
 *
 * Emitted events, for the controller to turn into upstream events:
 * - `paper {state}`            → `printer.paper`
 * - `fault {code, detail}`     → `device.fault {device: 'printer'}`
 * - `recovered {code}`         → `device.recovered {device: 'printer'}`
 * - `printResult {...}`        → the answer to one PRINT.
 */
import { assign, enqueueActions, fromCallback, fromPromise, sendTo, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import {
  classifyStatus,
  jobIdFromNumber,
  noReplyStatus,
  type PrinterCondition,
  type PrinterStatus,
} from '../../devices/printer/statusProtocol.js';
import type { PrintOutcome, PrintResult, PrinterDevice } from '../../devices/printer/printerDriver.js';
import { createPrinterConnectionLogic } from '../../devices/printer/printerConnection.js';
import { createLinkMachine, type LinkReportEvent } from '../../devices/link/linkMachine.js';
import { PRINTER_LINK_POLICY, STATUS_POLL_MS } from './printerDelays.js';

export type PaperState = 'ok' | 'near_end' | 'out';

export interface PrintRequest {
  /** 4 ASCII digits, echoed in the Epson completion reply and in `printResult`. */
  jobId: string;
  job: Buffer;
  /** Cuts in the job (1 for a ticket): counted for maintenance. */
  cuts: number;
  /** Counts toward `ticketsSinceRollChange`. */
  isTicket: boolean;
}

export interface PrinterCounters {
  jobsPrinted: number;
  jobsUnconfirmed: number;
  jobsRefused: number;
  cuts: number;
  ticketsSinceRollChange: number;
  statusReads: number;
  invalidStatusReplies: number;
  connectionsLost: number;
}

export interface LastPrint {
  jobId: string;
  outcome: PrintOutcome;
  reason: string | null;
}

export interface PrinterContext {
  model: 'epson' | 'star';
  status: PrinterStatus | null;
  /** The condition from the last status read; 'disconnected' without a connection. */
  condition: PrinterCondition | 'disconnected';
  paper: PaperState | null;
  /** The fault code currently reported upstream, null when healthy. */
  fault: string | null;
  reconnectAttempts: number;
  queue: PrintRequest[];
  inFlight: string | null;
  counters: PrinterCounters;
  lastRaw: number[];
  lastPrint: LastPrint | null;
  lastError: string | null;
}

export type PrinterEvent =
  | { type: 'PRINT'; jobId: string; job: Buffer; cuts?: number; isTicket?: boolean }
  /** A ticket is coming: read the status now, so the print need not read it again. */
  | { type: 'PREPARE' }
  /** From the link: connected, or an attempt failed / the connection was lost. */
  | LinkReportEvent
  /** A technician changed the roll (a paper out → ok recovery counts as one too). */
  | { type: 'ROLL_CHANGED' }
  /** Shut down: close the connection and stay disconnected. */
  | { type: 'CLOSE' };

export type PrintResultEvent = {
  type: 'printResult';
  jobId: string;
  outcome: PrintOutcome;
  confirmed: boolean;
  reason: string | null;
  status: PrinterStatus | null;
};

export type PrinterEmitted =
  | { type: 'paper'; state: PaperState }
  | { type: 'fault'; code: string; detail: string }
  | { type: 'recovered'; code: string }
  | PrintResultEvent;

export interface PrinterMachineInput {
  model: 'epson' | 'star';
}

/** Fault codes for `device.fault {device: 'printer', code}`. */
export const PRINTER_FAULT_CODES = {
  disconnected: 'printer.disconnected',
  offline: 'printer.offline',
  error: 'printer.error',
  coverOpen: 'printer.cover_open',
  paperOut: 'printer.paper_out',
} as const;

function faultFor(condition: PrinterCondition | 'disconnected'): string | null {
  switch (condition) {
    case 'online':
    case 'paperNearEnd':
      return null;
    default:
      return PRINTER_FAULT_CODES[condition];
  }
}

function paperFor(s: PrinterStatus): PaperState | null {
  if (!s.answered || !s.valid) return null;
  if (s.paperEnd) return 'out';
  return s.paperNearEnd ? 'near_end' : 'ok';
}

const FAULT_DETAIL: Record<string, string> = {
  [PRINTER_FAULT_CODES.disconnected]: 'no connection to the printer: check its cable or network and power',
  [PRINTER_FAULT_CODES.offline]: 'the printer does not answer status requests or is offline',
  [PRINTER_FAULT_CODES.error]: 'the printer reports an error or answers garbage: check the cutter and the paper path',
  [PRINTER_FAULT_CODES.coverOpen]: 'the printer cover is open',
  [PRINTER_FAULT_CODES.paperOut]: 'the printer is out of paper: change the roll',
};

const initialCounters = (): PrinterCounters => ({
  jobsPrinted: 0,
  jobsUnconfirmed: 0,
  jobsRefused: 0,
  cuts: 0,
  ticketsSinceRollChange: 0,
  statusReads: 0,
  invalidStatusReplies: 0,
  connectionsLost: 0,
});

/** The printer's reconnecting link over a connection actor (the device's, or a stand-in). */
function printerLink(connection: ReturnType<typeof createPrinterConnectionLogic>) {
  return createLinkMachine<undefined>({ name: 'printer', policy: PRINTER_LINK_POLICY, connection });
}

export const printerMachine = setup({
  types: {
    context: {} as PrinterContext,
    events: {} as PrinterEvent,
    input: {} as PrinterMachineInput,
    emitted: {} as PrinterEmitted,
  },
  actors: {
    link: printerLink(fromCallback(() => () => undefined)),
    readStatus: fromPromise<PrinterStatus, { forNextPrint: boolean }>(async () => noReplyStatus()),
    printJob: fromPromise<PrintResult, { jobId: string; job: Buffer }>(async () => {
      throw new Error('printer machine: no device provided (use createPrinterMachine)');
    }),
    closeConnection: fromPromise<void>(async () => undefined),
  },
  delays: {
    statusPoll: STATUS_POLL_MS,
  },
  guards: {
    queueReady: ({ context }) =>
      context.queue.length > 0 && (context.condition === 'online' || context.condition === 'paperNearEnd'),
    conditionIs: ({ context }, params: { condition: PrinterCondition }) => context.condition === params.condition,
  },
  actions: {
    enqueue: assign({
      queue: ({ context, event }) =>
        event.type === 'PRINT'
          ? [...context.queue, { jobId: event.jobId, job: event.job, cuts: event.cuts ?? 1, isTicket: event.isTicket ?? true }]
          : context.queue,
    }),
    /** Answers a PRINT that arrived while there is no connection. */
    refuseNow: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'PRINT') return;
      enqueue.assign({ counters: { ...context.counters, jobsRefused: context.counters.jobsRefused + 1 } });
      enqueue.emit({ type: 'printResult', jobId: event.jobId, outcome: 'refused', confirmed: false, reason: 'not_connected', status: context.status });
    }),
    /** Refuses every waiting job: entered a state in which nothing can print. */
    refuseQueue: enqueueActions(({ context, enqueue }) => {
      if (context.queue.length === 0) return;
      const reason = context.condition === 'disconnected' ? 'not_connected' : context.condition;
      for (const r of context.queue) {
        enqueue.emit({ type: 'printResult', jobId: r.jobId, outcome: 'refused', confirmed: false, reason, status: context.status });
      }
      enqueue.assign({
        queue: [],
        counters: { ...context.counters, jobsRefused: context.counters.jobsRefused + context.queue.length },
      });
    }),
    /** The connection went away: the job on the wire is unconfirmed, the waiting ones refused. */
    dropConnection: enqueueActions(({ context, event, enqueue }, params: { reportFault: boolean }) => {
      let jobsUnconfirmed = context.counters.jobsUnconfirmed;
      let jobsRefused = context.counters.jobsRefused;
      for (const r of context.queue) {
        const inFlight = r.jobId === context.inFlight;
        enqueue.emit({
          type: 'printResult',
          jobId: r.jobId,
          outcome: inFlight ? 'unconfirmed' : 'refused',
          confirmed: false,
          reason: inFlight ? 'connection_lost' : 'not_connected',
          status: context.status,
        });
        if (inFlight) jobsUnconfirmed++;
        else jobsRefused++;
      }
      // Our own close (shutdown) is not a fault.
      const code = params.reportFault ? PRINTER_FAULT_CODES.disconnected : context.fault;
      if (params.reportFault && context.fault !== code) {
        if (context.fault) enqueue.emit({ type: 'recovered', code: context.fault });
        enqueue.emit({ type: 'fault', code: PRINTER_FAULT_CODES.disconnected, detail: FAULT_DETAIL[PRINTER_FAULT_CODES.disconnected]! });
      }
      enqueue.assign({
        queue: [],
        inFlight: null,
        condition: 'disconnected',
        fault: code,
        lastError: event.type === 'LINK.DOWN' ? event.message : context.lastError,
        counters: {
          ...context.counters,
          jobsUnconfirmed,
          jobsRefused,
          connectionsLost: context.counters.connectionsLost + (event.type === 'LINK.DOWN' ? 1 : 0),
        },
      });
    }),
    connectFailed: enqueueActions(({ context, event, enqueue }) => {
      const code = PRINTER_FAULT_CODES.disconnected;
      if (context.fault !== code) {
        if (context.fault) enqueue.emit({ type: 'recovered', code: context.fault });
        enqueue.emit({ type: 'fault', code, detail: FAULT_DETAIL[code]! });
      }
      enqueue.assign({
        condition: 'disconnected',
        fault: code,
        lastError: event.type === 'LINK.DOWN' ? event.message : 'connect failed',
      });
    }),
    countReconnectAttempt: assign({ reconnectAttempts: ({ context, event }) => (event.type === 'LINK.DOWN' ? event.failures : context.reconnectAttempts + 1) }),
    closeLink: sendTo('link', { type: 'LINK.CLOSE' }),
    connected: assign({ reconnectAttempts: 0, lastError: null }),
    /** Takes in a status (from a read or a print result) and reports paper and fault changes. */
    applyStatus: enqueueActions(({ context, enqueue }, params: { status: PrinterStatus }) => {
      const s = params.status;
      const condition = classifyStatus(s);
      const paper = paperFor(s) ?? context.paper;
      const fault = faultFor(condition);
      let ticketsSinceRollChange = context.counters.ticketsSinceRollChange;
      if (paper !== context.paper && paper !== null) {
        // The first reading at start-up is worth reporting only when it is not "ok".
        if (context.paper !== null || paper !== 'ok') enqueue.emit({ type: 'paper', state: paper });
        if (context.paper === 'out' && paper === 'ok') ticketsSinceRollChange = 0;
      }
      if (fault !== context.fault) {
        if (context.fault) enqueue.emit({ type: 'recovered', code: context.fault });
        if (fault) enqueue.emit({ type: 'fault', code: fault, detail: FAULT_DETAIL[fault]! });
      }
      enqueue.assign({
        status: s,
        condition,
        paper,
        fault,
        lastRaw: s.raw.length > 0 ? s.raw : context.lastRaw,
        counters: {
          ...context.counters,
          ticketsSinceRollChange,
          statusReads: context.counters.statusReads + 1,
          invalidStatusReplies: context.counters.invalidStatusReplies + (s.answered && !s.valid ? 1 : 0),
        },
      });
    }),
    startJob: assign({ inFlight: ({ context }) => context.queue[0]?.jobId ?? null }),
    /** One job answered: reply, count, take it off the queue. */
    finishJob: enqueueActions(({ context, enqueue }, params: { result: PrintResult | null; error?: string }) => {
      const head = context.queue[0];
      if (!head) return;
      const r = params.result;
      const outcome: PrintOutcome = r?.outcome ?? 'unconfirmed';
      const reason = r ? r.reason : (params.error ?? 'driver_error');
      enqueue.emit({
        type: 'printResult',
        jobId: head.jobId,
        outcome,
        confirmed: outcome === 'confirmed',
        reason,
        status: r?.status ?? context.status,
      });
      const c = context.counters;
      enqueue.assign({
        queue: context.queue.slice(1),
        inFlight: null,
        lastPrint: { jobId: head.jobId, outcome, reason },
        counters: {
          ...c,
          jobsPrinted: c.jobsPrinted + (outcome === 'confirmed' ? 1 : 0),
          jobsUnconfirmed: c.jobsUnconfirmed + (outcome === 'unconfirmed' ? 1 : 0),
          jobsRefused: c.jobsRefused + (outcome === 'refused' ? 1 : 0),
          // An unconfirmed job may well have printed and cut: count it, the cutter wore anyway.
          cuts: c.cuts + (outcome === 'refused' ? 0 : head.cuts),
          ticketsSinceRollChange: c.ticketsSinceRollChange + (outcome !== 'refused' && head.isTicket ? 1 : 0),
        },
      });
    }),
    rollChanged: assign({ counters: ({ context }) => ({ ...context.counters, ticketsSinceRollChange: 0 }) }),
  },
}).createMachine({
  id: 'printer',
  context: ({ input }) => ({
    model: input.model,
    status: null,
    condition: 'disconnected',
    paper: null,
    fault: null,
    reconnectAttempts: 0,
    queue: [],
    inFlight: null,
    counters: initialCounters(),
    lastRaw: [],
    lastPrint: null,
    lastError: null,
  }),
  invoke: { id: 'link', src: 'link', input: { connection: undefined } },
  initial: 'connecting',
  on: {
    CLOSE: { target: '.closing', actions: [{ type: 'dropConnection', params: { reportFault: false } }, 'closeLink'] },
    ROLL_CHANGED: { actions: 'rollChanged' },
  },
  states: {
    connecting: {
      on: {
        'LINK.READY': { target: 'connected', actions: 'connected' },
        'LINK.DOWN': { target: 'reconnecting', actions: ['connectFailed', 'countReconnectAttempt'] },
        PRINT: { actions: 'refuseNow' },
      },
    },
    /** The link waits its backoff and tries again; each failure comes as LINK.DOWN. */
    reconnecting: {
      on: {
        'LINK.READY': { target: 'connected', actions: 'connected' },
        'LINK.DOWN': { actions: ['connectFailed', 'countReconnectAttempt'] },
        PRINT: { actions: 'refuseNow' },
      },
    },
    connected: {
      on: {
        'LINK.DOWN': { target: 'reconnecting', actions: [{ type: 'dropConnection', params: { reportFault: true } }, 'countReconnectAttempt'] },
      },
      initial: 'checking',
      states: {
        checking: {
          invoke: {
            id: 'readStatus',
            src: 'readStatus',
            input: ({ event }) => ({ forNextPrint: event.type === 'PREPARE' }),
            onDone: { target: 'routing', actions: { type: 'applyStatus', params: ({ event }) => ({ status: event.output }) } },
            onError: { target: 'routing', actions: { type: 'applyStatus', params: () => ({ status: noReplyStatus() }) } },
          },
          on: { PRINT: { actions: 'enqueue' } },
        },
        /** Decides where to go from the latest status; a waiting job goes first. */
        routing: {
          always: [
            { guard: 'queueReady', target: 'printing' },
            { guard: { type: 'conditionIs', params: { condition: 'online' } }, target: 'online' },
            { guard: { type: 'conditionIs', params: { condition: 'paperNearEnd' } }, target: 'paperNearEnd' },
            { guard: { type: 'conditionIs', params: { condition: 'paperOut' } }, target: 'paperOut' },
            { guard: { type: 'conditionIs', params: { condition: 'coverOpen' } }, target: 'coverOpen' },
            { guard: { type: 'conditionIs', params: { condition: 'error' } }, target: 'error' },
            { target: 'offline' },
          ],
        },
        printing: {
          entry: 'startJob',
          invoke: {
            id: 'printJob',
            src: 'printJob',
            input: ({ context }) => ({ jobId: context.queue[0]!.jobId, job: context.queue[0]!.job }),
            onDone: {
              target: 'routing',
              actions: [
                { type: 'finishJob', params: ({ event }) => ({ result: event.output }) },
                { type: 'applyStatus', params: ({ event }) => ({ status: event.output.status }) },
              ],
            },
            onError: {
              target: 'checking',
              actions: {
                type: 'finishJob',
                params: ({ event }) => ({ result: null, error: event.error instanceof Error ? event.error.message : 'driver_error' }),
              },
            },
          },
          on: { PRINT: { actions: 'enqueue' } },
        },
        // Ready to print: a job goes straight to the driver, which reads the status
        // right before sending it (one status read per ticket, not two) — unless a
        // PREPARE had that read made while the ticket was being numbered.
        online: {
          after: { statusPoll: { target: 'checking' } },
          on: { PRINT: { target: 'printing', actions: 'enqueue' }, PREPARE: { target: 'checking' } },
        },
        paperNearEnd: {
          after: { statusPoll: { target: 'checking' } },
          on: { PRINT: { target: 'printing', actions: 'enqueue' }, PREPARE: { target: 'checking' } },
        },
        paperOut: {
          entry: 'refuseQueue',
          after: { statusPoll: { target: 'checking' } },
          on: { PRINT: { target: 'checking', actions: 'enqueue' } },
        },
        coverOpen: {
          entry: 'refuseQueue',
          after: { statusPoll: { target: 'checking' } },
          on: { PRINT: { target: 'checking', actions: 'enqueue' } },
        },
        offline: {
          entry: 'refuseQueue',
          after: { statusPoll: { target: 'checking' } },
          on: { PRINT: { target: 'checking', actions: 'enqueue' } },
        },
        error: {
          entry: 'refuseQueue',
          after: { statusPoll: { target: 'checking' } },
          on: { PRINT: { target: 'checking', actions: 'enqueue' } },
        },
      },
    },
    closing: {
      invoke: {
        id: 'closeConnection',
        src: 'closeConnection',
        onDone: { target: 'disconnected' },
        onError: { target: 'disconnected' },
      },
      on: { PRINT: { actions: 'refuseNow' } },
    },
    disconnected: {
      on: { PRINT: { actions: 'refuseNow' } },
    },
  },
});

export type PrinterMachine = typeof printerMachine;
export type PrinterActor = ActorRefFrom<PrinterMachine>;
export type PrinterSnapshot = SnapshotFrom<PrinterMachine>;

/** The machine bound to a printer device: every actor calls into `device`. */
export function createPrinterMachine(device: PrinterDevice): PrinterMachine {
  return printerMachine.provide({
    actors: {
      link: printerLink(createPrinterConnectionLogic(device)),
      readStatus: fromPromise<PrinterStatus, { forNextPrint: boolean }>(({ input }) => device.readStatus(input)),
      printJob: fromPromise<PrintResult, { jobId: string; job: Buffer }>(({ input }) =>
        device.print(input.job, Buffer.from(input.jobId, 'ascii')),
      ),
      closeConnection: fromPromise<void>(() => device.close()),
    },
  });
}

let nextJobNumber = 0;

/** A fresh 4-digit job id for the Epson completion request. */
export function nextPrintJobId(): string {
  nextJobNumber = (nextJobNumber + 1) % 10_000;
  return jobIdFromNumber(nextJobNumber).toString('ascii');
}

/**
 * Asks the printer actor to print `job` and resolves with its one answer. This is how a
 * ticket machine prints: from inside its own fromPromise actor.
 */
export function requestPrint(
  printer: PrinterActor,
  job: Buffer,
  opts: { jobId?: string; cuts?: number; isTicket?: boolean } = {},
): Promise<PrintResultEvent> {
  const jobId = opts.jobId ?? nextPrintJobId();
  return new Promise((resolve) => {
    const sub = printer.on('printResult', (e) => {
      if (e.jobId !== jobId) return;
      sub.unsubscribe();
      resolve(e);
    });
    printer.send({ type: 'PRINT', jobId, job, cuts: opts.cuts ?? 1, isTicket: opts.isTicket ?? true });
  });
}

/** Public state names, as /api/health shows them. */
export type PrinterPublicState =
  | 'connecting'
  | 'reconnecting'
  | 'disconnected'
  | 'online'
  | 'paper_near_end'
  | 'paper_out'
  | 'cover_open'
  | 'offline'
  | 'error';

export interface PrinterStatusView {
  state: PrinterPublicState;
  /** A ticket can be printed now. */
  ready: boolean;
  busy: boolean;
  paper: PaperState | null;
  fault: string | null;
  jobsPrinted: number;
  ticketsSinceRollChange: number;
}

const CONDITION_NAMES: Record<PrinterCondition, PrinterPublicState> = {
  online: 'online',
  paperNearEnd: 'paper_near_end',
  paperOut: 'paper_out',
  coverOpen: 'cover_open',
  offline: 'offline',
  error: 'error',
};

/** The façade /api/health uses: machine states mapped to a small public status. */
export function printerStatusView(snapshot: PrinterSnapshot): PrinterStatusView {
  const c = snapshot.context;
  let state: PrinterPublicState;
  if (snapshot.matches('connecting')) state = 'connecting';
  else if (snapshot.matches('reconnecting')) state = 'reconnecting';
  else if (snapshot.matches('closing') || snapshot.matches('disconnected')) state = 'disconnected';
  else state = c.condition === 'disconnected' ? 'connecting' : CONDITION_NAMES[c.condition];
  const ready = state === 'online' || state === 'paper_near_end';
  return {
    state,
    ready,
    busy: snapshot.matches({ connected: 'printing' }) || snapshot.matches({ connected: 'checking' }),
    paper: c.paper,
    fault: c.fault,
    jobsPrinted: c.counters.jobsPrinted,
    ticketsSinceRollChange: c.counters.ticketsSinceRollChange,
  };
}

/** The detailed view for /api/diag/status: raw bytes and every counter. */
export function printerDiagnostics(snapshot: PrinterSnapshot): PrinterStatusView & {
  model: 'epson' | 'star';
  rawStatus: string[];
  counters: PrinterCounters;
  lastPrint: LastPrint | null;
  lastError: string | null;
  queued: number;
} {
  const c = snapshot.context;
  return {
    ...printerStatusView(snapshot),
    model: c.model,
    rawStatus: c.lastRaw.map((b) => b.toString(16).padStart(2, '0')),
    counters: c.counters,
    lastPrint: c.lastPrint,
    lastError: c.lastError,
    queued: c.queue.length,
  };
}
