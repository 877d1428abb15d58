/**
 * A decoder for the ESC/POS subset an Epson TM-T20III understands and node-thermal-printer
 * 4.6.1 emits for `type: 'epson'`, plus the real-time and status commands the controller
 * sends. Pure: bytes in, tokens and a document out; no I/O, no timers, never throws.
 *
 * Three layers, so the simulated printer can run the same code as the tests:
 *  - EscPosTokenizer: bytes (in any chunks) → tokens, holding an incomplete tail.
 *  - EscPosInterpreter: tokens → printed lines, QR codes, cuts, with the printer's modes
 *    carried across documents (a job's code page may have been set by the job before).
 *  - decodeEscPos(bytes): both at once, for a whole buffer.
 */

/** Names of the commands the interpreter acts on. Recognised-but-ignored commands are
 * named by their mnemonic instead ("ESC 3", "GS ( L", ...). */
export type EscPosCommandName =
  | 'init'
  | 'selectCodePage'
  | 'selectPrintMode'
  | 'selectCharacterSize'
  | 'bold'
  | 'underline'
  | 'align'
  | 'invert'
  | 'lineFeed'
  | 'carriageReturn'
  | 'horizontalTab'
  | 'formFeed'
  | 'printAndFeedLines'
  | 'printAndFeedDots'
  | 'cut'
  | 'qrSelectModel'
  | 'qrSetModuleSize'
  | 'qrSetErrorCorrection'
  | 'qrStoreData'
  | 'qrPrint'
  | 'barcode'
  | 'rasterImage'
  | 'realTimeStatus'
  | 'realTimeRequest'
  | 'realTimeClearBuffer'
  | 'printCompletionRequest'
  | 'transmitStatus'
  | 'cashDrawer'
  | 'unknown';

export interface EscPosToken {
  /** 'text' for a run of printable bytes, else the command's name. */
  name: EscPosCommandName | 'text' | (string & {});
  /** The exact bytes of the token as received. */
  bytes: Buffer;
  /** Real-time commands are executed on receipt, ahead of buffered print data. */
  realTime: boolean;
  /** The command's main parameter (n, m, fn) where it has one. */
  arg?: number;
  /** A payload: QR data, GS ( H d1..d4, raster bits. Absent when too large to keep. */
  data?: Buffer;
  /** Raster image geometry in dots. */
  widthDots?: number;
  heightDots?: number;
}

export type Align = 'left' | 'center' | 'right';

/** A stretch of a line printed in one style. */
export interface TextRun {
  text: string;
  width: number;
  height: number;
  bold: boolean;
  underline: number;
  invert: boolean;
}

export interface PrintedLine {
  text: string;
  /** Largest width/height multiplier on the line (1..8). An empty line: the size in force. */
  width: number;
  height: number;
  /** True when any character of the line was printed emphasized. */
  bold: boolean;
  align: Align;
  runs: TextRun[];
}

export type QrErrorLevel = 'L' | 'M' | 'Q' | 'H';

export type PrintedBlock =
  | { type: 'line'; line: PrintedLine }
  | { type: 'qr'; data: string; moduleSize: number; errorLevel: QrErrorLevel; align: Align }
  | { type: 'barcode'; system: number; data: string; align: Align }
  | { type: 'image'; widthDots: number; heightDots: number; data?: Buffer; align: Align }
  | { type: 'feed'; dots: number }
  | { type: 'cut'; partial: boolean };

export interface EscPosDocument {
  lines: PrintedLine[];
  qrCodes: string[];
  cuts: number;
  /** Every code page selected with ESC t, in order. */
  codePages: number[];
  /** Command names in order of execution (text runs are not listed). */
  commands: string[];
  /** Unknown or malformed sequences skipped. */
  unknown: number;
  /** Everything printed, in paper order, for renderers. */
  blocks: PrintedBlock[];
}

// ---------------------------------------------------------------------------------------
// Code pages

const PC437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';
const PC860_HIGH =
  'ÇüéâãàÁçêÊèÍÔìÃÂÉÀÈôõòÚùÌÕÜ¢£Ù₧ÓáíóúñÑªº¿Ò¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

