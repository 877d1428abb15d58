/**
 * The barcode/QR scanner's serial protocol, pure: bytes in, scanned lines out.
 *
 * Scanners in "USB CDC / RS-232 serial" mode send each code as ASCII followed by a
 * terminator (CR by default; configurable as LF or CR LF). What the wire may also carry,
 * and what becomes of it here:
 *  - CR LF while CR is configured (or LF CR): the second byte is an empty line, skipped.
 *  - a line longer than SCAN_MAX_LINE_BYTES: dropped up to its terminator, `too_long`.
 *  - a line with a byte outside printable ASCII (0x20–0x7E, e.g. noise at power-on, a
 *    scanner in another keyboard mode): dropped, `not_printable`.
 *  - a partial line left without a terminator for SCAN_PARTIAL_LINE_MS (a cable pulled
 *    mid-code): dropped when the next byte arrives, `stale`, so it cannot prefix the
 *    next citizen's code.
 * No I/O, no timers: the caller passes the time of each chunk.
 */

/** Longest line accepted, terminator excluded: codes are short; anything longer is noise. */
export const SCAN_MAX_LINE_BYTES = 128;
/** A scanner sends a whole code in one burst; a partial line older than this is stale. */
export const SCAN_PARTIAL_LINE_MS = 1_000;

export type ScanLineEnding = '\r' | '\n' | '\r\n';

export type ScanRejectReason = 'too_long' | 'not_printable' | 'stale';

export type ScanItem = { ok: true; line: string } | { ok: false; reason: ScanRejectReason; bytes: number };

const CR = 0x0d;
const LF = 0x0a;

export function isPrintableAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}

/**
 * Splits a byte stream into lines. Either CR or LF ends a line whatever the configured
 * ending (a scanner set to the other one still works); an empty line — the LF of a CR LF
 * pair — is skipped, so CR, LF and CR LF all give one line per code.
 */
export class ScanLineFramer {
  private buf: number[] = [];
  /** Bytes of the current line beyond the limit, counted while it is being skipped. */
  private overflow = 0;
  private lastByteAt = 0;

  constructor(readonly lineEnding: ScanLineEnding = '\r') {}

  push(chunk: Uint8Array, nowMs: number): ScanItem[] {
    const out: ScanItem[] = [];
    if (chunk.length === 0) return out;
    if ((this.buf.length > 0 || this.overflow > 0) && nowMs - this.lastByteAt > SCAN_PARTIAL_LINE_MS) {
      out.push({ ok: false, reason: 'stale', bytes: this.buf.length + this.overflow });
      this.buf = [];
      this.overflow = 0;
    }
    this.lastByteAt = nowMs;
    for (const b of chunk) {
      if (b === CR || b === LF) {
        const item = this.endLine();
        if (item) out.push(item);
        continue;
      }
      if (this.overflow > 0 || this.buf.length >= SCAN_MAX_LINE_BYTES) {
        this.overflow++;
        continue;
      }
      this.buf.push(b);
    }
    return out;
  }

  /** Forgets a partial line (the port closed under it). */
  reset(): void {
    this.buf = [];
    this.overflow = 0;
  }

  private endLine(): ScanItem | null {
    const bytes = Uint8Array.from(this.buf);
    const overflow = this.overflow;
    this.buf = [];
    this.overflow = 0;
    if (overflow > 0) return { ok: false, reason: 'too_long', bytes: bytes.length + overflow };
    if (bytes.length === 0) return null;
    if (!isPrintableAscii(bytes)) return { ok: false, reason: 'not_printable', bytes: bytes.length };
    return { ok: true, line: Buffer.from(bytes).toString('latin1') };
  }
}

/** The bytes a scanner sends for `code` (the simulator and tests use it). */
export function encodeScan(code: string, lineEnding: ScanLineEnding = '\r'): Buffer {
  return Buffer.from(code + lineEnding, 'latin1');
}
