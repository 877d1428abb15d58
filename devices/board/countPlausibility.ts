/**
 * When a board's `dropCount` is believed (CONTRACT §3, plausible counts). Pure: the
 * ledger keeps the state and acts on the verdict.
 *
 * One corrupted or forged frame must neither invent nor repeat deposits, so:
 * - a `DROP` carrying the recorded count + 1 is believed at once (the common case);
 * - any other new count is believed only once two consecutive count-carrying frames
 *   (`DROP` or `HB`, whose `seq`s follow each other) agree on it; until then it changes
 *   nothing;
 * - a count above the box's capacity is never believed (reported once per episode).
 *
 * XOR checksums let two bits flipped in one column through (`HB,7,11` → `HB,6,10`):
 * such a frame is never consecutive-and-equal to its neighbour, so it is never believed.
 */
import { nextSeq } from './protocol.js';

/** Envelopes a drop box holds when the configuration does not say (`dropbox.capacity`). */
export const DEFAULT_DROPBOX_CAPACITY = 1000;

export interface CountObservation {
  seq: number;
  count: number;
  /** Carried by a DROP frame (else a heartbeat). */
  asDrop: boolean;
}

export interface PlausibilityState {
  /** The last count-carrying frame whose count was not believed yet. */
  candidate: { seq: number; count: number } | null;
  /** A count above capacity has been reported and no plausible count seen since. */
  implausibleReported: boolean;
}

export const INITIAL_PLAUSIBILITY: PlausibilityState = { candidate: null, implausibleReported: false };

export type CountVerdict =
  /** The count is what is recorded: nothing to do. */
  | { kind: 'unchanged' }
  /** Not believed yet: wait for a second frame agreeing. */
  | { kind: 'unconfirmed' }
  /** Believed and above the recorded count: record deposits up to `count`. */
  | { kind: 'advance'; count: number }
  /** Believed and below the recorded count: re-base to `count`, no deposit. */
  | { kind: 'below'; count: number }
  /** Above capacity: never believed; `report` on the first of an episode. */
  | { kind: 'implausible'; count: number; report: boolean };

export interface CountContext {
  recorded: number;
  capacity: number;
  /**
   * A RESET was recorded and not acknowledged: the board may already be counting from
   * 0, so a DROP carrying 1 is the recorded-count-+-1 case.
   */
  resetPending: boolean;
}

export function judgeCount(state: PlausibilityState, obs: CountObservation, ctx: CountContext): { state: PlausibilityState; verdict: CountVerdict } {
  if (!Number.isSafeInteger(obs.count) || obs.count < 0 || obs.count > ctx.capacity) {
    return {
      state: { candidate: null, implausibleReported: true },
      verdict: { kind: 'implausible', count: obs.count, report: !state.implausibleReported },
    };
  }
  const settled: PlausibilityState = { candidate: null, implausibleReported: false };
  if (obs.count === ctx.recorded) return { state: settled, verdict: { kind: 'unchanged' } };
  const nextAfterReset = ctx.resetPending && obs.count < ctx.recorded && obs.count === 1;
  const believedAtOnce = obs.asDrop && (obs.count === ctx.recorded + 1 || nextAfterReset);
  const agreed = state.candidate !== null && state.candidate.count === obs.count && nextSeq(state.candidate.seq) === obs.seq;
  if (!believedAtOnce && !agreed) {
    return { state: { candidate: { seq: obs.seq, count: obs.count }, implausibleReported: false }, verdict: { kind: 'unconfirmed' } };
  }
  return { state: settled, verdict: obs.count > ctx.recorded ? { kind: 'advance', count: obs.count } : { kind: 'below', count: obs.count } };
}
