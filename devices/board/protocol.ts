/**
 * Drop-box board serial protocol, versions 1 and 2 (CONTRACT §3): pure functions from bytes to
 * frames and back. No I/O, no timers, no state beyond the two small classes at the end,
 * which the driver owns.
 *
 * A line on the wire:  `$<seq>,<TYPE>[,<arg>...]*<CS>\n`  (a `\r` before `\n` is ignored),
 * at most MAX_LINE_BYTES (120) bytes counting every byte sent, `\r` and `\n` included.
 *
 * Decisions the contract leaves open, fixed here:
 * - Numbers (seq and every numeric argument) are decimal digits only. Leading zeros are
 *   ACCEPTED (`007` is 7): the checksum already guards integrity, and rejecting padded
 *   numbers would only make us deaf to a firmware that pads. The encoders never pad.
 *   Counters (uptimeS, dropCount, ms, version) go up to Number.MAX_SAFE_INTEGER, so they
 *   stay exact; seq and cmdSeq up to 65535; FILL up to 100.
 * - `$` and `*` never occur inside a frame: they delimit it. A body containing either is
 *   bad_syntax (this is also what rejects two lines fused by a lost `\n`).
 * - Free text: `ERR,<code>[,<text>]` — text is the rest of the line, commas included;
 *   `ERR,E1` has text null, `ERR,E1,` has text "". `NAK,<cmdSeq>,<reason>` — reason is
 *   the rest of the line, commas included, and must not be empty. HELLO firmware and
 *   boardId, ERR code: no commas, not empty. Text is printable ASCII (0x20–0x7E).
 * - Checks run in this order, and the first failure is the reason: too_long, not_ascii,
 *   framing (bad_syntax: `$`, `*`, CS format), bad_checksum, seq/type presence
 *   (bad_syntax), unknown_type, bad_args. So a frame whose checksum fails is never
 *   looked into. A seq outside 0–65535 is bad_syntax; a known type in the wrong
 *   direction (e.g. `UNLOCK` from the board) is unknown_type.
 * - A single changed byte anywhere in a valid line is always rejected: in the body it
 *   changes the XOR (x ^ old ^ new, old ≠ new) and the CRC, in the `$`/`*`/CS it breaks
 *   framing or the CS comparison, and a changed-in control or non-ASCII byte is not_ascii.
 * - The version of a line is told by its checksum's width (2 hex digits: v1, 4: v2; the
 *   body never holds `*`, so the last `*` is unambiguous). Parsers take which versions
 *   they accept: `'either'` (before any HELLO) or one version; a line in the other
 *   version is bad_checksum. Encoders take the version to write (default 1).
 */
import { ErrorCode, KioskError } from '../../kernel/errors.js';
import {
  MAX_LINE_BYTES,
  SEQ_MODULO,
  type BoardCommand,
  type BoardFrame,
  type MalformedReason,
  type ParseResult,
} from './frames.js';
import { PROTOCOL_PROFILES, profileByChecksumDigits, type ProtocolVersion } from './versions/index.js';

export type { ProtocolVersion } from './versions/index.js';

/** Which checksum versions a parser takes: one, or either (before the board's HELLO). */
export type AcceptedVersions = ProtocolVersion | 'either';

export type CommandParseResult =
  | { ok: true; seq: number; command: BoardCommand }
  | { ok: false; reason: MalformedReason; detail: string };

type Failure = { ok: false; reason: MalformedReason; detail: string };

const LF = 0x0a;
const CR = 0x0d;
const FIRST_PRINTABLE = 0x20;
const LAST_PRINTABLE = 0x7e;
const MAX_SEQ = SEQ_MODULO - 1;
const MAX_FILL_PERCENT = 100;
const UPPER_HEX = /^[0-9A-F]+$/;
const DIGITS = /^[0-9]+$/;

