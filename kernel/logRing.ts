/**
 * The last few hundred log lines, kept in memory for the diagnostics log tail. It is a
 * pino destination: pino has already redacted personal fields when a line gets here.
 * It can pass every line on (to stdout), so the composition root tees logs through it.
 */
import { Writable } from 'node:stream';

/** A line longer than this is cut, so one huge log line cannot hold the memory. */
export const LOG_RING_MAX_LINE_CHARS = 4_000;

export interface LogRing extends Writable {
  /** The newest `limit` lines (all kept when absent), oldest first, without newlines. */
  lines(limit?: number): string[];
  readonly size: number;
}

export interface LogRingOptions {
  /** Every chunk is also written here unchanged (e.g. process.stdout). */
  forwardTo?: NodeJS.WritableStream;
  /**
   * Only lines at this pino level or above are passed on (all are kept in the ring), so
   * the terminal of `kiosk sim` can stay at warnings while the technician's tail keeps info.
   */
  forwardMinLevel?: number;
}

const LEVEL_FIELD = /"level":(\d+)/;

class LogRingStream extends Writable implements LogRing {
  private readonly ring: string[] = [];
  private carry = '';

  constructor(
    readonly size: number,
    private readonly forwardTo: NodeJS.WritableStream | undefined,
    private readonly forwardMinLevel: number,
  ) {
    super({ decodeStrings: false });
  }

  lines(limit?: number): string[] {
    return limit === undefined ? [...this.ring] : this.ring.slice(Math.max(0, this.ring.length - limit));
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const text = this.carry + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (this.forwardTo && (this.forwardMinLevel <= 0 || Number(LEVEL_FIELD.exec(text)?.[1] ?? Infinity) >= this.forwardMinLevel)) this.forwardTo.write(chunk);
    const parts = text.split('\n');
    // pino writes whole lines; a partial one waits for the rest.
    this.carry = (parts.pop() ?? '').slice(0, LOG_RING_MAX_LINE_CHARS);
    for (const line of parts) if (line.length > 0) this.push1(line.slice(0, LOG_RING_MAX_LINE_CHARS));
    done();
  }

  private push1(line: string): void {
    this.ring.push(line);
    if (this.ring.length > this.size) this.ring.splice(0, this.ring.length - this.size);
  }
}

export function createLogRing(size: number, options: LogRingOptions = {}): LogRing {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a log ring needs a positive size, not ${size}`);
  return new LogRingStream(size, options.forwardTo, options.forwardMinLevel ?? 0);
}
