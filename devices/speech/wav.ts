/**
 * RIFF WAVE headers, pure. espeak-ng writing to a pipe cannot seek back, so its header
 * carries placeholder sizes; `wavSizeFixes` says which bytes to rewrite once the length
 * is known, and `readWavInfo` checks a file is a RIFF/WAVE and how long it plays.
 */
export interface WavInfo {
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Where the samples start, and how many bytes of them there are (as the file holds). */
  dataOffset: number;
  dataBytes: number;
  durationMs: number;
}

export class WavFormatError extends Error {}

/** Reads the header of a RIFF/WAVE file (or of its first bytes, with `totalBytes` the file's size). */
export function readWavInfo(bytes: Buffer, totalBytes = bytes.length): WavInfo {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  let at = 12;
  let fmt: { channels: number; sampleRate: number; bitsPerSample: number } | null = null;
  while (at + 8 <= bytes.length) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (id === 'fmt ' && at + 24 <= bytes.length) {
      fmt = { channels: bytes.readUInt16LE(at + 10), sampleRate: bytes.readUInt32LE(at + 12), bitsPerSample: bytes.readUInt16LE(at + 22) };
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError('data chunk before fmt chunk');
      const dataOffset = at + 8;
      const dataBytes = Math.min(size, Math.max(0, totalBytes - dataOffset));
      const bytesPerSecond = fmt.sampleRate * fmt.channels * (fmt.bitsPerSample / 8);
      return { ...fmt, dataOffset, dataBytes, durationMs: bytesPerSecond > 0 ? (dataBytes / bytesPerSecond) * 1000 : 0 };
    }
    at += 8 + size + (size % 2);
  }
  throw new WavFormatError('no data chunk in the first bytes');
}

/** The two sizes to write once a streamed WAV of `totalBytes` is complete: RIFF size at 4, data size at dataOffset-4. */
export function wavSizeFixes(header: Buffer, totalBytes: number): Array<{ offset: number; value: number }> {
  const info = readWavInfo(header, totalBytes);
  return [
    { offset: 4, value: totalBytes - 8 },
    { offset: info.dataOffset - 4, value: totalBytes - info.dataOffset },
  ];
}

/** RMS level of 16-bit mono samples, in dB relative to full scale (for volume checks). */
export function rmsDbfs(samples: Buffer): number {
  let sum = 0;
  const n = Math.floor(samples.length / 2);
  for (let i = 0; i < n; i++) {
    const v = samples.readInt16LE(i * 2) / 32768;
    sum += v * v;
  }
  return n === 0 ? -Infinity : 10 * Math.log10(sum / n);
}
