/**
 * Ticket and slip layout: content in, printer bytes out. node-thermal-printer is used
 * only as an encoder (never its transports or status calls), with its known faults
 * worked around here, each pinned by a test in test/printer-layout.test.ts:
 *
 * - `cut()` ends with `ESC @`, which resets the code page to PC437 for whatever comes
 *   next: the trailing `ESC @` is dropped, and every job starts `ESC @` + select PC860.
 * - `setTextSize(h, w)` puts its first argument in the width nibble of `GS ! n`, and Star
 *   has no `setTextSize` at all: sizes are emitted here (`sizeCommand`).
 * - Star `printQR` leaves out the `ESC GS y D 1` data command: Star QR bytes are ours.
 * - A character missing from the active page makes the library switch pages silently:
 *   text is reduced to PC860 first (pc860.ts).
 */
import { BreakLine, CharacterSet, PrinterTypes, ThermalPrinter } from 'node-thermal-printer';
import { dateTimeFormat } from '../../kernel/timeFormat.js';
import { toPc860Text } from './pc860.js';
import { qrModules } from './qrSymbol.js';
import { DEFAULT_CONTACT_LINE, TICKET_TEXTS, type TicketKind, type TicketLocale } from './ticketTexts.js';
import { DEFAULT_COLUMNS, type PrinterFamily } from './models/profile.js';

/** The command set a job is written in (ESC/POS or Star Line Mode): the config's `printer.type`. */
export type PrinterModel = PrinterFamily;

export interface TicketContent {
  number: string;
  serviceName: string;
  office: string;
  issuedAt: Date;
  /** IANA zone of the kiosk, e.g. "Europe/Lisbon": the time printed is local to the office. */
  timeZone: string;
  locale: TicketLocale;
  peopleAhead: number | null;
  waitMin: { low: number; high: number } | null;
  qrUrl: string;
  contactLine: string;
  onlineHint: boolean;
  likelyNotServedBeforeClosing: boolean;
  offline: boolean;
  kind: TicketKind;
  /** A priority ticket says so in words (CONTRACT §4). */
  priority?: boolean;
  extraLines?: string[];
}

export interface LayoutOptions {
  type: PrinterModel;
  /** Font A characters per line (`printer.columns`: 32, 42 or 48); default 48. */
  columns?: number;
}

/** Characters per line in font A on 80 mm paper with a 576-dot head (TM-T20III, TSP100/TSP650). */
export const LINE_WIDTH = DEFAULT_COLUMNS;
/** Font A is 12 dots wide on every supported model: the printable width is columns × 12. */
export const FONT_A_WIDTH_DOTS = 12;
export const TICKET_NUMBER_SIZE = { width: 4, height: 4 } as const;
export const SERVICE_NAME_SIZE = { width: 2, height: 2 } as const;
export const QR_CELL_SIZE = 6;

const ESC_INIT = Buffer.from([0x1b, 0x40]);
/**
 * What differs between the two command sets a job is written in, in one place: the
 * layout below reads this table instead of asking which printer it is.
 */
interface CommandSet {
  /** node-thermal-printer's encoder for it. */
  library: PrinterTypes;
  /** Select code page PC860: `ESC t 3` (Epson), `ESC GS t 6` (Star Line Mode). */
  selectPc860: Buffer;
  /** The job's cut: `GS V 0` (Epson, cuts where it stands), `ESC d 2` (Star, feeds to the cutter itself). */
  cut: Buffer;
  /** Lines fed before the cut, so the last line clears the blade. */
  feedBeforeCut: number;
  /** Largest character width and height multiplier. */
  maxScale: number;
  /** `GS ! n` (Epson: width in bits 4-7, height in bits 0-3); `ESC i n1 n2` (Star: n1 height, n2 width); both 0-based. */
  size(w: number, h: number): Buffer;
  /** The library's own QR (Epson), or ours (Star: the library leaves the data command out). */
  libraryQr: boolean;
}

const COMMAND_SETS: Record<PrinterModel, CommandSet> = {
  epson: {
    library: PrinterTypes.EPSON,
    selectPc860: Buffer.from([0x1b, 0x74, 0x03]),
    cut: Buffer.from([0x1d, 0x56, 0x00]),
    feedBeforeCut: 2,
    maxScale: 8,
    size: (w, h) => Buffer.from([0x1d, 0x21, (w << 4) | h]),
    libraryQr: true,
  },
  star: {
    library: PrinterTypes.STAR,
    selectPc860: Buffer.from([0x1b, 0x1d, 0x74, 0x06]),
    cut: Buffer.from([0x1b, 0x64, 0x02]),
    feedBeforeCut: 0,
    maxScale: 6,
    size: (w, h) => Buffer.from([0x1b, 0x69, h, w]),
    libraryQr: false,
  },
};

export const SELECT_PC860: Record<PrinterModel, Buffer> = { epson: COMMAND_SETS.epson.selectPc860, star: COMMAND_SETS.star.selectPc860 };
export const CUT_COMMAND: Record<PrinterModel, Buffer> = { epson: COMMAND_SETS.epson.cut, star: COMMAND_SETS.star.cut };

