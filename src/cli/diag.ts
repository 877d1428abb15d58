/**
 * `kiosk diag`: a technician's view of a running controller over its local HTTP API,
 * with the same PIN as the diagnostics screens. Each run signs in, does one thing and
 * signs out, so no session is left open behind a closed terminal.
 */
import { createInterface } from 'node:readline';
import type { DiagOutboxView, DiagStatus, DropboxDiagnosticsView, PrinterDiagnosticsView } from '../http/diagRoutes.js';
import { ErrorCode, KioskError } from '../../kernel/errors.js';
import { requestOverSocket } from './socketRequest.js';

export const DIAG_ACTIONS = ['status', 'outbox', 'logs', 'test-print', 'unlock', 'led', 'sensors'] as const;
export type DiagAction = (typeof DIAG_ACTIONS)[number];

export const DEFAULT_DIAG_URL = 'http://127.0.0.1:8080';
/** How often `sensors` reads the board's state. */
export const SENSOR_POLL_MS = 1_000;
/** An API call that has not answered by then means the controller is stuck. */
export const CLI_REQUEST_TIMEOUT_MS = 10_000;
/** A test print waits for the printer's confirmation (the server gives up at 30 s). */
export const CLI_TEST_PRINT_TIMEOUT_MS = 40_000;
export const PIN_ENV = 'KIOSK_DIAG_PIN';
/** How a socket path travels where a base URL would. */
const UNIX_PREFIX = 'unix:';

export interface DiagCliOptions {
  url: string;
  /** The controller's local socket (dataDir/diag.sock): used instead of --url, no lockout there. */
  socket?: string;
  json: boolean;
  /** sensors: stop after this many readings. */
  count?: number;
  /** logs: how many lines. */
  lines?: number;
}

export interface DiagIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadStream;
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo = (): DiagIo => ({
  env: process.env,
  stdin: process.stdin,
  out: (l) => console.log(l),
  err: (l) => console.error(l),
});

export async function runDiag(action: DiagAction, arg: string | undefined, opts: DiagCliOptions, io: DiagIo = defaultIo()): Promise<void> {
  const base = opts.socket ? `${UNIX_PREFIX}${opts.socket}` : normaliseUrl(opts.url);
  const pin = io.env[PIN_ENV] ?? (await readPin(io));
  const client = await DiagClient.login(base, pin);
  try {
    await perform(client, action, arg, opts, io);
  } finally {
    await client.logout().catch(() => undefined);
  }
}

async function perform(client: DiagClient, action: DiagAction, arg: string | undefined, opts: DiagCliOptions, io: DiagIo): Promise<void> {
  const print = (json: unknown, text: () => string) => io.out(opts.json ? JSON.stringify(json, null, 2) : text());
  switch (action) {
    case 'status': {
      const status = await client.get<DiagStatus>('/status');
      print(status, () => formatStatus(status));
      return;
    }
    case 'outbox': {
      const outbox = await client.get<DiagOutboxView>('/outbox');
      print(outbox, () => formatOutbox(outbox));
      return;
    }
    case 'logs': {
      const query = opts.lines === undefined ? '' : `?limit=${opts.lines}`;
      const logs = await client.get<{ lines: string[] }>(`/logs${query}`);
      print(logs, () => (logs.lines.length ? logs.lines.map(formatLogLine).join('\n') : '(no log lines kept yet)'));
      return;
    }
    case 'test-print': {
      const result = await client.post<{ printed: boolean }>('/test-print', {}, CLI_TEST_PRINT_TIMEOUT_MS);
      print(result, () => 'Test ticket printed and confirmed by the printer.');
      return;
    }
    case 'unlock': {
      const ms = arg === undefined ? undefined : Number(arg);
      if (ms !== undefined && !Number.isInteger(ms)) throw new KioskError(ErrorCode.HttpBadRequest, `unlock takes a whole number of milliseconds, not "${arg}"`);
      const result = await client.post<{ ms: number }>('/dropbox/unlock', ms === undefined ? {} : { ms });
      print(result, () => `Door lock released for ${result.ms / 1000} s.`);
      return;
    }
    case 'led': {
      if (!arg) throw new KioskError(ErrorCode.HttpBadRequest, 'led needs a mode: off, on or blink');
      const result = await client.post<{ mode: string }>('/dropbox/led', { mode: arg.toUpperCase() });
      print(result, () => `Slot light set to ${result.mode}.`);
      return;
    }
    case 'sensors':
      await pollSensors(client, opts, io);
      return;
  }
}

