/**
 * A network thermal printer on TCP that behaves like an Epson TM-T20III (CONTRACT §4):
 * real-time status (DLE EOT) answered on receipt whatever the paper and cover do, print
 * data held in a buffer while it cannot print, the print-completion reply (GS ( H fn 48)
 * and the paper sensor reply (GS r) sent only when the print engine reaches them.
 *
 * Choices where the real printer leaves room:
 *  - `offline: true` is "powered off": nothing is answered, received bytes are lost and
 *    held print data with them. Open TCP connections stay open but silent.
 *  - Paper end mid-job: what was printed comes out as a job with `complete: false`; the
 *    held rest prints after `refill()` as a new job with `continued: true`, and a GS ( H
 *    behind it is answered then. DLE DC4 fn 8 (buffer clear) discards the held rest
 *    instead: its GS ( H is never answered, and the printer replies `37 25 00`.
 *  - A reply to a request that waited goes to the connection that sent it, or, if that
 *    one has closed, to the connection being served; with none, it is lost.
 *  - One client at a time, like the real one: a second connection is accepted but not read
 *    until the first closes (`acceptConcurrentClients` lifts that for convenience).
 *  - Printing takes no time: everything printable is printed as soon as it arrives.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { EscPosInterpreter, EscPosTokenizer, type EscPosDocument, type EscPosToken } from './escposDecoder.js';
import { renderTicketPng, renderTicketText } from './renderTicket.js';

export type PaperState = 'ok' | 'near_end' | 'out';

export interface SimulatedPrinterStatus {
  paper: PaperState;
  coverOpen: boolean;
  /** Powered off or unplugged: answers nothing at all. */
  offline: boolean;
  /** An autocutter jam or similar: printing stops, DLE EOT 2 bit 6 and DLE EOT 3 bit 3. */
  error: boolean;
}

export interface PrintedJob {
  /** 1-based, in the order the paper came out. */
  index: number;
  /** The print data bytes executed for this job (real-time commands excluded). */
  raw: Buffer;
  document: EscPosDocument;
  text: string;
  finishedAt: Date;
  /** Its cut was printed. False when paper ran out, power went off or the sim closed first. */
  complete: boolean;
  /** The rest of a job interrupted by paper end. */
  continued: boolean;
}

export interface SimulatedPrinterOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Every finished job is written there as job-0001.txt and job-0001.png. */
  outDir?: string;
  acceptConcurrentClients?: boolean;
  now?: () => Date;
}

/** Fixed bits of every DLE EOT answer (bits 1 and 4). */
export const STATUS_FIXED_BITS = 0x12;
export const STATUS_OFFLINE = 0x08; // n=1
export const STATUS_COVER_OPEN = 0x04; // n=2
export const STATUS_STOPPED_BY_PAPER_END = 0x20; // n=2
export const STATUS_ERROR = 0x40; // n=2
export const STATUS_AUTOCUTTER_ERROR = 0x08; // n=3
export const STATUS_PAPER_NEAR_END = 0x0c; // n=4
export const STATUS_PAPER_END = 0x60; // n=4
/** GS r 1: bits 0-1 near end, bits 2-3 end. */
export const PAPER_SENSOR_NEAR_END = 0x03;
export const PAPER_SENSOR_END = 0x0c;
export const PRINT_COMPLETION_HEADER = Buffer.from([0x37, 0x22]);
export const BUFFER_CLEAR_REPLY = Buffer.from([0x37, 0x25, 0x00]);

export const DEFAULT_JOB_WAIT_MS = 5_000;

interface HeldToken {
  token: EscPosToken;
  from: Socket;
}

export class SimulatedPrinter extends EventEmitter<{ job: [PrintedJob]; outputError: [unknown] }> {
  readonly jobs: PrintedJob[] = [];
  port = 0;

  private readonly server: Server;
  private readonly host: string;
  private readonly outDir: string | undefined;
  private readonly acceptConcurrent: boolean;
  private readonly now: () => Date;
  private status: SimulatedPrinterStatus = { paper: 'ok', coverOpen: false, offline: false, error: false };

  private readonly sockets = new Set<Socket>();
  private readonly waiting: Socket[] = [];
  private active: Socket | null = null;

  private readonly tokenizer = new EscPosTokenizer();
  private readonly interpreter = new EscPosInterpreter();
  private held: HeldToken[] = [];
  private engineRunning = false;
  private paperBudget: number | null = null;
  private jobRaw: Buffer[] = [];
  private jobContinued = false;

