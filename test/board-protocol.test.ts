// Drop-box board protocol v1 (CONTRACT §3): the pure codec, frame by frame.
import { describe, expect, it } from 'vitest';
import {
  LineFramer,
  SeqTracker,
  checksum,
  encodeBoardFrame,
  encodeCommand,
  formatFrame,
  nextSeq,
  parseCommand,
  parseFrame,
} from '../devices/board/protocol.js';
import { MAX_LINE_BYTES, type BoardCommand, type BoardFrame, type MalformedReason } from '../devices/board/frames.js';
import { ErrorCode, isKioskError } from '../src/errors.js';

/** `$body*CS` without terminator; the checksum function itself is pinned by hand below. */
const framed = (body: string): string => `$${body}*${checksum(body)}`;

function reasonOf(result: { ok: boolean; reason?: MalformedReason }): MalformedReason | 'ok' {
  return result.ok ? 'ok' : (result.reason as MalformedReason);
}

/** An ERR frame padded with text so the line, `\n` included, is exactly `total` bytes. */
function errLineOfWireLength(total: number, terminator: '\n' | '\r\n' = '\n'): string {
  const bare = framed('0,ERR,E1,').length + terminator.length;
  const line = framed(`0,ERR,E1,${'x'.repeat(total - bare)}`) + terminator;
  expect(line.length).toBe(total);
  return line;
}

describe('checksum', () => {
  it('is the XOR of the body bytes, worked by hand for the HELLO example', () => {
    // 0,HELLO,1,fw1.2,B17: "LL" cancels; 0^,=1C, ^H=54, ^E=11, ^O=5E, ^,=72, ^1=43, ^,=6F,
    // ^f=09, ^w=7E, ^1=4F, ^.=61, ^2=53, ^,=7F, ^B=3D, ^1=0C, ^7=3B.
    expect(checksum('0,HELLO,1,fw1.2,B17')).toBe('3B');
  });

  it('is worked by hand for a heartbeat and a STATUS command', () => {
    // 1,HB,42,7: 31 ^2C=1D ^48=55 ^42=17 ^2C=3B ^34=0F ^32=3D ^2C=11 ^37=26
    expect(checksum('1,HB,42,7')).toBe('26');
    // 0,STATUS: 30 ^2C=1C ^53=4F ^54=1B ^41=5A ^54=0E ^55=5B ^53=08
    expect(checksum('0,STATUS')).toBe('08');
  });

  it('always writes two uppercase digits, zero-padded', () => {
    // 3,DROP,8: 33 ^2C=1F ^44=5B ^52=09 ^4F=46 ^50=16 ^2C=3A ^38=02
    expect(checksum('3,DROP,8')).toBe('02');
    expect(checksum('')).toBe('00');
    expect(checksum('\x7e\x01')).toBe('7F');
    expect(checksum('A\x10')).toBe('51');
  });
});

