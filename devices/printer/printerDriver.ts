/**
 * The printer driver: status reads and confirmed printing over a PrinterTransport it is
 * handed. One request at a time on the wire (a status reply is one anonymous byte: two
 * requests in flight could not be told apart, and a printer, or a simulator, that takes
 * one request per read never sees two at once). Nothing that arrives on the wire makes it
 * throw: garbage becomes an invalid status, counted.
 */
import type { Logger } from '../../kernel/log.js';
import type { PrinterTransport, PrinterTransportFactory, PrinterCloseInfo } from './printerTransport.js';
import { canPrint, classifyStatus, encodeCompletionRequest, isValidJobId, noReplyStatus, scanIncoming, type PrinterStatus } from './statusProtocol.js';
import { printerProfile, type PrinterFamily, type PrinterProfile } from './models/index.js';
import { STAR_PRINT_SETTLE_BASE_MS } from './models/starTsp100.js';

export { STAR_PRINT_SETTLE_BASE_MS };

/** No reply to a status request within this is an offline printer (CONTRACT §4). */
export const STATUS_REPLY_TIMEOUT_MS = 1000;
/** Waiting for the Epson completion reply: a ticket prints and cuts in about 2 s. */
export const PRINT_CONFIRM_BASE_MS = 8000;
/** Added per KiB of job: a 9600-baud serial line moves about 1 KiB a second. */
export const PRINT_CONFIRM_MS_PER_KIB = 1100;
/**
 * A status read made for the next print (`readStatus({forNextPrint: true})`, while the
 * ticket is being numbered) stands as that print's pre-print read if at most this old.
 */
export const PREPARED_STATUS_MAX_AGE_MS = 500;

export type PrintOutcome = 'confirmed' | 'unconfirmed' | 'refused';
export type PrintRefusal = 'not_connected' | 'offline' | 'error' | 'coverOpen' | 'paperOut';
export type PrintUncertainty = 'write_failed' | 'connection_lost' | 'no_completion_reply' | 'fault_after_job';

export interface PrintResult {
  outcome: PrintOutcome;
  /** True only when the printer confirmed the job (CONTRACT §4 `printed: true`). */
  confirmed: boolean;
  reason: PrintRefusal | PrintUncertainty | null;
  /** The latest status read during the job. */
  status: PrinterStatus;
}

export interface PrinterCounters {
  statusReads: number;
  statusTimeouts: number;
  invalidStatusReplies: number;
  jobsSent: number;
  jobsConfirmed: number;
  jobsUnconfirmed: number;
  jobsRefused: number;
}

/** What the printer machine needs from a printer; PrinterDriver is the real one. */
export interface PrinterDevice {
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Called once per lost connection that we did not close ourselves. Returns an unsubscribe. */
  onDisconnect(listener: (info: PrinterCloseInfo) => void): () => void;
  /**
   * Reads the status. `forNextPrint`: the read is made for a ticket about to be printed;
   * the next `print` takes it as its pre-print read if it comes soon enough.
   */
  readStatus(opts?: { forNextPrint?: boolean }): Promise<PrinterStatus>;
  print(job: Buffer, jobId: Buffer): Promise<PrintResult>;
}

export function printConfirmTimeoutMs(jobBytes: number): number {
  return PRINT_CONFIRM_BASE_MS + Math.ceil((jobBytes / 1024) * PRINT_CONFIRM_MS_PER_KIB);
}

/** How long after a job a model without a completion reply is asked for its status. */
export function starSettleMs(jobBytes: number, baseMs = STAR_PRINT_SETTLE_BASE_MS): number {
  return baseMs + Math.ceil((jobBytes / 1024) * PRINT_CONFIRM_MS_PER_KIB);
}

export interface PrinterDriverOptions {
  /** The family; its default model's profile is used unless `profile` is given. */
  type: PrinterFamily;
  /** The model's profile (devices/printer/models/): status requests and confirmation. */
  profile?: PrinterProfile;
  openTransport: PrinterTransportFactory;
  log?: Logger;
  /** Monotonic milliseconds (tests); default performance.now. */
  now?: () => number;
}

type Waiter = { check: () => boolean; resolve: (ok: boolean) => void };

