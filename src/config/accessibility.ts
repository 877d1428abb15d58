/**
 * The `accessibility` slice of the configuration (CONTRACT §7): where speech goes, which
 * evdev device (or FIFO) says a headset is plugged in, and the volume each citizen's
 * session starts at.
 */
import { z } from 'zod';

export const SPEECH_OUTPUT_PATTERN = /^(off|alsa:\S+|dir:.+)$/;

export const accessibilitySchema = z
  .object({
    /** "alsa:DEVICE" plays through aplay; "dir:PATH" writes NNNNNN.wav + NNNNNN.json; "off" says nothing. */
    speech: z.string().regex(SPEECH_OUTPUT_PATTERN, '"alsa:DEVICE", "dir:PATH" or "off"').default('off'),
    /** Linux evdev device (or FIFO of input_event records) reporting SW_HEADPHONE_INSERT. */
    headset: z.string().min(1).nullable().default(null),
    /** Volume each session starts at, 0–100 (mapped onto the speech volume steps). */
    volume: z.number().int().min(0).max(100).default(60),
  })
  .strict()
  .default({ speech: 'off', headset: null, volume: 60 });

export type AccessibilityConfig = z.output<typeof accessibilitySchema>;

export type SpeechOutput = { kind: 'off' } | { kind: 'alsa'; device: string } | { kind: 'dir'; path: string };

/** The loader has already made a relative "dir:PATH" absolute (relative to the config file's folder). */
export function parseSpeechOutput(speech: string): SpeechOutput {
  if (speech.startsWith('alsa:')) return { kind: 'alsa', device: speech.slice('alsa:'.length) };
  if (speech.startsWith('dir:')) return { kind: 'dir', path: speech.slice('dir:'.length) };
  return { kind: 'off' };
}
