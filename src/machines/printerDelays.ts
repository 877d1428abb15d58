/**
 * Every delay of the printer machine, named, in one place. Tests advance a fake clock
 * by these rather than sleeping. (The driver's own wire timeouts, such as the 1 s status
 * reply limit, live in devices/printer/printerDriver.ts.)
 */
import type { BackoffPolicy } from '../../devices/link/backoff.js';

/** Status poll while idle: CONTRACT §4 asks for at least every 5 s. */
export const STATUS_POLL_MS = 2000;
/**
 * Reopening a lost printer connection (devices/link/backoff.ts): about 1 s after the
 * first failure, doubling up to 30 s.
 */
export const PRINTER_LINK_POLICY: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, jitter: 0.2 };
