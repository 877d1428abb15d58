/**
 * The espeak-ng voice for each language the kiosk speaks (CONTRACT §7: pt-PT and en).
 * A registry, so a language is added here and nowhere else.
 */
export type SpeechLanguage = 'pt-PT' | 'en';

export interface SpeechVoice {
  /** espeak-ng's `-v` name. */
  voice: string;
  /** Words per minute (`-s`): a little slower than espeak-ng's 175 for a public office. */
  wordsPerMinute: number;
}

export const SPEECH_VOICES: Record<SpeechLanguage, SpeechVoice> = {
  'pt-PT': { voice: 'pt', wordsPerMinute: 160 },
  en: { voice: 'en-gb', wordsPerMinute: 160 },
};
