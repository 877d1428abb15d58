/**
 * Which protocol version the controller is speaking with the board on one port
 * (CONTRACT §3): before any HELLO, a line in either version is accepted; a HELLO
 * announcing version 1 or 2 chooses it, and from then on only that version's
 * checksum is accepted and commands are written in it.
 *
 * A HELLO is taken in either version even after the choice: it is how a rebooted
 * (possibly re-flashed) board announces itself, and no bit flips turn another frame
 * into a HELLO. Before the first HELLO, commands are written in the version of the
 * last line the board sent, or version 1 when it has sent none; a command written on
 * such a guess is given back by `relearn` so the caller can write it again once the
 * board's first line shows the guess was wrong (the board dropped it as a bad checksum).
 *
 * Pure state, no I/O: the port actor owns one per controller (it survives reopening
 * the port, as the board behind the cable does).
 */
import type { BoardCommand, BoardFrame, MalformedReason } from './frames.js';
import { encodeCommand, parseFrameVersioned, type ProtocolVersion } from './protocol.js';
import { isProtocolVersion } from './versions/index.js';

/** The version written before the board has sent anything. */
export const GUESSED_PROTOCOL_VERSION: ProtocolVersion = 1;
/** Commands kept for a rewrite while the version is a guess (the controller sends one at a time). */
const GUESSED_WRITES_KEPT = 4;

export type SessionParse =
  | { ok: true; frame: BoardFrame; version: ProtocolVersion }
  | { ok: false; reason: MalformedReason; detail: string };

export class BoardProtocolSession {
  /** The version the board announced in HELLO, or null before any. */
  announced: ProtocolVersion | null = null;
  private lastSeen: ProtocolVersion | null = null;
  private guessedWrites: { seq: number; command: BoardCommand; version: ProtocolVersion }[] = [];

  /** The version commands are written in now. */
  get writeVersion(): ProtocolVersion {
    return this.announced ?? this.lastSeen ?? GUESSED_PROTOCOL_VERSION;
  }

  /** Parses one line from the board and learns its version from it. */
  parse(line: Buffer): SessionParse {
    let parsed = parseFrameVersioned(line, this.announced ?? 'either');
    if (!parsed.ok && parsed.reason === 'bad_checksum' && this.announced !== null) {
      const asHello = parseFrameVersioned(line, 'either');
      if (asHello.ok && asHello.frame.type === 'HELLO') parsed = asHello;
    }
    if (!parsed.ok) return parsed;
    if (parsed.frame.type === 'HELLO' && isProtocolVersion(parsed.frame.version)) this.announced = parsed.frame.version;
    this.lastSeen = parsed.version;
    return parsed;
  }

  /** The line for a command, in the version spoken now. */
  encode(seq: number, command: BoardCommand): string {
    const version = this.writeVersion;
    if (this.announced === null && this.lastSeen === null) {
      // A resend keeps its seq: keep only its latest write.
      const others = this.guessedWrites.filter((w) => w.seq !== seq);
      this.guessedWrites = [...others.slice(-(GUESSED_WRITES_KEPT - 1)), { seq, command, version }];
    }
    return encodeCommand(seq, command, version);
  }

  /**
   * After a parse: the lines to write again because they went out in a guessed version
   * the board turned out not to speak. Empty once the version is known.
   */
  relearn(): string[] {
    if (this.lastSeen === null || this.guessedWrites.length === 0) return [];
    const wrong = this.guessedWrites.filter((w) => w.version !== this.writeVersion);
    this.guessedWrites = [];
    return wrong.map((w) => encodeCommand(w.seq, w.command, this.writeVersion));
  }
}
