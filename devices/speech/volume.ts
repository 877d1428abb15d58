/**
 * Speech volume steps (CONTRACT §7, issue #11: steps of at most 6 dB over at least 18 dB).
 * The gain is espeak-ng's amplitude (`-a`), which scales the samples linearly (measured:
 * doubling `-a` doubles the RMS, +6.0 dB); so 3 dB steps are amplitudes in the ratio
 * 10^(3/20). Ten steps span 27 dB; the loudest (150) leaves headroom under clipping
 * (espeak-ng's 200 reaches full scale on some words). test/speech-device.test.ts measures
 * the RMS of real renderings at every step.
 */
export const SPEECH_VOLUME_STEPS = 10;
export const SPEECH_STEP_DB = 3;
export const SPEECH_MAX_AMPLITUDE = 150;

/** espeak-ng `-a` for a volume step (0 = quietest, SPEECH_VOLUME_STEPS-1 = loudest). */
export function amplitudeOfStep(step: number): number {
  const s = Math.max(0, Math.min(SPEECH_VOLUME_STEPS - 1, Math.round(step)));
  const db = -(SPEECH_VOLUME_STEPS - 1 - s) * SPEECH_STEP_DB;
  return Math.max(1, Math.round(SPEECH_MAX_AMPLITUDE * 10 ** (db / 20)));
}
