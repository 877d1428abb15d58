// The simulated TM-T20III and its ESC/POS decoder: status bytes on a real TCP socket,
// held print data while the paper is out, completion replies, and tickets as
// node-thermal-printer encodes them decoded back to text, sizes and QR payloads.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import jsQRModule from 'jsqr';
import { CharacterSet, PrinterTypes, ThermalPrinter } from 'node-thermal-printer';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeEscPos, EscPosInterpreter, EscPosTokenizer, type EscPosDocument } from '../sim/printer/escposDecoder.js';
import { renderTicketPng, renderTicketText } from '../sim/printer/renderTicket.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { waitUntil } from './support/waitUntil.js';

// jsqr is CommonJS whose module.exports is the function and also carries it as .default.
const jsQR = jsQRModule.default;

const REPLY_WAIT_MS = 2_000;

const DLE_EOT = (n: number): Buffer => Buffer.from([0x10, 0x04, n]);
const GS_R_PAPER = Buffer.from([0x1d, 0x72, 0x01]);
const printCompletionRequest = (id: string): Buffer => Buffer.concat([Buffer.from([0x1d, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30]), Buffer.from(id, 'latin1')]);
const printCompletionReply = (id: string): Buffer => Buffer.concat([Buffer.from([0x37, 0x22]), Buffer.from(id, 'latin1'), Buffer.from([0x00])]);
const BUFFER_CLEAR = Buffer.from([0x10, 0x14, 0x08, 0x01, 0x03, 0x14, 0x01, 0x06, 0x02, 0x08]);

/** A host on the other end of the printer's TCP port, reading replies byte by byte. */
class PrinterClient {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<PrinterClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new PrinterClient(socket);
  }

  /** Bytes received and not yet read. */
  get unread(): number {
    return this.buffered.length;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async read(count: number, timeoutMs = REPLY_WAIT_MS): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} bytes from the printer, got ${this.buffered.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    const out = this.buffered.subarray(0, count);
    this.buffered = this.buffered.subarray(count);
    return Buffer.from(out);
  }

  /** Sends a status request and returns its one-byte answer. */
  async status(n: number): Promise<number> {
    this.send(DLE_EOT(n));
    return (await this.read(1))[0] ?? -1;
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}

/** Waits for something the printer does on its own side of the socket. */

function portugueseTicket(): Buffer {
  const p = new ThermalPrinter({ type: PrinterTypes.EPSON, interface: 'tcp://x', characterSet: CharacterSet.PC860_PORTUGUESE });
  p.alignCenter();
  p.println('Segurança Social');
  p.setTextSize(3, 3);
  p.bold(true);
  p.println('P042');
  p.bold(false);
  p.setTextNormal();
  p.setTextDoubleHeight();
  p.println('Prestações');
  p.setTextNormal();
  p.alignLeft();
  p.println('Contribuições: ç ã õ á é ê í ó ú');
  p.setTextDoubleWidth();
  p.println('À sua frente: 3');
  p.setTextNormal();
  p.alignRight();
  p.println('28/11/2026 09:15');
  p.alignCenter();
  p.printQR('https://siga.example/t/P042');
  p.newLine();
  p.cut();
  return p.getBuffer();
}

function printedTexts(doc: EscPosDocument): string[] {
  return doc.lines.map((l) => l.text).filter((t) => t !== '');
}