export class PrinterDriver implements PrinterDevice {
  readonly counters: PrinterCounters = {
    statusReads: 0,
    statusTimeouts: 0,
    invalidStatusReplies: 0,
    jobsSent: 0,
    jobsConfirmed: 0,
    jobsUnconfirmed: 0,
    jobsRefused: 0,
  };
  private transport: PrinterTransport | null = null;
  private connecting: Promise<void> | null = null;
  private lock: Promise<unknown> = Promise.resolve();
  /** Bytes that may be the start of a completion reply. */
  private pending: Buffer = Buffer.alloc(0);
  /** Every received byte that is not part of a completion reply, oldest first. */
  private others: number[] = [];
  private completions: Buffer[] = [];
  private waiters: Waiter[] = [];
  private readonly disconnectListeners = new Set<(info: PrinterCloseInfo) => void>();
  /**
   * The status read for the next print and when it ended (see PREPARED_STATUS_MAX_AGE_MS);
   * a poll after it replaces it with the newer reading. Taken by the next print.
   */
  private preparedRead: { status: PrinterStatus; at: number } | null = null;
  private readonly now: () => number;
  readonly profile: PrinterProfile;

  constructor(private readonly opts: PrinterDriverOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.profile = opts.profile ?? printerProfile(opts.type);
  }

  get connected(): boolean {
    return this.transport !== null;
  }

  connect(): Promise<void> {
    if (this.transport) return Promise.resolve();
    this.connecting ??= this.opts
      .openTransport()
      .then((t) => this.attach(t))
      .finally(() => {
        this.connecting = null;
      });
    return this.connecting;
  }

  async close(): Promise<void> {
    const t = this.transport;
    if (!t) return;
    await t.close();
  }

