/** The board protocol versions the controller speaks, by number and by checksum width. */
import type { ProtocolProfile, ProtocolVersion } from './profile.js';
import { protocolV1 } from './v1.js';
import { protocolV2 } from './v2.js';

export type { ProtocolProfile, ProtocolVersion } from './profile.js';
export { crc16CcittFalse } from './v2.js';
export { xorChecksum } from './v1.js';

export const PROTOCOL_PROFILES: Readonly<Record<ProtocolVersion, ProtocolProfile>> = { 1: protocolV1, 2: protocolV2 };
export const PROTOCOL_VERSIONS: readonly ProtocolVersion[] = [1, 2];

export function isProtocolVersion(n: number): n is ProtocolVersion {
  return n === 1 || n === 2;
}

/** The version whose checksum has `digits` hex digits, or null. */
export function profileByChecksumDigits(digits: number): ProtocolProfile | null {
  return PROTOCOL_VERSIONS.map((v) => PROTOCOL_PROFILES[v]).find((p) => p.checksumDigits === digits) ?? null;
}