describe('simulated TM-T20III on TCP', () => {
  let printer: SimulatedPrinter;
  let client: PrinterClient;
  let extraClients: PrinterClient[];

  beforeEach(async () => {
    printer = await startSimulatedPrinter({ port: 0 });
    client = await PrinterClient.connect(printer.port);
    // One round trip, so the printer has taken this connection as the one it serves.
    expect(await client.status(1)).toBe(0x12);
    extraClients = [];
  });

  afterEach(async () => {
    await client.close();
    for (const c of extraClients) await c.close();
    await printer.close();
  });

  it.each([
    { state: 'ready with paper', status: {}, bytes: [0x12, 0x12, 0x12] },
    { state: 'paper near its end', status: { paper: 'near_end' as const }, bytes: [0x12, 0x12, 0x1e] },
    { state: 'paper out', status: { paper: 'out' as const }, bytes: [0x1a, 0x32, 0x7e] },
    { state: 'cover open', status: { coverOpen: true }, bytes: [0x1a, 0x16, 0x12] },
  ])('answers DLE EOT 1, 2 and 4 with the Epson status bytes when $state', async ({ status, bytes }) => {
    printer.setStatus(status);
    expect([await client.status(1), await client.status(2), await client.status(4)]).toEqual(bytes);
  });

  it('answers nothing at all while powered off, and loses what was sent meanwhile', async () => {
    printer.setStatus({ offline: true });
    client.send(DLE_EOT(1));
    client.send(Buffer.from('lost line\n\x1dV\x00', 'latin1'));
    await waitUntil('the bytes of the lost line counted as dropped', () => printer.droppedBytes === 3 + 'lost line\n'.length + 3, { timeoutMs: REPLY_WAIT_MS, pollMs: 5 });
    // Powered back on with the cover open, so any late answer to the first request (0x1a)
    // would be told apart from the answer to the next one (0x16).
    printer.setStatus({ offline: false, coverOpen: true });
    expect(await client.status(2)).toBe(0x16);
    expect(client.unread).toBe(0);
    expect(printer.jobs).toHaveLength(0);
  });

  it('confirms a printed ticket with the GS ( H reply once its cut is through', async () => {
    client.send(Buffer.concat([portugueseTicket(), printCompletionRequest('T001')]));
    expect(await client.read(7)).toEqual(printCompletionReply('T001'));
    expect(printer.jobs).toHaveLength(1);
    expect(printer.jobs[0]?.complete).toBe(true);
  });

  it('holds a ticket and its GS ( H confirmation while paper is out, and prints both after a refill', async () => {
    printer.setStatus({ paper: 'out' });
    client.send(Buffer.concat([portugueseTicket(), printCompletionRequest('T002')]));
    // Real-time status still answers, and no confirmation came before it.
    expect(await client.status(4)).toBe(0x7e);
    expect(client.unread).toBe(0);
    expect(printer.jobs).toHaveLength(0);
    expect(printer.heldBytes).toBeGreaterThan(0);

    printer.refill();
    expect(await client.read(7)).toEqual(printCompletionReply('T002'));
    expect(printer.jobs.map((j) => j.complete)).toEqual([true]);
    expect(await client.status(4)).toBe(0x12);
  });

  it('holds the GS ( H confirmation while the cover is open', async () => {
    printer.setStatus({ coverOpen: true });
    client.send(Buffer.concat([portugueseTicket(), printCompletionRequest('T003')]));
    expect(await client.status(2)).toBe(0x16);
    expect(client.unread).toBe(0);
    printer.setStatus({ coverOpen: false });
    expect(await client.read(7)).toEqual(printCompletionReply('T003'));
  });

  it('does not answer GS r 1 while paper is out (it waits in the buffer) but answers after a refill', async () => {
    printer.setStatus({ paper: 'out' });
    client.send(GS_R_PAPER);
    expect(await client.status(1)).toBe(0x1a);
    expect(client.unread).toBe(0);
    printer.refill();
    expect(await client.read(1)).toEqual(Buffer.from([0x00]));
  });

  it('reports paper near end on GS r 1', async () => {
    printer.setStatus({ paper: 'near_end' });
    client.send(GS_R_PAPER);
    expect(await client.read(1)).toEqual(Buffer.from([0x03]));
  });

  it('paper running out mid-ticket gives an incomplete job; after a refill the rest prints and is confirmed', async () => {
    const ticket = portugueseTicket();
    const expectedLines = printedTexts(decodeEscPos(ticket));
    printer.paperOutAfterBytes(60);
    client.send(Buffer.concat([ticket, printCompletionRequest('T004')]));

    const [partial] = await printer.waitForJobs(1);
    expect(partial?.complete).toBe(false);
    expect(partial?.raw.length).toBeLessThanOrEqual(60);
    expect(printedTexts(partial!.document).length).toBeGreaterThan(0);
    expect(printedTexts(partial!.document).length).toBeLessThan(expectedLines.length);
    expect(await client.status(2)).toBe(0x32);
    expect(client.unread).toBe(0);

    printer.refill();
    expect(await client.read(7)).toEqual(printCompletionReply('T004'));
    const [, rest] = await printer.waitForJobs(2);
    expect(rest?.complete).toBe(true);
    expect(rest?.continued).toBe(true);
    expect(rest?.document.qrCodes).toEqual(['https://siga.example/t/P042']);
    // Nothing lost, nothing doubled: the two pieces of paper together are the ticket.
    const together = [...printedTexts(partial!.document), ...printedTexts(rest!.document)].join('');
    expect(together).toBe(expectedLines.join(''));
  });

  it('a buffer clear (DLE DC4 8) while paper is out discards the held ticket: never printed, never confirmed', async () => {
    printer.setStatus({ paper: 'out' });
    client.send(Buffer.concat([portugueseTicket(), printCompletionRequest('T005')]));
    client.send(BUFFER_CLEAR);
    expect(await client.read(3)).toEqual(Buffer.from([0x37, 0x25, 0x00]));
    printer.refill();
    expect(await client.status(1)).toBe(0x12);
    expect(client.unread).toBe(0);
    expect(printer.jobs).toHaveLength(0);
  });

  it('serves one client at a time: a second connection is read only once the first closes', async () => {
    const second = await PrinterClient.connect(printer.port);
    extraClients.push(second);
    second.send(DLE_EOT(1));
    expect(await client.status(1)).toBe(0x12);
    expect(second.unread).toBe(0);
    await client.close();
    expect(await second.read(1)).toEqual(Buffer.from([0x12]));
  });

  it('splits jobs at each cut and keeps every byte received', async () => {
    const ticket = portugueseTicket();
    client.send(ticket);
    client.send(ticket);
    const jobs = await printer.waitForJobs(2);
    expect(jobs.map((j) => j.complete)).toEqual([true, true]);
    expect(jobs[1]?.document.lines[1]?.text).toBe('P042');
    expect(printer.received).toEqual(Buffer.concat([DLE_EOT(1), ticket, ticket]));
  });
});