const BOARD_TYPES = new Set(['HELLO', 'HB', 'SLOT', 'DROP', 'DOOR', 'FILL', 'TAMPER', 'KEY', 'ACK', 'NAK', 'ERR']);
const COMMAND_TYPES = new Set(['UNLOCK', 'RESET', 'LED', 'STATUS']);

const fail = (reason: MalformedReason, detail: string): Failure => ({ ok: false, reason, detail });

/**
 * The checksum of `body` (the text strictly between `$` and `*`) as it is written:
 * v1 XOR in two uppercase hex digits, v2 CRC-16/CCITT-FALSE in four.
 */
export function checksum(body: string, version: ProtocolVersion = 1): string {
  const profile = PROTOCOL_PROFILES[version];
  return profile.checksum(Buffer.from(body, 'utf8')).toString(16).toUpperCase().padStart(profile.checksumDigits, '0');
}

/** The seq after `seq`: +1, and 65535 wraps to 0. */
export function nextSeq(seq: number): number {
  return (seq + 1) % SEQ_MODULO;
}

// ---------------------------------------------------------------------------------
// Decoding

type Envelope = { ok: true; seq: number; type: string; args: string[]; version: ProtocolVersion };

/**
 * Checks everything common to both directions and splits the body. Accepts the line
 * with or without its `\n`; the length limit applies to the line as it was on the wire.
 */
function parseEnvelope(line: Buffer | string, accept: AcceptedVersions): Envelope | Failure {
  // A string longer than the limit in UTF-16 units is longer in bytes too: answer
  // before copying an arbitrarily large string.
  if (typeof line === 'string' && line.length > MAX_LINE_BYTES) {
    return fail('too_long', `${line.length} characters, limit ${MAX_LINE_BYTES} bytes`);
  }
  const bytes = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === LF) end -= 1;
  const wireBytes = end + 1;
  if (wireBytes > MAX_LINE_BYTES) {
    return fail('too_long', `${wireBytes} bytes with the terminator, limit ${MAX_LINE_BYTES}`);
  }
  if (end > 0 && bytes[end - 1] === CR) end -= 1;

  for (let i = 0; i < end; i++) {
    const b = bytes[i] as number;
    if (b < FIRST_PRINTABLE || b > LAST_PRINTABLE) {
      return fail('not_ascii', `byte 0x${b.toString(16).padStart(2, '0')} at offset ${i}`);
    }
  }
  const text = bytes.toString('latin1', 0, end);

  if (text.length === 0) return fail('bad_syntax', 'empty line');
  if (text[0] !== '$') return fail('bad_syntax', 'does not start with $');
  const star = text.lastIndexOf('*');
  const profile = star > 0 ? profileByChecksumDigits(text.length - star - 1) : null;
  if (profile === null) return fail('bad_syntax', 'does not end with *CS (2 or 4 hex digits)');
  const cs = text.slice(star + 1);
  if (!UPPER_HEX.test(cs)) return fail('bad_syntax', 'checksum is not uppercase hex digits');
  const body = text.slice(1, star);
  if (body.includes('$') || body.includes('*')) return fail('bad_syntax', '$ or * inside the frame');
  if (accept !== 'either' && accept !== profile.version) {
    return fail('bad_checksum', `a version ${profile.version} checksum from a board that speaks version ${accept}`);
  }
  const computed = checksum(body, profile.version);
  if (computed !== cs) return fail('bad_checksum', `checksum ${cs}, computed ${computed}`);

  const [seqText, type, ...args] = body.split(',');
  if (seqText === undefined || !DIGITS.test(seqText)) return fail('bad_syntax', 'seq is not decimal digits');
  const seq = Number(seqText);
  if (seq > MAX_SEQ) return fail('bad_syntax', `seq ${seqText} above ${MAX_SEQ}`);
  if (type === undefined || type.length === 0) return fail('bad_syntax', 'no frame type');
  return { ok: true, seq, type, args, version: profile.version };
}

