/**
 * Shows a decoded job the way the paper would look: as monospace text (48 columns of
 * font A on 80 mm paper) for tests and logs, and as a 576-dot-wide PNG for people.
 */
import QRCode from 'qrcode';
import { PNG } from 'pngjs';
import {
  COLUMNS_AT_NORMAL_WIDTH,
  FONT_A_CELL_HEIGHT,
  FONT_A_CELL_WIDTH,
  PRINT_WIDTH_DOTS,
  type Align,
  type EscPosDocument,
  type PrintedBlock,
  type PrintedLine,
} from './escposDecoder.js';
import { GLYPH_BYTES, GLYPH_CHARS, GLYPH_DATA_BASE64, GLYPH_HEIGHT, GLYPH_WIDTH } from './terminusFont.js';

const CUT_TEXT = '- - - - - - - - - - - [cut] - - - - - - - - - - -'.slice(0, COLUMNS_AT_NORMAL_WIDTH);
const PARTIAL_CUT_TEXT = '- - - - - - - - - [partial cut] - - - - - - - - -'.slice(0, COLUMNS_AT_NORMAL_WIDTH);

function padForAlign(text: string, columns: number, align: Align): string {
  const free = Math.max(0, columns - [...text].length);
  if (align === 'center') return ' '.repeat(Math.floor(free / 2)) + text;
  if (align === 'right') return ' '.repeat(free) + text;
  return text;
}

/** A line as it occupies columns: a double-width character takes two. */
function expandLine(line: PrintedLine): string {
  return line.runs.map((r) => [...r.text].map((c) => c.repeat(r.width)).join('')).join('');
}

function blockText(block: PrintedBlock): string | null {
  switch (block.type) {
    case 'line':
      return padForAlign(expandLine(block.line), COLUMNS_AT_NORMAL_WIDTH, block.line.align).trimEnd();
    case 'qr':
      return padForAlign(`[QR: ${block.data}]`, COLUMNS_AT_NORMAL_WIDTH, block.align);
    case 'barcode':
      return padForAlign(`[BARCODE: ${block.data}]`, COLUMNS_AT_NORMAL_WIDTH, block.align);
    case 'image':
      return padForAlign(`[IMAGE ${block.widthDots}x${block.heightDots}]`, COLUMNS_AT_NORMAL_WIDTH, block.align);
    case 'feed':
      return null;
    case 'cut':
      return block.partial ? PARTIAL_CUT_TEXT : CUT_TEXT;
  }
}

/** The job as monospace text, 48 columns; QR codes as `[QR: payload]`. */
export function renderTicketText(doc: EscPosDocument): string {
  const out: string[] = [];
  for (const block of doc.blocks) {
    const text = blockText(block);
    if (text !== null) out.push(text);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------
// PNG

/** Default line spacing (ESC 2) in dots: a 24-dot character plus the gap under it. */
const LINE_SPACING_DOTS = 30;
const MARGIN_DOTS = 16;
const CUT_BAND_DOTS = 24;
/** White space above and below a QR code so a phone finds it (the printer feeds anyway). */
const QR_QUIET_MODULES = 4;

let glyphs: Map<string, Buffer> | null = null;

function glyphFor(ch: string): Buffer | null {
  if (!glyphs) {
    glyphs = new Map();
    const data = Buffer.from(GLYPH_DATA_BASE64, 'base64');
    let k = 0;
    for (const c of GLYPH_CHARS) {
      glyphs.set(c, data.subarray(k * GLYPH_BYTES, (k + 1) * GLYPH_BYTES));
      k++;
    }
  }
  if (ch === ' ' || ch === '\u00a0') return null;
  return glyphs.get(ch) ?? glyphs.get('?') ?? null;
}

/** A 1-bit canvas: 1 = black dot. */
class DotCanvas {
  readonly dots: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.dots = new Uint8Array(width * height);
  }

  set(x: number, y: number, value = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.dots[y * this.width + x] = value;
  }

  fill(x: number, y: number, w: number, h: number, value = 1): void {
    for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) this.set(xx, yy, value);
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    for (let i = 0; i < this.dots.length; i++) {
      const v = this.dots[i] ? 0 : 255;
      png.data[i * 4] = v;
      png.data[i * 4 + 1] = v;
      png.data[i * 4 + 2] = v;
      png.data[i * 4 + 3] = 255;
    }
    return PNG.sync.write(png, { colorType: 0 });
  }
}

function alignedX(contentWidth: number, align: Align): number {
  const free = Math.max(0, PRINT_WIDTH_DOTS - contentWidth);
  return align === 'center' ? Math.floor(free / 2) : align === 'right' ? free : 0;
}

function lineHeightDots(line: PrintedLine): number {
  return Math.max(LINE_SPACING_DOTS, FONT_A_CELL_HEIGHT * line.height + (LINE_SPACING_DOTS - FONT_A_CELL_HEIGHT));
}

