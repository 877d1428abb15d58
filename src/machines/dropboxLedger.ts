/**
 * The drop box's book of envelopes: turns the board's `dropCount` into exactly one
 * `dropbox.deposit` per envelope, whatever was lost or repeated on the wire.
 *
 * The last count recorded upstream is kept durably beside the events and written in
 * the same transaction as the deposits it accounts for, so a crash can neither lose
 * nor repeat a deposit. When the outbox refuses (disk cap, full disk) nothing moves:
 * the envelopes stay counted on the board and are recorded by the next frame that
 * carries the count, once there is room.
 */
import type { Logger } from '../../kernel/log.js';
import { eventRecorder, faultEvent, type RecordEvents } from '../upstream/deviceFaults.js';
import type { EventLog, NewEvent } from '../upstream/events.js';
import { DEFAULT_DROPBOX_CAPACITY, INITIAL_PLAUSIBILITY, judgeCount, type PlausibilityState } from '../../devices/board/countPlausibility.js';

export type FillLevel = 'ok' | 'nearly_full' | 'full';

export const NEARLY_FULL_PERCENT = 90;
export const FULL_PERCENT = 100;
/** Deposits recorded per transaction when a large jump is reconciled (bounds one fsync's size). */
const MAX_DEPOSITS_PER_APPEND = 500;

/** A deposit receipt waiting for its envelope (deposit desk): linked to the next DROP recorded. */
export interface PendingReceipt {
  receipt: string;
  /** State written in the same transaction as the linked deposit (e.g. the desk clearing its pending receipt). */
  state?: Record<string, string | null>;
}

/** A deposit just recorded (after its transaction). */
export interface RecordedDeposit {
  count: number;
  inferred: boolean;
  receipt?: string;
}

export function fillLevel(percent: number): FillLevel {
  if (percent >= FULL_PERCENT) return 'full';
  if (percent >= NEARLY_FULL_PERCENT) return 'nearly_full';
  return 'ok';
}

export class DropboxLedger {
  private readonly countKey: string;
  private readonly pendingResetKey: string;
  private readonly recordEvents: RecordEvents;
  /** Counts the board announced as a DROP frame but that could not be recorded yet. */
  private readonly seenAsDrop = new Set<number>();
  private pendingReceipt: PendingReceipt | null = null;
  private readonly depositListeners = new Set<(d: RecordedDeposit) => void>();
  private plausibility: PlausibilityState = INITIAL_PLAUSIBILITY;
  private readonly capacity: number;

  constructor(
    private readonly events: EventLog,
    readonly box: string,
    private readonly log: Logger,
    opts: { capacity?: number } = {},
  ) {
    this.capacity = opts.capacity ?? DEFAULT_DROPBOX_CAPACITY;
    this.countKey = `dropbox:${box}:recordedCount`;
    this.pendingResetKey = `dropbox:${box}:pendingReset`;
    this.recordEvents = eventRecorder(events, log);
  }

  /** The board count up to which every envelope has a recorded deposit. */
  get recordedCount(): number {
    return Number(this.events.getState(this.countKey) ?? '0');
  }

  /** The count of a recorded collection whose RESET the board has not acknowledged yet. */
  get pendingReset(): number | null {
    const v = this.events.getState(this.pendingResetKey);
    return v === null ? null : Number(v);
  }

  /**
   * The next deposit recorded from a DROP frame (not an inferred one) carries `receipt`
   * in its event; null withdraws it. Cleared once linked.
   */
  setPendingReceipt(link: PendingReceipt | null): void {
    this.pendingReceipt = link;
  }

  /** Called after each deposit is recorded; returns the unsubscribe function. */
  onDeposit(listener: (d: RecordedDeposit) => void): () => void {
    this.depositListeners.add(listener);
    return () => this.depositListeners.delete(listener);
  }

  /** Appends events; false (and a rate-limited log line) when the outbox refuses. */
  record(events: readonly NewEvent[], state?: Record<string, string | null>): boolean {
    return this.recordEvents(events, state);
  }

