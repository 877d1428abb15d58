/**
 * `printer.columns` (CONTRACT §4): on 32-, 42- and 48-column paper no printed line is
 * wider than the paper, counting a character printed at width ×N as N columns. The jobs
 * are decoded as a printer would print them, but on a head so wide that nothing wraps:
 * a line the layout made too long shows up as too long instead of being folded.
 */
import { describe, expect, it } from 'vitest';
import { decodeEscPos, type EscPosDocument, type PrintedLine } from '../sim/printer/escposDecoder.js';
import { decodeStarLine } from '../sim/printer/starLineDecoder.js';
import { FONT_A_WIDTH_DOTS, QR_QUIET_ZONE_MODULES, encodeLines, encodeTestPage, encodeTicket, type TicketContent } from '../devices/printer/ticketLayout.js';
import { qrModules } from '../devices/printer/qrSymbol.js';
import { PRINTER_COLUMNS } from '../devices/printer/models/index.js';
import { sampleTicket } from './support/sampleTicket.js';
import { collectionSlipLines, type CollectionSlip } from '../src/dropbox/collectionSlip.js';

/** Nothing wraps on this head: every line comes out as the layout wrote it. */
const UNWRAPPED = { printWidthDots: 1_000_000 };

const LONG_SERVICE = 'Prestações de desemprego e subsídio por doença ou parentalidade';

const ticket = (over: Partial<TicketContent> = {}): TicketContent =>
  sampleTicket({ qrUrl: 'https://siga.seg-social.pt/t/lisboa-areeiro-01/P-K1-007?d=2026-11-28', likelyNotServedBeforeClosing: true, ...over });

/** Columns a printed line takes: each character counts its width multiplier. */
function lineColumns(line: PrintedLine): number {
  return line.runs.reduce((n, r) => n + [...r.text].length * r.width, 0);
}

function widest(doc: EscPosDocument): { columns: number; text: string } {
  let best = { columns: 0, text: '' };
  for (const l of doc.lines) if (lineColumns(l) > best.columns) best = { columns: lineColumns(l), text: l.text };
  return best;
}

function qrWidthsDots(doc: EscPosDocument): number[] {
  return doc.blocks.flatMap((b) => (b.type === 'qr' ? [(qrModules(Buffer.byteLength(b.data), b.errorLevel) + 2 * QR_QUIET_ZONE_MODULES) * b.moduleSize] : []));
}

const variants: Array<[string, Partial<TicketContent>]> = [
  ['a plain ticket', {}],
  ['a priority ticket', { priority: true }],
  ['an offline ticket with a long offline number', { offline: true, number: 'P-K1-007' }],
  ['a long Portuguese service name', { serviceName: LONG_SERVICE }],
  ['an English ticket', { locale: 'en', priority: true }],
  ['an appointment', { kind: 'appointment', number: 'A-K1-012', extraLines: ['Marcação das 10:30 para Prestações familiares e abono de família'] }],
  ['a deposit receipt', { kind: 'deposit_receipt', number: 'D-K1-0042' }],
];

