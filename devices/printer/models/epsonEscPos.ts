/**
 * The part every Epson ESC/POS model shares (CONTRACT §4): status from `DLE EOT` 1, 2
 * and 4 (one byte each), confirmation by `GS ( H` fn 48. The model files add geometry.
 */
import { EPSON_STATUS_REQUESTS, decodeEpsonStatus, epsonToPrinterStatus, noReplyStatus, type PrinterStatus } from '../statusProtocol.js';
import type { PrinterProfile, StatusRequest } from './profile.js';

const ONE_BYTE = (): number => 1;

export const EPSON_STATUS: readonly StatusRequest[] = EPSON_STATUS_REQUESTS.map((bytes) => ({ bytes, replyLength: ONE_BYTE }));

export function decodeEpsonReplies(replies: readonly Buffer[]): PrinterStatus {
  const [printer, offline, paper] = replies.map((r) => r[0]);
  if (printer === undefined || offline === undefined || paper === undefined) return noReplyStatus(replies.flatMap((r) => [...r]));
  return epsonToPrinterStatus(decodeEpsonStatus({ printer, offline, paper }));
}

export function epsonProfile(geometry: Omit<PrinterProfile, 'family' | 'statusRequests' | 'decodeStatus' | 'confirmation'>): PrinterProfile {
  return { ...geometry, family: 'epson', statusRequests: EPSON_STATUS, decodeStatus: decodeEpsonReplies, confirmation: { kind: 'completionRequest' } };
}