describe('board frames, wire to frame and back', () => {
  const cases: Array<[string, BoardFrame]> = [
    ['0,HELLO,1,fw1.2,B17', { seq: 0, type: 'HELLO', version: 1, firmware: 'fw1.2', boardId: 'B17' }],
    ['1,HB,42,7', { seq: 1, type: 'HB', uptimeS: 42, dropCount: 7 }],
    ['2,SLOT,1', { seq: 2, type: 'SLOT', occupied: true }],
    ['3,SLOT,0', { seq: 3, type: 'SLOT', occupied: false }],
    ['4,DROP,8', { seq: 4, type: 'DROP', dropCount: 8 }],
    ['5,DOOR,OPEN', { seq: 5, type: 'DOOR', state: 'OPEN' }],
    ['6,DOOR,CLOSED', { seq: 6, type: 'DOOR', state: 'CLOSED' }],
    ['7,FILL,0', { seq: 7, type: 'FILL', percent: 0 }],
    ['8,FILL,100', { seq: 8, type: 'FILL', percent: 100 }],
    ['9,TAMPER,SHOCK', { seq: 9, type: 'TAMPER', code: 'SHOCK' }],
    ['10,TAMPER,TILT', { seq: 10, type: 'TAMPER', code: 'TILT' }],
    ['11,TAMPER,CASE', { seq: 11, type: 'TAMPER', code: 'CASE' }],
    ['12,KEY,ON', { seq: 12, type: 'KEY', state: 'ON' }],
    ['13,KEY,OFF', { seq: 13, type: 'KEY', state: 'OFF' }],
    ['14,ACK,65535', { seq: 14, type: 'ACK', cmdSeq: 65535 }],
    ['15,NAK,3,door open', { seq: 15, type: 'NAK', cmdSeq: 3, reason: 'door open' }],
    ['16,NAK,3,busy,retry later', { seq: 16, type: 'NAK', cmdSeq: 3, reason: 'busy,retry later' }],
    ['17,ERR,E42', { seq: 17, type: 'ERR', code: 'E42', text: null }],
    ['18,ERR,E42,motor stalled, lock jammed', { seq: 18, type: 'ERR', code: 'E42', text: 'motor stalled, lock jammed' }],
    ['19,ERR,E42,', { seq: 19, type: 'ERR', code: 'E42', text: '' }],
    ['65535,HB,9007199254740991,0', { seq: 65535, type: 'HB', uptimeS: Number.MAX_SAFE_INTEGER, dropCount: 0 }],
  ];

  it.each(cases)('the board line "%s" is read as the expected frame', (body, frame) => {
    expect(parseFrame(framed(body))).toEqual({ ok: true, frame });
    expect(parseFrame(Buffer.from(framed(body), 'latin1'))).toEqual({ ok: true, frame });
  });

  it.each(cases)('the frame for "%s" is written as exactly that line', (body, frame) => {
    expect(encodeBoardFrame(frame)).toBe(`${framed(body)}\n`);
  });

  it('writes the hand-worked HELLO line byte for byte', () => {
    expect(encodeBoardFrame({ seq: 0, type: 'HELLO', version: 1, firmware: 'fw1.2', boardId: 'B17' })).toBe(
      '$0,HELLO,1,fw1.2,B17*3B\n',
    );
    expect(parseFrame('$1,HB,42,7*26')).toEqual({ ok: true, frame: { seq: 1, type: 'HB', uptimeS: 42, dropCount: 7 } });
  });

  it('accepts a HELLO with another protocol version, so the driver can refuse it by name', () => {
    expect(parseFrame(framed('0,HELLO,2,fw9,B1'))).toMatchObject({ ok: true, frame: { version: 2 } });
  });

  it('reads numbers with leading zeros as plain decimal (the encoder never writes them)', () => {
    expect(parseFrame(framed('007,DROP,0008'))).toEqual({ ok: true, frame: { seq: 7, type: 'DROP', dropCount: 8 } });
  });
});