describe.each(PRINTER_COLUMNS)('a ticket on %i-column paper', (columns) => {
  it.each(variants)('%s has no line wider than the paper', (_name, over) => {
    const doc = decodeEscPos(encodeTicket(ticket(over), { type: 'epson', columns }), UNWRAPPED);
    expect(doc.lines.length).toBeGreaterThan(5);
    // The number is never split, at 4x where it fits, a little narrower where it does not.
    const number = doc.lines.find((l) => l.height === 4);
    expect(number?.text).toBe(over.number ?? 'P042');
    expect(number!.width).toBe(Math.min(4, Math.floor(columns / number!.text.length)));
    expect(widest(doc).columns, `widest line: "${widest(doc).text}"`).toBeLessThanOrEqual(columns);
  });

  it('rules are exactly as wide as the paper', () => {
    const doc = decodeEscPos(encodeTicket(ticket(), { type: 'epson', columns }), UNWRAPPED);
    const rules = doc.lines.filter((l) => /^-+$/.test(l.text));
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) expect(lineColumns(r)).toBe(columns);
  });

  it('the QR code with its quiet zone fits the printable width', () => {
    const doc = decodeEscPos(encodeTicket(ticket(), { type: 'epson', columns }), UNWRAPPED);
    const widths = qrWidthsDots(doc);
    expect(widths).toHaveLength(1);
    expect(widths[0]).toBeLessThanOrEqual(columns * FONT_A_WIDTH_DOTS);
    expect(doc.qrCodes[0]).toBe(ticket().qrUrl);
  });

  it('the number keeps its 4× size and the service name its 2× size', () => {
    const doc = decodeEscPos(encodeTicket(ticket({ number: 'P-K1-007' }), { type: 'epson', columns }), UNWRAPPED);
    const number = doc.lines.find((l) => l.text.includes('P-K1'));
    expect(number?.width).toBe(4);
    expect(doc.lines.find((l) => l.text === 'Prestações')?.width).toBe(2);
  });

  it('a long service name wraps at word boundaries, every word whole and in order', () => {
    const doc = decodeEscPos(encodeTicket(ticket({ serviceName: LONG_SERVICE }), { type: 'epson', columns }), UNWRAPPED);
    const nameLines = doc.lines.filter((l) => l.width === 2 && l.text.length > 0).map((l) => l.text);
    expect(nameLines.join(' ')).toBe(LONG_SERVICE);
    const words = new Set(LONG_SERVICE.split(' '));
    for (const l of nameLines) for (const w of l.split(' ')) expect(words.has(w), `"${w}" in "${l}"`).toBe(true);
  });

  it('the test page and a collection slip fit too', () => {
    const page = decodeEscPos(encodeTestPage({ type: 'epson', columns, locale: 'pt-PT', now: new Date(0), timeZone: 'UTC', details: ['lisboa-01-k1', 'tcp://192.168.10.40:9100'] }), UNWRAPPED);
    expect(widest(page).columns).toBeLessThanOrEqual(columns);
    for (const w of qrWidthsDots(page)) expect(w).toBeLessThanOrEqual(columns * FONT_A_WIDTH_DOTS);
    const slip: CollectionSlip = { box: 'box-1', count: 12, collectedAt: '2026-11-28T18:00:00.000Z', seq: 4411, range: { receipts: 10, from: 'D-K1-0031', to: 'D-K1-0040' }, attempts: 1 };
    const lines = collectionSlipLines(slip, { kioskId: 'lisboa-01-k1', locale: 'pt-PT', timeZone: 'Europe/Lisbon', columns });
    const doc = decodeEscPos(encodeLines(lines, { type: 'epson', columns, title: 'Recolha de documentos' }), UNWRAPPED);
    expect(widest(doc).columns).toBeLessThanOrEqual(columns);
    expect(doc.lines.some((l) => /^-+$/.test(l.text) && l.text.length === columns)).toBe(true);
  });
});

describe('a priority ticket says so in words', () => {
  const texts = (over: Partial<TicketContent>) => decodeEscPos(encodeTicket(ticket(over), { type: 'epson' })).lines.map((l) => l.text).join('\n');

  it('in Portuguese: "prioritária"', () => {
    expect(texts({ priority: true })).toContain('prioritária');
    expect(texts({ priority: false })).not.toMatch(/priorit/i);
  });

  it('in English: "priority"', () => {
    expect(texts({ priority: true, locale: 'en' })).toContain('priority');
    expect(texts({ priority: false, locale: 'en' })).not.toMatch(/priorit/i);
  });
});

describe.each(PRINTER_COLUMNS)('a Star Line Mode ticket on %i-column paper', (columns) => {
  it.each(variants)('%s has no line wider than the paper', (_name, over) => {
    const doc = decodeStarLine(encodeTicket(ticket(over), { type: 'star', columns }), UNWRAPPED);
    expect(doc.lines.length).toBeGreaterThan(5);
    expect(doc.lines.find((l) => l.height === 4)?.text).toBe(over.number ?? 'P042');
    expect(widest(doc).columns, `widest line: "${widest(doc).text}"`).toBeLessThanOrEqual(columns);
    for (const w of qrWidthsDots(doc)) expect(w).toBeLessThanOrEqual(columns * FONT_A_WIDTH_DOTS);
  });
});
