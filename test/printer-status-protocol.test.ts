import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DLE_EOT_OFFLINE_CAUSE,
  DLE_EOT_PAPER_SENSOR,
  DLE_EOT_PRINTER,
  canPrint,
  classifyStatus,
  decodeEpsonStatus,
  decodeStarStatus,
  encodeCompletionRequest,
  epsonToPrinterStatus,
  findCompletionReply,
  isEpsonStatusByte,
  jobIdFromNumber,
  noReplyStatus,
  scanIncoming,
  starAsbLength,
} from '../devices/printer/statusProtocol.js';

const OK = { printer: 0x12, offline: 0x12, paper: 0x12 };

describe('Epson real-time status requests', () => {
  it('are DLE EOT 1, 2 and 4 exactly as the contract lists them', () => {
    expect([...DLE_EOT_PRINTER]).toEqual([0x10, 0x04, 0x01]);
    expect([...DLE_EOT_OFFLINE_CAUSE]).toEqual([0x10, 0x04, 0x02]);
    expect([...DLE_EOT_PAPER_SENSOR]).toEqual([0x10, 0x04, 0x04]);
  });
});

describe('Epson status decoding, bit by bit', () => {
  it('a printer answering 12 12 12 is online with paper and the cover closed', () => {
    const s = decodeEpsonStatus(OK);
    expect(s).toEqual({
      online: true,
      coverOpen: false,
      paperEnd: false,
      paperNearEnd: false,
      errorStopped: false,
      raw: OK,
      valid: true,
    });
    expect(classifyStatus(epsonToPrinterStatus(s))).toBe('online');
  });

  const table: Array<[string, Partial<typeof OK>, Partial<ReturnType<typeof decodeEpsonStatus>>, string]> = [
    ['n=1 bit 3 means offline', { printer: 0x12 | 0x08 }, { online: false }, 'offline'],
    ['n=2 bit 2 means the cover is open', { offline: 0x12 | 0x04 }, { coverOpen: true }, 'coverOpen'],
    ['n=2 bit 5 means stopped by paper end', { offline: 0x12 | 0x20 }, { paperEnd: true }, 'paperOut'],
    ['n=2 bit 6 means stopped on an error', { offline: 0x12 | 0x40 }, { errorStopped: true }, 'error'],
    ['n=4 bits 2+3 mean paper near end', { paper: 0x12 | 0x0c }, { paperNearEnd: true }, 'paperNearEnd'],
    ['n=4 bit 2 alone means paper near end', { paper: 0x12 | 0x04 }, { paperNearEnd: true }, 'paperNearEnd'],
    ['n=4 bit 3 alone means paper near end', { paper: 0x12 | 0x08 }, { paperNearEnd: true }, 'paperNearEnd'],
    ['n=4 bits 5+6 mean paper end', { paper: 0x12 | 0x60 }, { paperEnd: true }, 'paperOut'],
    ['n=4 bit 5 alone means paper end', { paper: 0x12 | 0x20 }, { paperEnd: true }, 'paperOut'],
    ['n=4 bit 6 alone means paper end', { paper: 0x12 | 0x40 }, { paperEnd: true }, 'paperOut'],
    ['cover open beats paper end', { printer: 0x1a, offline: 0x12 | 0x24, paper: 0x72 }, { coverOpen: true, paperEnd: true }, 'coverOpen'],
  ];
  for (const [name, bytes, flags, condition] of table) {
    it(name, () => {
      const s = decodeEpsonStatus({ ...OK, ...bytes });
      expect(s.valid).toBe(true);
      expect(s).toMatchObject(flags);
      for (const k of ['coverOpen', 'paperEnd', 'paperNearEnd', 'errorStopped'] as const) {
        if (!(k in flags)) expect(s[k], k).toBe(false);
      }
      expect(classifyStatus(epsonToPrinterStatus(s))).toBe(condition);
    });
  }

  it('bits the contract does not name (drawer kick, feed button) change nothing', () => {
    const s = decodeEpsonStatus({ printer: 0x12 | 0x04 | 0x20 | 0x40, offline: 0x12 | 0x08, paper: 0x12 });
    expect(s).toMatchObject({ valid: true, online: true, coverOpen: false, paperEnd: false, errorStopped: false });
  });

  it('only bytes with bits 1 and 4 set and bits 0 and 7 clear are status bytes', () => {
    for (let b = 0; b < 256; b++) {
      const expected = (b & 0x12) === 0x12 && (b & 0x81) === 0;
      expect(isEpsonStatusByte(b), b.toString(16)).toBe(expected);
    }
  });

  for (const garbage of [0x00, 0xff, 0x37, 0x10, 0x02, 0x92, 0x13]) {
    it(`a reply byte 0x${garbage.toString(16)} is garbage: invalid and not printable`, () => {
      for (const key of ['printer', 'offline', 'paper'] as const) {
        const s = decodeEpsonStatus({ ...OK, [key]: garbage });
        expect(s.valid).toBe(false);
        const ps = epsonToPrinterStatus(s);
        expect(classifyStatus(ps)).toBe('error');
        expect(canPrint(ps)).toBe(false);
      }
    });
  }

  it('no reply at all is offline, never printable', () => {
    expect(classifyStatus(noReplyStatus())).toBe('offline');
    expect(canPrint(noReplyStatus())).toBe(false);
  });

  it('never throws, whatever three numbers it is given', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), fc.integer(), (printer, offline, paper) => {
        const s = decodeEpsonStatus({ printer, offline, paper });
        expect(typeof s.valid).toBe('boolean');
      }),
    );
  });
});