describe('controller commands, both ways', () => {
  const cases: Array<[string, number, BoardCommand]> = [
    ['12,UNLOCK,5000', 12, { type: 'UNLOCK', ms: 5000 }],
    ['13,RESET,8', 13, { type: 'RESET', dropCount: 8 }],
    ['14,LED,OFF', 14, { type: 'LED', mode: 'OFF' }],
    ['15,LED,ON', 15, { type: 'LED', mode: 'ON' }],
    ['16,LED,BLINK', 16, { type: 'LED', mode: 'BLINK' }],
    ['0,STATUS', 0, { type: 'STATUS' }],
  ];

  it.each(cases)('the command line "%s" is written and read back', (body, seq, command) => {
    expect(encodeCommand(seq, command)).toBe(`${framed(body)}\n`);
    expect(parseCommand(framed(body))).toEqual({ ok: true, seq, command });
  });

  it('writes the hand-worked UNLOCK and STATUS lines byte for byte', () => {
    // 12,UNLOCK,5000: 31 ^32=03 ^2C=2F ^55=7A ^4E=34 ^4C=78 ^4F=37 ^43=74 ^4B=3F ^2C=13 ^35=26, then 0,0,0 → 16
    expect(encodeCommand(12, { type: 'UNLOCK', ms: 5000 })).toBe('$12,UNLOCK,5000*16\n');
    expect(encodeCommand(0, { type: 'STATUS' })).toBe('$0,STATUS*08\n');
  });

  it.each([
    ['1,UNLOCK', 'bad_args'],
    ['1,UNLOCK,-5', 'bad_args'],
    ['1,UNLOCK,5s', 'bad_args'],
    ['1,RESET,1,2', 'bad_args'],
    ['1,LED,blink', 'bad_args'],
    ['1,STATUS,now', 'bad_args'],
    ['1,HB,1,2', 'unknown_type'],
    ['1,REBOOT', 'unknown_type'],
  ])('the simulator rejects the command "%s" as %s', (body, reason) => {
    expect(reasonOf(parseCommand(framed(body)))).toBe(reason);
  });

  it('a command with a wrong checksum is rejected before its type is looked at', () => {
    expect(reasonOf(parseCommand('$0,STATUS*09'))).toBe('bad_checksum');
  });
});