describe('printed ticket files', () => {
  let outDir: string;

  beforeEach(() => {
    outDir = mkdtempSync(join(tmpdir(), 'sim-printer-'));
  });

  afterEach(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('writes job-0001.txt and a 576-dot PNG for every finished job', async () => {
    const printer = await startSimulatedPrinter({ port: 0, outDir });
    const client = await PrinterClient.connect(printer.port);
    try {
      client.send(portugueseTicket());
      await printer.waitForJobs(1);
      const text = readFileSync(join(outDir, 'job-0001.txt'), 'utf8');
      expect(text).toContain('Segurança Social');
      expect(text).toContain('[QR: https://siga.example/t/P042]');
      const png = PNG.sync.read(readFileSync(join(outDir, 'job-0001.png')));
      expect(png.width).toBe(576);
    } finally {
      await client.close();
      await printer.close();
    }
  });
});

describe('ESC/POS decoder', () => {
  it('decodes a node-thermal-printer ticket back to its text, accents, sizes, bold, alignment, QR and cut', () => {
    const doc = decodeEscPos(portugueseTicket());
    const printed = doc.lines.filter((l) => l.text !== '');
    expect(printed.map((l) => ({ text: l.text, width: l.width, height: l.height, bold: l.bold, align: l.align }))).toEqual([
      { text: 'Segurança Social', width: 1, height: 1, bold: false, align: 'center' },
      { text: 'P042', width: 4, height: 4, bold: true, align: 'center' },
      { text: 'Prestações', width: 1, height: 2, bold: false, align: 'center' },
      { text: 'Contribuições: ç ã õ á é ê í ó ú', width: 1, height: 1, bold: false, align: 'left' },
      { text: 'À sua frente: 3', width: 2, height: 1, bold: false, align: 'left' },
      { text: '28/11/2026 09:15', width: 1, height: 1, bold: false, align: 'right' },
    ]);
    expect(doc.qrCodes).toEqual(['https://siga.example/t/P042']);
    expect(doc.cuts).toBe(1);
    expect(doc.codePages).toEqual([3]);
    expect(doc.unknown).toBe(0);
    expect(doc.commands.slice(-2)).toEqual(['cut', 'init']);
  });

  it('ESC @ puts the code page back to PC437', () => {
    const doc = decodeEscPos(Buffer.from([0x1b, 0x74, 0x03, 0x84, 0x0a, 0x1b, 0x40, 0x84, 0x0a]));
    expect(doc.lines.map((l) => l.text)).toEqual(['ã', 'ä']);
  });

  it('ESC ! and GS ! set the size: GS ! high nibble is width-1, low nibble height-1', () => {
    const doc = decodeEscPos(Buffer.from('\x1d\x21\x10W\n\x1d\x21\x01H\n\x1b\x21\x30Q\n\x1b\x21\x08B\n', 'latin1'));
    expect(doc.lines.map((l) => [l.text, l.width, l.height, l.bold])).toEqual([
      ['W', 2, 1, false],
      ['H', 1, 2, false],
      ['Q', 2, 2, false],
      ['B', 1, 1, true],
    ]);
  });

  it('skips barcodes and raster images by their length, even when their data holds line feeds', () => {
    const raster = Buffer.from([0x1d, 0x76, 0x30, 0x00, 0x02, 0x00, 0x02, 0x00, 0x0a, 0x0a, 0x1b, 0x40]);
    const barcode = Buffer.from([0x1d, 0x6b, 0x49, 0x04, 0x7b, 0x42, 0x0a, 0x0a]);
    const doc = decodeEscPos(Buffer.concat([Buffer.from('before\n'), raster, barcode, Buffer.from('after\n')]));
    expect(printedTexts(doc)).toEqual(['before', 'after']);
    expect(doc.unknown).toBe(0);
    expect(doc.commands).toContain('rasterImage');
    expect(doc.commands).toContain('barcode');
  });

  it('wraps a line that is wider than the paper, as the printer does (48 columns, 24 at double width)', () => {
    const doc = decodeEscPos(Buffer.from(`${'x'.repeat(50)}\n\x1b\x21\x20${'y'.repeat(25)}\n`, 'latin1'));
    expect(doc.lines.map((l) => l.text.length)).toEqual([48, 2, 24, 1]);
  });

  it('gives the same document whatever way the bytes are cut into chunks', () => {
    const ticket = portugueseTicket();
    const whole = decodeEscPos(ticket);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: ticket.length - 1 }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), ticket.length];
        const tokenizer = new EscPosTokenizer();
        const interpreter = new EscPosInterpreter();
        for (let i = 0; i + 1 < points.length; i++) {
          for (const t of tokenizer.push(ticket.subarray(points[i], points[i + 1]))) interpreter.apply(t);
        }
        for (const t of tokenizer.end()) interpreter.apply(t);
        interpreter.flushPendingLine();
        const streamed = interpreter.takeDocument();
        expect(streamed.lines).toEqual(whole.lines);
        expect(streamed.commands).toEqual(whole.commands);
      }),
      { numRuns: 100 },
    );
  });

  it('never throws on any bytes, random or shaped like commands', () => {
    const commandish = fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(0x1b, 0x1d, 0x1c, 0x10, 0x0a, 0x28, 0x6b, 0x76, 0x30, 0x48, 0x56, 0x21, 0x04, 0x14),
      ),
      { maxLength: 400 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), commandish.map((a) => Uint8Array.from(a))), (bytes) => {
        const doc = decodeEscPos(Buffer.from(bytes));
        expect(doc.unknown).toBeGreaterThanOrEqual(0);
        renderTicketText(doc);
      }),
      { numRuns: 500 },
    );
  });
});

