import { describe, expect, it } from 'vitest';
import { ThermalPrinter, PrinterTypes, CharacterSet } from 'node-thermal-printer';
import { decodeEscPos, EscPosTokenizer } from '../sim/printer/escposDecoder.js';
import {
  encodeLines,
  encodeTestPage,
  encodeTicket,
  formatIssuedAt,
  sizeCommand,
  starQrCommand,
  type TicketContent,
} from '../devices/printer/ticketLayout.js';
import { encodePc860, toPc860Text } from '../devices/printer/pc860.js';
import { sampleTicket } from './support/sampleTicket.js';

const ticket = sampleTicket;

const indexOf = (hay: Buffer, needle: number[]): number => hay.indexOf(Buffer.from(needle));

/** The code page in force at every byte offset, following ESC @ and ESC t as a printer does. */
function codePageTrace(job: Buffer): { pageAt: (offset: number) => number; finalPage: number } {
  const tokens = new EscPosTokenizer().push(job);
  let page = 0;
  let offset = 0;
  const changes: Array<[number, number]> = [[0, 0]];
  for (const t of tokens) {
    if (t.name === 'init') page = 0;
    if (t.name === 'selectCodePage') page = t.arg ?? page;
    offset += t.bytes.length;
    changes.push([offset, page]);
  }
  return {
    pageAt: (o) => [...changes].reverse().find(([at]) => at <= o)![1],
    finalPage: page,
  };
}

describe('ticket layout (Epson)', () => {
  const job = encodeTicket(ticket(), { type: 'epson' });
  const doc = decodeEscPos(job);
  const texts = doc.lines.map((l) => l.text);

  it('starts by resetting the printer and selecting PC860 (ESC @, ESC t 3)', () => {
    expect([...job.subarray(0, 5)]).toEqual([0x1b, 0x40, 0x1b, 0x74, 0x03]);
  });

  it('leaves PC860 selected after every ESC @ and at the end of the job, for the next one', () => {
    // node-thermal-printer's cut() appends ESC @, which would reset the page to PC437.
    for (let i = job.indexOf(Buffer.from([0x1b, 0x40])); i >= 0; i = job.indexOf(Buffer.from([0x1b, 0x40]), i + 1)) {
      expect([...job.subarray(i + 2, i + 5)], `after ESC @ at ${i}`).toEqual([0x1b, 0x74, 0x03]);
    }
    expect(codePageTrace(job).finalPage).toBe(3);
    expect(doc.codePages.every((p) => p === 3)).toBe(true);
  });

  it('prints every accented character while PC860 is in force', () => {
    const trace = codePageTrace(job);
    job.forEach((b, i) => {
      if (b >= 0x80) expect(trace.pageAt(i), `byte 0x${b.toString(16)} at ${i}`).toBe(3);
    });
  });

  it('prints the service name with its accents, as the printer decodes them', () => {
    expect(texts).toContain('Prestações');
    expect(texts.some((t) => t.includes('Linha Segurança Social 300 502 502'))).toBe(true);
    expect(texts.some((t) => t.includes('Pessoas à sua frente: 3'))).toBe(true);
  });

  it('prints the ticket number 4 times wider and 4 times taller (GS ! 0x33)', () => {
    const line = doc.lines.find((l) => l.text === 'P042');
    expect(line).toMatchObject({ width: 4, height: 4, bold: true });
    expect(indexOf(job, [0x1d, 0x21, 0x33])).toBeGreaterThan(0);
  });

  it('prints the service name double width and double height', () => {
    expect(doc.lines.find((l) => l.text === 'Prestações')).toMatchObject({ width: 2, height: 2 });
  });

  it('puts the width in the high nibble of GS ! (the library swaps its arguments)', () => {
    expect([...sizeCommand('epson', 3, 1)]).toEqual([0x1d, 0x21, 0x20]);
    expect([...sizeCommand('epson', 1, 3)]).toEqual([0x1d, 0x21, 0x02]);
    // The fault we work around: asked for height 2 (arg 1) and width 0, it sets width 2.
    const lib = new ThermalPrinter({ type: PrinterTypes.EPSON, interface: {} as unknown as string });
    lib.setTextSize(1, 0);
    expect([...lib.getBuffer()].slice(-3)).toEqual([0x1d, 0x21, 0x10]);
    expect(decodeEscPos(Buffer.concat([sizeCommand('epson', 3, 1), Buffer.from('X\n')])).lines[0]).toMatchObject({ width: 3, height: 1 });
  });

  it('prints the date and time in the kiosk time zone, not the host one', () => {
    expect(texts).toContain('Emitida em: 28/11/2026 09:15');
    expect(formatIssuedAt(new Date('2026-07-01T08:05:00Z'), 'Europe/Lisbon')).toBe('01/07/2026 09:05');
    expect(formatIssuedAt(new Date('2026-07-01T08:05:00Z'), 'Atlantic/Azores')).toBe('01/07/2026 08:05');
  });

  it('prints the estimated wait as a range', () => {
    expect(texts).toContain('Tempo de espera estimado: 10-20 min');
  });

  it('carries a QR code with the ticket URL', () => {
    expect(doc.qrCodes).toEqual(['https://senhas.example.pt/t/lisboa-01/P042']);
  });

  it('ends with the cut (GS V), with nothing after it', () => {
    expect([...job.subarray(-3)]).toEqual([0x1d, 0x56, 0x00]);
    expect(doc.cuts).toBe(1);
    expect(doc.unknown).toBe(0);
  });

  it('shows the Segurança Social Direta hint only when asked', () => {
    expect(texts.join(' ')).toContain('Segurança Social Direta');
    const without = decodeEscPos(encodeTicket(ticket({ onlineHint: false }), { type: 'epson' }));
    expect(without.lines.map((l) => l.text).join(' ')).not.toContain('Direta');
  });
});