  onDisconnect(listener: (info: PrinterCloseInfo) => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  readStatus(opts: { forNextPrint?: boolean } = {}): Promise<PrinterStatus> {
    return this.exclusive(async () => {
      const status = await this.readStatusNow();
      if (opts.forNextPrint || this.preparedRead) this.preparedRead = { status, at: this.now() };
      return status;
    });
  }

  print(job: Buffer, jobId: Buffer): Promise<PrintResult> {
    return this.exclusive(() => this.printNow(job, jobId));
  }

  // ---------------------------------------------------------------- internals

  private attach(t: PrinterTransport): void {
    this.transport = t;
    this.preparedRead = null;
    this.pending = Buffer.alloc(0);
    this.others = [];
    this.completions = [];
    t.onData((chunk) => this.receive(chunk));
    t.onClose((info) => {
      if (this.transport !== t) return;
      this.transport = null;
      this.settleWaiters();
      if (!info.byUs) {
        this.opts.log?.warn({ device: 'printer', error: info.error?.message }, 'printer connection lost');
      }
      for (const l of [...this.disconnectListeners]) l(info);
    });
  }

  private receive(chunk: Buffer): void {
    const scan = scanIncoming(Buffer.concat([this.pending, chunk]));
    this.pending = scan.pending;
    this.others.push(...scan.others);
    this.completions.push(...scan.completions);
    this.settleWaiters();
  }

  private settleWaiters(): void {
    for (const w of [...this.waiters]) {
      if (!this.transport) w.resolve(false);
      else if (w.check()) w.resolve(true);
    }
  }

  /** Resolves true once `check()` holds, false on timeout or lost connection. */
  private waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (!this.transport) return Promise.resolve(false);
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        check,
        resolve: (ok) => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async send(bytes: Buffer): Promise<boolean> {
    const t = this.transport;
    if (!t) return false;
    try {
      await t.write(bytes);
      return true;
    } catch (e) {
      this.opts.log?.warn({ device: 'printer', error: (e as Error).message }, 'write to printer failed');
      return false;
    }
  }

  private async readStatusNow(): Promise<PrinterStatus> {
    this.counters.statusReads++;
    const status = await this.readProfileStatus();
    if (!status.answered) this.counters.statusTimeouts++;
    else if (!status.valid) this.counters.invalidStatusReplies++;
    return status;
  }

  /** The profile's requests one at a time, each answer awaited whole before the next. */
  private async readProfileStatus(): Promise<PrinterStatus> {
    const replies: Buffer[] = [];
    const soFar = (more: number[] = []): number[] => [...replies.flatMap((r) => [...r]), ...more];
    for (const request of this.profile.statusRequests) {
      // Anything that came unasked (a late reply, noise) would be taken for this reply.
      this.others = [];
      if (!(await this.send(request.bytes))) return noReplyStatus(soFar());
      const first = await this.waitFor(() => this.others.length > 0, STATUS_REPLY_TIMEOUT_MS);
      if (!first) return noReplyStatus(soFar());
      const len = request.replyLength(this.others[0]!);
      if (len === null) {
        // Not the start of an answer: decoded as it is, it comes out invalid.
        replies.push(Buffer.from(this.others.splice(0)));
        return this.profile.decodeStatus(replies);
      }
      const whole = await this.waitFor(() => this.others.length >= len, STATUS_REPLY_TIMEOUT_MS);
      const bytes = this.others.splice(0, len);
      if (!whole) return noReplyStatus(soFar(bytes));
      replies.push(Buffer.from(bytes));
    }
    return this.profile.decodeStatus(replies);
  }

  private async printNow(job: Buffer, jobId: Buffer): Promise<PrintResult> {
    if (!this.transport) return this.refused('not_connected', noReplyStatus());
    const before = this.takeStatusReadForThisPrint() ?? (await this.readStatusNow());
    if (!canPrint(before)) {
      const c = classifyStatus(before);
      return this.refused(c === 'online' || c === 'paperNearEnd' ? 'error' : c, before);
    }
    const confirmation = this.profile.confirmation;
    if (confirmation.kind === 'completionRequest') return this.printWithCompletionRequest(job, jobId, before);
    return this.printThenReadStatus(job, before, confirmation.settleBaseMs);
  }

  /** The status read for this print while the ticket was numbered, if fresh enough; the read is used once. */
  private takeStatusReadForThisPrint(): PrinterStatus | null {
    const read = this.preparedRead;
    this.preparedRead = null;
    return read && this.now() - read.at <= PREPARED_STATUS_MAX_AGE_MS ? read.status : null;
  }

  private async printWithCompletionRequest(job: Buffer, jobId: Buffer, before: PrinterStatus): Promise<PrintResult> {
    if (!isValidJobId(jobId)) throw new RangeError('job id must be 4 bytes 0x30..0x39');
    this.completions = [];
    this.counters.jobsSent++;
    if (!(await this.send(Buffer.concat([job, encodeCompletionRequest(jobId)])))) {
      return this.unconfirmed(this.transport ? 'write_failed' : 'connection_lost', before);
    }
    const matched = () => this.completions.some((c) => c.equals(jobId));
    const confirmed = await this.waitFor(matched, printConfirmTimeoutMs(job.length));
    if (!this.transport) return this.unconfirmed('connection_lost', before);
    // Unconfirmed: a status read says why. Confirmed, the reply is the answer (CONTRACT §4);
    // the next idle poll, or the next ticket's own read, sees any change since.
    if (!confirmed) return this.unconfirmed('no_completion_reply', await this.readStatusNow());
    this.completions = this.completions.filter((c) => !c.equals(jobId));
    this.counters.jobsConfirmed++;
    return { outcome: 'confirmed', confirmed: true, reason: null, status: before };
  }

  private async printThenReadStatus(job: Buffer, before: PrinterStatus, settleBaseMs: number): Promise<PrintResult> {
    this.counters.jobsSent++;
    if (!(await this.send(job))) return this.unconfirmed(this.transport ? 'write_failed' : 'connection_lost', before);
    // Only a dropped connection ends this wait early: nothing else can confirm such a job.
    await this.waitFor(() => false, starSettleMs(job.length, settleBaseMs));
    if (!this.transport) return this.unconfirmed('connection_lost', before);
    const after = await this.readStatusNow();
    if (!canPrint(after)) return this.unconfirmed('fault_after_job', after);
    this.counters.jobsConfirmed++;
    return { outcome: 'confirmed', confirmed: true, reason: null, status: after };
  }

  private refused(reason: PrintRefusal, status: PrinterStatus): PrintResult {
    this.counters.jobsRefused++;
    return { outcome: 'refused', confirmed: false, reason, status };
  }

  private unconfirmed(reason: PrintUncertainty, status: PrinterStatus): PrintResult {
    this.counters.jobsUnconfirmed++;
    return { outcome: 'unconfirmed', confirmed: false, reason, status };
  }
}
