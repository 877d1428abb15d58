/**
 * Structured logging (pino). Personal data never reaches a log: the fields that can
 * carry it are redacted by key wherever they appear, and callers log counts, codes
 * and masked values, never a citizen's identifiers.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const PERSONAL_KEYS = ['niss', 'name', 'citizenName', 'appointmentCode', 'code_full', 'pin', 'password'];

export const redactPaths = PERSONAL_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LogOptions {
  level?: string;
  /** A destination stream; stdout when absent. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? process.env.KIOSK_LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that writes nothing, for tests that do not assert on logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Masks all but the last `keep` characters: "1234567890" → "******7890". */
export function mask(value: string, keep = 4): string {
  if (value.length <= keep) return '*'.repeat(value.length);
  return '*'.repeat(value.length - keep) + value.slice(-keep);
}

/**
 * Logs a recurring condition at most once per `intervalMs`, with the number of times it
 * happened since the last line, so a wire spewing garbage cannot flood the log.
 */
export class RateLimitedLog {
  private last = -Infinity;
  private suppressed = 0;
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    if (t - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.log.warn({ ...fields, suppressedSinceLast: this.suppressed }, msg);
    this.last = t;
    this.suppressed = 0;
  }
}
