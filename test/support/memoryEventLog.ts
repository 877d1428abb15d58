import type { EventEnvelope, NewEvent, StateLog } from '../../src/upstream/events.js';

/**
 * An in-memory EventLog for machine tests that check what was recorded, not how it is
 * stored. `failNext` makes the next append throw, as a full disk would; with
 * `holdFlushes`, a `putState` commits at once and its flush waits for the test
 * (`flushes[i].resolve()` or `.reject(err)`), like a slow or failing disk.
 */
export class MemoryEventLog implements StateLog {
  readonly events: NewEvent[] = [];
  failNext = false;
  holdFlushes = false;
  readonly flushes: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private readonly state = new Map<string, string>();

  append(events: readonly NewEvent[], state: Readonly<Record<string, string | null>> = {}): EventEnvelope[] {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.events.push(...events);
    for (const [k, v] of Object.entries(state)) {
      if (v === null) this.state.delete(k);
      else this.state.set(k, v);
    }
    return [];
  }

  putState(state: Readonly<Record<string, string | null>>): Promise<void> {
    this.append([], state);
    if (!this.holdFlushes) return Promise.resolve();
    return new Promise((resolve, reject) => this.flushes.push({ resolve, reject }));
  }

  getState(key: string): string | null {
    return this.state.get(key) ?? null;
  }
}
