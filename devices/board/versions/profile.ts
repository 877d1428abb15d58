/** What differs between board protocol versions: only the checksum (CONTRACT §3). */
export type ProtocolVersion = 1 | 2;

export interface ProtocolProfile {
  version: ProtocolVersion;
  /** Uppercase hex digits after `*`. */
  checksumDigits: number;
  /** Over the bytes strictly between `$` and `*`. */
  checksum(bytes: Uint8Array): number;
}