/** Unsigned decimal digits up to `max`, or null. */
function parseUnsigned(text: string | undefined, max: number): number | null {
  if (text === undefined || !DIGITS.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n <= max ? n : null;
}

function oneOf<T extends string>(text: string | undefined, allowed: readonly T[]): T | null {
  return allowed.find((a) => a === text) ?? null;
}

const badArgs = (type: string, args: string[], expected: string): Failure =>
  fail('bad_args', `${type} with ${args.length} argument(s), expected ${expected}`);

type FrameOrFailure = { ok: true; frame: BoardFrame } | Failure;

function decodeBoardFrame(seq: number, type: string, args: string[]): FrameOrFailure {
  const ok = (frame: BoardFrame): FrameOrFailure => ({ ok: true, frame });
  const [a0, a1, a2] = args;
  switch (type) {
    case 'HELLO': {
      const version = parseUnsigned(a0, Number.MAX_SAFE_INTEGER);
      if (args.length !== 3 || version === null || !a1 || !a2) return badArgs(type, args, '<version>,<firmware>,<boardId>');
      return ok({ seq, type, version, firmware: a1, boardId: a2 });
    }
    case 'HB': {
      const uptimeS = parseUnsigned(a0, Number.MAX_SAFE_INTEGER);
      const dropCount = parseUnsigned(a1, Number.MAX_SAFE_INTEGER);
      if (args.length !== 2 || uptimeS === null || dropCount === null) return badArgs(type, args, '<uptimeS>,<dropCount>');
      return ok({ seq, type, uptimeS, dropCount });
    }
    case 'SLOT': {
      const state = oneOf(a0, ['0', '1'] as const);
      if (args.length !== 1 || state === null) return badArgs(type, args, '0|1');
      return ok({ seq, type, occupied: state === '1' });
    }
    case 'DROP': {
      const dropCount = parseUnsigned(a0, Number.MAX_SAFE_INTEGER);
      if (args.length !== 1 || dropCount === null) return badArgs(type, args, '<dropCount>');
      return ok({ seq, type, dropCount });
    }
    case 'DOOR': {
      const state = oneOf(a0, ['OPEN', 'CLOSED'] as const);
      if (args.length !== 1 || state === null) return badArgs(type, args, 'OPEN|CLOSED');
      return ok({ seq, type, state });
    }
    case 'FILL': {
      const percent = parseUnsigned(a0, MAX_FILL_PERCENT);
      if (args.length !== 1 || percent === null) return badArgs(type, args, '0..100');
      return ok({ seq, type, percent });
    }
    case 'TAMPER': {
      const code = oneOf(a0, ['SHOCK', 'TILT', 'CASE'] as const);
      if (args.length !== 1 || code === null) return badArgs(type, args, 'SHOCK|TILT|CASE');
      return ok({ seq, type, code });
    }
    case 'KEY': {
      const state = oneOf(a0, ['ON', 'OFF'] as const);
      if (args.length !== 1 || state === null) return badArgs(type, args, 'ON|OFF');
      return ok({ seq, type, state });
    }
    case 'ACK': {
      const cmdSeq = parseUnsigned(a0, MAX_SEQ);
      if (args.length !== 1 || cmdSeq === null) return badArgs(type, args, '<cmdSeq>');
      return ok({ seq, type, cmdSeq });
    }
    case 'NAK': {
      const cmdSeq = parseUnsigned(a0, MAX_SEQ);
      const reason = args.slice(1).join(',');
      if (args.length < 2 || cmdSeq === null || reason.length === 0) return badArgs(type, args, '<cmdSeq>,<reason>');
      return ok({ seq, type, cmdSeq, reason });
    }
    case 'ERR': {
      if (args.length < 1 || !a0) return badArgs(type, args, '<code>[,<text>]');
      return ok({ seq, type, code: a0, text: args.length > 1 ? args.slice(1).join(',') : null });
    }
    default:
      return COMMAND_TYPES.has(type)
        ? fail('unknown_type', `${type} is a controller command, not a board frame`)
        : fail('unknown_type', `unknown frame type ${type.slice(0, 16)}`);
  }
}

/** Parses one board → controller line. Never throws. */
export function parseFrame(line: Buffer | string, accept: AcceptedVersions = 'either'): ParseResult {
  const parsed = parseFrameVersioned(line, accept);
  return parsed.ok ? { ok: true, frame: parsed.frame } : parsed;
}

/** parseFrame, also telling which version's checksum the line carried. */
export function parseFrameVersioned(
  line: Buffer | string,
  accept: AcceptedVersions = 'either',
): { ok: true; frame: BoardFrame; version: ProtocolVersion } | Failure {
  const env = parseEnvelope(line, accept);
  if (!env.ok) return env;
  const decoded = decodeBoardFrame(env.seq, env.type, env.args);
  return decoded.ok ? { ok: true, frame: decoded.frame, version: env.version } : decoded;
}

/** Parses one controller → board line (used by the board simulators). Never throws. */
export function parseCommand(line: Buffer | string, accept: AcceptedVersions = 'either'): CommandParseResult {
  const env = parseEnvelope(line, accept);
  if (!env.ok) return env;
  const { seq, type, args } = env;
  const ok = (command: BoardCommand): CommandParseResult => ({ ok: true, seq, command });
  const [a0] = args;
  switch (type) {
    case 'UNLOCK': {
      const ms = parseUnsigned(a0, Number.MAX_SAFE_INTEGER);
      if (args.length !== 1 || ms === null) return badArgs(type, args, '<ms>');
      return ok({ type, ms });
    }
    case 'RESET': {
      const dropCount = parseUnsigned(a0, Number.MAX_SAFE_INTEGER);
      if (args.length !== 1 || dropCount === null) return badArgs(type, args, '<dropCount>');
      return ok({ type, dropCount });
    }
    case 'LED': {
      const mode = oneOf(a0, ['OFF', 'ON', 'BLINK'] as const);
      if (args.length !== 1 || mode === null) return badArgs(type, args, 'OFF|ON|BLINK');
      return ok({ type, mode });
    }
    case 'STATUS':
      if (args.length !== 0) return badArgs(type, args, 'none');
      return ok({ type });
    default:
      return BOARD_TYPES.has(type)
        ? fail('unknown_type', `${type} is a board frame, not a controller command`)
        : fail('unknown_type', `unknown command type ${type.slice(0, 16)}`);
  }
}

// ---------------------------------------------------------------------------------
// Encoding. Encoders throw KioskError(BoardProtocolMisuse) for anything the parser
// would not give back unchanged: that is a bug in the caller, not a wire condition.

function misuse(what: string): KioskError {
  return new KioskError(
    ErrorCode.BoardProtocolMisuse,
    `Drop-box board protocol cannot carry this: ${what}. This is a bug in the caller.`,
  );
}

function isPrintableWithoutDelimiters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < FIRST_PRINTABLE || c > LAST_PRINTABLE || c === 0x24 /* $ */ || c === 0x2a /* * */) return false;
  }
  return true;
}