/** Reads the drop box's sensors every second until Ctrl-C or `count` readings. */
async function pollSensors(client: DiagClient, opts: DiagCliOptions, io: DiagIo): Promise<void> {
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    if (!opts.json) io.out(opts.count === undefined ? 'Live sensors (Ctrl-C to stop):' : `Live sensors (${opts.count} readings):`);
    for (let n = 0; opts.count === undefined || n < opts.count; n++) {
      if (n > 0) await sleep(SENSOR_POLL_MS, stop.signal);
      if (stop.signal.aborted) break;
      const status = await client.get<DiagStatus>('/status');
      const box = status.dropbox;
      if (!isPresent(box)) throw new KioskError(ErrorCode.DiagRequestFailed, `no drop box to read: it is ${box.state}${'error' in box ? ` (${box.error})` : ''}`);
      const reading = { at: status.at, link: box.port.link, state: box.state, door: box.door, fillPercent: box.fillPercent, slotOccupied: box.slotOccupied, keySwitch: box.keySwitch, dropCount: box.dropCount };
      io.out(opts.json ? JSON.stringify(reading) : formatSensors(reading));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

// ---------------------------------------------------------------------------- client

interface ApiError {
  error?: string;
  message?: string;
  retryAfterS?: number;
  attemptsBeforeLockout?: number;
}

export class DiagClient {
  private constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  static async login(base: string, pin: string): Promise<DiagClient> {
    const res = await call(base, '/login', { method: 'POST', body: { pin } });
    if (res.status === 200) return new DiagClient(base, (res.body as { token: string }).token);
    const body = (res.body ?? {}) as ApiError;
    if (res.status === 429) {
      const wait = Number(res.headers.get('retry-after') ?? body.retryAfterS ?? NaN);
      throw new KioskError(ErrorCode.DiagLoginRefused, `Too many wrong PINs: diagnostics are locked. Try again in ${Number.isFinite(wait) ? formatWait(wait) : 'a while'}.`);
    }
    if (res.status === 401 && body.error === 'diagnostics_disabled') throw new KioskError(ErrorCode.DiagLoginRefused, `Diagnostics are disabled on this kiosk: ${body.message ?? 'no diagnostics.pinHash in its config'}.`);
    if (res.status === 401) {
      const left = body.attemptsBeforeLockout;
      const warning = left === undefined ? 'after 5 wrong PINs in a row the kiosk refuses logins for a while' : left > 0 ? `${left} more wrong PIN(s) and logins are locked for a while` : 'logins are now locked for a while';
      throw new KioskError(ErrorCode.DiagLoginRefused, `Wrong PIN: ${warning}.`);
    }
    throw apiError(res.status, body);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>(path, { method: 'GET' });
  }

  post<T>(path: string, body: unknown, timeoutMs?: number): Promise<T> {
    return this.request<T>(path, { method: 'POST', body, ...(timeoutMs ? { timeoutMs } : {}) });
  }

  async logout(): Promise<void> {
    await call(this.base, '/logout', { method: 'POST', token: this.token });
  }

  private async request<T>(path: string, init: { method: string; body?: unknown; timeoutMs?: number }): Promise<T> {
    const res = await call(this.base, path, { ...init, token: this.token });
    if (res.status >= 200 && res.status < 300) return res.body as T;
    const body = (res.body ?? {}) as ApiError;
    if (res.status === 401) throw new KioskError(ErrorCode.DiagLoginRefused, `The diagnostics session was refused: ${body.message ?? 'sign in again'}.`);
    throw apiError(res.status, body);
  }
}

function apiError(status: number, body: ApiError): KioskError {
  return new KioskError(ErrorCode.DiagRequestFailed, `The controller answered ${status}${body.error ? ` ${body.error}` : ''}: ${body.message ?? 'no explanation'}.`, { status });
}

async function call(base: string, path: string, init: { method: string; body?: unknown; token?: string; timeoutMs?: number }): Promise<{ status: number; body: unknown; headers: Headers }> {
  const url = `${base}/api/diag${path}`;
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (base.startsWith(UNIX_PREFIX)) {
    let reply;
    try {
      reply = await requestOverSocket(base.slice(UNIX_PREFIX.length), `/api/diag${path}`, {
        method: init.method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        timeoutMs: init.timeoutMs ?? CLI_REQUEST_TIMEOUT_MS,
      });
    } catch (err) {
      throw unreachable(base, err);
    }
    return { status: reply.status, body: parseBody(reply.text), headers: reply.headers };
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(init.timeoutMs ?? CLI_REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw unreachable(base, err);
  }
  return { status: res.status, body: parseBody(await res.text()), headers: res.headers };
}

function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { message: text.slice(0, 200) };
  }
}

function unreachable(base: string, err: unknown): KioskError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.cause?.message ?? (e.name === 'TimeoutError' ? `no answer within ${CLI_REQUEST_TIMEOUT_MS / 1000} s` : e.message);
  const hint = code === 'ECONNREFUSED' ? 'is the controller running? (kiosk run --config FILE, or kiosk sim)' : 'check --url and that the controller is running';
  return new KioskError(ErrorCode.DiagControllerUnreachable, `Cannot reach the controller at ${base} (${code}): ${hint}.`, { url: base });
}

function normaliseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KioskError(ErrorCode.HttpBadRequest, `--url must be like ${DEFAULT_DIAG_URL}, not "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KioskError(ErrorCode.HttpBadRequest, `--url must be http://HOST:PORT, not "${raw}"`);
  return url.origin;
}

// ---------------------------------------------------------------------------- PIN

/** The PIN from the terminal without echo, or the first line of piped standard input. */
async function readPin(io: DiagIo): Promise<string> {
  const stdin = io.stdin;
  if (stdin.isTTY) return readPinFromTerminal(stdin);
  const rl = createInterface({ input: stdin, terminal: false });
  try {
    for await (const line of rl) return line.trim();
  } finally {
    rl.close();
  }
  throw new KioskError(ErrorCode.HttpBadRequest, `no PIN: type it when asked, pipe it on standard input, or set ${PIN_ENV}`);
}

function readPinFromTerminal(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    process.stderr.write('Technician PIN: ');
    let pin = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const finish = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(pin);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(null);
        if (ch === '\u0003') return finish(new KioskError(ErrorCode.HttpBadRequest, 'cancelled'));
        if (ch === '\u007f' || ch === '\b') pin = pin.slice(0, -1);
        else pin += ch;
      }
    };
    stdin.on('data', onData);
  });
}

// ---------------------------------------------------------------------------- output

function isPresent<T extends object>(d: T | { state: 'absent' } | { state: 'unavailable'; error: string }): d is T {
  const state = (d as { state?: unknown }).state;
  return state !== 'absent' && state !== 'unavailable';
}

function formatWait(s: number): string {
  return s >= 120 ? `${Math.ceil(s / 60)} min` : `${s} s`;
}

