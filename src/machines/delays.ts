/**
 * Every timeout the machines use, named and explained in one place. Tests advance a
 * simulated clock past these instead of sleeping.
 */
import type { BackoffPolicy } from '../../devices/link/backoff.js';

/** CONTRACT §3: no frame for 3 s means the board is offline (it sends HB every 1 s). */
export const BOARD_SILENCE_MS = 3_000;

/** Reopening a vanished board port (devices/link/backoff.ts): 250 ms after the first failure, doubling up to 10 s. */
export const BOARD_LINK_POLICY: BackoffPolicy = { initialMs: 250, maxMs: 10_000, jitter: 0.2 };

/** How long the board has to ACK or NAK a command before it is sent again. */
export const BOARD_COMMAND_ACK_MS = 1_000;
/** Sends of one command before it is given up (RESET stays due and is retried later). */
export const BOARD_COMMAND_MAX_ATTEMPTS = 5;
/** A collection's RESET that the board never acknowledged is tried again this often. */
export const BOARD_RESET_RETRY_MS = 30_000;

/** CONTRACT §3: a DOOR,OPEN within this long after our UNLOCK is an authorised opening. */
export const DOOR_UNLOCK_AUTHORISES_MS = 60_000;