function checkUnsigned(name: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw misuse(`${name} ${value} is not an integer 0..${max}`);
  return value;
}

/** A single field: not empty, no comma (commas separate fields). */
function checkToken(name: string, value: string): string {
  if (value.length === 0 || value.includes(',')) throw misuse(`${name} is empty or contains a comma`);
  return value;
}

function checkOneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) throw misuse(`${name} ${String(value)} is not one of ${allowed.join('|')}`);
  return value;
}

/**
 * The generic encoder: `$seq,F1,F2*CS\n`. Numbers must be unsigned safe integers;
 * strings printable ASCII without `$` or `*` (commas are the caller's business).
 */
export function formatFrame(seq: number, fields: readonly (string | number)[], version: ProtocolVersion = 1): string {
  checkUnsigned('seq', seq, MAX_SEQ);
  if (fields.length === 0) throw misuse('no frame type');
  const parts: string[] = [String(seq)];
  for (const field of fields) {
    if (typeof field === 'number') {
      parts.push(String(checkUnsigned('numeric field', field, Number.MAX_SAFE_INTEGER)));
    } else {
      if (!isPrintableWithoutDelimiters(field)) throw misuse('a field is not printable ASCII or contains $ or *');
      parts.push(field);
    }
  }
  const body = parts.join(',');
  if (PROTOCOL_PROFILES[version] === undefined) throw misuse(`protocol version ${String(version)}`);
  const line = `$${body}*${checksum(body, version)}\n`;
  if (line.length > MAX_LINE_BYTES) throw misuse(`line of ${line.length} bytes, limit ${MAX_LINE_BYTES}`);
  return line;
}