function formatAge(s: number | null): string {
  if (s === null) return 'none';
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const pad = (label: string) => label.padEnd(10);
const indent = ' '.repeat(10);

export function formatStatus(s: DiagStatus): string {
  const lines: string[] = [`Diagnostics at ${s.at}`, ''];
  lines.push(...formatPrinter(s.printer));
  lines.push(...formatDropbox(s.dropbox));
  lines.push(isPresent(s.scanner) ? `${pad('Scanner')}${Object.entries(s.scanner).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join('  ')}` : `${pad('Scanner')}${absentText(s.scanner)}`);
  const u = s.upstream;
  lines.push(
    `${pad('Upstream')}${u.connected ? 'connected' : 'NOT CONNECTED'}  outbox ${u.outboxDepth} event(s)${u.outboxFull ? ' (FULL)' : ''}, oldest ${formatAge(u.oldestEventAgeS)}`,
    `${indent}last ack ${u.lastAckAt ?? 'never'}${u.lastAckSeq === null ? '' : ` (seq ${u.lastAckSeq})`}  reconnects ${u.reconnects}${u.lastError ? `  last error: ${u.lastError}` : ''}`,
  );
  return lines.join('\n');
}

function absentText(d: { state: 'absent' } | { state: 'unavailable'; error: string }): string {
  return d.state === 'absent' ? 'not configured' : `UNAVAILABLE: ${d.error}`;
}

function formatPrinter(p: DiagStatus['printer']): string[] {
  if (!isPresent<PrinterDiagnosticsView>(p)) return [`${pad('Printer')}${absentText(p)}`];
  const c = p.counters;
  return [
    `${pad('Printer')}${p.state}  paper ${p.paper ?? 'unknown'}  ${p.ready ? 'ready' : 'NOT READY'}${p.fault ? `  fault ${p.fault}` : ''}  (${p.model})`,
    `${indent}raw status bytes ${p.rawStatus.length ? p.rawStatus.join(' ') : 'none yet'}`,
    `${indent}jobs printed ${c.jobsPrinted}, unconfirmed ${c.jobsUnconfirmed}, refused ${c.jobsRefused}, cuts ${c.cuts}, tickets since roll change ${c.ticketsSinceRollChange}`,
    `${indent}status reads ${c.statusReads}, invalid replies ${c.invalidStatusReplies}, connections lost ${c.connectionsLost}, queued ${p.queued}`,
    ...(p.lastError ? [`${indent}last error: ${p.lastError}`] : []),
  ];
}

function formatDropbox(b: DiagStatus['dropbox']): string[] {
  if (!isPresent<DropboxDiagnosticsView>(b)) return [`${pad('Drop box')}${absentText(b)}`];
  const c = b.counters;
  return [
    `${pad('Drop box')}${b.state}  link ${b.port.link} (${b.port.path})${b.port.lastError ? `  port error: ${b.port.lastError}` : ''}`,
    `${indent}board ${b.board.id ?? '?'} firmware ${b.board.firmware ?? '?'}  last frame ${b.lastFrameAt ?? 'never'}`,
    `${indent}door ${b.door}  fill ${b.fillPercent === null ? '?' : `${b.fillPercent}% (${b.fillLevel})`}  slot ${slotText(b.slotOccupied)}  key ${b.keySwitch ?? '?'}`,
    `${indent}dropCount ${b.dropCount ?? '?'}  recorded ${b.recordedCount}  pending reset ${b.pendingReset ?? 'none'}`,
    `${indent}frames ${c.frames}, malformed ${c.malformedTotal}, lost ${c.framesLost}, reopens ${c.reopens}, commands ${c.commandsSent}, NAKs ${c.naks}, ACK timeouts ${c.ackTimeouts}, board errors ${c.boardErrors}`,
    `${indent}collections ${c.collections}, forced openings ${c.forcedOpenings}  commands ${b.commands.state}, queued ${b.commands.queued}`,
    `${indent}last frames:`,
    ...(b.recentFrames.length ? b.recentFrames.slice(-10).map((f) => `${indent}  ${f}`) : [`${indent}  (none)`]),
  ];
}

function slotText(occupied: boolean | null): string {
  return occupied === null ? '?' : occupied ? 'OCCUPIED' : 'empty';
}

export function formatOutbox(o: DiagOutboxView): string {
  const lines = [
    `Outbox: ${o.depth} event(s) waiting${o.full ? ' (FULL: new events are refused)' : ''}`,
    `Oldest: ${o.oldest ? `seq ${o.oldest.seq} at ${o.oldest.ts} (${formatAge(o.oldest.ageS)} ago)` : 'none'}`,
    'Recent events:',
    ...(o.recent.length ? o.recent.map((e) => `  ${String(e.seq).padStart(8)}  ${e.ts}  ${e.type}`) : ['  (none since start)']),
  ];
  return lines.join('\n');
}

function formatSensors(r: { at: string; link: string; state: string; door: string; fillPercent: number | null; slotOccupied: boolean | null; keySwitch: string | null; dropCount: number | null }): string {
  const time = r.at.slice(11, 19);
  return `${time}  ${r.state.padEnd(8)} door ${r.door.padEnd(8)} fill ${r.fillPercent === null ? '  ?' : `${String(r.fillPercent).padStart(3)}%`}  slot ${slotText(r.slotOccupied).padEnd(8)} key ${(r.keySwitch ?? '?').padEnd(3)}  dropCount ${r.dropCount ?? '?'}  link ${r.link}`;
}

/** A pino JSON line as "time LEVEL msg key=value…"; anything else as it is. */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = entry;
  const levelName = typeof level === 'number' ? (LEVELS[level] ?? String(level)) : String(level ?? '');
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [typeof time === 'string' ? time : String(time ?? ''), levelName.toUpperCase().padEnd(5), String(msg ?? ''), ...fields].join(' ');
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
