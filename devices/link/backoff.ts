/**
 * The one reconnect backoff of the controller, for every link that can vanish (printer,
 * board port, scanner, broker session).
 *
 * Convention: `attempt` is the number of failures in a row since the link was last ready,
 * so the first wait (after the first failure) is attempt 1 and lasts about `initialMs`;
 * each further failure doubles it up to `maxMs`. Jitter takes a random share of up to
 * `jitter` off that ceiling, so links that failed together (many kiosks losing one
 * broker) do not come back in lockstep. Pure: the random source is passed in.
 */

export interface BackoffPolicy {
  /** The first wait, after the first failure. */
  initialMs: number;
  /** No wait is longer than this. */
  maxMs: number;
  /** 0…1: the share of the ceiling jitter may take off (0: none, 1: full jitter). */
  jitter: number;
}

/** Doublings beyond this cannot matter (2^20 × any sane initial is past any cap) and keep numbers finite. */
const MAX_DOUBLINGS = 20;

/** The ceiling of the wait after `attempt` failures in a row (attempt ≥ 1): initial × 2^(attempt−1), capped. */
export function backoffCeilingMs(policy: BackoffPolicy, attempt: number): number {
  const doublings = Math.min(Math.max(1, Math.floor(attempt)) - 1, MAX_DOUBLINGS);
  return Math.min(policy.maxMs, policy.initialMs * 2 ** doublings);
}

/** The shortest wait jitter can give after `attempt` failures: ceiling × (1 − jitter). */
export function backoffFloorMs(policy: BackoffPolicy, attempt: number): number {
  return Math.ceil(backoffCeilingMs(policy, attempt) * (1 - clampJitter(policy.jitter)));
}

/**
 * The wait before the next attempt after `attempt` failures in a row, in
 * [floor, ceiling]. `random` returns [0, 1) like Math.random (tests pin it).
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(policy, attempt);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(backoffFloorMs(policy, attempt), Math.round(ceiling * (1 - clampJitter(policy.jitter) * r)));
}

function clampJitter(jitter: number): number {
  return Math.min(Math.max(jitter, 0), 1);
}