/** A controller → board line, `\n` included. */
export function encodeCommand(seq: number, cmd: BoardCommand, version: ProtocolVersion = 1): string {
  switch (cmd.type) {
    case 'UNLOCK':
      return formatFrame(seq, ['UNLOCK', checkUnsigned('ms', cmd.ms, Number.MAX_SAFE_INTEGER)], version);
    case 'RESET':
      return formatFrame(seq, ['RESET', checkUnsigned('dropCount', cmd.dropCount, Number.MAX_SAFE_INTEGER)], version);
    case 'LED':
      return formatFrame(seq, ['LED', checkOneOf('LED mode', cmd.mode, ['OFF', 'ON', 'BLINK'])], version);
    case 'STATUS':
      return formatFrame(seq, ['STATUS'], version);
    default:
      throw misuse(`unknown command type ${String((cmd as { type: unknown }).type)}`);
  }
}

/** A board → controller line, `\n` included (used by the board simulator). */
export function encodeBoardFrame(frame: BoardFrame, version: ProtocolVersion = 1): string {
  const { seq } = frame;
  const format = (fields: readonly (string | number)[]): string => formatFrame(seq, fields, version);
  const max = Number.MAX_SAFE_INTEGER;
  switch (frame.type) {
    case 'HELLO':
      return format([
        'HELLO',
        checkUnsigned('version', frame.version, max),
        checkToken('firmware', frame.firmware),
        checkToken('boardId', frame.boardId),
      ]);
    case 'HB':
      return format(['HB', checkUnsigned('uptimeS', frame.uptimeS, max), checkUnsigned('dropCount', frame.dropCount, max)]);
    case 'SLOT':
      if (typeof frame.occupied !== 'boolean') throw misuse('SLOT occupied is not a boolean');
      return format(['SLOT', frame.occupied ? '1' : '0']);
    case 'DROP':
      return format(['DROP', checkUnsigned('dropCount', frame.dropCount, max)]);
    case 'DOOR':
      return format(['DOOR', checkOneOf('DOOR state', frame.state, ['OPEN', 'CLOSED'])]);
    case 'FILL':
      return format(['FILL', checkUnsigned('percent', frame.percent, MAX_FILL_PERCENT)]);
    case 'TAMPER':
      return format(['TAMPER', checkOneOf('TAMPER code', frame.code, ['SHOCK', 'TILT', 'CASE'])]);
    case 'KEY':
      return format(['KEY', checkOneOf('KEY state', frame.state, ['ON', 'OFF'])]);
    case 'ACK':
      return format(['ACK', checkUnsigned('cmdSeq', frame.cmdSeq, MAX_SEQ)]);
    case 'NAK':
      if (frame.reason.length === 0) throw misuse('NAK reason is empty');
      return format(['NAK', checkUnsigned('cmdSeq', frame.cmdSeq, MAX_SEQ), frame.reason]);
    case 'ERR':
      return format(frame.text === null ? ['ERR', checkToken('ERR code', frame.code)] : ['ERR', checkToken('ERR code', frame.code), frame.text]);
    default:
      throw misuse(`unknown frame type ${String((frame as { type: unknown }).type)}`);
  }
}