describe('malformed board lines: each gets its own reason', () => {
  it.each([
    ['\x00', 'NUL'],
    ['\t', 'tab'],
    ['\x1b', 'escape'],
    ['\x7f', 'DEL'],
    ['\x80', 'high byte'],
    ['\xff', '0xFF'],
  ])('a line containing %j (%s) is not_ascii', (ch) => {
    const line = Buffer.from(framed(`1,ERR,E1,a${ch}b`), 'latin1');
    expect(reasonOf(parseFrame(line))).toBe('not_ascii');
  });

  it('a string with accented text is not_ascii', () => {
    expect(reasonOf(parseFrame(framed('1,ERR,E1,porta não fecha')))).toBe('not_ascii');
  });

  it('a \\n inside the line is not_ascii (lines are split before parsing)', () => {
    expect(reasonOf(parseFrame(`${framed('1,HB,1,1')}\n${framed('2,HB,1,1')}`))).toBe('not_ascii');
  });

  it.each([
    ['', 'an empty line'],
    ['1,HB,42,7*26', 'no leading $'],
    ['$1,HB,42,7', 'no *CS'],
    ['$1,HB,42,7*2', 'a one-digit checksum'],
    ['$1,HB,42,7*026', 'a three-digit checksum'],
    ['$1,HB,42,7*x6', 'a checksum that is not hex'],
    [' $1,HB,42,7*26', 'a leading space'],
    ['$1,HB,42,7*26 ', 'a trailing space'],
  ])('%j is bad_syntax (%s)', (line) => {
    expect(reasonOf(parseFrame(line))).toBe('bad_syntax');
  });

  it('a lowercase checksum is bad_syntax, as the contract allows only uppercase hex', () => {
    expect(checksum('0,HELLO,1,fw1.2,B17')).toBe('3B');
    expect(reasonOf(parseFrame('$0,HELLO,1,fw1.2,B17*3b'))).toBe('bad_syntax');
  });

  it.each([
    ['+1,HB,1,1', 'a plus sign on seq'],
    ['-1,HB,1,1', 'a negative seq'],
    ['65536,HB,1,1', 'a seq above 65535'],
    ['99999999999999999999,HB,1,1', 'a huge seq'],
    [' 1,HB,1,1', 'a space before seq'],
    ['1.0,HB,1,1', 'a fractional seq'],
    [',HB,1,1', 'an empty seq'],
    ['1', 'no type at all'],
    ['1,', 'an empty type'],
    ['1,HB$,1,1', 'a $ inside the frame'],
    ['1,HB,1*2,1', 'a * inside the frame'],
  ])('a line with %j is bad_syntax (%s)', (body) => {
    expect(reasonOf(parseFrame(framed(body)))).toBe('bad_syntax');
  });

  it('two lines fused by a lost \\n are bad_syntax', () => {
    expect(reasonOf(parseFrame(framed('1,HB,1,1') + framed('2,HB,2,1')))).toBe('bad_syntax');
  });

  it('a wrong checksum is bad_checksum', () => {
    expect(reasonOf(parseFrame('$1,HB,42,7*27'))).toBe('bad_checksum');
    expect(reasonOf(parseFrame('$1,HB,42,8*26'))).toBe('bad_checksum');
    expect(parseFrame('$1,HB,42,7*27')).toMatchObject({ detail: 'checksum 27, computed 26' });
  });

  it.each([
    ['1,FOO', 'a type nobody defined'],
    ['1,hb,1,1', 'a lowercase type'],
    ['1,UNLOCK,5000', 'a controller command coming from the board'],
  ])('%j is unknown_type (%s)', (body) => {
    expect(reasonOf(parseFrame(framed(body)))).toBe('unknown_type');
  });

  it.each([
    ['1,HELLO,x,fw,B1', 'a HELLO version that is not a number'],
    ['1,HELLO,1,fw', 'a HELLO without board id'],
    ['1,HELLO,1,,B1', 'a HELLO with empty firmware'],
    ['1,HELLO,1,fw,B1,extra', 'a HELLO with an extra field'],
    ['1,HB,5', 'a heartbeat without drop count'],
    ['1,HB,5,-2', 'a negative drop count'],
    ['1,HB,1.5,2', 'a fractional uptime'],
    ['1,HB, 5,2', 'a space before a number'],
    ['1,HB,9007199254740992,2', 'an uptime beyond exact integers'],
    ['1,SLOT,2', 'a slot state other than 0 or 1'],
    ['1,SLOT,', 'an empty slot state'],
    ['1,SLOT', 'a slot frame without state'],
    ['1,DROP', 'a drop without count'],
    ['1,DROP,1,2', 'a drop with two counts'],
    ['1,DROP,+3', 'a drop count with a plus sign'],
    ['1,DOOR,open', 'a lowercase door state'],
    ['1,DOOR,AJAR', 'an unknown door state'],
    ['1,FILL,101', 'a fill level above 100'],
    ['1,FILL,50%', 'a fill level with a percent sign'],
    ['1,TAMPER,FIRE', 'an unknown tamper code'],
    ['1,KEY,MAYBE', 'an unknown key state'],
    ['1,ACK', 'an ACK without command seq'],
    ['1,ACK,65536', 'an ACK for a seq above 65535'],
    ['1,NAK,5', 'a NAK without reason'],
    ['1,NAK,5,', 'a NAK with an empty reason'],
    ['1,NAK,x,busy', 'a NAK whose command seq is not a number'],
    ['1,ERR', 'an ERR without code'],
    ['1,ERR,,text', 'an ERR with an empty code'],
  ])('%j is bad_args (%s)', (body) => {
    expect(reasonOf(parseFrame(framed(body)))).toBe('bad_args');
  });
});

describe('the 120-byte line limit, terminator included', () => {
  it('a line of exactly 120 bytes with its \\n is a frame; 121 is too_long', () => {
    const fits = errLineOfWireLength(120);
    const over = errLineOfWireLength(121);
    expect(parseFrame(fits.slice(0, -1))).toMatchObject({ ok: true });
    expect(parseFrame(fits)).toMatchObject({ ok: true }); // the \n may be passed along too
    expect(reasonOf(parseFrame(over.slice(0, -1)))).toBe('too_long');
    expect(reasonOf(parseFrame(over))).toBe('too_long');
  });

  it('the \\r of a \\r\\n ending counts toward the 120 bytes', () => {
    const fits = errLineOfWireLength(120, '\r\n');
    const over = errLineOfWireLength(121, '\r\n');
    expect(parseFrame(fits.slice(0, -1))).toMatchObject({ ok: true });
    expect(reasonOf(parseFrame(over.slice(0, -1)))).toBe('too_long');
  });

  it('too_long wins over every other fault, even non-ASCII garbage', () => {
    expect(reasonOf(parseFrame(Buffer.alloc(500, 0xff)))).toBe('too_long');
    expect(reasonOf(parseFrame('é'.repeat(100)))).toBe('too_long'); // 200 bytes in UTF-8
    expect(reasonOf(parseFrame('x'.repeat(1_000_000)))).toBe('too_long');
  });

  it('the encoder refuses to write a line the board could not accept', () => {
    expect(() => formatFrame(0, ['ERR', 'E1', 'x'.repeat(120)])).toThrow(/limit 120/);
    expect(formatFrame(0, ['ERR', 'E1', 'x'.repeat(120 - '$0,ERR,E1,*XX\n'.length)])).toHaveLength(MAX_LINE_BYTES);
  });
});

