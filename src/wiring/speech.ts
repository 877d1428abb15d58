/**
 * Builds speech output and the headset reader from the `accessibility` config slice and
 * returns the Speech façade and its stop. Faults become `device.fault {device: "speech"}`
 * (and `device.recovered`), so staff learn that espeak-ng or the headset device is
 * missing while the kiosk keeps serving by touch.
 */
import { HeadsetReader, type HeadsetState } from '../../devices/headset/headsetReader.js';
import { SpeechDriver, alsaSink, dirSink } from '../../devices/speech/speechDriver.js';
import { parseSpeechOutput, type AccessibilityConfig } from '../config/accessibility.js';
import type { Speech, SpeechStatus } from '../facades/speech.js';
import type { Logger } from '../log.js';
import type { NewEvent } from '../upstream/events.js';

export interface SpeechDeps {
  log: Logger;
  record: (event: NewEvent) => void;
  /** Headset reopen delay (tests shorten it). */
  headsetReopenMs?: number;
  /** The espeak-ng executable (tests name a missing one). */
  espeakPath?: string;
}

export interface SpeechWiring {
  facade: Speech;
  /** The headset jack (plugged true/false), for the touch UI. */
  onHeadset(listener: (plugged: boolean) => void): () => void;
  stop(): Promise<void>;
}

export function startSpeech(config: AccessibilityConfig, deps: SpeechDeps): SpeechWiring {
  const log = deps.log;
  const output = parseSpeechOutput(config.speech);
  const record = (event: NewEvent): void => {
    try {
      deps.record(event);
    } catch (err) {
      log.error({ err: (err as Error).message, event: event.type }, 'speech event could not be stored in the outbox');
    }
  };
  const listeners = new Set<(s: SpeechStatus) => void>();
  const audioListeners = new Set<(u: Parameters<Parameters<Speech['onAudio']>[0]>[0]) => void>();
  const headsetListeners = new Set<(plugged: boolean) => void>();

  const driver = output.kind === 'off' ? null : new SpeechDriver({ sink: output.kind === 'alsa' ? alsaSink(output.device) : dirSink(output.path), log, ...(deps.espeakPath ? { espeakPath: deps.espeakPath } : {}) });
  const headset = config.headset ? new HeadsetReader({ path: config.headset, log: log.child({ part: 'headset' }), ...(deps.headsetReopenMs ? { reopenMs: deps.headsetReopenMs } : {}) }) : null;
  const headsetFaults = new Set<string>();

  const status = (): SpeechStatus => {
    const faults = [...(driver?.activeFaults() ?? []), ...headsetFaults];
    return {
      output: output.kind,
      state: !driver ? 'off' : driver.activeFaults().length ? 'fault' : driver.speaking ? 'speaking' : 'ready',
      faults,
      headset: headset ? headset.state() : 'none',
    };
  };
  const changed = (): void => {
    const s = status();
    for (const l of listeners) l(s);
  };

  if (driver) {
    driver.on('fault', (f) => {
      record({ type: 'device.fault', data: { device: 'speech', code: f.code, detail: f.detail } });
      changed();
    });
    driver.on('recovered', (r) => {
      record({ type: 'device.recovered', data: { device: 'speech', code: r.code } });
      changed();
    });
    driver.on('audio', ({ utterance }) => {
      for (const l of audioListeners) l(utterance);
    });
  }
  if (headset) {
    let plugged = false;
    headset.on('change', ({ state }: { state: HeadsetState }) => {
      const now = state === 'plugged';
      if (now !== plugged) {
        plugged = now;
        log.info({ plugged }, now ? 'headset plugged in' : 'headset unplugged');
        for (const l of headsetListeners) l(now);
      }
      changed();
    });
    headset.on('fault', (f) => {
      headsetFaults.add(f.code);
      record({ type: 'device.fault', data: { device: 'speech', code: f.code, detail: f.detail } });
      changed();
    });
    headset.on('recovered', (r) => {
      headsetFaults.delete(r.code);
      record({ type: 'device.recovered', data: { device: 'speech', code: r.code } });
      changed();
    });
    headset.start();
  }

  const facade: Speech = {
    status,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async say(utterance, volumeStep) {
      if (!driver) return 'failed';
      const done = driver.say(utterance, volumeStep);
      changed();
      const r = await done;
      changed();
      return r;
    },
    cut() {
      driver?.cut();
    },
    onAudio(listener) {
      audioListeners.add(listener);
      return () => audioListeners.delete(listener);
    },
  };

  return {
    facade,
    onHeadset(listener) {
      headsetListeners.add(listener);
      return () => headsetListeners.delete(listener);
    },
    async stop() {
      headset?.stop();
      await driver?.stop();
      listeners.clear();
      audioListeners.clear();
      headsetListeners.clear();
    },
  };
}
