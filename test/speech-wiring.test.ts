/**
 * The `accessibility` config slice and the speech wiring: defaults, a relative `dir:` path,
 * bad values refused with the key named; espeak-ng missing and a missing headset device
 * recorded as `device.fault {device: "speech"}` while speaking simply fails (the kiosk goes
 * on by touch); a headset plugged in reaches the UI's listener.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import type { NewEvent } from '../src/upstream/events.js';
import { startSpeech } from '../src/wiring/speech.js';
import { createSimHeadset } from '../sim/headset/simHeadset.js';
import { waitFor } from './support/waitFor.js';

const BASE = { kiosk: { id: 'k1', site: 's1' }, upstream: { url: 'mqtt://127.0.0.1:1883', prefix: 'siga' } };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiosk-speech-wiring-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('accessibility configuration', () => {
  it('defaults to no speech, no headset, volume 60', () => {
    expect(parseConfig(BASE, '/etc/kiosk/kiosk.json').accessibility).toEqual({ speech: 'off', headset: null, volume: 60 });
  });

  it('a relative dir: path is relative to the config file folder; alsa: is kept as it is', () => {
    expect(parseConfig({ ...BASE, accessibility: { speech: 'dir:var/speech' } }, '/etc/kiosk/kiosk.json').accessibility.speech).toBe('dir:/etc/kiosk/var/speech');
    expect(parseConfig({ ...BASE, accessibility: { speech: 'alsa:plughw:0,0', headset: '/dev/input/event3', volume: 80 } }, '/etc/kiosk/kiosk.json').accessibility).toEqual({
      speech: 'alsa:plughw:0,0',
      headset: '/dev/input/event3',
      volume: 80,
    });
  });

  it('a bad speech output, volume or unknown key is refused, naming the key', () => {
    expect(() => parseConfig({ ...BASE, accessibility: { speech: 'pulse:x' } }, 'k.json')).toThrow(/accessibility\.speech/);
    expect(() => parseConfig({ ...BASE, accessibility: { volume: 101 } }, 'k.json')).toThrow(/accessibility\.volume/);
    expect(() => parseConfig({ ...BASE, accessibility: { voice: 'x' } }, 'k.json')).toThrow(/accessibility\.voice.*unknown key/);
  });
});

describe('speech wiring', () => {
  it('espeak-ng missing and a missing headset device are speech faults; saying fails, nothing throws', async () => {
    const events: NewEvent[] = [];
    const speech = startSpeech(
      { speech: `dir:${join(dir, 'speech')}`, headset: join(dir, 'no-such-input'), volume: 60 },
      { log: silentLogger(), record: (e) => events.push(e), espeakPath: join(dir, 'no-espeak-ng'), headsetReopenMs: 50 },
    );
    try {
      expect(await speech.facade.say({ text: 'olá', lang: 'pt-PT', screen: 'home' }, 5)).toBe('failed');
      await waitFor(() => events.length >= 2, 'two faults');
      expect(events.map((e) => e.data)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ device: 'speech', code: 'speech.espeak_missing' }),
          expect.objectContaining({ device: 'speech', code: 'headset.missing' }),
        ]),
      );
      expect(speech.facade.status()).toMatchObject({ output: 'dir', state: 'fault', headset: 'missing' });
    } finally {
      await speech.stop();
    }
  });

  it('a headset plugged in and out reaches the listener; an outbox that refuses the event does not stop speech', async () => {
    const jack = await createSimHeadset(join(dir, 'jack'));
    const seen: boolean[] = [];
    const speech = startSpeech(
      { speech: `dir:${join(dir, 'speech')}`, headset: jack.path, volume: 60 },
      {
        log: silentLogger(),
        record: () => {
          throw new Error('outbox full');
        },
      },
    );
    speech.onHeadset((p) => seen.push(p));
    try {
      await jack.plug();
      await waitFor(() => seen.length === 1, 'plugged');
      await jack.unplug();
      await waitFor(() => seen.length === 2, 'unplugged');
      expect(seen).toEqual([true, false]);
      expect(await speech.facade.say({ text: 'ok', lang: 'en', screen: 'home' }, 5)).toBe('spoken');
    } finally {
      await speech.stop();
      await jack.close();
    }
  });
});
