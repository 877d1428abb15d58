/**
 * Board protocol version 2 (CONTRACT §3): the CRC-16/CCITT-FALSE checksum, the shared
 * vectors that the firmware's host tests read too, and how the controller chooses the
 * version from the board's HELLO.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checksum, encodeCommand, formatFrame, parseCommand, parseFrame, type ProtocolVersion } from '../devices/board/protocol.js';
import { BoardProtocolSession } from '../devices/board/protocolSession.js';
import { crc16CcittFalse } from '../devices/board/versions/index.js';
import { buildFirmware, firmwareFiles } from '../sim/firmware/buildFirmware.js';

const VECTORS_FILE = new URL('./vectors/board-protocol.txt', import.meta.url);
const FIRMWARE_BUILD_MS = 180_000;

interface Vector {
  kind: string;
  version: ProtocolVersion;
  input: string;
  expected: string;
}

function readVectors(): Vector[] {
  return readFileSync(VECTORS_FILE, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((l) => {
      const [kind, version, ...rest] = l.split('\t');
      const expected = rest.pop() ?? '';
      return { kind: kind ?? '', version: Number(version) as ProtocolVersion, input: rest.join('\t'), expected };
    });
}

/** \r, \xHH and {C*N} as the vectors file writes them. */
function unescape(input: string): Buffer {
  const expanded = input.replace(/\{(.)\*(\d+)\}/g, (_m, c: string, n: string) => c.repeat(Number(n)));
  const bytes: number[] = [];
  for (let i = 0; i < expanded.length; i++) {
    if (expanded.startsWith('\\r', i)) {
      bytes.push(0x0d);
      i += 1;
    } else if (expanded.startsWith('\\x', i)) {
      bytes.push(parseInt(expanded.slice(i + 2, i + 4), 16));
      i += 3;
    } else bytes.push(expanded.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

describe('CRC-16/CCITT-FALSE', () => {
  it('gives the standard check value 29B1 for "123456789", as four uppercase hex digits', () => {
    expect(crc16CcittFalse(Buffer.from('123456789'))).toBe(0x29b1);
    expect(checksum('123456789', 2)).toBe('29B1');
    expect(checksum('', 2)).toBe('FFFF');
  });

  it('catches the corruption XOR misses: HB,7,11 read as HB,6,10', () => {
    const good = formatFrame(7, ['HB', 7, 11], 1);
    const corrupted = good.replace('HB,7,11', 'HB,6,10');
    expect(checksum('7,HB,7,11', 1)).toBe(checksum('7,HB,6,10', 1));
    expect(parseFrame(corrupted, 1)).toMatchObject({ ok: true, frame: { uptimeS: 6, dropCount: 10 } });

    const goodV2 = formatFrame(7, ['HB', 7, 11], 2);
    const corruptedV2 = goodV2.replace('HB,7,11', 'HB,6,10');
    expect(parseFrame(goodV2, 2)).toMatchObject({ ok: true, frame: { uptimeS: 7, dropCount: 11 } });
    expect(parseFrame(corruptedV2, 2)).toMatchObject({ ok: false, reason: 'bad_checksum' });
    expect(parseFrame(corruptedV2)).toMatchObject({ ok: false, reason: 'bad_checksum' });
  });

  it('writes commands and frames in the version asked for', () => {
    expect(encodeCommand(0, { type: 'STATUS' }, 2)).toBe(`$0,STATUS*${checksum('0,STATUS', 2)}\n`);
    expect(encodeCommand(0, { type: 'STATUS' }, 2)).toMatch(/^\$0,STATUS\*[0-9A-F]{4}\n$/);
    expect(encodeCommand(0, { type: 'STATUS' })).toBe('$0,STATUS*08\n');
  });
});

describe('the shared protocol vectors (the firmware host tests read the same file)', () => {
  const vectors = readVectors();

  it('has vectors of every kind, in both versions', () => {
    for (const kind of ['checksum', 'command', 'frame']) {
      for (const version of [1, 2]) expect(vectors.filter((v) => v.kind === kind && v.version === version).length).toBeGreaterThan(0);
    }
    expect(vectors.length).toBeGreaterThanOrEqual(100);
  });

  it.each(vectors.filter((v) => v.kind === 'checksum').map((v) => [v.version, v.input, v.expected] as const))('v%s checksum of "%s" is %s', (version, body, expected) => {
    expect(checksum(body, version)).toBe(expected);
  });

  it.each(vectors.filter((v) => v.kind === 'command').map((v) => [v.version, v.input, v.expected] as const))('v%s command %s → %s', (version, input, expected) => {
    const parsed = parseCommand(unescape(input), version);
    if (expected.startsWith('ok ')) {
      const [, seq, type, arg] = expected.split(' ');
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      expect(parsed.seq).toBe(Number(seq));
      expect(parsed.command.type).toBe(type);
      const c = parsed.command;
      const value = c.type === 'UNLOCK' ? String(c.ms) : c.type === 'RESET' ? String(c.dropCount) : c.type === 'LED' ? c.mode : undefined;
      expect(value).toBe(arg);
    } else {
      expect(parsed).toMatchObject({ ok: false, reason: expected.split(' ')[0] });
    }
  });

  it.each(vectors.filter((v) => v.kind === 'frame').map((v) => [v.version, v.input, v.expected] as const))('v%s frame %s is written %s', (version, input, expected) => {
    const [seq, ...fields] = input.split('|');
    expect(formatFrame(Number(seq), fields, version)).toBe(`${expected}\n`);
    expect(parseFrame(expected, version).ok).toBe(true);
  });

  it(
    'are passed by the firmware protocol code compiled for this machine (firmware/test host tests)',
    async () => {
      await buildFirmware();
      const { stdout } = await promisify(execFile)(firmwareFiles().hostTests, [VECTORS_FILE.pathname]);
      expect(stdout).toMatch(new RegExp(`^${vectors.length} vectors, \\d+ checks, 0 failures$`, 'm'));
      expect(stdout).toMatch(/count store: \d+ slots/);
    },
    FIRMWARE_BUILD_MS,
  );
});

describe('the version the controller speaks with a board', () => {
  const line = (seq: number, fields: (string | number)[], version: ProtocolVersion) => Buffer.from(formatFrame(seq, fields, version), 'latin1');

  it('accepts either version before any HELLO', () => {
    const session = new BoardProtocolSession();
    expect(session.parse(line(3, ['HB', 3, 5], 1)).ok).toBe(true);
    expect(session.parse(line(4, ['HB', 4, 5], 2)).ok).toBe(true);
    expect(session.announced).toBeNull();
  });

  it('after HELLO,2 takes only CRC frames, so the XOR-passing corruption changes nothing', () => {
    const session = new BoardProtocolSession();
    expect(session.parse(line(0, ['HELLO', 2, 'dbx-1.0.0', 'B1'], 2)).ok).toBe(true);
    expect(session.announced).toBe(2);
    const forged = Buffer.from(formatFrame(7, ['HB', 7, 11], 1).replace('HB,7,11', 'HB,6,10'), 'latin1');
    expect(session.parse(forged)).toMatchObject({ ok: false, reason: 'bad_checksum' });
    expect(session.parse(line(8, ['DROP', 12], 1))).toMatchObject({ ok: false, reason: 'bad_checksum' });
    expect(session.parse(line(9, ['DROP', 12], 2))).toMatchObject({ ok: true, frame: { dropCount: 12 } });
  });

  it('after HELLO,1 takes only XOR frames', () => {
    const session = new BoardProtocolSession();
    session.parse(line(0, ['HELLO', 1, 'old', 'B1'], 1));
    expect(session.parse(line(1, ['HB', 1, 0], 2))).toMatchObject({ ok: false, reason: 'bad_checksum' });
    expect(session.parse(line(2, ['HB', 2, 0], 1)).ok).toBe(true);
  });

  it('answers in the announced version, and takes a new HELLO (a re-flashed board) in either', () => {
    const session = new BoardProtocolSession();
    session.parse(line(0, ['HELLO', 2, 'fw', 'B1'], 2));
    expect(session.encode(5, { type: 'STATUS' })).toBe(encodeCommand(5, { type: 'STATUS' }, 2));
    expect(session.parse(line(0, ['HELLO', 1, 'fw-old', 'B1'], 1)).ok).toBe(true);
    expect(session.announced).toBe(1);
    expect(session.encode(6, { type: 'STATUS' })).toBe(encodeCommand(6, { type: 'STATUS' }, 1));
  });

  it('writes version 1 before the board has said anything, and rewrites that command in v2 once a v2 line shows the guess was wrong', () => {
    const session = new BoardProtocolSession();
    expect(session.encode(0, { type: 'STATUS' })).toBe(encodeCommand(0, { type: 'STATUS' }, 1));
    expect(session.encode(1, { type: 'RESET', dropCount: 4 })).toBe(encodeCommand(1, { type: 'RESET', dropCount: 4 }, 1));
    session.parse(line(17, ['HB', 9, 4], 2));
    expect(session.relearn()).toEqual([encodeCommand(0, { type: 'STATUS' }, 2), encodeCommand(1, { type: 'RESET', dropCount: 4 }, 2)]);
    expect(session.relearn()).toEqual([]);
    expect(session.encode(2, { type: 'STATUS' })).toBe(encodeCommand(2, { type: 'STATUS' }, 2));
  });

  it('rewrites nothing when the guess was right', () => {
    const session = new BoardProtocolSession();
    session.encode(0, { type: 'STATUS' });
    session.parse(line(3, ['HB', 3, 0], 1));
    expect(session.relearn()).toEqual([]);
  });
});