describe('ticket content variants', () => {
  const textOf = (t: TicketContent) =>
    decodeEscPos(encodeTicket(t, { type: 'epson' }))
      .lines.map((l) => l.text)
      .join('\n');

  it('an unknown wait and unknown people ahead read "desconhecido" in Portuguese', () => {
    const text = textOf(ticket({ waitMin: null, peopleAhead: null }));
    expect(text).toContain('Tempo de espera estimado: desconhecido');
    expect(text).toContain('Pessoas à sua frente: desconhecido');
  });

  it('an English ticket reads "unknown"', () => {
    const text = textOf(ticket({ locale: 'en', serviceName: 'Benefits', waitMin: null }));
    expect(text).toContain('Estimated wait: unknown');
    expect(text).toContain('People ahead of you: 3');
  });

  it('an offline ticket is marked OFFLINE at the top', () => {
    const lines = decodeEscPos(encodeTicket(ticket({ offline: true }), { type: 'epson' })).lines;
    expect(lines[0]!.text).toContain('OFFLINE');
    expect(lines.map((l) => l.text).join('\n')).toContain('sem ligação ao sistema central');
  });

  it('warns when the citizen will probably not be served before closing', () => {
    expect(textOf(ticket({ likelyNotServedBeforeClosing: true }))).toContain('provável que não seja atendido');
    expect(textOf(ticket())).not.toContain('provável');
  });

  it('a service name with characters PC860 lacks never switches the printer to another code page', () => {
    // The library would send ESC t 16 for '—' and '€' and leave the printer there.
    const job = encodeTicket(ticket({ serviceName: 'Prestações — 5€ “Ação”' }), { type: 'epson' });
    const doc = decodeEscPos(job);
    expect(doc.codePages.every((p) => p === 3)).toBe(true);
    expect(doc.lines.map((l) => l.text)).toContain('Prestações - 5EUR "Ação"');
  });

  it('control bytes in a name from central cannot inject printer commands', () => {
    const job = encodeTicket(ticket({ serviceName: 'A\x1b@\x1dV\x00B' }), { type: 'epson' });
    expect(decodeEscPos(job).cuts).toBe(1);
    expect(decodeEscPos(job).lines.map((l) => l.text)).toContain('A@VB');
  });

  it('a generic slip and the test page also end with a cut and keep PC860', () => {
    for (const job of [
      encodeLines(['Envelopes: 7', 'Caixa: box-1'], { type: 'epson', title: 'Recolha' }),
      encodeTestPage({ type: 'epson', locale: 'pt-PT', now: new Date('2026-01-01T10:00:00Z'), timeZone: 'Europe/Lisbon' }),
    ]) {
      const doc = decodeEscPos(job);
      expect([...job.subarray(0, 5)]).toEqual([0x1b, 0x40, 0x1b, 0x74, 0x03]);
      expect([...job.subarray(-3)]).toEqual([0x1d, 0x56, 0x00]);
      expect(doc.codePages.every((p) => p === 3)).toBe(true);
    }
    const test = decodeEscPos(encodeTestPage({ type: 'epson', locale: 'pt-PT', now: new Date(), timeZone: 'Europe/Lisbon' }));
    expect(test.lines.map((l) => l.text)).toContain('Acentos: ç ã õ á é ê í ó ú À Ç É Ó');
  });
});

