/**
 * An event for every refused request (403 cross-site, 413, 429 lockout), without
 * letting a flood of refusals fill the outbox: the first refusal of a kind is
 * recorded at once; further ones within `REFUSAL_EVENT_WINDOW_MS` are counted and
 * recorded together (`count`) when the window ends. No refusal goes unrecorded.
 */
import type { Logger } from '../log.js';
import type { NewEvent } from '../upstream/events.js';

export const REFUSAL_EVENT_WINDOW_MS = 10_000;

export interface Refusal {
  status: number;
  reason: string;
  method: string;
  path: string;
}

export class RefusalEvents {
  private readonly pending = new Map<string, { refusal: Refusal; count: number }>();
  private readonly windowOpen = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly record: (event: NewEvent<'http.request_refused'>) => void,
    private readonly log: Logger,
    private readonly windowMs = REFUSAL_EVENT_WINDOW_MS,
  ) {}

  readonly note = (r: Refusal): void => {
    const key = `${r.status} ${r.reason} ${r.method} ${r.path}`;
    this.log.warn({ status: r.status, reason: r.reason, method: r.method, path: r.path }, 'http: request refused');
    if (!this.windowOpen.has(key)) {
      this.emit(r, 1);
      this.openWindow(key);
      return;
    }
    const p = this.pending.get(key);
    if (p) p.count++;
    else this.pending.set(key, { refusal: r, count: 1 });
  };

  /** Records what is still counted (shutdown). */
  flush(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.windowOpen.clear();
    for (const { refusal, count } of this.pending.values()) this.emit(refusal, count);
    this.pending.clear();
  }

  private openWindow(key: string): void {
    this.windowOpen.add(key);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.windowOpen.delete(key);
      const p = this.pending.get(key);
      if (!p) return;
      this.pending.delete(key);
      this.emit(p.refusal, p.count);
      this.openWindow(key);
    }, this.windowMs);
    t.unref();
    this.timers.add(t);
  }

  private emit(r: Refusal, count: number): void {
    try {
      this.record({ type: 'http.request_refused', data: { status: r.status, reason: r.reason, method: r.method, path: r.path, count } });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'http: could not record a refused request upstream');
    }
  }
}
