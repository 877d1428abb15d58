/**
 * The printer as the rest of the controller sees it: a plain status, change and event
 * listeners, and `print(job, { timeoutMs })` that always answers, in time. The façade
 * owns the model (its profile and column count: callers hand it what to print, not
 * bytes for a model) and the timeout; the printer machine and its actor stay behind it.
 *
 * `startPrinter` builds the real one (driver, machine, actor); `printerFacade` wraps an
 * actor a test built.
 */
import { createActor } from 'xstate';
import { PrinterDriver, type PrintOutcome } from '../../devices/printer/printerDriver.js';
import type { PrinterTransportFactory } from '../../devices/printer/printerTransport.js';
import { printerColumns, printerProfile, type PrinterColumns, type PrinterModelKey, type PrinterProfile } from '../../devices/printer/models/index.js';
import { encodeLines, encodeTestPage, encodeTicket, type TicketContent } from '../../devices/printer/ticketLayout.js';
import type { TicketLocale } from '../../devices/printer/ticketTexts.js';
import type { KioskConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import {
  createPrinterMachine,
  nextPrintJobId,
  printerDiagnostics,
  printerStatusView,
  type PaperState,
  type PrinterActor,
  type PrinterStatusView,
} from '../machines/printerMachine.js';

export type { PaperState, PrinterStatusView };

/** How long the printer connection may take to close on stop(). */
export const PRINTER_CLOSE_TIMEOUT_MS = 2_000;

/** What to print; the façade lays it out for its model and paper width. */
export type PrintDocument =
  | { kind: 'ticket'; content: TicketContent; isTicket?: boolean }
  | { kind: 'slip'; lines: string[]; title?: string }
  | { kind: 'testPage'; locale: TicketLocale; now: Date; timeZone: string; details?: string[] };

/** A document laid out ahead of printing (e.g. while a disk flush runs). */
export interface EncodedJob {
  readonly kind: 'encoded';
  readonly bytes: Buffer;
  /** Counts toward the paper forecast's tickets. */
  readonly isTicket: boolean;
}

export interface PrintAnswer {
  /** The printer confirmed the job (CONTRACT §4 `printed: true`). */
  confirmed: boolean;
  /** `timeout`: no answer within `timeoutMs`; the job may still print later. */
  outcome: PrintOutcome | 'timeout';
  reason: string | null;
}

/** What the printer reports by itself, for the outbox and the paper forecast. */
export type PrinterEvent =
  | { type: 'paper'; state: PaperState }
  | { type: 'fault'; code: string; detail: string }
  | { type: 'recovered'; code: string }
  /** A job the printer answered: `bytes` are what was sent, to measure the paper used. */
  | { type: 'jobAnswered'; bytes: Buffer; isTicket: boolean; outcome: PrintOutcome };

export type PrinterDiagnosticsView = ReturnType<typeof printerDiagnostics> & { profile: string; columns: PrinterColumns };

/** Timers the façade's timeouts run on (XState's SimulatedClock fits, for tests). */
export interface PrinterClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: PrinterClock = {
  // A print timeout alone must not keep the process alive.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface Printer {
  readonly profile: PrinterProfile;
  readonly columns: PrinterColumns;
  status(): PrinterStatusView;
  diagnostics(): PrinterDiagnosticsView;
  /** Called with the new status whenever it changes (`busy` alone does not count). Returns an unsubscribe. */
  onChange(listener: (status: PrinterStatusView) => void): () => void;
  onEvent(listener: (event: PrinterEvent) => void): () => void;
  /** A ticket is coming: read the status now, so its print need not read it again. */
  prepare(): void;
  /** Lays a document out for this printer (throws on a document it cannot encode). */
  encode(doc: PrintDocument): EncodedJob;
  /** Prints and resolves with the printer's answer, or `timeout` after `timeoutMs`. Never rejects. */
  print(job: PrintDocument | EncodedJob, opts: { timeoutMs: number }): Promise<PrintAnswer>;
  /** A technician changed the roll: the printer's tickets-since-roll-change count starts again. */
  rollChanged(): void;
  /** Closes the connection (waiting at most PRINTER_CLOSE_TIMEOUT_MS) and stops the machine. */
  stop(): Promise<void>;
}

export interface PrinterFacadeOptions {
  profile: PrinterProfile;
  columns?: PrinterColumns;
  clock?: PrinterClock;
}

/** The façade over a printer machine actor (started or not; it is started here). */
export function printerFacade(actor: PrinterActor, opts: PrinterFacadeOptions): Printer {
  const { profile } = opts;
  const columns = opts.columns ?? profile.columns;
  const clock = opts.clock ?? systemClock;
  const eventListeners = new Set<(event: PrinterEvent) => void>();
  const emit = (event: PrinterEvent): void => {
    for (const l of [...eventListeners]) l(event);
  };
  /** Jobs sent and not yet answered, by job id: their bytes go with `jobAnswered`. */
  const inFlight = new Map<string, EncodedJob>();
  actor.on('paper', (e) => emit({ type: 'paper', state: e.state }));
  actor.on('fault', (e) => emit({ type: 'fault', code: e.code, detail: e.detail }));
  actor.on('recovered', (e) => emit({ type: 'recovered', code: e.code }));
  actor.on('printResult', (e) => {
    const job = inFlight.get(e.jobId);
    if (!job) return;
    inFlight.delete(e.jobId);
    emit({ type: 'jobAnswered', bytes: job.bytes, isTicket: job.isTicket, outcome: e.outcome });
  });
  // One subscription for every change listener: the view is built once per snapshot.
  const changeListeners = new Set<(status: PrinterStatusView) => void>();
  let lastView = printerStatusView(actor.getSnapshot());
  actor.subscribe((snapshot) => {
    const view = printerStatusView(snapshot);
    if (sameStatus(view, lastView)) return;
    lastView = view;
    for (const l of [...changeListeners]) l(view);
  });
  // start() on a running actor does nothing.
  actor.start();

  const encode = (doc: PrintDocument): EncodedJob => {
    const layout = { type: profile.family, columns };
    switch (doc.kind) {
      case 'ticket':
        return { kind: 'encoded', bytes: encodeTicket(doc.content, layout), isTicket: doc.isTicket ?? doc.content.kind === 'ticket' };
      case 'slip':
        return { kind: 'encoded', bytes: encodeLines(doc.lines, { ...layout, ...(doc.title !== undefined ? { title: doc.title } : {}) }), isTicket: false };
      case 'testPage':
        return { kind: 'encoded', bytes: encodeTestPage({ ...layout, locale: doc.locale, now: doc.now, timeZone: doc.timeZone, ...(doc.details ? { details: doc.details } : {}) }), isTicket: false };
    }
  };

  let stopping: Promise<void> | null = null;
  return {
    profile,
    columns,
    status: () => printerStatusView(actor.getSnapshot()),
    diagnostics: () => ({ ...printerDiagnostics(actor.getSnapshot()), profile: profile.key, columns }),
    onChange(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    prepare: () => actor.send({ type: 'PREPARE' }),
    encode,
    print(job, { timeoutMs }) {
      let encoded: EncodedJob;
      try {
        encoded = job.kind === 'encoded' ? job : encode(job);
      } catch (e) {
        return Promise.resolve({ confirmed: false, outcome: 'refused', reason: `not encodable: ${(e as Error).message}` });
      }
      const jobId = nextPrintJobId();
      inFlight.set(jobId, encoded);
      return new Promise<PrintAnswer>((resolve) => {
        const finish = (answer: PrintAnswer): void => {
          clock.clearTimeout(timer);
          sub.unsubscribe();
          resolve(answer);
        };
        const sub = actor.on('printResult', (e) => {
          if (e.jobId === jobId) finish({ confirmed: e.confirmed, outcome: e.outcome, reason: e.reason });
        });
        const timer = clock.setTimeout(() => finish({ confirmed: false, outcome: 'timeout', reason: 'print_timeout' }), timeoutMs);
        actor.send({ type: 'PRINT', jobId, job: encoded.bytes, cuts: 1, isTicket: encoded.isTicket });
      });
    },
    rollChanged: () => actor.send({ type: 'ROLL_CHANGED' }),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        const timer = clock.setTimeout(done, PRINTER_CLOSE_TIMEOUT_MS);
        const sub = actor.subscribe((s) => {
          if (s.matches('disconnected')) done();
        });
        function done(): void {
          clock.clearTimeout(timer);
          sub.unsubscribe();
          actor.stop();
          resolve();
        }
        actor.send({ type: 'CLOSE' });
      });
      return stopping;
    },
  };
}

