/**
 * The drop-box board's frames (CONTRACT §3, protocol version 1) as plain data.
 * The pure codec lives in protocol.ts; drivers and machines only see these types.
 */
export type BoardFrame =
  | { seq: number; type: 'HELLO'; version: number; firmware: string; boardId: string }
  | { seq: number; type: 'HB'; uptimeS: number; dropCount: number }
  | { seq: number; type: 'SLOT'; occupied: boolean }
  | { seq: number; type: 'DROP'; dropCount: number }
  | { seq: number; type: 'DOOR'; state: 'OPEN' | 'CLOSED' }
  | { seq: number; type: 'FILL'; percent: number }
  | { seq: number; type: 'TAMPER'; code: 'SHOCK' | 'TILT' | 'CASE' }
  | { seq: number; type: 'KEY'; state: 'ON' | 'OFF' }
  | { seq: number; type: 'ACK'; cmdSeq: number }
  | { seq: number; type: 'NAK'; cmdSeq: number; reason: string }
  | { seq: number; type: 'ERR'; code: string; text: string | null };

export type BoardCommand =
  | { type: 'UNLOCK'; ms: number }
  | { type: 'RESET'; dropCount: number }
  | { type: 'LED'; mode: 'OFF' | 'ON' | 'BLINK' }
  | { type: 'STATUS' };

/** Why a line was not a frame. Each reason has its own counter. */
export type MalformedReason = 'too_long' | 'not_ascii' | 'bad_syntax' | 'bad_checksum' | 'unknown_type' | 'bad_args';

export type ParseResult = { ok: true; frame: BoardFrame } | { ok: false; reason: MalformedReason; detail: string };

export const MAX_LINE_BYTES = 120; // with the terminator
export const SEQ_MODULO = 65536;
