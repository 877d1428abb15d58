/**
 * The one clock of the controller: XState's actor clock (setTimeout / clearTimeout) plus
 * the wall time in milliseconds. Machines get it through `createActor(machine, { clock })`,
 * desks and watches take the same object, so a test hands one `SimulatedClock` (from
 * xstate) to the whole controller and advances every timeout with `clock.increment(ms)`.
 */
export interface Clock {
  /** Wall time in ms since the epoch (Date.now() on the system clock). */
  now(): number;
  /** The same shape as XState's actor clock, so this object is the actors' clock too. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time. Timers keep the process alive: whoever starts one stops it. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
};

/** Runs `fn` every `ms` on `clock` (an interval built from timeouts, which the actor clock lacks); returns its cancel. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown = null;
  let cancelled = false;
  const tick = (): void => {
    handle = clock.setTimeout(tick, ms);
    fn();
  };
  handle = clock.setTimeout(tick, ms);
  return () => {
    if (cancelled) return;
    cancelled = true;
    clock.clearTimeout(handle);
  };
}
