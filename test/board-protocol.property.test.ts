// Drop-box board protocol v1: properties over generated frames and arbitrary bytes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LineFramer,
  checksum,
  encodeBoardFrame,
  encodeCommand,
  nextSeq,
  parseCommand,
  parseFrame,
  type FramedLine,
} from '../devices/board/protocol.js';
import type { BoardCommand, BoardFrame, MalformedReason } from '../devices/board/frames.js';

const RUNS = { numRuns: 1000 };
const REASONS: MalformedReason[] = ['too_long', 'not_ascii', 'bad_syntax', 'bad_checksum', 'unknown_type', 'bad_args'];

// ---- generators of valid frames -------------------------------------------------

const PRINTABLE = Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i));
const TOKEN_CHARS = PRINTABLE.filter((c) => c !== '$' && c !== '*' && c !== ',');
const TEXT_CHARS = [...TOKEN_CHARS, ','];

const token = (maxLength: number) => fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength });
const text = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...TEXT_CHARS), minLength, maxLength });
const seq = fc.integer({ min: 0, max: 65535 });
const counter = fc.oneof(fc.nat(1000), fc.maxSafeNat());

const boardFrame: fc.Arbitrary<BoardFrame> = fc.oneof(
  fc.record({ seq, type: fc.constant('HELLO' as const), version: fc.nat(9), firmware: token(20), boardId: token(20) }),
  fc.record({ seq, type: fc.constant('HB' as const), uptimeS: counter, dropCount: counter }),
  fc.record({ seq, type: fc.constant('SLOT' as const), occupied: fc.boolean() }),
  fc.record({ seq, type: fc.constant('DROP' as const), dropCount: counter }),
  fc.record({ seq, type: fc.constant('DOOR' as const), state: fc.constantFrom('OPEN' as const, 'CLOSED' as const) }),
  fc.record({ seq, type: fc.constant('FILL' as const), percent: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ seq, type: fc.constant('TAMPER' as const), code: fc.constantFrom('SHOCK' as const, 'TILT' as const, 'CASE' as const) }),
  fc.record({ seq, type: fc.constant('KEY' as const), state: fc.constantFrom('ON' as const, 'OFF' as const) }),
  fc.record({ seq, type: fc.constant('ACK' as const), cmdSeq: seq }),
  fc.record({ seq, type: fc.constant('NAK' as const), cmdSeq: seq, reason: text(1, 40) }),
  fc.record({ seq, type: fc.constant('ERR' as const), code: token(20), text: fc.option(text(0, 60), { nil: null }) }),
);

const boardCommand: fc.Arbitrary<BoardCommand> = fc.oneof(
  fc.record({ type: fc.constant('UNLOCK' as const), ms: counter }),
  fc.record({ type: fc.constant('RESET' as const), dropCount: counter }),
  fc.record({ type: fc.constant('LED' as const), mode: fc.constantFrom('OFF' as const, 'ON' as const, 'BLINK' as const) }),
  fc.record({ type: fc.constant('STATUS' as const) }),
);

/** Lines with a correct checksum built from protocol-like pieces, to reach the argument checks. */
const nearValidLine = fc
  .tuple(
    fc.oneof(seq.map(String), fc.constantFrom('65536', '-1', '+1', '007', '', ' 1', '1.5')),
    fc.array(
      fc.oneof(
        fc.constantFrom('HELLO', 'HB', 'SLOT', 'DROP', 'DOOR', 'FILL', 'TAMPER', 'KEY', 'ACK', 'NAK', 'ERR'),
        fc.constantFrom('UNLOCK', 'RESET', 'LED', 'STATUS', 'OPEN', 'CLOSED', 'SHOCK', 'TILT', 'CASE', 'ON', 'OFF', 'BLINK'),
        fc.constantFrom('0', '1', '100', '101', '65535', '65536', '9007199254740992', '-1', '+1', '007', '', ' ', 'x'),
        fc.nat().map(String),
        token(8),
      ),
      { maxLength: 5 },
    ),
  )
  .map(([s, rest]) => {
    const body = [s, ...rest].join(',');
    return `$${body}*${checksum(body)}`;
  });

