/**
 * The speech output device with the real espeak-ng: a WAV per language that is a real
 * RIFF/WAVE of a sensible length, the volume steps measured on the samples, the files of
 * `dir:` mode (numbered, JSON after the WAV), cuts and floods, and espeak-ng missing.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeechDriver, alsaSink, dirSink, type Utterance } from '../devices/speech/speechDriver.js';
import { SPEECH_STEP_DB, SPEECH_VOLUME_STEPS, amplitudeOfStep } from '../devices/speech/volume.js';
import { readWavInfo, rmsDbfs } from '../devices/speech/wav.js';
import { silentLogger } from '../src/log.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiosk-speech-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const log = silentLogger();
const TEXT: Record<Utterance['lang'], string> = {
  'pt-PT': 'A sua senha: P 0 4 2. Prestações. 3 pessoas à sua frente.',
  en: 'Your ticket: P 0 4 2. Benefits. 3 people ahead of you.',
};

function files(): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
}

describe('speech output (espeak-ng)', () => {
  for (const lang of ['pt-PT', 'en'] as const) {
    it(`a ${lang} utterance is written as a complete RIFF/WAVE of a sensible length, then its JSON`, async () => {
      const driver = new SpeechDriver({ sink: dirSink(dir), log });
      expect(await driver.say({ text: TEXT[lang], lang, screen: 'ticket' }, 5)).toBe('spoken');
      expect(files()).toEqual(['000001.json', '000001.wav']);
      const wav = readFileSync(join(dir, '000001.wav'));
      const info = readWavInfo(wav);
      expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
      expect(wav.readUInt32LE(4)).toBe(wav.length - 8); // sizes written in, not espeak-ng's placeholders
      expect(info.dataOffset + info.dataBytes).toBe(wav.length);
      expect(info).toMatchObject({ channels: 1, bitsPerSample: 16, sampleRate: 22050 });
      // About 10 words at 160 words per minute: a few seconds, not silence and not a minute.
      expect(info.durationMs).toBeGreaterThan(2_000);
      expect(info.durationMs).toBeLessThan(12_000);
      expect(rmsDbfs(wav.subarray(info.dataOffset))).toBeGreaterThan(-40);
      expect(JSON.parse(readFileSync(join(dir, '000001.json'), 'utf8'))).toEqual({ text: TEXT[lang], lang, screen: 'ticket' });
    });
  }

  it('the volume steps are at most 6 dB apart and span at least 18 dB (RMS of real renderings)', async () => {
    expect(SPEECH_STEP_DB).toBeLessThanOrEqual(6);
    const driver = new SpeechDriver({ sink: dirSink(dir), log });
    const levels: number[] = [];
    for (let step = 0; step < SPEECH_VOLUME_STEPS; step++) {
      await driver.say({ text: TEXT.en, lang: 'en', screen: 'ticket' }, step);
      const wav = readFileSync(join(dir, `${String(step + 1).padStart(6, '0')}.wav`));
      levels.push(rmsDbfs(wav.subarray(readWavInfo(wav).dataOffset)));
    }
    const steps = levels.slice(1).map((l, i) => l - levels[i]!);
    for (const s of steps) {
      expect(s).toBeGreaterThan(0);
      expect(s).toBeLessThanOrEqual(6);
    }
    expect(levels.at(-1)! - levels[0]!).toBeGreaterThanOrEqual(18);
    expect(amplitudeOfStep(SPEECH_VOLUME_STEPS - 1)).toBeLessThanOrEqual(200);
  });

  it('utterances are numbered on from the highest already in the folder, in the order spoken', async () => {
    const first = new SpeechDriver({ sink: dirSink(dir), log });
    await first.say({ text: 'um', lang: 'pt-PT', screen: 'home' }, 5);
    await first.say({ text: 'two', lang: 'en', screen: 'home' }, 5);
    const again = new SpeechDriver({ sink: dirSink(dir), log }); // a restart
    await again.say({ text: 'três', lang: 'pt-PT', screen: 'ticket' }, 5);
    expect(files()).toEqual(['000001.json', '000001.wav', '000002.json', '000002.wav', '000003.json', '000003.wav']);
    expect(JSON.parse(readFileSync(join(dir, '000003.json'), 'utf8')).text).toBe('três');
  });

  it('a flood of utterances keeps up with the last: each cuts the one before, none queue, the last is spoken whole', async () => {
    const driver = new SpeechDriver({ sink: dirSink(dir), log });
    const long = `${TEXT['pt-PT']} `.repeat(20);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => driver.say({ text: i === 29 ? 'último' : long, lang: 'pt-PT', screen: 'home' }, 5)));
    expect(results.at(-1)).toBe('spoken');
    expect(results.slice(0, -1).every((r) => r === 'cut')).toBe(true);
    expect(driver.speaking).toBe(false);
    const spoken = files().filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')).text);
    expect(spoken).toEqual(['último']);
    expect(readdirSync(dir).filter((f) => f.startsWith('.partial'))).toEqual([]); // nothing half-written left behind
  });

  it('espeak-ng missing is one speech fault (not one per utterance), and nothing is written', async () => {
    const driver = new SpeechDriver({ sink: dirSink(dir), log, espeakPath: join(dir, 'no-espeak-ng') });
    const faults: string[] = [];
    driver.on('fault', (f) => faults.push(f.code));
    expect(await driver.say({ text: 'olá', lang: 'pt-PT', screen: 'home' }, 5)).toBe('failed');
    expect(await driver.say({ text: 'olá', lang: 'pt-PT', screen: 'home' }, 5)).toBe('failed');
    expect(faults).toEqual(['speech.espeak_missing']);
    expect(files()).toEqual([]);
  });

  it('a language without a voice is a fault; the next utterance that works clears it', async () => {
    const driver = new SpeechDriver({ sink: dirSink(dir), log });
    const seen: string[] = [];
    driver.on('fault', (f) => seen.push(`fault ${f.code}`));
    driver.on('recovered', (r) => seen.push(`recovered ${r.code}`));
    expect(await driver.say({ text: 'x', lang: 'xx' as Utterance['lang'], screen: 'home' }, 5)).toBe('failed');
    expect(await driver.say({ text: 'ok', lang: 'en', screen: 'home' }, 5)).toBe('spoken');
    expect(seen).toEqual(['fault speech.voice_missing', 'recovered speech.voice_missing']);
  });

  it('an ALSA device that does not exist is an output fault from aplay, and the kiosk goes on', async () => {
    const driver = new SpeechDriver({ sink: alsaSink('no-such-alsa-device'), log });
    const faults: string[] = [];
    driver.on('fault', (f) => faults.push(f.code));
    expect(await driver.say({ text: 'hello', lang: 'en', screen: 'home' }, 5)).toBe('failed');
    expect(faults).toEqual(['speech.output_failed']);
  });

  it('a cut stops espeak-ng and aplay at once: the utterance ends as cut, not spoken', async () => {
    // ALSA's "null" device takes the samples without a sound card (as fast as they come).
    const driver = new SpeechDriver({ sink: alsaSink('null'), log });
    expect(await driver.say({ text: 'hello', lang: 'en', screen: 'home' }, 5)).toBe('spoken');
    const saying = driver.say({ text: `${TEXT.en} `.repeat(10), lang: 'en', screen: 'home' }, 5);
    driver.cut();
    expect(await saying).toBe('cut');
    expect(driver.speaking).toBe(false);
  });
});
