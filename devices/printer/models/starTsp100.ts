/**
 * Star TSP100 / TSP650 class in Star Line Mode: 203 dpi, 576 dots on 80 mm, 48 columns.
 * Status is one automatic-status (ASB) message asked with `ESC ACK SOH`; the model has
 * no print-completion request, so a job counts as printed when a status read after it
 * shows no fault (CONTRACT §4).
 */
import { STAR_STATUS_REQUEST, decodeStarStatus, noReplyStatus, starAsbLength } from '../statusProtocol.js';
import type { PrinterProfile } from './profile.js';

/** Star has no completion reply: the status is read this long after the job is sent. */
export const STAR_PRINT_SETTLE_BASE_MS = 2500;

export const STAR_TSP100: PrinterProfile = {
  key: 'tsp100',
  family: 'star',
  description: 'Star TSP100 / TSP650 class (Star Line Mode): 576-dot head, 48 columns',
  headDots: 576,
  dotsPerMm: 8,
  columns: 48,
  lineSpacingDots: 34,
  fontHeightDots: 24,
  statusRequests: [{ bytes: STAR_STATUS_REQUEST, replyLength: starAsbLength }],
  decodeStatus: (replies) => (replies[0] ? decodeStarStatus(replies[0]) : noReplyStatus()),
  confirmation: { kind: 'statusAfterJob', settleBaseMs: STAR_PRINT_SETTLE_BASE_MS },
};
