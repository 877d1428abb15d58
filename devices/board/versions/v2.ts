/**
 * Protocol version 2 (CONTRACT §3): CRC-16/CCITT-FALSE of the body's bytes (polynomial
 * 0x1021, initial 0xFFFF, no reflection, no final XOR), four uppercase hex digits.
 * Unlike XOR it catches two flipped bits in the same position (`HB,7,11` → `HB,6,10`).
 */
import type { ProtocolProfile } from './profile.js';

const POLYNOMIAL = 0x1021;
const INITIAL = 0xffff;

export function crc16CcittFalse(bytes: Uint8Array): number {
  let crc = INITIAL;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ POLYNOMIAL) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export const protocolV2: ProtocolProfile = {
  version: 2,
  checksumDigits: 4,
  checksum: crc16CcittFalse,
};