describe('carriage returns', () => {
  it('a \\r before the end of line is ignored', () => {
    expect(parseFrame('$1,HB,42,7*26\r')).toMatchObject({ ok: true, frame: { type: 'HB' } });
    expect(parseFrame('$1,HB,42,7*26\r\n')).toMatchObject({ ok: true, frame: { type: 'HB' } });
    expect(parseCommand('$0,STATUS*08\r')).toMatchObject({ ok: true, command: { type: 'STATUS' } });
  });

  it('a \\r anywhere else is a control character', () => {
    expect(reasonOf(parseFrame('$1,HB,42\r,7*26'))).toBe('not_ascii');
    expect(reasonOf(parseFrame('$1,HB,42,7*26\r\r'))).toBe('not_ascii');
  });
});

describe('sequence numbers', () => {
  it('count up by one and wrap from 65535 to 0', () => {
    expect(nextSeq(0)).toBe(1);
    expect(nextSeq(41)).toBe(42);
    expect(nextSeq(65534)).toBe(65535);
    expect(nextSeq(65535)).toBe(0);
  });

  it('65535 is a valid seq on the wire and 65536 is not', () => {
    expect(parseFrame(framed('65535,KEY,ON'))).toMatchObject({ ok: true, frame: { seq: 65535 } });
    expect(reasonOf(parseFrame(framed('65536,KEY,ON')))).toBe('bad_syntax');
  });

  it('the encoder refuses a seq outside 0..65535', () => {
    for (const seq of [-1, 65536, 1.5, Number.NaN]) {
      expect(() => encodeCommand(seq, { type: 'STATUS' })).toThrow(/seq/);
    }
  });
});

describe('encoders refuse frames the parser would not give back', () => {
  const refused: Array<[string, () => unknown]> = [
    ['a fill level of 101', () => encodeBoardFrame({ seq: 0, type: 'FILL', percent: 101 })],
    ['a negative drop count', () => encodeBoardFrame({ seq: 0, type: 'DROP', dropCount: -1 })],
    ['a fractional uptime', () => encodeBoardFrame({ seq: 0, type: 'HB', uptimeS: 1.5, dropCount: 0 })],
    ['a firmware name with a comma', () => encodeBoardFrame({ seq: 0, type: 'HELLO', version: 1, firmware: 'a,b', boardId: 'B1' })],
    ['an empty board id', () => encodeBoardFrame({ seq: 0, type: 'HELLO', version: 1, firmware: 'fw', boardId: '' })],
    ['an error text with a *', () => encodeBoardFrame({ seq: 0, type: 'ERR', code: 'E1', text: 'a*b' })],
    ['an error text with a newline', () => encodeBoardFrame({ seq: 0, type: 'ERR', code: 'E1', text: 'a\nb' })],
    ['an error text with an accent', () => encodeBoardFrame({ seq: 0, type: 'ERR', code: 'E1', text: 'não' })],
    ['an empty NAK reason', () => encodeBoardFrame({ seq: 0, type: 'NAK', cmdSeq: 1, reason: '' })],
    ['an ACK for seq 65536', () => encodeBoardFrame({ seq: 0, type: 'ACK', cmdSeq: 65536 })],
    ['a LED mode the board does not know', () => encodeCommand(0, { type: 'LED', mode: 'DIM' as 'ON' })],
    ['an UNLOCK for a negative time', () => encodeCommand(0, { type: 'UNLOCK', ms: -1 })],
    ['a frame with no type', () => formatFrame(0, [])],
  ];

  it.each(refused)('%s is refused with a BoardProtocolMisuse error', (_what, encode) => {
    let caught: unknown;
    try {
      encode();
    } catch (e) {
      caught = e;
    }
    expect(isKioskError(caught, ErrorCode.BoardProtocolMisuse)).toBe(true);
  });
});

