/** Protocol version 1 (CONTRACT §3): XOR of the body's bytes, two uppercase hex digits. */
import type { ProtocolProfile } from './profile.js';

export function xorChecksum(bytes: Uint8Array): number {
  let x = 0;
  for (const byte of bytes) x ^= byte;
  return x;
}

export const protocolV1: ProtocolProfile = {
  version: 1,
  checksumDigits: 2,
  checksum: xorChecksum,
};