// node-thermal-printer switches to one of these by itself when a character is missing
// from the selected page (e.g. '—' is not in PC860: it sends ESC t 16 and stays there).
const PC850_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u00ad±‗¾¶§÷¸°¨·¹³²■\u00a0';
const WPC1252_HIGH =
  '€?‚ƒ„…†‡ˆ‰Š‹Œ?Ž??‘’“”•–—˜™š›œ?žŸ\u00a0¡¢£¤¥¦§¨©ª«¬\u00ad®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ';

export const CODE_PAGE_PC437 = 0;
export const CODE_PAGE_PC850 = 2;
export const CODE_PAGE_PC860 = 3;
export const CODE_PAGE_WPC1252 = 16;

const HIGH_HALVES: ReadonlyMap<number, string> = new Map([
  [CODE_PAGE_PC437, PC437_HIGH],
  [CODE_PAGE_PC850, PC850_HIGH],
  [CODE_PAGE_PC860, PC860_HIGH],
  [CODE_PAGE_WPC1252, WPC1252_HIGH],
]);

/** One byte as the printer shows it in `codePage` (PC437 for pages not modelled). */
export function decodeCodePageByte(byte: number, codePage: number): string {
  if (byte < 0x80) return byte === 0x7f ? ' ' : String.fromCharCode(byte);
  const table = HIGH_HALVES.get(codePage) ?? PC437_HIGH;
  return table[byte - 0x80] ?? '?';
}

/** The bytes that print `text` in `codePage`, for tests and tools; '?' where impossible. */
export function encodeForCodePage(text: string, codePage: number): Buffer {
  const table = HIGH_HALVES.get(codePage) ?? PC437_HIGH;
  const out: number[] = [];
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code < 0x80) out.push(code);
    else {
      const i = table.indexOf(ch);
      out.push(i >= 0 ? 0x80 + i : 0x3f);
    }
  }
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------------------
// Tokenizer

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const DLE = 0x10;
const LF = 0x0a;
const CR = 0x0d;
const HT = 0x09;
const FF = 0x0c;
const NUL = 0x00;

/** Payloads larger than this are skipped as they arrive instead of being held. */
export const MAX_HELD_PAYLOAD_BYTES = 1 << 20;

/** ESC x commands with a fixed count of parameter bytes, and what we call them. */
const ESC_FIXED: ReadonlyMap<number, [args: number, name: string]> = new Map([
  [0x0c, [0, 'ESC FF']],
  [0x20, [1, 'ESC SP']],
  [0x21, [1, 'selectPrintMode']],
  [0x24, [2, 'ESC $']],
  [0x25, [1, 'ESC %']],
  [0x2d, [1, 'underline']],
  [0x32, [0, 'ESC 2']],
  [0x33, [1, 'ESC 3']],
  [0x3c, [0, 'ESC <']],
  [0x3d, [1, 'ESC =']],
  [0x3f, [1, 'ESC ?']],
  [0x40, [0, 'init']],
  [0x42, [2, 'ESC B']], // buzzer, as node-thermal-printer's beep() sends it
  [0x45, [1, 'bold']],
  [0x47, [1, 'bold']], // double-strike prints like emphasized
  [0x4a, [1, 'printAndFeedDots']],
  [0x4b, [1, 'ESC K']],
  [0x4c, [0, 'ESC L']],
  [0x4d, [1, 'ESC M']],
  [0x52, [1, 'ESC R']],
  [0x53, [0, 'ESC S']],
  [0x54, [1, 'ESC T']],
  [0x55, [1, 'ESC U']],
  [0x56, [1, 'ESC V']],
  [0x57, [8, 'ESC W']],
  [0x5c, [2, 'ESC \\']],
  [0x61, [1, 'align']],
  [0x63, [2, 'ESC c']],
  [0x64, [1, 'printAndFeedLines']],
  [0x65, [1, 'ESC e']],
  [0x69, [0, 'cut']], // legacy partial cut
  [0x6d, [0, 'cut']],
  [0x70, [3, 'cashDrawer']],
  [0x72, [1, 'ESC r']],
  [0x74, [1, 'selectCodePage']],
  [0x75, [1, 'ESC u']],
  [0x76, [0, 'ESC v']],
  [0x7b, [1, 'ESC {']],
]);

