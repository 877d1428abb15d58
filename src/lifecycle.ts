/**
 * Start and stop as one stack: each part that starts pushes how to stop it, and stopping
 * runs the stack newest first. A start that fails half-way stops everything already
 * started, so a port that is taken leaves no link, timer, port or lock behind and the
 * process can end on its own (no `process.exit`).
 */
import { ErrorCode, KioskError, isKioskError } from '../kernel/errors.js';
import type { Logger } from '../kernel/log.js';

export type Stop = () => void | Promise<void>;

export class Lifecycle {
  private readonly stops: Array<{ part: string; stop: Stop }> = [];

  constructor(private readonly log: Logger) {}

  /** Registers how to stop `part`; stopped before everything registered earlier. */
  onStop(part: string, stop: Stop): void {
    this.stops.push({ part, stop });
  }

  /**
   * Starts one part: its failure becomes a KioskError naming the part (a KioskError
   * thrown by the part keeps its code and message).
   */
  async start<T>(part: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isKioskError(err)) throw err;
      throw new KioskError(ErrorCode.StartFailed, `The ${part} could not start: ${err instanceof Error ? err.message : String(err)}.`, { part }, { cause: err });
    }
  }

  /** Stops every registered part, newest first; one part's failure is logged and the rest still stop. */
  async stopAll(): Promise<void> {
    for (let entry = this.stops.pop(); entry; entry = this.stops.pop()) {
      try {
        await entry.stop();
      } catch (err) {
        this.log.error({ part: entry.part, err: (err as Error).message }, 'a part failed to stop cleanly');
      }
    }
  }
}