/** Cuts a buffer into chunks at the given points, as a serial port might deliver it. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

function framedLines(chunks: Buffer[], framer = new LineFramer()): FramedLine[] {
  return chunks.flatMap((c) => framer.push(c));
}

function okLines(lines: FramedLine[]): Buffer[] {
  return lines.flatMap((l) => (l.ok ? [l.line] : []));
}

// ---- the parsers never throw ---------------------------------------------------

describe('no input on the wire can make the parsers throw', () => {
  const expectWellFormedResult = (r: { ok: boolean; reason?: MalformedReason; detail?: string }) => {
    if (!r.ok) {
      expect(REASONS).toContain(r.reason);
      expect(typeof r.detail).toBe('string');
    }
  };

  it('arbitrary bytes give a frame or a reason, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expectWellFormedResult(parseFrame(Buffer.from(bytes)));
        expectWellFormedResult(parseCommand(Buffer.from(bytes)));
      }),
      RUNS,
    );
  });

  it('arbitrary strings, lone surrogates included, give a frame or a reason', () => {
    const anyUtf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 150 });
    fc.assert(
      fc.property(fc.oneof(anyUtf16, fc.string({ unit: 'binary', maxLength: 150 })), (s) => {
        expectWellFormedResult(parseFrame(s));
        expectWellFormedResult(parseCommand(s));
      }),
      RUNS,
    );
  });

  it('lines with a correct checksum but random fields are judged by their fields, and a frame read is written back the same', () => {
    fc.assert(
      fc.property(nearValidLine, (line) => {
        const frame = parseFrame(line);
        const command = parseCommand(line);
        expectWellFormedResult(frame);
        expectWellFormedResult(command);
        expect(frame.ok || frame.reason !== 'bad_checksum').toBe(true);
        if (frame.ok) expect(parseFrame(encodeBoardFrame(frame.frame))).toEqual(frame);
        if (command.ok) expect(parseCommand(encodeCommand(command.seq, command.command))).toEqual(command);
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- round trips ----------------------------------------------------------------

describe('every valid frame survives the wire', () => {
  it('board frames, written and cut into random chunks, are read back identical and in order', () => {
    fc.assert(
      fc.property(fc.array(boardFrame, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
        const wire = Buffer.from(frames.map((f) => encodeBoardFrame(f)).join(''), 'latin1');
        const lines = framedLines(chunked(wire, cuts));
        expect(lines.every((l) => l.ok)).toBe(true);
        expect(okLines(lines).map((l) => parseFrame(l))).toEqual(frames.map((frame) => ({ ok: true, frame })));
      }),
      RUNS,
    );
  });

  it('controller commands, written and cut into random chunks, are read back identical and in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(seq, boardCommand), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (cmds, cuts) => {
        const wire = Buffer.from(cmds.map(([s, c]) => encodeCommand(s, c)).join(''));
        const lines = okLines(framedLines(chunked(wire, cuts)));
        expect(lines.map((l) => parseCommand(l))).toEqual(cmds.map(([s, command]) => ({ ok: true, seq: s, command })));
      }),
      RUNS,
    );
  });

  it('a \\r\\n ending reads the same as \\n', () => {
    fc.assert(
      fc.property(boardFrame, (frame) => {
        const line = encodeBoardFrame(frame);
        if (line.length === 120) return; // no room for the \r
        const [out] = new LineFramer().push(Buffer.from(line.replace(/\n$/, '\r\n')));
        expect(out?.ok && parseFrame(out.line)).toEqual({ ok: true, frame });
      }),
      RUNS,
    );
  });
});

// ---- corruption -------------------------------------------------------------------

/** Every line that comes out of the framer, parsed; the framer sees the line as on the wire. */
function acceptedFrames(wire: Buffer): BoardFrame[] {
  return okLines(new LineFramer().push(wire)).flatMap((l) => {
    const r = parseFrame(l);
    return r.ok ? [r.frame] : [];
  });
}

