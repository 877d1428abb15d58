import { PIN_MAX_CHARS } from '../http/diagRoutes.js';
import { hashPin } from '../http/pin.js';

/** Shorter PINs fall to guessing even behind the lockout; the kiosk keypad types digits. */
const PIN_MIN_CHARS = 4;

/** Reads one line (the PIN) from stdin; prints its hash. The PIN is never echoed or logged. */
export async function readPinAndPrintHash(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const pin = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  const hasControlChar = [...pin].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (pin.length < PIN_MIN_CHARS || pin.length > PIN_MAX_CHARS || hasControlChar) {
    throw new Error(`the PIN must be ${PIN_MIN_CHARS} to ${PIN_MAX_CHARS} characters (digits for the kiosk keypad), on one line of standard input`);
  }
  console.log(await hashPin(pin));
}
