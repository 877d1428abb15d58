/**
 * What the rest of the controller sees of speech output and the headset jack (CONTRACT §7):
 * a plain status, change notifications, and the two actions `say` and `cut`. The driver,
 * its processes and the jack reader stay behind this.
 */
import type { SayResult, Utterance } from '../../devices/speech/speechDriver.js';
import type { HeadsetState } from '../../devices/headset/headsetReader.js';

export type { SayResult, Utterance };

export interface SpeechStatus {
  /** Where speech goes: off, an ALSA device, or a folder of WAV + JSON files. */
  output: 'off' | 'alsa' | 'dir';
  state: 'off' | 'ready' | 'speaking' | 'fault';
  /** The fault codes now active (espeak-ng missing, no voice, player failing, headset device unusable). */
  faults: string[];
  /** The jack, or 'none' when no headset device is configured. */
  headset: HeadsetState | 'none';
}

export interface Speech {
  status(): SpeechStatus;
  /** Called whenever status() may have changed; returns an unsubscribe. */
  onChange(listener: (status: SpeechStatus) => void): () => void;
  /** Says it (cutting whatever was being said) at the session's volume step; never rejects. */
  say(utterance: Utterance, volumeStep: number): Promise<SayResult>;
  /** Stops what is being said, at once. */
  cut(): void;
  /** The first audio byte of an utterance was written to its output (bench, tests). */
  onAudio(listener: (utterance: Utterance) => void): () => void;
}

/** Speech that says nothing (accessibility.speech "off"): the session's modes still work on screen. */
export const SILENT_SPEECH: Speech = {
  status: () => ({ output: 'off', state: 'off', faults: [], headset: 'none' }),
  onChange: () => () => undefined,
  say: async () => 'failed',
  cut: () => undefined,
  onAudio: () => () => undefined,
};