  private readonly receivedChunks: Buffer[] = [];
  private readonly sentChunks: Buffer[] = [];
  /** Bytes that arrived while powered off and were lost. */
  droppedBytes = 0;

  constructor(options: SimulatedPrinterOptions = {}) {
    super();
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.outDir = options.outDir;
    this.acceptConcurrent = options.acceptConcurrentClients ?? false;
    this.now = options.now ?? (() => new Date());
    this.server = createServer((socket) => this.onConnection(socket));
  }

  /** Everything received while powered on, in order, all clients together. */
  get received(): Buffer {
    return Buffer.concat(this.receivedChunks);
  }

  /** Everything the printer answered. */
  get sent(): Buffer {
    return Buffer.concat(this.sentChunks);
  }

  /** Print data received but not printed (paper out, cover open, error). */
  get heldBytes(): number {
    return this.held.reduce((n, h) => n + h.token.bytes.length, 0);
  }

  get currentStatus(): SimulatedPrinterStatus {
    return { ...this.status };
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        if (address && typeof address === 'object') this.port = address.port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.interpreter.hasOutput) this.finishJob(false);
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  setStatus(change: Partial<SimulatedPrinterStatus>): void {
    const wasOffline = this.status.offline;
    const paperWasOut = this.status.paper === 'out';
    this.status = { ...this.status, ...change };
    if (this.status.offline && !wasOffline) this.powerOff();
    if (this.status.paper === 'out' && !paperWasOut) this.paperRunsOut();
    this.runEngine();
  }

  /** The paper ends after `bytes` more bytes of print data: mid-job if the job is longer. */
  paperOutAfterBytes(bytes: number): void {
    this.paperBudget = Math.max(0, bytes);
  }

  /** New roll loaded: held print data resumes. */
  refill(): void {
    this.paperBudget = null;
    this.setStatus({ paper: 'ok' });
  }

