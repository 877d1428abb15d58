/**
 * The serial barcode/QR scanner as an XState v5 machine. Its port is a reconnecting link
 * (devices/link/) whose connection is the scanner port actor; this machine mirrors the
 * link's states (connecting → ready ⇄ reconnecting, disconnected after our own STOP) and
 * turns the framed lines into scans. The scanner is optional and only ever talks: a
 * scanner that sends garbage, or vanishes, changes nothing but its own counters.
 *
 * What a valid code is belongs to the caller (`validate`, e.g. the appointment code
 * shape); codes never reach a log in full (the caller's `mask`).
 *
 * Emitted: `scan {scan}` for every code offered, `fault` / `recovered` once per outage.
 */
import { assign, enqueueActions, sendTo, setup, type ActorRefFrom, type CallbackActorLogic, type EventObject, type SnapshotFrom } from 'xstate';
import type { BackoffPolicy } from '../../devices/link/backoff.js';
import { createLinkMachine, linkStateOf, type LinkReportEvent, type LinkState } from '../../devices/link/linkMachine.js';
import type { ScannerPortEvent, ScannerPortInput } from '../../devices/scanner/scannerPortActor.js';
import type { ScanRejectReason } from '../../devices/scanner/protocol.js';
import { RateLimitedLog, type Logger } from '../log.js';

/** Reopening a vanished scanner port: 250 ms after the first failure, doubling up to 10 s. */
export const SCANNER_LINK_POLICY: BackoffPolicy = { initialMs: 250, maxMs: 10_000, jitter: 0.2 };
/** The same code scanned again within this is the same card held under the beam: offered once. */
export const SCAN_REPEAT_SUPPRESS_MS = 2_000;
/** Rejected lines are logged at most once per this, with a count (a noisy wire cannot flood the log). */
export const SCAN_REJECT_LOG_INTERVAL_MS = 10_000;

/** Fault codes for `device.fault {device: 'scanner'}`. */
export const SCANNER_FAULT_CODES = { disconnected: 'scanner.disconnected' } as const;

export interface Scan {
  /** The scanned text, spaces at both ends removed (printable ASCII only). */
  code: string;
  /** Whether it has the shape the caller expects (`validate`). */
  valid: boolean;
  /** ISO time it was read. */
  at: string;
}

export interface ScannerCounters {
  scans: number;
  valid: number;
  invalid: number;
  repeatsSuppressed: number;
  rejected: Record<ScanRejectReason, number>;
  opens: number;
  portLost: number;
}

export interface ScannerContext {
  path: string;
  baudRate: number;
  lastScan: { code: string; at: number } | null;
  lastError: string | null;
  /** A fault was reported for the current outage (reported once, recovered once). */
  faultReported: boolean;
  counters: ScannerCounters;
}

export type ScannerEvent = ScannerPortEvent | LinkReportEvent | { type: 'STOP' };

export type ScannerFaultEvent = { kind: 'fault'; code: string; detail: string } | { kind: 'recovered'; code: string };

export type ScannerEmitted = { type: 'scan'; scan: Scan } | ({ type: 'fault' } & ScannerFaultEvent);

export interface ScannerInput {
  path: string;
  baudRate: number;
}

export interface ScannerMachineDeps {
  /** The port actor (createScannerPortLogic), or a fake in tests. */
  port: CallbackActorLogic<EventObject, ScannerPortInput>;
  validate: (code: string) => boolean;
  mask: (code: string) => string;
  log: Logger;
  policy?: BackoffPolicy;
  /** For the rate-limited log of rejected lines; the simulated clock's in tests. */
  now?: () => number;
}

