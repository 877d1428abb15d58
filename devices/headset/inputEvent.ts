/**
 * Linux evdev `input_event` records (CONTRACT §7), pure: the x86-64 layout is 24 bytes —
 * 16 bytes of time (two 64-bit longs), u16 type, u16 code, s32 value, little-endian. The
 * headset jack is an `EV_SW` (5) record with code `SW_HEADPHONE_INSERT` (2): value 1
 * plugged in, 0 unplugged. Other records (EV_SYN reports, other switches, keys) are not
 * about the headset.
 */
export const INPUT_EVENT_BYTES = 24;
export const EV_SYN = 0;
export const EV_SW = 5;
export const SW_HEADPHONE_INSERT = 2;

export interface InputEvent {
  seconds: bigint;
  microseconds: bigint;
  type: number;
  code: number;
  value: number;
}

/** Whole records from `bytes` (after `carry`, the tail of the previous read); the incomplete tail is returned to carry on. */
export function parseInputEvents(bytes: Buffer, carry: Buffer = Buffer.alloc(0)): { events: InputEvent[]; rest: Buffer } {
  const all = carry.length ? Buffer.concat([carry, bytes]) : bytes;
  const whole = Math.floor(all.length / INPUT_EVENT_BYTES);
  const events: InputEvent[] = [];
  for (let i = 0; i < whole; i++) {
    const at = i * INPUT_EVENT_BYTES;
    events.push({
      seconds: all.readBigInt64LE(at),
      microseconds: all.readBigInt64LE(at + 8),
      type: all.readUInt16LE(at + 16),
      code: all.readUInt16LE(at + 18),
      value: all.readInt32LE(at + 20),
    });
  }
  return { events, rest: Buffer.from(all.subarray(whole * INPUT_EVENT_BYTES)) };
}

/** What a record says about the headset: plugged, unplugged, not about it, or a jack value that means nothing. */
export function headsetReading(e: InputEvent): 'plugged' | 'unplugged' | 'other' | 'unknown_value' {
  if (e.type !== EV_SW || e.code !== SW_HEADPHONE_INSERT) return 'other';
  if (e.value === 1) return 'plugged';
  if (e.value === 0) return 'unplugged';
  return 'unknown_value';
}

/** One record, as a kernel (or `kiosk sim`) would write it. */
export function encodeInputEvent(e: { type: number; code: number; value: number; at?: Date }): Buffer {
  const b = Buffer.alloc(INPUT_EVENT_BYTES);
  const ms = (e.at ?? new Date()).getTime();
  b.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  b.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  b.writeUInt16LE(e.type, 16);
  b.writeUInt16LE(e.code, 18);
  b.writeInt32LE(e.value, 20);
  return b;
}

/** The records a jack change produces: the switch, then the EV_SYN report that ends it. */
export function headsetRecords(plugged: boolean, at?: Date): Buffer {
  return Buffer.concat([
    encodeInputEvent({ type: EV_SW, code: SW_HEADPHONE_INSERT, value: plugged ? 1 : 0, ...(at ? { at } : {}) }),
    encodeInputEvent({ type: EV_SYN, code: 0, value: 0, ...(at ? { at } : {}) }),
  ]);
}