  /**
   * The board reported `count` envelopes in the bin (in a DROP frame when `asDrop`,
   * else in a heartbeat) in the frame numbered `seq`. Once the count is believed
   * (countPlausibility), records every envelope above the recorded count.
   */
  observeCount(count: number, asDrop: boolean, seq: number): { recorded: number; regressed: boolean } {
    let base = this.recordedCount;
    const judged = judgeCount(this.plausibility, { seq, count, asDrop }, { recorded: base, capacity: this.capacity, resetPending: this.pendingReset !== null });
    this.plausibility = judged.state;
    const verdict = judged.verdict;
    if (verdict.kind === 'implausible') {
      if (verdict.report) {
        this.log.warn({ box: this.box, count, capacity: this.capacity }, 'drop-box board sent a count above the box capacity; not believed');
        this.record([{ type: 'device.fault', data: { device: 'dropbox', code: 'dropbox.count_implausible', detail: `board count ${count} is above the box capacity of ${this.capacity}` } }]);
      }
      return { recorded: 0, regressed: false };
    }
    // Only counts within capacity are remembered: the set stays bounded.
    if (asDrop) this.seenAsDrop.add(count);
    if (verdict.kind === 'unchanged' || verdict.kind === 'unconfirmed') return { recorded: 0, regressed: false };
    if (verdict.kind === 'below') {
      if (this.pendingReset !== null) {
        // The board zeroed its counter for our RESET but the ACK was lost on the wire.
        this.confirmReset();
      } else {
        this.log.warn({ box: this.box, from: base, to: count }, 'drop-box board count went down without a collection; re-based, no deposit');
        this.record(
          [faultEvent('dropbox.count_regressed', `board count went from ${base} to ${count} without a collection`)],
          { [this.countKey]: String(count) },
        );
        this.seenAsDrop.clear();
        return { recorded: 0, regressed: true };
      }
      base = 0;
    }
    let recorded = 0;
    while (base < count) {
      const upto = Math.min(count, base + MAX_DEPOSITS_PER_APPEND);
      const batch: NewEvent<'dropbox.deposit'>[] = [];
      const link = this.pendingReceipt;
      let linked = false;
      for (let n = base + 1; n <= upto; n++) {
        const inferred = !this.seenAsDrop.has(n);
        const withReceipt = link !== null && !linked && !inferred;
        if (withReceipt) linked = true;
        batch.push({ type: 'dropbox.deposit', data: { box: this.box, count: n, inferred, ...(withReceipt ? { receipt: link.receipt } : {}) } });
      }
      const state = { ...(linked ? link?.state : {}), [this.countKey]: String(upto) };
      if (!this.record(batch, state)) break;
      if (linked && this.pendingReceipt === link) this.pendingReceipt = null;
      for (let n = base + 1; n <= upto; n++) this.seenAsDrop.delete(n);
      for (const e of batch) this.notifyDeposit(e.data);
      recorded += upto - base;
      base = upto;
    }
    return { recorded, regressed: false };
  }

  private notifyDeposit(d: RecordedDeposit): void {
    for (const l of [...this.depositListeners]) {
      try {
        l({ count: d.count, inferred: d.inferred, ...(d.receipt !== undefined ? { receipt: d.receipt } : {}) });
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'deposit listener threw');
      }
    }
  }

  /** The door closed after an authorised opening: the collection is recorded and a RESET becomes due. */
  recordCollection(): { count: number } | null {
    const count = this.recordedCount;
    const ok = this.record(
      [
        { type: 'dropbox.door', data: { box: this.box, state: 'closed' } },
        { type: 'dropbox.collected', data: { box: this.box, count } },
      ],
      { [this.pendingResetKey]: String(count) },
    );
    return ok ? { count } : null;
  }

  /** The board acknowledged RESET: its counter is zero again. */
  confirmReset(): void {
    this.events.append([], { [this.pendingResetKey]: null, [this.countKey]: '0' });
    this.seenAsDrop.clear();
    this.plausibility = INITIAL_PLAUSIBILITY;
  }
}