describe('Epson print-completion request and reply', () => {
  it('encodes GS ( H fn 48 with the 4-byte job id', () => {
    expect([...encodeCompletionRequest(Buffer.from('0042'))]).toEqual([
      0x1d, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30, 0x30, 0x30, 0x34, 0x32,
    ]);
  });

  it('refuses a job id that is not 4 digits', () => {
    expect(() => encodeCompletionRequest(Buffer.from('042'))).toThrow();
    expect(() => encodeCompletionRequest(Buffer.from('00A2'))).toThrow();
  });

  it('job ids from a counter are 4 digits and wrap at 10000', () => {
    expect(jobIdFromNumber(7).toString()).toBe('0007');
    expect(jobIdFromNumber(10_003).toString()).toBe('0003');
  });

  it('finds the reply among status bytes that arrive before, after and around it', () => {
    const id = Buffer.from('1234');
    const bytes = Buffer.from([0x12, 0x16, 0x37, 0x22, 0x31, 0x32, 0x33, 0x34, 0x00, 0x12]);
    const scan = scanIncoming(bytes);
    expect(scan.completions.map((c) => c.toString())).toEqual(['1234']);
    expect(scan.others).toEqual([0x12, 0x16, 0x12]);
    expect(findCompletionReply(bytes, id)).toBe(true);
    expect(findCompletionReply(bytes, Buffer.from('1235'))).toBe(false);
  });

  it('holds back a reply cut in two and completes it with the next chunk', () => {
    const first = scanIncoming(Buffer.from([0x12, 0x37, 0x22, 0x30]));
    expect(first.others).toEqual([0x12]);
    expect(first.completions).toEqual([]);
    const second = scanIncoming(Buffer.concat([first.pending, Buffer.from([0x30, 0x31, 0x32, 0x00, 0x12])]));
    expect(second.completions.map((c) => c.toString())).toEqual(['0012']);
    expect(second.others).toEqual([0x12]);
  });

  it('a 37 that does not start a reply is passed on as an ordinary byte', () => {
    const scan = scanIncoming(Buffer.from([0x37, 0x12, 0x37, 0x22, 0x41, 0x30, 0x30, 0x30, 0x00]));
    expect(scan.completions).toEqual([]);
    expect(scan.others[0]).toBe(0x37);
    expect(scan.others[1]).toBe(0x12);
  });

  it('finds every reply inserted into random noise, and never throws (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 9999 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 16 }),
        (noise, ids, chunkSize) => {
          const parts: Buffer[] = [];
          ids.forEach((id, i) => {
            // Noise without 0x37 so it cannot forge or eat a reply header.
            parts.push(Buffer.from([...(noise[i] ?? [])].map((b) => (b === 0x37 ? 0x12 : b))));
            parts.push(Buffer.concat([Buffer.from([0x37, 0x22]), jobIdFromNumber(id), Buffer.from([0x00])]));
          });
          const all = Buffer.concat(parts);
          const found: string[] = [];
          let pending: Buffer = Buffer.alloc(0);
          for (let i = 0; i < all.length; i += chunkSize) {
            const scan = scanIncoming(Buffer.concat([pending, all.subarray(i, i + chunkSize)]));
            pending = scan.pending;
            found.push(...scan.completions.map((c) => c.toString()));
          }
          expect(found).toEqual(ids.map((id) => jobIdFromNumber(id).toString()));
        },
      ),
    );
  });
});

describe('Star automatic status (ASB)', () => {
  // Header 1 0x0f: bit 0 set, count bits 1-3 = 7 → a 7-byte ASB.
  const asb = (s1: number, s2: number, s4: number) => Buffer.from([0x0f, 0x02, s1, s2, 0x00, s4, 0x00]);

  it('reads the message length from header byte 1 (bits 1-3 and 5)', () => {
    expect(starAsbLength(0x0f)).toBe(7);
    expect(starAsbLength(0x23)).toBe(9);
    expect(starAsbLength(0x12)).toBeNull();
    expect(starAsbLength(0x80 | 0x0f)).toBeNull();
  });

  it('decodes an idle printer as online', () => {
    expect(classifyStatus(decodeStarStatus(asb(0, 0, 0)))).toBe('online');
  });

  const table: Array<[string, [number, number, number], string]> = [
    ['status byte 1 bit 3 means offline', [0x08, 0, 0], 'offline'],
    ['status byte 1 bit 5 means the cover is open', [0x28, 0, 0], 'coverOpen'],
    ['status byte 2 bit 3 means a mechanical error', [0x08, 0x08, 0], 'error'],
    ['status byte 2 bit 5 means a cutter error', [0x08, 0x20, 0], 'error'],
    ['status byte 4 bit 3 means paper end', [0x08, 0, 0x08], 'paperOut'],
    ['status byte 4 bit 2 means paper near end', [0, 0, 0x04], 'paperNearEnd'],
  ];
  for (const [name, [s1, s2, s4], condition] of table) {
    it(name, () => {
      expect(classifyStatus(decodeStarStatus(asb(s1, s2, s4)))).toBe(condition);
    });
  }

  it('a message of the wrong length or with a bad fixed bit is garbage', () => {
    expect(decodeStarStatus(Buffer.from([0x0f, 0x02, 0x00])).valid).toBe(false);
    expect(decodeStarStatus(asb(0x01, 0, 0)).valid).toBe(false);
    expect(decodeStarStatus(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).valid).toBe(false);
  });
});