describe('SeqTracker', () => {
  it('says "first" for the first frame, then "in_order" for each next seq', () => {
    const t = new SeqTracker();
    expect(t.observe(7)).toEqual({ kind: 'first', lost: 0 });
    expect(t.observe(8)).toEqual({ kind: 'in_order', lost: 0 });
    expect(t.observe(9)).toEqual({ kind: 'in_order', lost: 0 });
  });

  it('counts the frames missing in a gap', () => {
    const t = new SeqTracker();
    t.observe(10);
    expect(t.observe(14)).toEqual({ kind: 'gap', lost: 3 });
    expect(t.observe(15)).toEqual({ kind: 'in_order', lost: 0 });
  });

  it('reports a repeated frame as a duplicate, and keeps following from it', () => {
    const t = new SeqTracker();
    t.observe(10);
    expect(t.observe(10)).toEqual({ kind: 'duplicate', lost: 0 });
    expect(t.observe(11)).toEqual({ kind: 'in_order', lost: 0 });
  });

  it('follows the wrap from 65535 to 0 without a gap', () => {
    const t = new SeqTracker();
    t.observe(65534);
    expect(t.observe(65535)).toEqual({ kind: 'in_order', lost: 0 });
    expect(t.observe(0)).toEqual({ kind: 'in_order', lost: 0 });
  });

  it('counts lost frames across the wrap: 65534 then 1 lost 65535 and 0', () => {
    const t = new SeqTracker();
    t.observe(65534);
    expect(t.observe(1)).toEqual({ kind: 'gap', lost: 2 });
  });

  it('treats a seq that went backwards as a gap counted forward modulo 65536', () => {
    const t = new SeqTracker();
    t.observe(100);
    expect(t.observe(50)).toEqual({ kind: 'gap', lost: 65485 });
    expect(t.observe(51)).toEqual({ kind: 'in_order', lost: 0 });
  });

  it('starts over after reset, as the driver does on HELLO', () => {
    const t = new SeqTracker();
    t.observe(500);
    t.reset();
    expect(t.observe(0)).toEqual({ kind: 'first', lost: 0 });
    expect(t.observe(1)).toEqual({ kind: 'in_order', lost: 0 });
  });
});