function qrMatrix(data: string, level: 'L' | 'M' | 'Q' | 'H'): { size: number; get(row: number, col: number): boolean } | null {
  try {
    const qr = QRCode.create(data, { errorCorrectionLevel: level });
    return { size: qr.modules.size, get: (r, c) => Boolean(qr.modules.get(r, c)) };
  } catch {
    return null; // too long for any QR version: the printer prints nothing either
  }
}

function blockHeight(block: PrintedBlock): number {
  switch (block.type) {
    case 'line':
      return lineHeightDots(block.line);
    case 'qr': {
      const m = qrMatrix(block.data, block.errorLevel);
      return m ? (m.size + 2 * QR_QUIET_MODULES) * block.moduleSize : 0;
    }
    case 'barcode':
      return LINE_SPACING_DOTS;
    case 'image':
      return block.heightDots;
    case 'feed':
      return block.dots;
    case 'cut':
      return CUT_BAND_DOTS;
  }
}

function drawChar(canvas: DotCanvas, ch: string, x: number, y: number, sx: number, sy: number, bold: boolean, invert: boolean): void {
  const cellW = FONT_A_CELL_WIDTH * sx;
  const cellH = FONT_A_CELL_HEIGHT * sy;
  if (invert) canvas.fill(x, y, cellW, cellH);
  const glyph = glyphFor(ch);
  if (!glyph) return;
  const ink = invert ? 0 : 1;
  const rowBytes = GLYPH_BYTES / GLYPH_HEIGHT;
  for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
    for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
      const byte = glyph[gy * rowBytes + (gx >> 3)] ?? 0;
      if (!(byte & (0x80 >> (gx & 7)))) continue;
      // Emphasized: each dot struck again one dot to the right, as the head does.
      const extra = bold ? sx : 0;
      canvas.fill(x + gx * sx, y + gy * sy, sx + extra, sy, ink);
    }
  }
}

function drawLine(canvas: DotCanvas, line: PrintedLine, top: number): void {
  const lineDots = line.runs.reduce((sum, r) => sum + [...r.text].length * FONT_A_CELL_WIDTH * r.width, 0);
  let x = alignedX(lineDots, line.align);
  const bottom = top + FONT_A_CELL_HEIGHT * line.height;
  for (const run of line.runs) {
    const cellW = FONT_A_CELL_WIDTH * run.width;
    const y = bottom - FONT_A_CELL_HEIGHT * run.height;
    for (const ch of run.text) {
      drawChar(canvas, ch, x, y, run.width, run.height, run.bold, run.invert);
      if (run.underline > 0) canvas.fill(x, bottom - run.underline, cellW, run.underline);
      x += cellW;
    }
  }
}

function drawBlock(canvas: DotCanvas, block: PrintedBlock, top: number): void {
  switch (block.type) {
    case 'line':
      drawLine(canvas, block.line, top);
      return;
    case 'qr': {
      const m = qrMatrix(block.data, block.errorLevel);
      if (!m) return;
      const s = block.moduleSize;
      const x0 = alignedX(m.size * s, block.align);
      const y0 = top + QR_QUIET_MODULES * s;
      for (let r = 0; r < m.size; r++) for (let c = 0; c < m.size; c++) if (m.get(r, c)) canvas.fill(x0 + c * s, y0 + r * s, s, s);
      return;
    }
    case 'barcode': {
      const text = `[BARCODE: ${block.data}]`;
      const runs = [{ text, width: 1, height: 1, bold: false, underline: 0, invert: false }];
      drawLine(canvas, { text, width: 1, height: 1, bold: false, align: block.align, runs }, top);
      return;
    }
    case 'image': {
      if (!block.data) return;
      const bytesPerRow = block.widthDots / 8;
      const x0 = alignedX(block.widthDots, block.align);
      for (let y = 0; y < block.heightDots; y++) {
        for (let x = 0; x < block.widthDots; x++) {
          const byte = block.data[y * bytesPerRow + (x >> 3)] ?? 0;
          if (byte & (0x80 >> (x & 7))) canvas.set(x0 + x, top + y);
        }
      }
      return;
    }
    case 'feed':
      return;
    case 'cut': {
      const y = top + Math.floor(CUT_BAND_DOTS / 2);
      const dash = block.partial ? 4 : 8;
      for (let x = 0; x < PRINT_WIDTH_DOTS; x += dash * 2) canvas.fill(x, y, dash, 2);
      return;
    }
  }
}

/** The job as a PNG, 576 dots wide (one pixel per printer dot). */
export function renderTicketPng(doc: EscPosDocument): Buffer {
  const heights = doc.blocks.map(blockHeight);
  const total = MARGIN_DOTS * 2 + heights.reduce((a, b) => a + b, 0);
  const canvas = new DotCanvas(PRINT_WIDTH_DOTS, Math.max(total, MARGIN_DOTS * 2));
  let top = MARGIN_DOTS;
  doc.blocks.forEach((block, i) => {
    drawBlock(canvas, block, top);
    top += heights[i] ?? 0;
  });
  return canvas.toPng();
}