/** Refuses every use: the library is an encoder here, the driver owns the wire. */
const NO_TRANSPORT = {
  getPrinterName: () => 'encoder-only',
  isPrinterConnected: async () => false,
  execute: async () => {
    throw new Error('node-thermal-printer is used as an encoder only; write jobs through PrinterDriver');
  },
};

/**
 * Character size command for `width` × `height` times normal (1..8 Epson, 1..6 Star).
 * Epson `GS ! n`: width in bits 4-7, height in bits 0-3. Star `ESC i n1 n2`: n1 height, n2 width.
 */
export function sizeCommand(type: PrinterModel, width: number, height: number): Buffer {
  const set = COMMAND_SETS[type];
  const w = Math.min(set.maxScale, Math.max(1, Math.trunc(width))) - 1;
  const h = Math.min(set.maxScale, Math.max(1, Math.trunc(height))) - 1;
  return set.size(w, h);
}

/** QR payloads must be ASCII: the library counts UTF-16 units but writes UTF-8 bytes. */
export function qrPayload(url: string): string {
  return url.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** Star Line Mode QR: model 2, correction M, cell size, data (auto), print. */
export function starQrCommand(data: string, cellSize = QR_CELL_SIZE): Buffer {
  const bytes = Buffer.from(qrPayload(data), 'ascii');
  return Buffer.concat([
    Buffer.from([0x1b, 0x1d, 0x79, 0x53, 0x30, 0x02]),
    Buffer.from([0x1b, 0x1d, 0x79, 0x53, 0x31, 0x01]),
    Buffer.from([0x1b, 0x1d, 0x79, 0x53, 0x32, cellSize]),
    Buffer.from([0x1b, 0x1d, 0x79, 0x44, 0x31, 0x00, bytes.length & 0xff, (bytes.length >> 8) & 0xff]),
    bytes,
    Buffer.from([0x1b, 0x1d, 0x79, 0x50]),
  ]);
}

/** Date and time as printed: "28/11/2026 09:15" in the kiosk's zone, whatever the host's. */
export function formatIssuedAt(at: Date, timeZone: string): string {
  const parts = dateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === t)?.value ?? '??';
  return `${get('day')}/${get('month')}/${get('year')} ${get('hour')}:${get('minute')}`;
}

/**
 * The QR cell size (dots per module) for a payload on a line of `columns`: the largest up
 * to QR_CELL_SIZE whose symbol and quiet zone fit the printable width.
 */
export function qrCellSizeFor(payloadBytes: number, columns: number): number {
  const widthDots = columns * FONT_A_WIDTH_DOTS;
  const modules = qrModules(payloadBytes, 'M') + QR_QUIET_ZONE_MODULES * 2;
  return Math.max(1, Math.min(QR_CELL_SIZE, Math.floor(widthDots / modules)));
}

/** Quiet zone the layout keeps on each side of a QR code, in modules. */
export const QR_QUIET_ZONE_MODULES = 2;
/** Word-wraps to `width` columns (long words are split). */
export function foldText(text: string, width: number): string[] {
  const cols = Math.max(1, Math.floor(width));
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ').filter((w) => w.length > 0)) {
      let w = word;
      while (w.length > cols) {
        if (line.length > 0) {
          out.push(line);
          line = '';
        }
        out.push(w.slice(0, cols));
        w = w.slice(cols);
      }
      if (line.length === 0) line = w;
      else if (line.length + 1 + w.length <= cols) line += ` ${w}`;
      else {
        out.push(line);
        line = w;
      }
    }
    out.push(line);
  }
  return out;
}

/** A job being built: the library encodes, the fixes above are applied here. */
class JobWriter {
  private readonly p: ThermalPrinter;
  private readonly type: PrinterModel;
  private readonly columns: number;
  constructor(opts: LayoutOptions) {
    this.type = opts.type;
    this.columns = Math.max(1, Math.floor(opts.columns ?? LINE_WIDTH));
    this.p = new ThermalPrinter({
      type: COMMAND_SETS[this.type].library,
      // An object, not a URI: the library then builds none of its own transports.
      interface: NO_TRANSPORT as unknown as string,
      characterSet: CharacterSet.PC860_PORTUGUESE,
      // The rule (drawLine) is this many characters long.
      width: this.columns,
      breakLine: BreakLine.NONE,
      removeSpecialCharacters: false,
    });
  }

  size(width: number, height: number): this {
    this.p.append(sizeCommand(this.type, width, height));
    return this;
  }

  normal(): this {
    return this.size(1, 1);
  }

  bold(on: boolean): this {
    this.p.bold(on);
    return this;
  }

  center(): this {
    this.p.alignCenter();
    return this;
  }

  left(): this {
    this.p.alignLeft();
    return this;
  }

  /** One logical line, wrapped at word boundaries for the current character width (×N takes N columns). */
  line(text: string, charWidth = 1): this {
    for (const l of foldText(toPc860Text(text), this.columns / charWidth)) {
      this.p.append(l);
      this.p.newLine();
    }
    return this;
  }

