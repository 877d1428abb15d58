/**
 * The printer's status and print-confirmation protocol (CONTRACT §4) as pure functions:
 * request bytes out, decoded status and matched replies in. No I/O, no timers.
 *
 * Epson: real-time status `DLE EOT n` (n = 1, 2, 4), one byte back per request, and the
 * print-completion request `GS ( H` fn 48, answered `37 22 d1 d2 d3 d4 00` once every
 * byte sent before it has been printed.
 * Star (Star Line Mode): automatic status `ESC ACK SOH`, answered by one ASB message.
 */

export const DLE_EOT_PRINTER = Buffer.from([0x10, 0x04, 0x01]);
export const DLE_EOT_OFFLINE_CAUSE = Buffer.from([0x10, 0x04, 0x02]);
export const DLE_EOT_PAPER_SENSOR = Buffer.from([0x10, 0x04, 0x04]);
/** The three requests in the order the driver sends them and `decodeEpsonStatus` reads them. */
export const EPSON_STATUS_REQUESTS = [DLE_EOT_PRINTER, DLE_EOT_OFFLINE_CAUSE, DLE_EOT_PAPER_SENSOR] as const;

/** Every DLE EOT reply byte has bits 1 and 4 set and bits 0 and 7 clear. */
const EPSON_FIXED_SET = 0x12;
const EPSON_FIXED_CLEAR = 0x81;

/** Status as the rest of the controller sees it, whatever the printer model. */
export interface PrinterStatus {
  /** False when the printer did not answer every request in time: the printer is offline. */
  answered: boolean;
  /** False when an answer did not have the shape of a status reply (garbage on the wire). */
  valid: boolean;
  online: boolean;
  coverOpen: boolean;
  paperEnd: boolean;
  paperNearEnd: boolean;
  /** The printer stopped on an error (cutter jam, head temperature, ...). */
  errorStopped: boolean;
  /** Bytes exactly as received, for diagnostics. */
  raw: number[];
}

export interface EpsonStatusBytes {
  printer: number;
  offline: number;
  paper: number;
}

export interface EpsonStatus {
  online: boolean;
  coverOpen: boolean;
  paperEnd: boolean;
  paperNearEnd: boolean;
  errorStopped: boolean;
  raw: EpsonStatusBytes;
  valid: boolean;
}

/** True when `b` has the fixed bits of a DLE EOT reply byte. */
export function isEpsonStatusByte(b: number): boolean {
  return (b & EPSON_FIXED_SET) === EPSON_FIXED_SET && (b & EPSON_FIXED_CLEAR) === 0 && b >= 0 && b <= 0xff;
}

/**
 * Decodes the replies to DLE EOT 1, 2 and 4. A byte without the fixed bits is garbage:
 * `valid` is false and the flags are set to the safe side (offline, not printable).
 */
export function decodeEpsonStatus(bytes: EpsonStatusBytes): EpsonStatus {
  const { printer, offline, paper } = bytes;
  const raw = { printer, offline, paper };
  const valid = isEpsonStatusByte(printer) && isEpsonStatusByte(offline) && isEpsonStatusByte(paper);
  if (!valid) {
    return { online: false, coverOpen: false, paperEnd: false, paperNearEnd: false, errorStopped: false, raw, valid };
  }
  return {
    online: (printer & 0x08) === 0,
    coverOpen: (offline & 0x04) !== 0,
    // Either the paper sensor (n=4 bits 5+6) or "stopped by paper end" (n=2 bit 5).
    paperEnd: (paper & 0x60) !== 0 || (offline & 0x20) !== 0,
    paperNearEnd: (paper & 0x0c) !== 0,
    errorStopped: (offline & 0x40) !== 0,
    raw,
    valid,
  };
}

export function epsonToPrinterStatus(s: EpsonStatus): PrinterStatus {
  return {
    answered: true,
    valid: s.valid,
    online: s.online,
    coverOpen: s.coverOpen,
    paperEnd: s.paperEnd,
    paperNearEnd: s.paperNearEnd,
    errorStopped: s.errorStopped,
    raw: [s.raw.printer, s.raw.offline, s.raw.paper],
  };
}

/** What the driver reports when a status request got no (complete) answer in time. */
export function noReplyStatus(raw: number[] = []): PrinterStatus {
  return {
    answered: false,
    valid: false,
    online: false,
    coverOpen: false,
    paperEnd: false,
    paperNearEnd: false,
    errorStopped: false,
    raw,
  };
}

/** The printer's condition, most serious first. */
export type PrinterCondition = 'offline' | 'error' | 'coverOpen' | 'paperOut' | 'paperNearEnd' | 'online';

export function classifyStatus(s: PrinterStatus): PrinterCondition {
  if (!s.answered) return 'offline';
  if (!s.valid) return 'error';
  if (s.coverOpen) return 'coverOpen';
  if (s.paperEnd) return 'paperOut';
  if (s.errorStopped) return 'error';
  if (!s.online) return 'offline';
  if (s.paperNearEnd) return 'paperNearEnd';
  return 'online';
}

/** A ticket may be printed only online, with paper, cover closed (CONTRACT §4). */
export function canPrint(s: PrinterStatus): boolean {
  const c = classifyStatus(s);
  return c === 'online' || c === 'paperNearEnd';
}

// ---------------------------------------------------------------- print completion (Epson)

export const COMPLETION_JOB_ID_LENGTH = 4;
const COMPLETION_REPLY_HEADER = [0x37, 0x22] as const;
export const COMPLETION_REPLY_LENGTH = 7;

