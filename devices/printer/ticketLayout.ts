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
import { DEFAULT_CONTACT_LINE, TICKET_TEXTS, type TicketKind, type TicketLocale } from './ticketTexts.js';

export type PrinterModel = 'epson' | 'star';

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
  extraLines?: string[];
}

export interface LayoutOptions {
  type: PrinterModel;
}

/** Characters per line in font A on 80 mm paper (TM-T20III, TSP100/TSP650). */
export const LINE_WIDTH = 48;
export const TICKET_NUMBER_SIZE = { width: 4, height: 4 } as const;
export const SERVICE_NAME_SIZE = { width: 2, height: 2 } as const;
export const QR_CELL_SIZE = 6;

const ESC_INIT = Buffer.from([0x1b, 0x40]);
/** Select code page PC860: `ESC t 3` (Epson), `ESC GS t 6` (Star Line Mode). */
export const SELECT_PC860: Record<PrinterModel, Buffer> = {
  epson: Buffer.from([0x1b, 0x74, 0x03]),
  star: Buffer.from([0x1b, 0x1d, 0x74, 0x06]),
};
/** The cut each model's job ends with: `GS V 0` (Epson), `ESC d 2` feed-and-cut (Star). */
export const CUT_COMMAND: Record<PrinterModel, Buffer> = {
  epson: Buffer.from([0x1d, 0x56, 0x00]),
  star: Buffer.from([0x1b, 0x64, 0x02]),
};

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
  const max = type === 'epson' ? 8 : 6;
  const w = Math.min(max, Math.max(1, Math.trunc(width))) - 1;
  const h = Math.min(max, Math.max(1, Math.trunc(height))) - 1;
  return type === 'epson' ? Buffer.from([0x1d, 0x21, (w << 4) | h]) : Buffer.from([0x1b, 0x69, h, w]);
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
  constructor(private readonly type: PrinterModel) {
    this.p = new ThermalPrinter({
      type: type === 'epson' ? PrinterTypes.EPSON : PrinterTypes.STAR,
      // An object, not a URI: the library then builds none of its own transports.
      interface: NO_TRANSPORT as unknown as string,
      characterSet: CharacterSet.PC860_PORTUGUESE,
      width: LINE_WIDTH,
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

  /** One logical line, wrapped for the current character width. */
  line(text: string, charWidth = 1): this {
    for (const l of foldText(toPc860Text(text), LINE_WIDTH / charWidth)) {
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
    if (this.type === 'epson') this.p.printQR(qrPayload(url), { cellSize: QR_CELL_SIZE, correction: 'M', model: 2 });
    else this.p.append(starQrCommand(url));
    this.p.newLine();
    return this;
  }

  /** Cut, then the finished job: `ESC @`, PC860 selected, body, cut, nothing after. */
  finish(): Buffer {
    // Star's `ESC d 2` feeds to the cutter itself; Epson's `GS V 0` cuts where it stands.
    this.p.cut({ verticalTabAmount: this.type === 'epson' ? 2 : 0 });
    let body = Buffer.from(this.p.getBuffer());
    if (body.subarray(-ESC_INIT.length).equals(ESC_INIT)) body = body.subarray(0, body.length - ESC_INIT.length);
    const page = SELECT_PC860[this.type];
    // The library opens with the page already (characterSet option); never rely on it.
    if (!body.subarray(0, page.length).equals(page)) body = Buffer.concat([page, body]);
    return Buffer.concat([ESC_INIT, body]);
  }
}

export function encodeTicket(ticket: TicketContent, opts: LayoutOptions): Buffer {
  const t = TICKET_TEXTS[ticket.locale];
  const w = new JobWriter(opts.type).center();
  if (ticket.offline) w.bold(true).line(t.offlineMark).bold(false);
  w.bold(true).line(t.title[ticket.kind]).bold(false);
  w.size(TICKET_NUMBER_SIZE.width, TICKET_NUMBER_SIZE.height)
    .bold(true)
    .line(ticket.number, TICKET_NUMBER_SIZE.width)
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
  const w = new JobWriter(opts.type).center().bold(true).line(t.title.test).bold(false);
  w.size(2, 2).line('0123456789', 2).normal();
  w.left().line(t.testPageBody).line(t.characterCheck).line(formatIssuedAt(opts.now, opts.timeZone));
  for (const d of opts.details ?? []) w.line(d);
  w.center().qr('https://www.seg-social.pt').rule();
  return w.finish();
}

/** A plain slip (deposit receipt, collection slip): an optional bold title, then lines. */
export function encodeLines(lines: string[], opts: LayoutOptions & { title?: string }): Buffer {
  const w = new JobWriter(opts.type);
  if (opts.title !== undefined) w.center().bold(true).line(opts.title).bold(false).left();
  for (const l of lines) w.line(l);
  return w.finish();
}