const GS_FIXED: ReadonlyMap<number, [args: number, name: string]> = new Map([
  [0x21, [1, 'selectCharacterSize']],
  [0x23, [1, 'GS #']],
  [0x24, [2, 'GS $']],
  [0x2f, [1, 'GS /']],
  [0x3a, [0, 'GS :']],
  [0x42, [1, 'invert']],
  [0x48, [1, 'GS H']],
  [0x49, [1, 'GS I']],
  [0x4c, [2, 'GS L']],
  [0x50, [2, 'GS P']],
  [0x54, [1, 'GS T']],
  [0x57, [2, 'GS W']],
  [0x5c, [2, 'GS \\']],
  [0x5e, [3, 'GS ^']],
  [0x61, [1, 'GS a']],
  [0x62, [1, 'GS b']],
  [0x63, [0, 'GS c']],
  [0x66, [1, 'GS f']],
  [0x67, [4, 'GS g']],
  [0x68, [1, 'GS h']],
  [0x72, [1, 'transmitStatus']],
  [0x77, [1, 'GS w']],
  [0x7c, [1, 'GS |']], // print density, as node-thermal-printer sends it
]);

const FS_FIXED: ReadonlyMap<number, [args: number, name: string]> = new Map([
  [0x21, [1, 'FS !']],
  [0x26, [0, 'FS &']],
  [0x2d, [1, 'FS -']],
  [0x2e, [0, 'FS .']],
  [0x43, [1, 'FS C']],
  [0x53, [2, 'FS S']],
  [0x57, [1, 'FS W']],
  [0x70, [2, 'FS p']],
]);

/** What a sequence starting at `i` needs: its length, or 'more' when the buffer ends first. */
type Scan =
  | { kind: 'more' }
  | { kind: 'token'; length: number; token: Omit<EscPosToken, 'bytes'>; payloadFrom?: number; skipAfter?: number };

const MORE: Scan = { kind: 'more' };

function cmd(length: number, name: string, extra: Partial<EscPosToken> = {}): Scan {
  return { kind: 'token', length, token: { name, realTime: false, ...extra } };
}

function unknown(length: number): Scan {
  return cmd(length, 'unknown');
}

/** A command followed by `payload` bytes: held when small, skipped as it streams when big. */
function withPayload(headerLength: number, payload: number, name: string, extra: Partial<EscPosToken> = {}): Scan {
  if (payload > MAX_HELD_PAYLOAD_BYTES) {
    return { kind: 'token', length: headerLength, token: { name, realTime: false, ...extra }, skipAfter: payload };
  }
  return { kind: 'token', length: headerLength + payload, token: { name, realTime: false, ...extra }, payloadFrom: headerLength };
}

function at(buf: Buffer, i: number): number | undefined {
  return i < buf.length ? buf[i] : undefined;
}

function scanEsc(buf: Buffer, i: number): Scan {
  const c = at(buf, i + 1);
  if (c === undefined) return MORE;
  const fixed = ESC_FIXED.get(c);
  if (fixed) {
    const [args, name] = fixed;
    if (i + 2 + args > buf.length) return MORE;
    return cmd(2 + args, name, args > 0 ? { arg: buf[i + 2] } : {});
  }
  switch (c) {
    case 0x2a: {
      // ESC * m nL nH d1..dk: bit image, 3 bytes per column in 24-dot modes
      if (i + 5 > buf.length) return MORE;
      const m = buf[i + 2] ?? 0;
      const columns = (buf[i + 3] ?? 0) + (buf[i + 4] ?? 0) * 256;
      return withPayload(5, m === 32 || m === 33 ? columns * 3 : columns, 'ESC *');
    }
    case 0x44: {
      // ESC D n1..nk NUL: tab positions, at most 32
      for (let j = i + 2; j < Math.min(buf.length, i + 2 + 33); j++) if (buf[j] === NUL) return cmd(j - i + 1, 'ESC D');
      return buf.length >= i + 2 + 33 ? cmd(2 + 33, 'ESC D') : MORE;
    }
    case 0x26: {
      // ESC & y c1 c2 [x d1..d(y*x)]...: user-defined characters
      if (i + 5 > buf.length) return MORE;
      const y = buf[i + 2] ?? 0;
      const count = Math.max(0, (buf[i + 4] ?? 0) - (buf[i + 3] ?? 0) + 1);
      let j = i + 5;
      for (let k = 0; k < count; k++) {
        const x = at(buf, j);
        if (x === undefined) return MORE;
        j += 1 + x * y;
      }
      return j > buf.length ? MORE : cmd(j - i, 'ESC &');
    }
    default:
      return unknown(2);
  }
}

