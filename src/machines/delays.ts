/**
 * Every timeout the machines use, named and explained in one place. Tests advance a
 * simulated clock past these instead of sleeping.
 */

/** CONTRACT §3: no frame for 3 s means the board is offline (it sends HB every 1 s). */
export const BOARD_SILENCE_MS = 3_000;

/** First wait before reopening a vanished board port; doubles per failure up to the max. */
export const BOARD_REOPEN_INITIAL_MS = 250;
export const BOARD_REOPEN_MAX_MS = 10_000;

/** How long the board has to ACK or NAK a command before it is sent again. */
export const BOARD_COMMAND_ACK_MS = 1_000;
/** Sends of one command before it is given up (RESET stays due and is retried later). */
export const BOARD_COMMAND_MAX_ATTEMPTS = 5;
/** A collection's RESET that the board never acknowledged is tried again this often. */
export const BOARD_RESET_RETRY_MS = 30_000;

/** CONTRACT §3: a DOOR,OPEN within this long after our UNLOCK is an authorised opening. */
export const DOOR_UNLOCK_AUTHORISES_MS = 60_000;

/** Backoff before reopening the port after the n-th consecutive failure (n from 0). */
export function boardReopenDelay(failures: number): number {
  return Math.min(BOARD_REOPEN_MAX_MS, BOARD_REOPEN_INITIAL_MS * 2 ** Math.min(failures, 16));
}