  blank(): this {
    this.p.newLine();
    return this;
  }

  rule(): this {
    this.p.drawLine();
    return this;
  }

  qr(url: string): this {
    const payload = qrPayload(url);
    const cellSize = qrCellSizeFor(Buffer.byteLength(payload, 'ascii'), this.columns);
    if (COMMAND_SETS[this.type].libraryQr) this.p.printQR(payload, { cellSize, correction: 'M', model: 2 });
    else this.p.append(starQrCommand(url, cellSize));
    this.p.newLine();
    return this;
  }

  /** Cut, then the finished job: `ESC @`, PC860 selected, body, cut, nothing after. */
  finish(): Buffer {
    this.p.cut({ verticalTabAmount: COMMAND_SETS[this.type].feedBeforeCut });
    let body = Buffer.from(this.p.getBuffer());
    if (body.subarray(-ESC_INIT.length).equals(ESC_INIT)) body = body.subarray(0, body.length - ESC_INIT.length);
    const page = COMMAND_SETS[this.type].selectPc860;
    // The library opens with the page already (characterSet option); never rely on it.
    if (!body.subarray(0, page.length).equals(page)) body = Buffer.concat([page, body]);
    return Buffer.concat([ESC_INIT, body]);
  }
}

/**
 * The number's width multiplier: 4× as a rule; narrower when the number would not fit
 * on one line at 4× (a 9-character receipt id on 32 columns), so it is never split.
 */
export function ticketNumberWidth(number: string, columns: number): number {
  const chars = Math.max(1, [...number].length);
  return Math.max(1, Math.min(TICKET_NUMBER_SIZE.width, Math.floor(columns / chars)));
}

export function encodeTicket(ticket: TicketContent, opts: LayoutOptions): Buffer {
  const t = TICKET_TEXTS[ticket.locale];
  const w = new JobWriter(opts).center();
  if (ticket.offline) w.bold(true).line(t.offlineMark).bold(false);
  w.bold(true).line(t.title[ticket.kind]).bold(false);
  if (ticket.priority) w.bold(true).line(t.priorityMark).bold(false);
  const numberWidth = ticketNumberWidth(ticket.number, opts.columns ?? LINE_WIDTH);
  w.size(numberWidth, TICKET_NUMBER_SIZE.height)
    .bold(true)
    .line(ticket.number, numberWidth)
    .bold(false)
    .normal();
  w.size(SERVICE_NAME_SIZE.width, SERVICE_NAME_SIZE.height).line(ticket.serviceName, SERVICE_NAME_SIZE.width).normal();
  w.line(ticket.office).rule().left();
  w.line(`${t.issuedAt}: ${formatIssuedAt(ticket.issuedAt, ticket.timeZone)}`);
  if (ticket.kind === 'ticket' || ticket.kind === 'appointment') {
    w.line(`${t.peopleAhead}: ${ticket.peopleAhead === null ? t.unknown : String(ticket.peopleAhead)}`);
    const wait = ticket.waitMin === null ? t.unknown : `${ticket.waitMin.low}-${ticket.waitMin.high} ${t.minutes}`;
    w.line(`${t.estimatedWait}: ${wait}`);
  }
  if (ticket.likelyNotServedBeforeClosing) w.bold(true).line(t.likelyNotServedBeforeClosing).bold(false);
  if (ticket.offline) w.line(t.offlineExplanation);
  for (const extra of ticket.extraLines ?? []) w.line(extra);
  w.center();
  if (ticket.qrUrl.length > 0) w.blank().line(ticket.kind === 'deposit_receipt' ? t.receiptOnline : t.followOnline).qr(ticket.qrUrl);
  w.rule().line(ticket.contactLine.length > 0 ? ticket.contactLine : DEFAULT_CONTACT_LINE);
  if (ticket.onlineHint) w.line(t.onlineHint);
  return w.finish();
}

export interface TestPageOptions extends LayoutOptions {
  locale: TicketLocale;
  now: Date;
  timeZone: string;
  /** e.g. kiosk id and printer interface, for the technician. */
  details?: string[];
}

export function encodeTestPage(opts: TestPageOptions): Buffer {
  const t = TICKET_TEXTS[opts.locale];
  const w = new JobWriter(opts).center().bold(true).line(t.title.test).bold(false);
  w.size(2, 2).line('0123456789', 2).normal();
  w.left().line(t.testPageBody).line(t.characterCheck).line(formatIssuedAt(opts.now, opts.timeZone));
  for (const d of opts.details ?? []) w.line(d);
  w.center().qr('https://www.seg-social.pt').rule();
  return w.finish();
}

/** A plain slip (deposit receipt, collection slip): an optional bold title, then lines. */
export function encodeLines(lines: string[], opts: LayoutOptions & { title?: string }): Buffer {
  const w = new JobWriter(opts);
  if (opts.title !== undefined) w.center().bold(true).line(opts.title).bold(false).left();
  for (const l of lines) w.line(l);
  return w.finish();
}