describe('ticket renderer', () => {
  it('renders text in 48 columns with double-width characters doubled and the QR as [QR: payload]', () => {
    const text = renderTicketText(decodeEscPos(portugueseTicket()));
    const lines = text.split('\n');
    expect(lines).toContain(`${' '.repeat(16)}Segurança Social`);
    expect(lines).toContain(`${' '.repeat(16)}PPPP000044442222`);
    expect(lines).toContain('ÀÀ  ssuuaa  ffrreennttee::  33');
    expect(lines).toContain(`${' '.repeat(32)}28/11/2026 09:15`);
    const qr = '[QR: https://siga.example/t/P042]';
    expect(lines).toContain(' '.repeat(Math.floor((48 - qr.length) / 2)) + qr);
    expect(text).toContain('[cut]');
  });

  it('draws a 576-dot PNG with ink in the text rows and a QR code a phone can scan', () => {
    const png = PNG.sync.read(renderTicketPng(decodeEscPos(portugueseTicket())));
    expect(png.width).toBe(576);
    const inkInRow = (y: number): number => {
      let n = 0;
      for (let x = 0; x < png.width; x++) if ((png.data[(y * png.width + x) * 4] ?? 255) < 128) n++;
      return n;
    };
    const rowsWithInk = Array.from({ length: png.height }, (_, y) => inkInRow(y)).filter((n) => n > 0).length;
    // Title row (16 dots top margin + a few dots into the 24-dot cell).
    expect(inkInRow(16 + 12)).toBeGreaterThan(10);
    expect(rowsWithInk).toBeGreaterThan(200);
    const qr = jsQR(Uint8ClampedArray.from(png.data), png.width, png.height);
    expect(qr?.data).toBe('https://siga.example/t/P042');
  });
});