describe('a corrupted line is never taken for a frame', () => {
  // Why this holds: in the body a changed byte changes the XOR by (old ^ new) ≠ 0, and an
  // inserted or deleted body byte changes it by that byte (never 0: 0 is not_ascii);
  // in `$`, `*` or the CS the framing or the comparison fails; a changed-in control
  // byte or byte above 0x7E is not_ascii; a changed-in `\n` splits the line into two
  // halves that each lack `$` or `*CS`.
  it('changing any single byte of a board line gets it rejected, and the next line still reads', () => {
    fc.assert(
      fc.property(boardFrame, fc.nat(), fc.integer({ min: 1, max: 255 }), (frame, at, flip) => {
        const next: BoardFrame = { seq: nextSeq(frame.seq), type: 'KEY', state: 'ON' };
        const wire = Buffer.from(encodeBoardFrame(frame), 'latin1');
        const i = at % (wire.length - 1); // any byte but the \n (see the next test for that)
        wire[i] = (wire[i] as number) ^ flip;
        expect(parseFrame(wire.subarray(0, -1)).ok).toBe(false);
        expect(acceptedFrames(Buffer.concat([wire, Buffer.from(encodeBoardFrame(next))]))).toEqual([next]);
      }),
      { numRuns: 2000 },
    );
  });

  it('changing the \\n of a line loses that line and the one it runs into, and nothing false is read', () => {
    fc.assert(
      fc.property(boardFrame, boardFrame, fc.integer({ min: 0, max: 255 }), (a, b, replacement) => {
        fc.pre(replacement !== 0x0a);
        const first = Buffer.from(encodeBoardFrame(a), 'latin1');
        first[first.length - 1] = replacement;
        expect(acceptedFrames(Buffer.concat([first, Buffer.from(encodeBoardFrame(b), 'latin1')]))).toEqual([]);
      }),
      RUNS,
    );
  });

  it('inserting or deleting one byte of a board line gets it rejected', () => {
    fc.assert(
      fc.property(boardFrame, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (frame, at, byte, insert) => {
        const line = Buffer.from(encodeBoardFrame(frame).slice(0, -1), 'latin1');
        const i = at % (line.length + (insert ? 1 : 0));
        const changed = insert
          ? Buffer.concat([line.subarray(0, i), Buffer.from([byte]), line.subarray(i)])
          : Buffer.concat([line.subarray(0, i), line.subarray(i + 1)]);
        // A \r or \n added at the very end is a line ending, not a change of the frame.
        fc.pre(!(insert && i === line.length && (byte === 0x0d || byte === 0x0a)));
        expect(parseFrame(changed).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('every single-byte change of some typical lines, tried exhaustively, is rejected', () => {
    const samples: string[] = [
      encodeBoardFrame({ seq: 0, type: 'HELLO', version: 1, firmware: 'fw1.2', boardId: 'B17' }),
      encodeBoardFrame({ seq: 65535, type: 'HB', uptimeS: 86400, dropCount: 12 }),
      encodeBoardFrame({ seq: 9, type: 'DROP', dropCount: 13 }),
      encodeBoardFrame({ seq: 10, type: 'ERR', code: 'E7', text: 'jam, slot 1' }),
      encodeCommand(4, { type: 'UNLOCK', ms: 5000 }),
      encodeCommand(5, { type: 'RESET', dropCount: 13 }),
    ];
    const accepted: string[] = [];
    let tried = 0;
    for (const sample of samples) {
      const line = Buffer.from(sample.slice(0, -1), 'latin1');
      for (let i = 0; i < line.length; i++) {
        for (let b = 0; b < 256; b++) {
          if (b === line[i]) continue;
          const changed = Buffer.from(line);
          changed[i] = b;
          if (parseFrame(changed).ok || parseCommand(changed).ok) accepted.push(`${sample.trim()} with byte ${i} = 0x${b.toString(16)}`);
          tried++;
        }
      }
    }
    expect(accepted).toEqual([]);
    expect(tried).toBeGreaterThan(5000);
  });

  it('two swapped bytes can pass: the XOR checksum of the contract cannot see order', () => {
    // A known weakness of protocol v1, pinned so nobody relies on more: 18 and 81 have the same XOR.
    const swapped = '$9,DROP,81*' + encodeBoardFrame({ seq: 9, type: 'DROP', dropCount: 18 }).slice(-3, -1);
    expect(parseFrame(swapped)).toEqual({ ok: true, frame: { seq: 9, type: 'DROP', dropCount: 81 } });
  });
});

// ---- the line framer ------------------------------------------------------------

/**
 * What the framer must produce, computed on the whole stream at once: each complete
 * line is passed on (one \r stripped) or reported too_long; an unfinished tail that is
 * already too long is reported too. `bytes` is left out: it depends on chunking.
 */
function expectedLines(stream: Buffer, maxBytes: number): Array<{ ok: true; line: Buffer } | { ok: false }> {
  const out: Array<{ ok: true; line: Buffer } | { ok: false }> = [];
  let from = 0;
  for (;;) {
    const nl = stream.indexOf(0x0a, from);
    const end = nl === -1 ? stream.length : nl;
    const length = end - from;
    if (nl === -1) {
      if (length > maxBytes - 1) out.push({ ok: false });
      return out;
    }
    if (length + 1 > maxBytes) out.push({ ok: false });
    else {
      const line = stream.subarray(from, end);
      out.push({ ok: true, line: line.at(-1) === 0x0d ? line.subarray(0, -1) : line });
    }
    from = nl + 1;
  }
}

const withoutBytes = (lines: FramedLine[]) => lines.map((l) => (l.ok ? l : { ok: false }));

describe('LineFramer on any byte stream', () => {
  // Streams rich in \r, \n and runs, so the limits are hit often with a small maxBytes.
  const streamByte = fc.oneof(fc.constantFrom(0x0a, 0x0d, 0x41), fc.integer({ min: 0, max: 255 }));
  const stream = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.array(streamByte, { maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  );

  it('splits exactly as the whole stream reads, however it is chunked, holding at most maxBytes - 1 bytes', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 2, max: 130 }), (bytes, cuts, maxBytes) => {
        const framer = new LineFramer(maxBytes);
        const got: FramedLine[] = [];
        for (const chunk of chunked(bytes, cuts)) {
          got.push(...framer.push(chunk));
          expect(framer.bufferedBytes).toBeLessThanOrEqual(maxBytes - 1);
        }
        expect(withoutBytes(got)).toEqual(expectedLines(bytes, maxBytes));
        for (const l of got) {
          if (l.ok) expect(l.line.includes(0x0a)).toBe(false);
          else expect(l.bytes).toBeGreaterThanOrEqual(maxBytes);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bytes in arbitrary chunks never make it throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 10 }), (chunks) => {
        const framer = new LineFramer();
        for (const c of chunks) framer.push(Buffer.from(c));
        expect(framer.bufferedBytes).toBeLessThan(120);
      }),
      RUNS,
    );
  });
});