function scanGs(buf: Buffer, i: number): Scan {
  const c = at(buf, i + 1);
  if (c === undefined) return MORE;
  const fixed = GS_FIXED.get(c);
  if (fixed) {
    const [args, name] = fixed;
    if (i + 2 + args > buf.length) return MORE;
    return cmd(2 + args, name, args > 0 ? { arg: buf[i + 2] } : {});
  }
  switch (c) {
    case 0x28: {
      // GS ( X pL pH ...: the family of length-prefixed commands
      if (i + 5 > buf.length) return MORE;
      const sub = buf[i + 2] ?? 0;
      const len = (buf[i + 3] ?? 0) + (buf[i + 4] ?? 0) * 256;
      if (len > MAX_HELD_PAYLOAD_BYTES) return withPayload(5, len, `GS ( ${String.fromCharCode(sub)}`);
      if (i + 5 + len > buf.length) return MORE;
      const p = buf.subarray(i + 5, i + 5 + len);
      if (sub === 0x6b) return scanSymbol(p, 5 + len);
      if (sub === 0x48 && len === 6 && p[0] === 0x30 && p[1] === 0x30) {
        return cmd(5 + len, 'printCompletionRequest', { arg: 0x30, data: Buffer.from(p.subarray(2, 6)) });
      }
      return cmd(5 + len, `GS ( ${String.fromCharCode(sub)}`);
    }
    case 0x2a: {
      // GS * x y d1..d(x*y*8): downloaded bit image
      if (i + 4 > buf.length) return MORE;
      return withPayload(4, (buf[i + 2] ?? 0) * (buf[i + 3] ?? 0) * 8, 'GS *');
    }
    case 0x38: {
      // GS 8 L p1 p2 p3 p4 ...: the 4-byte-length twin of GS ( L
      if (i + 3 > buf.length) return MORE;
      if (buf[i + 2] !== 0x4c) return unknown(3);
      if (i + 7 > buf.length) return MORE;
      const len = (buf[i + 3] ?? 0) + (buf[i + 4] ?? 0) * 0x100 + (buf[i + 5] ?? 0) * 0x10000 + (buf[i + 6] ?? 0) * 0x1000000;
      return withPayload(7, len, 'GS 8 L');
    }
    case 0x56: {
      // GS V m [n]: cut; the feed-and-cut forms carry n
      if (i + 3 > buf.length) return MORE;
      const m = buf[i + 2] ?? 0;
      const withN = [65, 66, 97, 98, 103, 104].includes(m);
      if (withN && i + 4 > buf.length) return MORE;
      return cmd(withN ? 4 : 3, 'cut', { arg: m });
    }
    case 0x6b: {
      // GS k m ...: function A data ends with NUL, function B has a length byte
      if (i + 3 > buf.length) return MORE;
      const m = buf[i + 2] ?? 0;
      if (m <= 6) {
        for (let j = i + 3; j < Math.min(buf.length, i + 3 + 256); j++) {
          if (buf[j] === NUL) return cmd(j - i + 1, 'barcode', { arg: m, data: Buffer.from(buf.subarray(i + 3, j)) });
        }
        return buf.length >= i + 3 + 256 ? unknown(3) : MORE;
      }
      if (i + 4 > buf.length) return MORE;
      const n = buf[i + 3] ?? 0;
      if (i + 4 + n > buf.length) return MORE;
      return cmd(4 + n, 'barcode', { arg: m, data: Buffer.from(buf.subarray(i + 4, i + 4 + n)) });
    }
    case 0x76: {
      // GS v 0 m xL xH yL yH d1..dk: raster image, xBytes * y bytes of bits
      if (i + 3 > buf.length) return MORE;
      if (buf[i + 2] !== 0x30) return unknown(3);
      if (i + 8 > buf.length) return MORE;
      const xBytes = (buf[i + 4] ?? 0) + (buf[i + 5] ?? 0) * 256;
      const y = (buf[i + 6] ?? 0) + (buf[i + 7] ?? 0) * 256;
      return withPayload(8, xBytes * y, 'rasterImage', { arg: buf[i + 3], widthDots: xBytes * 8, heightDots: y });
    }
    default:
      return unknown(2);
  }
}

