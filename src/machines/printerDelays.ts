/**
 * Every delay of the printer machine, named, in one place. Tests advance a fake clock
 * by these rather than sleeping. (The driver's own wire timeouts, such as the 1 s status
 * reply limit, live in devices/printer/printerDriver.ts.)
 */

/** Status poll while idle: CONTRACT §4 asks for at least every 5 s. */
export const STATUS_POLL_MS = 2000;
/** First pause before reopening a lost printer connection. */
export const RECONNECT_BASE_MS = 1000;
/** The pause doubles per failed attempt up to this. */
export const RECONNECT_MAX_MS = 30_000;

/** Backoff for the `attempt`-th reconnect (1-based): 1 s, 2 s, 4 s … capped at 30 s. */
export function reconnectDelayMs(attempt: number): number {
  const n = Math.max(1, attempt);
  return Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.min(n - 1, 16));
}
