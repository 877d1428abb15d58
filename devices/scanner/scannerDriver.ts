/**
 * The serial barcode/QR scanner: keeps its port open (reopening with backoff when it is
 * unplugged), frames what it sends (protocol.ts) and offers every scanned code to
 * listeners as `{code, valid, at}`. The scanner is optional and only ever talks: a
 * scanner that sends garbage, or vanishes, changes nothing but its own counters.
 *
 * States: `opening` → `ready` ⇄ `waiting` (port gone, reopen after a backoff) → `stopped`.
 * Our own close (stop) is never taken for an unplug.
 *
 * What a valid code is belongs to the caller (`validate`, e.g. the appointment code
 * shape); codes never reach a log in full (the caller's `mask`).
 */
import { RateLimitedLog, type Logger } from '../../kernel/log.js';
import type { SerialTransport, SerialTransportFactory } from '../serial/transport.js';
import { ScanLineFramer, type ScanLineEnding, type ScanRejectReason } from './protocol.js';

/** First wait before reopening a vanished scanner port; doubles per failure up to the max. */
export const SCANNER_REOPEN_INITIAL_MS = 250;
export const SCANNER_REOPEN_MAX_MS = 10_000;
/** The same code scanned again within this is the same card held under the beam: offered once. */
export const SCAN_REPEAT_SUPPRESS_MS = 2_000;
/** Rejected lines are logged at most once per this, with a count (a noisy wire cannot flood the log). */
export const SCAN_REJECT_LOG_INTERVAL_MS = 10_000;

export interface Scan {
  /** The scanned text, spaces at both ends removed (printable ASCII only). */
  code: string;
  /** Whether it has the shape the caller expects (`validate`). */
  valid: boolean;
  /** ISO time it was read. */
  at: string;
}

export type ScannerState = 'opening' | 'ready' | 'waiting' | 'stopped';

export interface ScannerCounters {
  scans: number;
  valid: number;
  invalid: number;
  repeatsSuppressed: number;
  rejected: Record<ScanRejectReason, number>;
  opens: number;
  portLost: number;
}

export interface ScannerStatus {
  state: ScannerState;
  port: string;
  lastScanAt: string | null;
  lastError: string | null;
  counters: ScannerCounters;
}

export interface ScannerDriverOptions {
  path: string;
  baudRate: number;
  lineEnding?: ScanLineEnding;
  openSerial: SerialTransportFactory;
  /** Decides `valid` for each code. */
  validate: (code: string) => boolean;
  /** How a code is shown in log lines (e.g. masked): never in full. */
  mask: (code: string) => string;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
  now?: () => number;
}

/** Fault codes for `device.fault {device: 'scanner'}`. */
export const SCANNER_FAULT_CODES = { disconnected: 'scanner.disconnected' } as const;

export type ScannerFaultListener = (e: { kind: 'fault'; code: string; detail: string } | { kind: 'recovered'; code: string }) => void;

export class ScannerDriver {
  private state: ScannerState = 'opening';
  private port: SerialTransport | null = null;
  private framer: ScanLineFramer;
  private failures = 0;
  private reopenTimer: NodeJS.Timeout | null = null;
  private faultReported = false;
  private lastScan: { code: string; at: number } | null = null;
  private lastError: string | null = null;
  private readonly scanListeners = new Set<(scan: Scan) => void>();
  private readonly faultListeners = new Set<ScannerFaultListener>();
  private readonly now: () => number;
  private readonly rejectedLog: RateLimitedLog;
  private readonly counters: ScannerCounters = {
    scans: 0,
    valid: 0,
    invalid: 0,
    repeatsSuppressed: 0,
    rejected: { too_long: 0, not_printable: 0, stale: 0 },
    opens: 0,
    portLost: 0,
  };

  constructor(private readonly opts: ScannerDriverOptions) {
    this.framer = new ScanLineFramer(opts.lineEnding ?? '\r');
    this.now = opts.now ?? Date.now;
    this.rejectedLog = new RateLimitedLog(opts.log, SCAN_REJECT_LOG_INTERVAL_MS, this.now);
  }

  start(): this {
    this.open();
    return this;
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    const p = this.port;
    this.port = null;
    await p?.close().catch(() => undefined);
  }