  async waitForJobs(count: number, timeoutMs = DEFAULT_JOB_WAIT_MS): Promise<PrintedJob[]> {
    if (this.jobs.length >= count) return this.jobs.slice();
    return new Promise((resolve, reject) => {
      const onJob = (): void => {
        if (this.jobs.length < count) return;
        clearTimeout(timer);
        this.off('job', onJob);
        resolve(this.jobs.slice());
      };
      const timer = setTimeout(() => {
        this.off('job', onJob);
        reject(new Error(`simulated printer: ${this.jobs.length} of ${count} jobs after ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('job', onJob);
    });
  }

  // ------------------------------------------------------------------ connections

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // a client vanishing is not the printer's problem
    socket.on('data', (chunk: Buffer) => this.onData(chunk, socket));
    socket.on('close', () => this.onSocketClosed(socket));
    if (this.active === null || this.acceptConcurrent) {
      this.active ??= socket;
    } else {
      socket.pause();
      this.waiting.push(socket);
    }
  }

  private onSocketClosed(socket: Socket): void {
    this.sockets.delete(socket);
    const i = this.waiting.indexOf(socket);
    if (i >= 0) this.waiting.splice(i, 1);
    if (this.active !== socket) return;
    this.active = this.acceptConcurrent ? ([...this.sockets][0] ?? null) : (this.waiting.shift() ?? null);
    this.active?.resume();
  }

  private reply(bytes: Buffer, to: Socket): void {
    const target = !to.destroyed && to.writable ? to : this.active;
    if (!target || target.destroyed || !target.writable) return;
    this.sentChunks.push(bytes);
    target.write(bytes);
  }

  // ------------------------------------------------------------------ receive side

  private onData(chunk: Buffer, from: Socket): void {
    if (this.status.offline) {
      this.droppedBytes += chunk.length;
      return;
    }
    this.receivedChunks.push(chunk);
    for (const token of this.tokenizer.push(chunk)) {
      if (token.realTime) this.executeRealTime(token, from);
      else this.held.push({ token, from });
    }
    this.runEngine();
  }

  private executeRealTime(token: EscPosToken, from: Socket): void {
    switch (token.name) {
      case 'realTimeStatus': {
        const answer = this.realTimeStatusByte(token.arg ?? 0);
        if (answer !== null) this.reply(Buffer.from([answer]), from);
        return;
      }
      case 'realTimeClearBuffer':
        this.held = [];
        this.interpreter.clearPendingLine();
        this.reply(BUFFER_CLEAR_REPLY, from);
        return;
      default:
        return;
    }
  }

  private realTimeStatusByte(n: number): number | null {
    const s = this.status;
    const paperOut = s.paper === 'out';
    switch (n) {
      case 1:
        return STATUS_FIXED_BITS | (s.coverOpen || paperOut || s.error ? STATUS_OFFLINE : 0);
      case 2:
        return (
          STATUS_FIXED_BITS |
          (s.coverOpen ? STATUS_COVER_OPEN : 0) |
          (paperOut ? STATUS_STOPPED_BY_PAPER_END : 0) |
          (s.error ? STATUS_ERROR : 0)
        );
      case 3:
        return STATUS_FIXED_BITS | (s.error ? STATUS_AUTOCUTTER_ERROR : 0);
      case 4:
        // With the roll gone the near-end sensor sees no paper either: both pairs set.
        return STATUS_FIXED_BITS | (s.paper !== 'ok' ? STATUS_PAPER_NEAR_END : 0) | (paperOut ? STATUS_PAPER_END : 0);
      default:
        return null;
    }
  }

  // ------------------------------------------------------------------ print engine

  private canPrint(): boolean {
    const s = this.status;
    return !s.offline && s.paper !== 'out' && !s.coverOpen && !s.error;
  }

  private runEngine(): void {
    if (this.engineRunning) return;
    this.engineRunning = true;
    try {
      while (this.held.length > 0 && this.canPrint()) {
        const next = this.held[0];
        if (!next) break;
        const budget = this.paperBudget;
        if (budget !== null && next.token.bytes.length > budget) {
          if (next.token.name === 'text' && budget > 0) {
            // The line being fed when the roll ends gets its first characters only.
            this.execute({ ...next.token, bytes: next.token.bytes.subarray(0, budget) }, next.from);
            next.token = { ...next.token, bytes: next.token.bytes.subarray(budget) };
          }
          this.status.paper = 'out';
          this.paperRunsOut();
          break;
        }
        this.held.shift();
        this.execute(next.token, next.from);
      }
    } finally {
      this.engineRunning = false;
    }
  }

  private execute(token: EscPosToken, from: Socket): void {
    this.jobRaw.push(token.bytes);
    if (this.paperBudget !== null) this.paperBudget -= token.bytes.length;
    switch (token.name) {
      case 'printCompletionRequest':
        this.reply(Buffer.concat([PRINT_COMPLETION_HEADER, token.data ?? Buffer.alloc(4), Buffer.from([0x00])]), from);
        break;
      case 'transmitStatus':
        this.answerTransmitStatus(token.arg ?? 0, from);
        break;
      default:
        this.interpreter.apply(token);
    }
    if (token.name === 'cut') this.finishJob(true);
  }

  private answerTransmitStatus(n: number, from: Socket): void {
    if (n === 1 || n === 0x31) {
      const p = this.status.paper;
      this.reply(Buffer.from([p === 'near_end' ? PAPER_SENSOR_NEAR_END : p === 'out' ? PAPER_SENSOR_END | PAPER_SENSOR_NEAR_END : 0]), from);
    } else if (n === 2 || n === 0x32) {
      this.reply(Buffer.from([0x00]), from); // drawer kick-out connector: closed
    }
  }

  private paperRunsOut(): void {
    this.paperBudget = null;
    if (this.interpreter.hasOutput) this.finishJob(false);
  }

  private powerOff(): void {
    if (this.interpreter.hasOutput) this.finishJob(false);
    this.held = [];
    this.jobRaw = [];
    this.jobContinued = false;
    this.paperBudget = null;
    this.tokenizer.reset();
    this.interpreter.reset();
  }

  private finishJob(complete: boolean): void {
    const document = this.interpreter.takeDocument();
    const job: PrintedJob = {
      index: this.jobs.length + 1,
      raw: Buffer.concat(this.jobRaw),
      document,
      text: renderTicketText(document),
      finishedAt: this.now(),
      complete,
      continued: this.jobContinued,
    };
    this.jobRaw = [];
    this.jobContinued = !complete;
    this.jobs.push(job);
    this.writeJobFiles(job);
    this.emit('job', job);
  }

  private writeJobFiles(job: PrintedJob): void {
    if (!this.outDir) return;
    try {
      mkdirSync(this.outDir, { recursive: true });
      const base = join(this.outDir, `job-${String(job.index).padStart(4, '0')}`);
      writeFileSync(`${base}.txt`, job.text);
      writeFileSync(`${base}.png`, renderTicketPng(job.document));
    } catch (err) {
      this.emit('outputError', err);
    }
  }
}

export async function startSimulatedPrinter(options: SimulatedPrinterOptions = {}): Promise<SimulatedPrinter> {
  const printer = new SimulatedPrinter(options);
  await printer.listen();
  return printer;
}