export function createScannerMachine(deps: ScannerMachineDeps) {
  const { log } = deps;
  const rejectedLog = new RateLimitedLog(log, SCAN_REJECT_LOG_INTERVAL_MS, deps.now ?? Date.now);
  const link = createLinkMachine<ScannerPortInput>({
    name: 'scanner port',
    policy: deps.policy ?? SCANNER_LINK_POLICY,
    connection: deps.port,
    log,
    logFields: (i) => ({ path: i.path }),
  });

  return setup({
    types: {
      context: {} as ScannerContext,
      events: {} as ScannerEvent,
      input: {} as ScannerInput,
      emitted: {} as ScannerEmitted,
    },
    actors: { link },
    actions: {
      /** One framed line: offered as a scan unless empty or the same card again. */
      takeLine: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'SCANNER.LINE') return;
        const code = event.line.trim();
        if (code.length === 0) return;
        const t = event.at;
        const c = context.counters;
        if (context.lastScan && context.lastScan.code === code && t - context.lastScan.at < SCAN_REPEAT_SUPPRESS_MS) {
          enqueue.assign({ lastScan: { code, at: t }, counters: { ...c, repeatsSuppressed: c.repeatsSuppressed + 1 } });
          return;
        }
        const valid = deps.validate(code);
        enqueue.assign({
          lastScan: { code, at: t },
          counters: { ...c, scans: c.scans + 1, valid: c.valid + (valid ? 1 : 0), invalid: c.invalid + (valid ? 0 : 1) },
        });
        enqueue(() => log.info({ code: deps.mask(code), valid }, 'code scanned'));
        enqueue.emit({ type: 'scan', scan: { code, valid, at: new Date(t).toISOString() } });
      }),
      countRejected: assign(({ context, event }) => {
        if (event.type !== 'SCANNER.REJECTED') return {};
        return { counters: { ...context.counters, rejected: { ...context.counters.rejected, [event.reason]: context.counters.rejected[event.reason] + 1 } } };
      }),
      logRejected: ({ context, event }) => {
        if (event.type !== 'SCANNER.REJECTED') return;
        rejectedLog.warn({ reason: event.reason, bytes: event.bytes, rejected: { ...context.counters.rejected } }, 'scanner line rejected');
      },
      portReady: enqueueActions(({ context, enqueue }) => {
        if (context.faultReported) enqueue.emit({ type: 'fault', kind: 'recovered', code: SCANNER_FAULT_CODES.disconnected });
        enqueue.assign({ faultReported: false, lastError: null, counters: { ...context.counters, opens: context.counters.opens + 1 } });
      }),
      portDown: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'LINK.DOWN') return;
        if (!context.faultReported) enqueue.emit({ type: 'fault', kind: 'fault', code: SCANNER_FAULT_CODES.disconnected, detail: event.message });
        enqueue.assign({
          faultReported: true,
          lastError: event.message,
          counters: { ...context.counters, portLost: context.counters.portLost + (event.lost ? 1 : 0) },
        });
      }),
      closeLink: sendTo('link', { type: 'LINK.CLOSE' }),
    },
  }).createMachine({
    id: 'scanner',
    context: ({ input }) => ({
      path: input.path,
      baudRate: input.baudRate,
      lastScan: null,
      lastError: null,
      faultReported: false,
      counters: { scans: 0, valid: 0, invalid: 0, repeatsSuppressed: 0, rejected: { too_long: 0, not_printable: 0, stale: 0 }, opens: 0, portLost: 0 },
    }),
    invoke: { id: 'link', src: 'link', input: ({ context }) => ({ connection: { path: context.path, baudRate: context.baudRate } }) },
    initial: 'connecting',
    on: {
      'SCANNER.LINE': { actions: 'takeLine' },
      'SCANNER.REJECTED': { actions: ['countRejected', 'logRejected'] },
      STOP: { target: '.disconnected', actions: 'closeLink' },
    },
    states: {
      connecting: {
        on: { 'LINK.READY': { target: 'ready', actions: 'portReady' }, 'LINK.DOWN': { target: 'reconnecting', actions: 'portDown' } },
      },
      ready: {
        on: { 'LINK.DOWN': { target: 'reconnecting', actions: 'portDown' } },
      },
      reconnecting: {
        on: { 'LINK.READY': { target: 'ready', actions: 'portReady' }, 'LINK.DOWN': { actions: 'portDown' } },
      },
      /** Our own close: nothing more is read, no fault is reported. */
      disconnected: {},
    },
  });
}

export type ScannerMachine = ReturnType<typeof createScannerMachine>;
export type ScannerActor = ActorRefFrom<ScannerMachine>;
export type ScannerSnapshot = SnapshotFrom<ScannerMachine>;

export interface ScannerStatus {
  state: LinkState;
  port: string;
  lastScanAt: string | null;
  lastError: string | null;
  counters: ScannerCounters;
}

/** The plain status the façade shows (diagnostics, /api/scanner). */
export function scannerStatusView(snapshot: ScannerSnapshot): ScannerStatus {
  const c = snapshot.context;
  // The link's own state: it also shows the attempts between two reports (connecting).
  const state = snapshot.value === 'disconnected' ? 'disconnected' : linkStateOf(snapshot.children.link?.getSnapshot());
  return {
    state,
    port: c.path,
    lastScanAt: c.lastScan ? new Date(c.lastScan.at).toISOString() : null,
    lastError: c.lastError,
    counters: { ...c.counters, rejected: { ...c.counters.rejected } },
  };
}