  /** Every code scanned from now on; returns the unsubscribe function. */
  onScan(listener: (scan: Scan) => void): () => void {
    this.scanListeners.add(listener);
    return () => this.scanListeners.delete(listener);
  }

  /** The port lost for the first time in a row (fault) and opened again (recovered). */
  onFault(listener: ScannerFaultListener): () => void {
    this.faultListeners.add(listener);
    return () => this.faultListeners.delete(listener);
  }

  status(): ScannerStatus {
    return {
      state: this.state,
      port: this.opts.path,
      lastScanAt: this.lastScan ? new Date(this.lastScan.at).toISOString() : null,
      lastError: this.lastError,
      counters: { ...this.counters, rejected: { ...this.counters.rejected } },
    };
  }

  private open(): void {
    if (this.state === 'stopped') return;
    this.state = 'opening';
    this.opts.openSerial({ path: this.opts.path, baudRate: this.opts.baudRate }).then(
      (port) => {
        if (this.state === 'stopped') {
          void port.close().catch(() => undefined);
          return;
        }
        this.port = port;
        this.state = 'ready';
        this.failures = 0;
        this.lastError = null;
        this.counters.opens++;
        this.framer.reset();
        this.opts.log.info({ path: this.opts.path }, 'scanner port open');
        if (this.faultReported) {
          this.faultReported = false;
          this.emitFault({ kind: 'recovered', code: SCANNER_FAULT_CODES.disconnected });
        }
        port.onData((chunk) => this.onChunk(chunk));
        port.onClose((info) => {
          if (this.port !== port) return;
          this.port = null;
          if (info.byUs || this.state === 'stopped') return;
          this.counters.portLost++;
          this.fail(info.error?.message ?? 'scanner port closed');
        });
      },
      (err: unknown) => this.fail(err instanceof Error ? err.message : String(err)),
    );
  }

  private fail(message: string): void {
    if (this.state === 'stopped') return;
    this.state = 'waiting';
    this.lastError = message;
    if (!this.faultReported) {
      this.faultReported = true;
      this.opts.log.warn({ path: this.opts.path, message }, 'scanner port unavailable; reopening with backoff');
      this.emitFault({ kind: 'fault', code: SCANNER_FAULT_CODES.disconnected, detail: message });
    }
    const initial = this.opts.backoff?.initialMs ?? SCANNER_REOPEN_INITIAL_MS;
    const max = this.opts.backoff?.maxMs ?? SCANNER_REOPEN_MAX_MS;
    const delay = Math.min(max, initial * 2 ** Math.min(this.failures, 16));
    this.failures++;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      this.open();
    }, delay);
  }

  private onChunk(chunk: Buffer): void {
    const t = this.now();
    for (const item of this.framer.push(chunk, t)) {
      if (!item.ok) {
        this.counters.rejected[item.reason]++;
        this.rejectedLog.warn({ reason: item.reason, bytes: item.bytes, rejected: { ...this.counters.rejected } }, 'scanner line rejected');
        continue;
      }
      const code = item.line.trim();
      if (code.length === 0) continue;
      if (this.lastScan && this.lastScan.code === code && t - this.lastScan.at < SCAN_REPEAT_SUPPRESS_MS) {
        this.counters.repeatsSuppressed++;
        this.lastScan = { code, at: t };
        continue;
      }
      this.lastScan = { code, at: t };
      const valid = this.opts.validate(code);
      this.counters.scans++;
      if (valid) this.counters.valid++;
      else this.counters.invalid++;
      this.opts.log.info({ code: this.opts.mask(code), valid }, 'code scanned');
      const scan: Scan = { code, valid, at: new Date(t).toISOString() };
      for (const l of [...this.scanListeners]) {
        try {
          l(scan);
        } catch (err) {
          this.opts.log.warn({ err: (err as Error).message }, 'scan listener threw');
        }
      }
    }
  }

  private emitFault(e: Parameters<ScannerFaultListener>[0]): void {
    for (const l of [...this.faultListeners]) {
      try {
        l(e);
      } catch {
        // A listener's failure must not stop the scanner.
      }
    }
  }
}