/** GS ( k: `p` is everything after pL pH (cn fn params). */
function scanSymbol(p: Buffer, length: number): Scan {
  const cn = p[0];
  const fn = p[1];
  if (cn === undefined || fn === undefined) return unknown(length);
  if (cn !== 0x31) return cmd(length, 'GS ( k');
  switch (fn) {
    case 0x41:
      return cmd(length, 'qrSelectModel', { arg: p[2] ?? 0x32 });
    case 0x43:
      return cmd(length, 'qrSetModuleSize', { arg: p[2] ?? 3 });
    case 0x45:
      return cmd(length, 'qrSetErrorCorrection', { arg: p[2] ?? 0x30 });
    case 0x50:
      return cmd(length, 'qrStoreData', { data: Buffer.from(p.subarray(3)) });
    case 0x51:
      return cmd(length, 'qrPrint');
    default:
      return cmd(length, 'GS ( k');
  }
}

function scanFs(buf: Buffer, i: number): Scan {
  const c = at(buf, i + 1);
  if (c === undefined) return MORE;
  const fixed = FS_FIXED.get(c);
  if (fixed) {
    const [args, name] = fixed;
    if (i + 2 + args > buf.length) return MORE;
    return cmd(2 + args, name);
  }
  if (c === 0x28) {
    if (i + 5 > buf.length) return MORE;
    const len = (buf[i + 3] ?? 0) + (buf[i + 4] ?? 0) * 256;
    return withPayload(5, len, `FS ( ${String.fromCharCode(buf[i + 2] ?? 0x3f)}`);
  }
  return unknown(2);
}

function scanDle(buf: Buffer, i: number): Scan {
  const c = at(buf, i + 1);
  if (c === undefined) return MORE;
  const rt = (length: number, name: string, arg?: number): Scan => ({
    kind: 'token',
    length,
    token: arg === undefined ? { name, realTime: true } : { name, realTime: true, arg },
  });
  switch (c) {
    case 0x04: {
      // DLE EOT n [a]
      const n = at(buf, i + 2);
      if (n === undefined) return MORE;
      if (n === 7 || n === 8 || n === 18) return i + 4 > buf.length ? MORE : rt(4, 'realTimeStatus', n);
      return rt(3, 'realTimeStatus', n);
    }
    case 0x05: {
      const n = at(buf, i + 2);
      return n === undefined ? MORE : rt(3, 'realTimeRequest', n);
    }
    case 0x14: {
      // DLE DC4 fn ...: fn 1 pulse (m t), fn 2 power off (1 8), fn 7 (m), fn 8 clear buffers (7 bytes)
      const fn = at(buf, i + 2);
      if (fn === undefined) return MORE;
      const extra = fn === 1 || fn === 2 ? 2 : fn === 7 ? 1 : fn === 8 ? 7 : 0;
      if (i + 3 + extra > buf.length) return MORE;
      return rt(3 + extra, fn === 8 ? 'realTimeClearBuffer' : 'DLE DC4', fn);
    }
    default:
      return unknown(1);
  }
}

/**
 * Splits a byte stream into tokens. Feed it chunks as they arrive; a sequence cut in two
 * by a chunk boundary is held until the rest comes. Never throws.
 */
export class EscPosTokenizer {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of an oversized payload still to discard as they arrive. */
  private skipRemaining = 0;

  push(chunk: Buffer): EscPosToken[] {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const { tokens, rest } = this.scanAll(buf, false);
    this.pending = Buffer.from(rest);
    return tokens;
  }