/** True for a job id the printer accepts: exactly 4 bytes, each an ASCII digit or letter range 0x30..0x39. */
export function isValidJobId(jobId: Buffer): boolean {
  return jobId.length === COMPLETION_JOB_ID_LENGTH && jobId.every((b) => b >= 0x30 && b <= 0x39);
}

/** A job id from a counter: "0000".."9999", wrapping. */
export function jobIdFromNumber(n: number): Buffer {
  const digits = String(Math.abs(Math.trunc(n)) % 10_000).padStart(COMPLETION_JOB_ID_LENGTH, '0');
  return Buffer.from(digits, 'ascii');
}

/** `GS ( H` fn 48: "tell me when everything before this has printed". */
export function encodeCompletionRequest(jobId: Buffer): Buffer {
  if (!isValidJobId(jobId)) throw new RangeError('job id must be 4 bytes 0x30..0x39');
  return Buffer.concat([Buffer.from([0x1d, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30]), jobId]);
}

export interface IncomingScan {
  /** Job ids of complete `37 22 d1 d2 d3 d4 00` replies, in order. */
  completions: Buffer[];
  /** Every other complete byte, in order: status replies and garbage alike. */
  others: number[];
  /** A tail that may be the start of a completion reply: keep it and scan again with more bytes. */
  pending: Buffer;
}

/**
 * Splits bytes from the printer into completion replies and everything else (status bytes
 * may arrive between them). A `37` can never be a status byte (bit 0 set), so holding an
 * incomplete `37 22 ...` tail back does not delay any status reply.
 */
export function scanIncoming(bytes: Buffer): IncomingScan {
  const completions: Buffer[] = [];
  const others: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b !== COMPLETION_REPLY_HEADER[0]) {
      others.push(b);
      i++;
      continue;
    }
    const rest = bytes.length - i;
    if (rest < COMPLETION_REPLY_LENGTH) {
      if (couldBeCompletionPrefix(bytes.subarray(i))) return { completions, others, pending: Buffer.from(bytes.subarray(i)) };
      others.push(b);
      i++;
      continue;
    }
    const candidate = bytes.subarray(i, i + COMPLETION_REPLY_LENGTH);
    if (isCompletionReply(candidate)) {
      completions.push(Buffer.from(candidate.subarray(2, 6)));
      i += COMPLETION_REPLY_LENGTH;
    } else {
      others.push(b);
      i++;
    }
  }
  return { completions, others, pending: Buffer.alloc(0) };
}

function isCompletionReply(c: Buffer): boolean {
  return (
    c[0] === COMPLETION_REPLY_HEADER[0] &&
    c[1] === COMPLETION_REPLY_HEADER[1] &&
    isValidJobId(c.subarray(2, 6)) &&
    c[6] === 0x00
  );
}

function couldBeCompletionPrefix(tail: Buffer): boolean {
  for (let k = 0; k < tail.length; k++) {
    const b = tail[k]!;
    if (k === 0 && b !== COMPLETION_REPLY_HEADER[0]) return false;
    if (k === 1 && b !== COMPLETION_REPLY_HEADER[1]) return false;
    if (k >= 2 && k <= 5 && !(b >= 0x30 && b <= 0x39)) return false;
  }
  return true;
}

/** True when `bytes` (scanned) hold the completion reply for `jobId`. */
export function findCompletionReply(bytes: Buffer, jobId: Buffer): boolean {
  return scanIncoming(bytes).completions.some((c) => c.equals(jobId));
}

// ---------------------------------------------------------------- Star automatic status

/** `ESC ACK SOH`: asks a Star printer (Star Line Mode) for one automatic-status message. */
export const STAR_STATUS_REQUEST = Buffer.from([0x1b, 0x06, 0x01]);
/** The shortest ASB message: 2 header bytes and 5 status bytes (ASB version 1). */
export const STAR_ASB_MIN_LENGTH = 7;

/**
 * The total length of an ASB message from its first byte, or null when the byte is not an
 * ASB header. Header 1: bit 0 set, bits 4 and 7 clear; the count is in bits 1-3 and 5.
 */
export function starAsbLength(header1: number): number | null {
  if ((header1 & 0x91) !== 0x01) return null;
  const n = ((header1 >> 1) & 0x07) | ((header1 >> 2) & 0x08);
  return n >= STAR_ASB_MIN_LENGTH ? n : null;
}

/**
 * Decodes one ASB message (Star Line Mode, "automatic status"):
 * status byte 1 (index 2) bit 3 offline, bit 5 cover open;
 * status byte 2 (index 3) bits 3, 5, 6 error stops (mechanical, cutter, unrecoverable);
 * status byte 4 (index 5) bits 1-2 paper near end, bit 3 paper end.
 * Status bytes have bits 0, 4 and 7 clear; any other shape is garbage (valid: false).
 */
export function decodeStarStatus(asb: Buffer): PrinterStatus {
  const raw = [...asb];
  const len = asb.length > 0 ? starAsbLength(asb[0]!) : null;
  const statusBytesOk = asb.length >= STAR_ASB_MIN_LENGTH && raw.slice(1).every((b) => (b & 0x91) === 0);
  if (len === null || asb.length !== len || !statusBytesOk) {
    return { ...noReplyStatus(raw), answered: true };
  }
  const s1 = asb[2]!;
  const s2 = asb[3]!;
  const s4 = asb[5]!;
  return {
    answered: true,
    valid: true,
    online: (s1 & 0x08) === 0,
    coverOpen: (s1 & 0x20) !== 0,
    errorStopped: (s2 & 0x68) !== 0,
    paperEnd: (s4 & 0x08) !== 0,
    paperNearEnd: (s4 & 0x06) !== 0,
    raw,
  };
}