describe('LineFramer', () => {
  const good = (text: string) => ({ ok: true, line: Buffer.from(text, 'latin1') });

  it('joins a line that arrives one byte at a time', () => {
    const f = new LineFramer();
    const wire = Buffer.from('$1,HB,42,7*26\r\n');
    const out = [...wire].flatMap((b) => f.push(Buffer.from([b])));
    expect(out).toEqual([good('$1,HB,42,7*26')]);
    expect(parseFrame(out[0]!.ok ? out[0]!.line : '')).toMatchObject({ ok: true, frame: { type: 'HB' } });
  });

  it('splits many lines in one chunk, keeping the unfinished tail for later', () => {
    const f = new LineFramer();
    expect(f.push(Buffer.from('a\nb\r\nc\n\nd'))).toEqual([good('a'), good('b'), good('c'), good('')]);
    expect(f.bufferedBytes).toBe(1);
    expect(f.push(Buffer.from('e\n'))).toEqual([good('de')]);
    expect(f.bufferedBytes).toBe(0);
  });

  it('strips only one \\r before the \\n', () => {
    expect(new LineFramer().push(Buffer.from('x\r\r\n'))).toEqual([good('x\r')]);
  });

  it('passes a 120-byte line (with \\n) and reports a 121-byte line as too_long', () => {
    const f = new LineFramer();
    const fits = errLineOfWireLength(120);
    const over = errLineOfWireLength(121);
    expect(f.push(Buffer.from(fits + over + fits))).toEqual([
      good(fits.slice(0, -1)),
      { ok: false, reason: 'too_long', bytes: 121 },
      good(fits.slice(0, -1)),
    ]);
  });

  it('counts the \\r of \\r\\n toward the limit', () => {
    const f = new LineFramer();
    const fits = errLineOfWireLength(120, '\r\n');
    const over = errLineOfWireLength(121, '\r\n');
    expect(f.push(Buffer.from(fits))).toEqual([good(fits.slice(0, -2))]);
    expect(f.push(Buffer.from(over))).toEqual([{ ok: false, reason: 'too_long', bytes: 121 }]);
  });

  it('accepts a full-length line whose \\n comes in the next chunk', () => {
    const f = new LineFramer();
    const fits = errLineOfWireLength(120);
    expect(f.push(Buffer.from(fits.slice(0, -1)))).toEqual([]);
    expect(f.bufferedBytes).toBe(119);
    expect(f.push(Buffer.from('\n'))).toEqual([good(fits.slice(0, -1))]);
  });

  it('reports an overlong line once, as soon as it is too long, then reads the next good line', () => {
    const f = new LineFramer();
    expect(f.push(Buffer.alloc(119, 0x41))).toEqual([]);
    expect(f.push(Buffer.from('A'))).toEqual([{ ok: false, reason: 'too_long', bytes: 120 }]);
    expect(f.bufferedBytes).toBe(0);
    expect(f.push(Buffer.alloc(50, 0x41))).toEqual([]);
    expect(f.push(Buffer.from('AAA\n$1,HB,42,7*26\n'))).toEqual([good('$1,HB,42,7*26')]);
  });

  it('holds at most 119 bytes while a megabyte without \\n streams in, and reports it once', () => {
    const f = new LineFramer();
    const reports = [];
    let maxHeld = 0;
    for (let i = 0; i < 1000; i++) {
      reports.push(...f.push(Buffer.alloc(1000, 0x55)));
      maxHeld = Math.max(maxHeld, f.bufferedBytes);
    }
    expect(maxHeld).toBeLessThanOrEqual(MAX_LINE_BYTES - 1);
    expect(reports).toEqual([{ ok: false, reason: 'too_long', bytes: 1000 }]);
    expect(f.push(Buffer.from('tail of the junk\n$0,STATUS*08\n'))).toEqual([good('$0,STATUS*08')]);
  });

  it('returns lines that do not share memory with the chunk they came in', () => {
    const f = new LineFramer();
    const chunk = Buffer.from('abc\n');
    const [first] = f.push(chunk);
    chunk.fill(0x5a);
    expect(first).toEqual(good('abc'));
  });

  it('forgets a partial line and an overlong line in progress on reset', () => {
    const f = new LineFramer();
    f.push(Buffer.from('$1,HB,4'));
    f.reset();
    expect(f.bufferedBytes).toBe(0);
    expect(f.push(Buffer.from('$0,STATUS*08\n'))).toEqual([good('$0,STATUS*08')]);

    f.push(Buffer.alloc(200, 0x41)); // too long: now discarding up to the next \n
    f.reset();
    expect(f.push(Buffer.from('$0,STATUS*08\n'))).toEqual([good('$0,STATUS*08')]);
  });

  it('honours a smaller limit given to the constructor', () => {
    const f = new LineFramer(4);
    expect(f.push(Buffer.from('abc\nabcd\nab\r\n'))).toEqual([
      good('abc'),
      { ok: false, reason: 'too_long', bytes: 5 },
      good('ab'),
    ]);
  });
});