describe('PC860 encoding', () => {
  // Code points from the IBM PC860 table.
  const table: Array<[string, number]> = [
    ['ç', 0x87],
    ['ã', 0x84],
    ['õ', 0x94],
    ['á', 0xa0],
    ['é', 0x82],
    ['ê', 0x88],
    ['í', 0xa1],
    ['ó', 0xa2],
    ['ú', 0xa3],
    ['à', 0x85],
    ['â', 0x83],
    ['ô', 0x93],
    ['À', 0x91],
    ['Ç', 0x80],
    ['É', 0x90],
    ['Ó', 0x9f],
    ['Ã', 0x8e],
    ['Õ', 0x99],
    ['Á', 0x86],
    ['Ê', 0x89],
    ['Ú', 0x96],
    ['º', 0xa7],
    ['ª', 0xa6],
  ];
  for (const [ch, byte] of table) {
    it(`"${ch}" is byte 0x${byte.toString(16)} on the ticket (library encoding) and in our table`, () => {
      expect([...encodePc860(ch)]).toEqual([byte]);
      const job = encodeLines([`x${ch}x`], { type: 'epson' });
      expect(job.indexOf(Buffer.from([0x78, byte, 0x78]))).toBeGreaterThan(0);
    });
  }

  it('the library selects ESC t 3 for CharacterSet.PC860_PORTUGUESE', () => {
    const lib = new ThermalPrinter({ type: PrinterTypes.EPSON, interface: {} as unknown as string, characterSet: CharacterSet.PC860_PORTUGUESE });
    expect([...lib.getBuffer()]).toEqual([0x1b, 0x74, 0x03]);
  });

  it('the library cut ends with ESC @ (the fault the layout removes)', () => {
    const lib = new ThermalPrinter({ type: PrinterTypes.EPSON, interface: {} as unknown as string });
    lib.cut();
    expect([...lib.getBuffer()].slice(-2)).toEqual([0x1b, 0x40]);
  });

  it('reduces text to what PC860 can print', () => {
    expect(toPc860Text('Ação – “ok” … ő\x07')).toBe('Ação - "ok" ... o');
    expect(toPc860Text('日本')).toBe('??');
  });
});

describe('ticket layout (Star)', () => {
  const job = encodeTicket(ticket(), { type: 'star' });

  it('starts with ESC @ and selects PC860 with ESC GS t 6', () => {
    expect([...job.subarray(0, 6)]).toEqual([0x1b, 0x40, 0x1b, 0x1d, 0x74, 0x06]);
  });

  it('emits the full Star QR sequence, including the data command the library leaves out', () => {
    const url = 'https://senhas.example.pt/t/lisboa-01/P042';
    const qr = starQrCommand(url);
    expect(job.indexOf(qr)).toBeGreaterThan(0);
    const data = indexOf(qr, [0x1b, 0x1d, 0x79, 0x44, 0x31, 0x00]);
    expect(data).toBeGreaterThan(0);
    expect(qr[data + 6]).toBe(url.length);
    expect(qr[data + 7]).toBe(0);
    expect(qr.subarray(data + 8, data + 8 + url.length).toString('ascii')).toBe(url);
    expect([...qr.subarray(-4)]).toEqual([0x1b, 0x1d, 0x79, 0x50]);
  });

  it('sets the ticket number size with ESC i (height, width)', () => {
    expect(indexOf(job, [0x1b, 0x69, 0x03, 0x03])).toBeGreaterThan(0);
    expect([...sizeCommand('star', 3, 1)]).toEqual([0x1b, 0x69, 0x00, 0x02]);
  });

  it('ends with the Star feed-and-cut (ESC d 2) and no ESC @ after it', () => {
    expect([...job.subarray(-3)]).toEqual([0x1b, 0x64, 0x02]);
  });

  it('encodes accents in PC860 too', () => {
    expect(job.indexOf(Buffer.from([0x50, 0x72, 0x65, 0x73, 0x74, 0x61, 0x87, 0x94, 0x65, 0x73]))).toBeGreaterThan(0);
  });
});