// ---------------------------------------------------------------------------------
// Stream helpers

export type SeqObservation = { kind: 'first' | 'in_order' | 'duplicate' | 'gap'; lost: number };

/**
 * Follows the board's seq to detect lost and repeated frames. A seq "behind" the last
 * one (last 100, now 50) is a gap too, with `lost` counted forward modulo 65536: the
 * wire cannot tell a huge loss from a jump back. A board reboot is not guessed from
 * seq: the board announces it with HELLO, on which the caller calls reset().
 */
/**
 * Frames missing between the last seq seen and `seq`, counted forward modulo 65536:
 * 0 for the first frame (`last` null), a repeat, or the next one in order.
 */
export function framesLostBetween(last: number | null, seq: number): number {
  if (last === null || seq === last) return 0;
  return (seq - nextSeq(last) + SEQ_MODULO) % SEQ_MODULO;
}

export class SeqTracker {
  private last: number | null = null;

  observe(seq: number): SeqObservation {
    checkUnsigned('observed seq', seq, MAX_SEQ);
    const last = this.last;
    this.last = seq;
    if (last === null) return { kind: 'first', lost: 0 };
    if (seq === last) return { kind: 'duplicate', lost: 0 };
    const lost = framesLostBetween(last, seq);
    return lost === 0 ? { kind: 'in_order', lost: 0 } : { kind: 'gap', lost };
  }

  reset(): void {
    this.last = null;
  }
}

export type FramedLine = { ok: true; line: Buffer } | { ok: false; reason: 'too_long'; bytes: number };

/**
 * Splits a byte stream into lines on `\n`, dropping one `\r` before it, with bounded
 * memory (serialport's ReadlineParser buffers a line that never ends without limit).
 *
 * A line may have at most `maxBytes` bytes with its terminator, so at most
 * `maxBytes - 1` bytes are ever held. As soon as a line is known to be longer, ONE
 * too_long is reported — at once, not when the line ends, so a wire that never sends
 * `\n` is still counted — and the rest of that line, up to its `\n`, is dropped
 * silently. `bytes` is how much of the line had arrived when that was found
 * (≥ maxBytes; the whole line with `\n` when it ended in the same chunk), so it
 * depends on how the stream was chunked. Empty lines are passed on; judging them is
 * the parser's job.
 */
export class LineFramer {
  private pending: Buffer = Buffer.alloc(0);
  private discarding = false;

  constructor(private readonly maxBytes: number = MAX_LINE_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 2) throw misuse(`line limit ${maxBytes} is not an integer ≥ 2`);
  }

  /** Bytes held while waiting for the end of a line; never more than maxBytes - 1. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): FramedLine[] {
    const out: FramedLine[] = [];
    const limit = this.maxBytes - 1; // bytes before '\n'
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) {
        const rest = chunk.length - pos;
        if (!this.discarding) {
          if (this.pending.length + rest > limit) {
            out.push({ ok: false, reason: 'too_long', bytes: this.pending.length + rest });
            this.pending = Buffer.alloc(0);
            this.discarding = true;
          } else {
            this.pending = Buffer.concat([this.pending, chunk.subarray(pos)]);
          }
        }
        break;
      }
      const segmentLength = nl - pos;
      if (this.discarding) {
        this.discarding = false;
      } else if (this.pending.length + segmentLength > limit) {
        out.push({ ok: false, reason: 'too_long', bytes: this.pending.length + segmentLength + 1 });
      } else {
        // A copy, so a short line does not pin a large chunk in memory.
        let line = Buffer.concat([this.pending, chunk.subarray(pos, nl)]);
        if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
        out.push({ ok: true, line });
      }
      this.pending = Buffer.alloc(0);
      pos = nl + 1;
    }
    return out;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
    this.discarding = false;
  }
}
