/** The size of a QR symbol, for the layout (does it fit the paper?) and the paper forecast (how long is it?). */

export type QrLevel = 'L' | 'M' | 'Q' | 'H';

// Byte-mode capacities of QR versions 1..10 per error correction level (ISO/IEC 18004).
const QR_BYTE_CAPACITY: Record<QrLevel, readonly number[]> = {
  L: [17, 32, 53, 78, 106, 134, 154, 192, 230, 271],
  M: [14, 26, 42, 62, 84, 106, 122, 152, 180, 213],
  Q: [11, 20, 32, 46, 60, 74, 86, 108, 130, 151],
  H: [7, 14, 24, 34, 44, 58, 64, 84, 98, 119],
};

/** Modules per side of the smallest QR code holding `bytes` bytes at `level`. */
export function qrModules(bytes: number, level: QrLevel): number {
  const caps = QR_BYTE_CAPACITY[level];
  let version = caps.findIndex((c) => c >= bytes) + 1;
  if (version === 0) {
    // Past version 10 each version holds roughly a tenth of version 10 more: close enough here.
    const cap10 = caps[caps.length - 1]!;
    version = Math.min(40, 10 + Math.ceil((bytes - cap10) / (cap10 / 10)));
  }
  return 17 + 4 * version;
}
