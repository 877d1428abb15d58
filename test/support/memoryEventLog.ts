import type { EventEnvelope, EventLog, NewEvent } from '../../src/upstream/events.js';

/**
 * An in-memory EventLog for machine tests that check what was recorded, not how it is
 * stored. `failNext` makes the next append throw, as a full disk would.
 */
export class MemoryEventLog implements EventLog {
  readonly events: NewEvent[] = [];
  failNext = false;
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

  getState(key: string): string | null {
    return this.state.get(key) ?? null;
  }
}
