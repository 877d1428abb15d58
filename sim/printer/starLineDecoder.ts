/**
 * A decoder for the Star Line Mode subset a Star TSP100/TSP650 understands and the layout
 * writes (node-thermal-printer's `type: 'star'` plus our own sizes and QR), plus the
 * automatic-status request `ESC ACK SOH`. Pure: bytes in (any chunks), tokens out.
 *
 * Tokens carry the ESC/POS command names the EscPosInterpreter acts on (`bold`, `align`,
 * `selectCharacterSize`, `qrStoreData`, ...), translated from the Star commands, so one
 * interpreter builds the printed document for both command sets.
 */
import { CODE_PAGE_PC437, CODE_PAGE_PC860, CODE_PAGE_WPC1252, EscPosInterpreter, type EscPosDocument, type EscPosInterpreterOptions, type EscPosToken } from './escposDecoder.js';

const ESC = 0x1b;
const GS = 0x1d;
const ACK = 0x06;
const SOH = 0x01;

/** Star code page numbers (`ESC GS t n`) → the interpreter's (Epson) numbers. */
const STAR_CODE_PAGES: Record<number, number> = { 1: CODE_PAGE_PC437, 3: CODE_PAGE_PC437, 6: CODE_PAGE_PC860, 32: CODE_PAGE_WPC1252 };

/** The automatic-status request: answered at once, ahead of print data. */
export const STAR_STATUS_REQUEST_NAME = 'starStatusRequest';

type Parsed = { token: EscPosToken } | 'incomplete';

function token(bytes: Buffer, name: string, extra: Partial<EscPosToken> = {}): Parsed {
  return { token: { name, bytes: Buffer.from(bytes), realTime: false, ...extra } };
}

/** One token at the start of `b` (which starts with ESC), or 'incomplete'. */
function parseEsc(b: Buffer): Parsed {
  if (b.length < 2) return 'incomplete';
  const c = b[1]!;
  const need = (n: number): Buffer | null => (b.length >= n ? b.subarray(0, n) : null);
  switch (c) {
    case 0x40: // ESC @
      return token(b.subarray(0, 2), 'init');
    case ACK: {
      const t = need(3);
      if (!t) return 'incomplete';
      return t[2] === SOH ? { token: { name: STAR_STATUS_REQUEST_NAME, bytes: Buffer.from(t), realTime: true } } : token(t, 'unknown');
    }
    case 0x45: // ESC E: emphasis on
      return token(b.subarray(0, 2), 'bold', { arg: 1 });
    case 0x46: // ESC F: emphasis off
      return token(b.subarray(0, 2), 'bold', { arg: 0 });
    case 0x2d: {
      const t = need(3);
      return t ? token(t, 'underline', { arg: t[2]! }) : 'incomplete';
    }
    case 0x69: {
      // ESC i n1 n2: n1 height - 1, n2 width - 1 → GS ! style (width high nibble).
      const t = need(4);
      return t ? token(t, 'selectCharacterSize', { arg: ((t[3]! & 0x07) << 4) | (t[2]! & 0x07) }) : 'incomplete';
    }
    case 0x64: {
      // ESC d n: feed to the cutter and cut (2 full, 3 partial).
      const t = need(3);
      return t ? token(t, 'cut', { arg: t[2] === 3 ? 1 : 0 }) : 'incomplete';
    }
    case GS:
      return parseEscGs(b);
    default: {
      // An unknown ESC x n: skipped with one parameter byte, as most are.
      const t = need(3);
      return t ? token(t, 'unknown') : 'incomplete';
    }
  }
}

function parseEscGs(b: Buffer): Parsed {
  if (b.length < 3) return 'incomplete';
  const d = b[2]!;
  if (d === 0x74 || d === 0x61) {
    if (b.length < 4) return 'incomplete';
    const n = b[3]!;
    return d === 0x74
      ? token(b.subarray(0, 4), 'selectCodePage', { arg: STAR_CODE_PAGES[n] ?? n })
      : token(b.subarray(0, 4), 'align', { arg: n });
  }
  if (d !== 0x79) return b.length >= 4 ? token(b.subarray(0, 4), 'unknown') : 'incomplete';
  // ESC GS y: QR code.
  if (b.length < 4) return 'incomplete';
  const sub = b[3]!;
  if (sub === 0x53) {
    if (b.length < 6) return 'incomplete';
    const which = b[4]!;
    const n = b[5]!;
    const t = b.subarray(0, 6);
    if (which === 0x31) return token(t, 'qrSetErrorCorrection', { arg: 0x30 + n });
    if (which === 0x32) return token(t, 'qrSetModuleSize', { arg: n });
    return token(t, 'qrSelectModel', { arg: n });
  }
  if (sub === 0x44) {
    if (b.length < 8) return 'incomplete';
    const len = b[6]! + b[7]! * 256;
    if (b.length < 8 + len) return 'incomplete';
    return token(b.subarray(0, 8 + len), 'qrStoreData', { data: Buffer.from(b.subarray(8, 8 + len)) });
  }
  if (sub === 0x50) return token(b.subarray(0, 4), 'qrPrint');
  return token(b.subarray(0, 4), 'unknown');
}

/** Bytes (in any chunks) → tokens; an incomplete command is held for the next chunk. */
export class StarLineTokenizer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EscPosToken[] {
    const b = Buffer.concat([this.pending, chunk]);
    const out: EscPosToken[] = [];
    let i = 0;
    while (i < b.length) {
      const c = b[i]!;
      if (c === ESC) {
        const parsed = parseEsc(b.subarray(i));
        if (parsed === 'incomplete') break;
        out.push(parsed.token);
        i += parsed.token.bytes.length;
      } else if (c === 0x0a) {
        out.push({ name: 'lineFeed', bytes: Buffer.from([c]), realTime: false });
        i++;
      } else if (c < 0x20) {
        out.push({ name: c === 0x0d ? 'carriageReturn' : 'NUL', bytes: Buffer.from([c]), realTime: false });
        i++;
      } else {
        let j = i;
        while (j < b.length && b[j]! >= 0x20) j++;
        out.push({ name: 'text', bytes: Buffer.from(b.subarray(i, j)), realTime: false });
        i = j;
      }
    }
    this.pending = Buffer.from(b.subarray(i));
    return out;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
  }
}

/** Decodes a whole Star Line Mode job: what the printer would print from it. Never throws. */
export function decodeStarLine(bytes: Buffer, opts: EscPosInterpreterOptions = {}): EscPosDocument {
  const interpreter = new EscPosInterpreter(opts);
  for (const t of new StarLineTokenizer().push(bytes)) if (!t.realTime) interpreter.apply(t);
  interpreter.flushPendingLine();
  return interpreter.takeDocument();
}