/** Equal but for `busy`: each poll makes the printer busy for a moment, and that alone is no change. */
function sameStatus(a: PrinterStatusView, b: PrinterStatusView): boolean {
  return (
    a.state === b.state &&
    a.ready === b.ready &&
    a.paper === b.paper &&
    a.fault === b.fault &&
    a.jobsPrinted === b.jobsPrinted &&
    a.ticketsSinceRollChange === b.ticketsSinceRollChange
  );
}

/** The config slice a printer needs. */
export type PrinterConfig = NonNullable<KioskConfig['printer']>;

export interface StartPrinterDeps {
  openTransport: PrinterTransportFactory;
  log: Logger;
  clock?: PrinterClock;
}

/** Builds and starts the real printer: driver on the transport, machine, façade. */
export function startPrinter(config: Pick<PrinterConfig, 'type' | 'model' | 'columns'>, deps: StartPrinterDeps): Printer {
  const model: PrinterModelKey | undefined = config.model;
  const profile = printerProfile(config.type, model);
  const driver = new PrinterDriver({ type: profile.family, profile, openTransport: deps.openTransport, log: deps.log });
  const actor = createActor(createPrinterMachine(driver), { input: { model: profile.family } });
  actor.subscribe({ error: (err) => deps.log.fatal({ err: (err as Error).message }, 'printer machine stopped on an error') });
  return printerFacade(actor, { profile, columns: printerColumns({ columns: config.columns, model }), ...(deps.clock ? { clock: deps.clock } : {}) });
}