  /** The stream ended: whatever incomplete sequence is held becomes one unknown token. */
  end(): EscPosToken[] {
    const { tokens, rest } = this.scanAll(this.pending, true);
    this.pending = Buffer.alloc(0);
    this.skipRemaining = 0;
    if (rest.length > 0) tokens.push({ name: 'unknown', bytes: Buffer.from(rest), realTime: false });
    return tokens;
  }

  /** Forget held bytes, as a printer's buffer clear does. */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.skipRemaining = 0;
  }

  private scanAll(buf: Buffer, atEnd: boolean): { tokens: EscPosToken[]; rest: Buffer } {
    const tokens: EscPosToken[] = [];
    let i = 0;
    while (i < buf.length) {
      if (this.skipRemaining > 0) {
        const skipped = Math.min(this.skipRemaining, buf.length - i);
        this.skipRemaining -= skipped;
        i += skipped;
        continue;
      }
      const b = buf[i] ?? 0;
      if (b >= 0x20) {
        let j = i + 1;
        while (j < buf.length && (buf[j] ?? 0) >= 0x20) j++;
        tokens.push({ name: 'text', bytes: Buffer.from(buf.subarray(i, j)), realTime: false });
        i = j;
        continue;
      }
      const scan = this.scanControl(buf, i, b);
      if (scan.kind === 'more') {
        if (atEnd) break;
        return { tokens, rest: buf.subarray(i) };
      }
      const end = i + scan.length;
      const token: EscPosToken = { ...scan.token, bytes: Buffer.from(buf.subarray(i, end)) };
      if (scan.payloadFrom !== undefined) token.data ??= token.bytes.subarray(scan.payloadFrom);
      tokens.push(token);
      if (scan.skipAfter !== undefined) this.skipRemaining = scan.skipAfter;
      i = end;
    }
    return { tokens, rest: buf.subarray(i) };
  }

  private scanControl(buf: Buffer, i: number, b: number): Scan {
    switch (b) {
      case LF:
        return cmd(1, 'lineFeed');
      case CR:
        return cmd(1, 'carriageReturn');
      case HT:
        return cmd(1, 'horizontalTab');
      case FF:
        return cmd(1, 'formFeed');
      case NUL:
        return cmd(1, 'NUL');
      case ESC:
        return scanEsc(buf, i);
      case GS:
        return scanGs(buf, i);
      case FS:
        return scanFs(buf, i);
      case DLE:
        return scanDle(buf, i);
      default:
        return unknown(1);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Interpreter

/** TM-T20III, 80 mm paper: 576 printable dots, font A cells 12x24. */
export const PRINT_WIDTH_DOTS = 576;
export const FONT_A_CELL_WIDTH = 12;
export const FONT_A_CELL_HEIGHT = 24;
export const COLUMNS_AT_NORMAL_WIDTH = PRINT_WIDTH_DOTS / FONT_A_CELL_WIDTH;
const TAB_COLUMNS = 8;

const QR_LEVELS: readonly QrErrorLevel[] = ['L', 'M', 'Q', 'H'];

interface PrintModes {
  codePage: number;
  width: number;
  height: number;
  bold: boolean;
  underline: number;
  invert: boolean;
  align: Align;
  qrModuleSize: number;
  qrErrorLevel: QrErrorLevel;
}

function initialModes(): PrintModes {
  return {
    codePage: CODE_PAGE_PC437,
    width: 1,
    height: 1,
    bold: false,
    underline: 0,
    invert: false,
    align: 'left',
    qrModuleSize: 3,
    qrErrorLevel: 'L',
  };
}

function emptyDocument(): EscPosDocument {
  return { lines: [], qrCodes: [], cuts: 0, codePages: [], commands: [], unknown: 0, blocks: [] };
}

/**
 * Executes tokens like the printer's print engine: keeps the modes, builds lines, wraps
 * at the paper's width. `takeDocument()` hands over what was printed since the last call,
 * keeping the modes, so a simulator can split jobs at cuts.
 */
export interface EscPosInterpreterOptions {
  /** Printable dots across the head: 576 (TM-T20, default), 512 (TM-T88), 384 (58 mm). */
  printWidthDots?: number;
}

export class EscPosInterpreter {
  private readonly printWidthDots: number;
  private modes: PrintModes = initialModes();
  private doc: EscPosDocument = emptyDocument();
  private runs: TextRun[] = [];
  private lineAlign: Align | null = null;
  private lineDots = 0;
  private qrData: Buffer | null = null;

  constructor(opts: EscPosInterpreterOptions = {}) {
    this.printWidthDots = opts.printWidthDots ?? PRINT_WIDTH_DOTS;
  }

  /** Something was printed (a line, a symbol, a feed, a cut) since the last takeDocument. */
  get hasOutput(): boolean {
    return this.doc.blocks.length > 0;
  }

  /** Text received but not yet printed (no LF yet). */
  get hasPendingLine(): boolean {
    return this.runs.length > 0;
  }

  apply(token: EscPosToken): void {
    if (token.name === 'text') {
      this.addText(token.bytes);
      return;
    }
    if (token.name !== 'NUL') this.doc.commands.push(token.name);
    const arg = token.arg ?? 0;
    switch (token.name) {
      case 'init':
        // ESC @ clears the print buffer and restores every mode
        this.modes = initialModes();
        this.clearLine();
        this.qrData = null;
        break;
      case 'selectCodePage':
        this.modes.codePage = arg;
        this.doc.codePages.push(arg);
        break;
      case 'selectPrintMode':
        this.modes.bold = (arg & 0x08) !== 0;
        this.modes.height = arg & 0x10 ? 2 : 1;
        this.modes.width = arg & 0x20 ? 2 : 1;
        this.modes.underline = arg & 0x80 ? 1 : 0;
        break;
      case 'selectCharacterSize':
        this.modes.width = ((arg >> 4) & 0x07) + 1;
        this.modes.height = (arg & 0x07) + 1;
        break;
      case 'bold':
        this.modes.bold = (arg & 0x01) !== 0;
        break;
      case 'underline':
        this.modes.underline = arg === 2 || arg === 0x32 ? 2 : arg === 1 || arg === 0x31 ? 1 : 0;
        break;
      case 'invert':
        this.modes.invert = (arg & 0x01) !== 0;
        break;
      case 'align': {
        const align: Align = arg === 1 || arg === 0x31 ? 'center' : arg === 2 || arg === 0x32 ? 'right' : 'left';
        this.modes.align = align;
        break;
      }
      case 'lineFeed':
      case 'formFeed':
        this.printLine();
        break;
      case 'horizontalTab': {
        const column = Math.floor(this.lineDots / FONT_A_CELL_WIDTH);
        const spaces = TAB_COLUMNS - (column % TAB_COLUMNS);
        this.addChars(' '.repeat(spaces));
        break;
      }
      case 'printAndFeedLines': {
        const blankLines = this.runs.length > 0 ? Math.max(0, arg - 1) : arg;
        if (this.runs.length > 0) this.printLine();
        for (let k = 0; k < blankLines; k++) this.printLine();
        break;
      }
      case 'printAndFeedDots':
        if (this.runs.length > 0) this.printLine();
        this.doc.blocks.push({ type: 'feed', dots: arg });
        break;
      case 'cut':
        if (this.runs.length > 0) this.printLine();
        this.doc.cuts++;
        this.doc.blocks.push({ type: 'cut', partial: isPartialCut(token) });
        break;
      case 'qrSelectModel':
        break;
      case 'qrSetModuleSize':
        if (arg >= 1 && arg <= 16) this.modes.qrModuleSize = arg;
        break;
      case 'qrSetErrorCorrection':
        this.modes.qrErrorLevel = QR_LEVELS[arg - 0x30] ?? this.modes.qrErrorLevel;
        break;
      case 'qrStoreData':
        this.qrData = token.data ?? null;
        break;
      case 'qrPrint':
        if (this.runs.length > 0) this.printLine();
        if (this.qrData && this.qrData.length > 0) {
          const data = this.qrData.toString('utf8');
          this.doc.qrCodes.push(data);
          this.doc.blocks.push({
            type: 'qr',
            data,
            moduleSize: this.modes.qrModuleSize,
            errorLevel: this.modes.qrErrorLevel,
            align: this.modes.align,
          });
        }
        break;
      case 'barcode':
        if (this.runs.length > 0) this.printLine();
        this.doc.blocks.push({ type: 'barcode', system: arg, data: (token.data ?? Buffer.alloc(0)).toString('latin1'), align: this.modes.align });
        break;
      case 'rasterImage': {
        if (this.runs.length > 0) this.printLine();
        const image: PrintedBlock = {
          type: 'image',
          widthDots: token.widthDots ?? 0,
          heightDots: token.heightDots ?? 0,
          align: this.modes.align,
        };
        if (token.data) image.data = token.data;
        this.doc.blocks.push(image);
        break;
      }
      case 'unknown':
        this.doc.unknown++;
        break;
      default:
        // real-time requests, status requests, drawer, settings: nothing to print
        break;
    }
  }

  /** Prints a pending unterminated line, as a final LF would. */
  flushPendingLine(): void {
    if (this.runs.length > 0) this.printLine();
  }

  /** Discards received-but-unprinted text, as a buffer clear does. */
  clearPendingLine(): void {
    this.clearLine();
  }

  /** Returns what was printed since the last call; modes stay as they are. */
  takeDocument(): EscPosDocument {
    const doc = this.doc;
    this.doc = emptyDocument();
    return doc;
  }

  /** Back to power-on state. */
  reset(): void {
    this.modes = initialModes();
    this.clearLine();
    this.qrData = null;
    this.doc = emptyDocument();
  }

  private clearLine(): void {
    this.runs = [];
    this.lineAlign = null;
    this.lineDots = 0;
  }

  private addText(bytes: Buffer): void {
    let text = '';
    for (const b of bytes) text += decodeCodePageByte(b, this.modes.codePage);
    this.addChars(text);
  }

  private addChars(text: string): void {
    const m = this.modes;
    const charDots = FONT_A_CELL_WIDTH * m.width;
    for (const ch of text) {
      // The printer wraps a character that no longer fits onto the next line.
      if (this.lineDots + charDots > this.printWidthDots && this.runs.length > 0) this.printLine();
      // Justification is taken from the start of the line (ESC a mid-line waits).
      if (this.lineAlign === null) this.lineAlign = m.align;
      const last = this.runs[this.runs.length - 1];
      if (last && last.width === m.width && last.height === m.height && last.bold === m.bold && last.underline === m.underline && last.invert === m.invert) {
        last.text += ch;
      } else {
        this.runs.push({ text: ch, width: m.width, height: m.height, bold: m.bold, underline: m.underline, invert: m.invert });
      }
      this.lineDots += charDots;
    }
  }

  private printLine(): void {
    const runs = this.runs;
    const line: PrintedLine =
      runs.length === 0
        ? { text: '', width: this.modes.width, height: this.modes.height, bold: false, align: this.modes.align, runs: [] }
        : {
            text: runs.map((r) => r.text).join(''),
            width: Math.max(...runs.map((r) => r.width)),
            height: Math.max(...runs.map((r) => r.height)),
            bold: runs.some((r) => r.bold && r.text.trim() !== ''),
            align: this.lineAlign ?? this.modes.align,
            runs,
          };
    this.doc.lines.push(line);
    this.doc.blocks.push({ type: 'line', line });
    this.clearLine();
  }
}

function isPartialCut(token: EscPosToken): boolean {
  const first = token.bytes[0];
  if (first === ESC) return true; // ESC i / ESC m are partial cuts
  const m = token.arg ?? 0;
  return m === 1 || m === 0x31 || m === 66 || m === 98 || m === 104;
}

/** Decodes a whole buffer: what the printer would print from it. Never throws. */
export function decodeEscPos(bytes: Buffer, opts: EscPosInterpreterOptions = {}): EscPosDocument {
  const tokenizer = new EscPosTokenizer();
  const interpreter = new EscPosInterpreter(opts);
  for (const token of tokenizer.push(bytes)) interpreter.apply(token);
  for (const token of tokenizer.end()) interpreter.apply(token);
  interpreter.flushPendingLine();
  return interpreter.takeDocument();
}
