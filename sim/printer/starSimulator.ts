/**
 * A network Star TSP100/TSP650 in Star Line Mode on TCP, built from small behaviours
 * (newest first, the first that handles a command wins), keeping its jobs and a
 * `setStatus()`:
 *
 *  - `automaticStatus`: `ESC ACK SOH` is answered at once with a 9-byte ASB message
 *    from the status (CONTRACT §4 through the TSP100 profile);
 *  - `poweredOff`: while `offline`, nothing is answered and received bytes are lost;
 *  - `printData`: everything else goes to the print engine, held while the printer
 *    cannot print (paper out, cover open, error) and printed when it can; a cut ends a job.
 *
 * Star has no print-completion reply: a job's only confirmation is a status read after it.
 * Tests add behaviours with `use()` (e.g. `silentStatus` for a printer that stops answering).
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { EscPosInterpreter, type EscPosToken } from './escposDecoder.js';
import { renderTicketText } from './renderTicket.js';
import type { PrintedJob, SimulatedPrinterStatus } from './simulatedPrinter.js';
import { STAR_STATUS_REQUEST_NAME, StarLineTokenizer } from './starLineDecoder.js';

export type StarPrinterStatus = SimulatedPrinterStatus;

/** What a behaviour can see and do. */
export interface StarPrinterContext {
  readonly status: Readonly<StarPrinterStatus>;
  /** Answers the connection that sent the command. */
  reply(bytes: Buffer): void;
  /** Hands the command to the print engine. */
  print(token: EscPosToken): void;
}

/** Returns true when it handled the command: older behaviours do not see it. */
export type StarBehaviour = (token: EscPosToken, printer: StarPrinterContext) => boolean;

// ASB status bits (Star Line Mode, automatic status).
export const ASB_OFFLINE = 0x08; // status byte 1
export const ASB_COVER_OPEN = 0x20; // status byte 1
export const ASB_CUTTER_ERROR = 0x08; // status byte 2
export const ASB_PAPER_NEAR_END = 0x04; // status byte 4
export const ASB_PAPER_END = 0x08; // status byte 4
/** Header 1 of a 9-byte ASB message; header 2: ASB version 3. */
const ASB_HEADER = [0x23, 0x06] as const;

/** The ASB message for a status. */
export function encodeAsb(s: StarPrinterStatus): Buffer {
  const stopped = s.coverOpen || s.paper === 'out' || s.error;
  const b1 = (stopped ? ASB_OFFLINE : 0) | (s.coverOpen ? ASB_COVER_OPEN : 0);
  const b2 = s.error ? ASB_CUTTER_ERROR : 0;
  const b4 = (s.paper !== 'ok' ? ASB_PAPER_NEAR_END : 0) | (s.paper === 'out' ? ASB_PAPER_END : 0);
  return Buffer.from([...ASB_HEADER, b1, b2, 0x00, b4, 0x00, 0x00, 0x00]);
}

export const starBehaviours = {
  poweredOff: ((_t, p) => p.status.offline) as StarBehaviour,
  automaticStatus: ((t, p) => {
    if (t.name !== STAR_STATUS_REQUEST_NAME) return false;
    p.reply(encodeAsb(p.status));
    return true;
  }) as StarBehaviour,
  printData: ((t, p) => {
    p.print(t);
    return true;
  }) as StarBehaviour,
  /** For tests: status requests go unanswered (the printer hangs). */
  silentStatus: ((t) => t.name === STAR_STATUS_REQUEST_NAME) as StarBehaviour,
};

export interface StarSimulatorOptions {
  port?: number;
  host?: string;
  /** Printable dots: 576 on 80 mm paper. */
  printWidthDots?: number;
  now?: () => Date;
}

export class StarPrinterSimulator extends EventEmitter<{ job: [PrintedJob] }> {
  readonly jobs: PrintedJob[] = [];
  port: number;
  private readonly server: Server;
  private readonly host: string;
  private readonly now: () => Date;
  private readonly sockets = new Set<Socket>();
  /** Newest first. */
  private behaviours: StarBehaviour[] = [starBehaviours.poweredOff, starBehaviours.automaticStatus, starBehaviours.printData];
  private status: StarPrinterStatus = { paper: 'ok', coverOpen: false, offline: false, error: false };
  private readonly tokenizers = new Map<Socket, StarLineTokenizer>();
  private readonly interpreter: EscPosInterpreter;
  private held: EscPosToken[] = [];
  private jobRaw: Buffer[] = [];
  private readonly receivedChunks: Buffer[] = [];

  constructor(opts: StarSimulatorOptions = {}) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.now = opts.now ?? (() => new Date());
    this.interpreter = new EscPosInterpreter(opts.printWidthDots ? { printWidthDots: opts.printWidthDots } : {});
    this.server = createServer((s) => this.onConnection(s));
  }

  get received(): Buffer {
    return Buffer.concat(this.receivedChunks);
  }

  get currentStatus(): StarPrinterStatus {
    return { ...this.status };
  }

  /** Adds a behaviour in front of the others. Returns a remover. */
  use(behaviour: StarBehaviour): () => void {
    this.behaviours = [behaviour, ...this.behaviours];
    return () => {
      this.behaviours = this.behaviours.filter((b) => b !== behaviour);
    };
  }

  setStatus(change: Partial<StarPrinterStatus>): void {
    const wasOffline = this.status.offline;
    this.status = { ...this.status, ...change };
    if (this.status.offline && !wasOffline) {
      // Power off: the print buffer is lost with what was held in it.
      this.held = [];
      this.jobRaw = [];
      this.interpreter.reset();
    }
    this.runEngine();
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        if (a && typeof a === 'object') this.port = a.port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    this.tokenizers.set(socket, new StarLineTokenizer());
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.tokenizers.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk, socket));
  }

  private onData(chunk: Buffer, from: Socket): void {
    if (!this.status.offline) this.receivedChunks.push(chunk);
    const context: StarPrinterContext = {
      status: this.status,
      reply: (bytes) => {
        if (!from.destroyed && from.writable) from.write(bytes);
      },
      print: (t) => this.held.push(t),
    };
    for (const t of this.tokenizers.get(from)?.push(chunk) ?? []) {
      for (const b of this.behaviours) if (b(t, context)) break;
    }
    this.runEngine();
  }

  private canPrint(): boolean {
    const s = this.status;
    return !s.offline && s.paper !== 'out' && !s.coverOpen && !s.error;
  }

  private runEngine(): void {
    while (this.held.length > 0 && this.canPrint()) {
      const t = this.held.shift()!;
      this.jobRaw.push(t.bytes);
      this.interpreter.apply(t);
      if (t.name === 'cut') this.finishJob();
    }
  }

  private finishJob(): void {
    const document = this.interpreter.takeDocument();
    const job: PrintedJob = {
      index: this.jobs.length + 1,
      raw: Buffer.concat(this.jobRaw),
      document,
      text: renderTicketText(document),
      finishedAt: this.now(),
      complete: true,
      continued: false,
    };
    this.jobRaw = [];
    this.jobs.push(job);
    this.emit('job', job);
  }
}

export async function startStarPrinterSimulator(opts: StarSimulatorOptions = {}): Promise<StarPrinterSimulator> {
  const sim = new StarPrinterSimulator(opts);
  await sim.listen();
  return sim;
}
