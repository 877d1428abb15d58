import { hashPin } from '../http/pin.js';

/** Reads one line (the PIN) from stdin; prints its hash. The PIN is never echoed or logged. */
export async function readPinAndPrintHash(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const pin = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (!/^\d{4,12}$/.test(pin)) throw new Error('the PIN must be 4 to 12 digits, on one line of standard input');
  console.log(await hashPin(pin));
}
