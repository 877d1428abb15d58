/**
 * Speech output: espeak-ng renders each utterance as a WAV stream (CONTRACT §7), a sink
 * takes it — `aplay` on an ALSA device, or numbered files in a folder. One utterance at a
 * time: a new one cuts the one being said at once (its processes killed), so a flood of
 * keys never queues speech; only the last is heard.
 *
 * Faults are told once per cause (`fault`) and cleared by the next utterance that works
 * (`recovered`): espeak-ng missing, a language without a voice, a renderer or player that
 * fails. Nothing here throws at the caller: `say` resolves with what happened.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SPEECH_VOICES, type SpeechLanguage } from './voices.js';
import { amplitudeOfStep } from './volume.js';
import { wavSizeFixes } from './wav.js';

export interface Utterance {
  text: string;
  lang: SpeechLanguage;
  /** The screen it belongs to (written beside the WAV in `dir:` mode). */
  screen: string;
}

export type SayResult = 'spoken' | 'cut' | 'failed';

export type SpeechFaultCode = 'speech.espeak_missing' | 'speech.voice_missing' | 'speech.render_failed' | 'speech.player_missing' | 'speech.output_failed';

export interface SpeechDriverEvents {
  fault: [{ code: SpeechFaultCode; detail: string }];
  recovered: [{ code: SpeechFaultCode }];
  /** The first audio byte of an utterance reached its output (the bench measures to here). */
  audio: [{ utterance: Utterance }];
  spoken: [{ utterance: Utterance; file?: string }];
}

/** Where a rendered WAV stream goes. `cut` stops it at once; the promise settles either way. */
export interface SpeechSink {
  readonly kind: 'alsa' | 'dir';
  play(utterance: Utterance, wav: Readable, hooks: { firstByte: () => void; signal: AbortSignal }): Promise<{ file?: string }>;
}

export class SinkError extends Error {
  constructor(
    readonly code: SpeechFaultCode,
    message: string,
  ) {
    super(message);
  }
}

export interface SpeechDriverOptions {
  sink: SpeechSink;
  /** The espeak-ng executable (tests point it at a missing one). */
  espeakPath?: string;
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

interface Current {
  abort: AbortController;
  espeak: ChildProcess;
  done: Promise<SayResult>;
}

export class SpeechDriver extends EventEmitter<SpeechDriverEvents> {
  private current: Current | null = null;
  private readonly faults = new Set<SpeechFaultCode>();

  constructor(private readonly opts: SpeechDriverOptions) {
    super();
  }

  get speaking(): boolean {
    return this.current !== null;
  }

  activeFaults(): SpeechFaultCode[] {
    return [...this.faults];
  }

  /** Says `utterance` at volume step `volumeStep`, cutting whatever was being said. */
  say(utterance: Utterance, volumeStep: number): Promise<SayResult> {
    this.cut();
    const voice = SPEECH_VOICES[utterance.lang];
    if (!voice) {
      this.fault('speech.voice_missing', `no voice for language ${String(utterance.lang)}`);
      return Promise.resolve('failed');
    }
    const abort = new AbortController();
    const espeak = spawn(this.opts.espeakPath ?? 'espeak-ng', ['-v', voice.voice, '-s', String(voice.wordsPerMinute), '-a', String(amplitudeOfStep(volumeStep)), '--stdout'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    espeak.stderr!.setEncoding('utf8');
    espeak.stderr!.on('data', (d: string) => {
      if (stderr.length < 500) stderr += d;
    });
    // The text goes on stdin, never as an argument: a text starting with "-" is not an option.
    espeak.stdin!.on('error', () => undefined);
    espeak.stdin!.end(utterance.text);
    const exited = new Promise<{ code: number | null; spawnError: NodeJS.ErrnoException | null }>((resolve) => {
      espeak.once('error', (err: NodeJS.ErrnoException) => resolve({ code: null, spawnError: err }));
      espeak.once('close', (code) => resolve({ code, spawnError: null }));
    });
    const played = this.opts.sink.play(utterance, espeak.stdout!, { firstByte: () => this.emit('audio', { utterance }), signal: abort.signal });
    const done = (async (): Promise<SayResult> => {
      const [exit, outcome] = await Promise.all([exited, played.then((r) => ({ ok: true as const, r }), (err: unknown) => ({ ok: false as const, err }))]);
      if (this.current?.abort === abort) this.current = null;
      if (abort.signal.aborted) return 'cut';
      if (exit.spawnError) {
        this.fault('speech.espeak_missing', exit.spawnError.code === 'ENOENT' ? 'espeak-ng is not installed (Debian package espeak-ng)' : exit.spawnError.message);
        return 'failed';
      }
      if (exit.code !== 0) {
        const voiceMissing = /voice does not exist/i.test(stderr);
        this.fault(voiceMissing ? 'speech.voice_missing' : 'speech.render_failed', `espeak-ng exited ${exit.code}: ${stderr.trim().slice(0, 200)}`);
        return 'failed';
      }
      if (!outcome.ok) {
        const err = outcome.err;
        this.fault(err instanceof SinkError ? err.code : 'speech.output_failed', (err as Error).message);
        return 'failed';
      }
      this.recoverAll();
      this.emit('spoken', { utterance, ...(outcome.r.file ? { file: outcome.r.file } : {}) });
      return 'spoken';
    })();
    this.current = { abort, espeak, done };
    return done;
  }

  /** Stops what is being said, at once. */
  cut(): void {
    const c = this.current;
    if (!c) return;
    this.current = null;
    c.abort.abort();
    c.espeak.kill('SIGKILL');
  }

  /** Cuts and waits until the cut utterance's processes are gone. */
  async stop(): Promise<void> {
    const c = this.current;
    this.cut();
    await c?.done;
  }

  private fault(code: SpeechFaultCode, detail: string): void {
    if (this.faults.has(code)) return;
    this.faults.add(code);
    this.opts.log.warn({ code, detail }, 'speech output fault: the kiosk keeps serving by touch');
    this.emit('fault', { code, detail });
  }

  private recoverAll(): void {
    for (const code of this.faults) this.emit('recovered', { code });
    this.faults.clear();
  }
}

// ------------------------------------------------------------------ sinks

/** Plays through `aplay -D DEVICE` (Debian alsa-utils); a cut kills aplay, so it stops at once. */
export function alsaSink(device: string, aplayPath = 'aplay'): SpeechSink {
  return {
    kind: 'alsa',
    play(_utterance, wav, { firstByte, signal }) {
      return new Promise((resolve, reject) => {
        const aplay = spawn(aplayPath, ['-q', '-D', device, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        aplay.stderr!.setEncoding('utf8');
        aplay.stderr!.on('data', (d: string) => {
          if (stderr.length < 500) stderr += d;
        });
        let first = true;
        wav.on('data', (chunk: Buffer) => {
          if (aplay.stdin!.destroyed) return;
          aplay.stdin!.write(chunk, () => {
            if (first) {
              first = false;
              firstByte();
            }
          });
        });
        wav.on('end', () => aplay.stdin!.end());
        aplay.stdin!.on('error', () => undefined);
        const onAbort = (): void => {
          aplay.kill('SIGKILL');
        };
        signal.addEventListener('abort', onAbort, { once: true });
        aplay.once('error', (err: NodeJS.ErrnoException) => {
          signal.removeEventListener('abort', onAbort);
          reject(new SinkError(err.code === 'ENOENT' ? 'speech.player_missing' : 'speech.output_failed', err.code === 'ENOENT' ? 'aplay is not installed (Debian package alsa-utils)' : err.message));
        });
        aplay.once('close', (code) => {
          signal.removeEventListener('abort', onAbort);
          if (code === 0 || signal.aborted) resolve({});
          else reject(new SinkError('speech.output_failed', `aplay -D ${device} exited ${code}: ${stderr.trim().slice(0, 200)}`));
        });
      });
    },
  };
}

/** Width of the utterance numbers in `dir:` mode (CONTRACT §7: NNNNNN). */
const UTTERANCE_NUMBER_DIGITS = 6;

/**
 * Writes each utterance as `PATH/NNNNNN.wav` and then `PATH/NNNNNN.json` {text, lang, screen}
 * (CONTRACT §7). The WAV is streamed to a hidden partial file and renamed once complete (with
 * its sizes written in), so a reader never sees half a WAV; the number is taken then, so a cut
 * utterance (not said to the end) leaves no file and no gap. Numbering goes on after the
 * highest number already in the folder.
 */
export function dirSink(path: string): SpeechSink {
  mkdirSync(path, { recursive: true });
  let last = 0;
  for (const name of readdirSync(path)) {
    const m = /^(\d{6})\.(wav|json)$/.exec(name);
    if (m) last = Math.max(last, Number(m[1]));
  }
  let partials = 0;
  return {
    kind: 'dir',
    async play(utterance, wav, { firstByte, signal }) {
      const partial = join(path, `.partial-${process.pid}-${++partials}.wav`);
      let file: FileHandle | null = null;
      try {
        file = await open(partial, 'w');
        let header: Buffer | null = null;
        let total = 0;
        for await (const chunk of wav as AsyncIterable<Buffer>) {
          if (signal.aborted) break;
          await file.write(chunk, 0, chunk.length, total);
          if (total === 0) firstByte();
          header = header ? (header.length < 64 ? Buffer.concat([header, chunk]) : header) : chunk;
          total += chunk.length;
        }
        if (signal.aborted) {
          await file.close();
          file = null;
          await rm(partial, { force: true });
          return {};
        }
        if (!header || total === 0) throw new SinkError('speech.render_failed', 'espeak-ng produced no audio');
        for (const fix of wavSizeFixes(header.subarray(0, Math.min(header.length, 64)), total)) {
          const b = Buffer.alloc(4);
          b.writeUInt32LE(fix.value >>> 0);
          await file.write(b, 0, 4, fix.offset);
        }
        await file.sync();
        await file.close();
        file = null;
        const name = String(++last).padStart(UTTERANCE_NUMBER_DIGITS, '0');
        const wavFile = join(path, `${name}.wav`);
        await rename(partial, wavFile);
        // The JSON comes after the WAV is complete (CONTRACT §7): its presence says the WAV is whole.
        const jsonPartial = join(path, `.${name}.json.partial`);
        await writeFile(jsonPartial, `${JSON.stringify({ text: utterance.text, lang: utterance.lang, screen: utterance.screen })}\n`);
        await rename(jsonPartial, join(path, `${name}.json`));
        return { file: wavFile };
      } catch (err) {
        await file?.close().catch(() => undefined);
        await rm(partial, { force: true }).catch(() => undefined);
        if (err instanceof SinkError) throw err;
        throw new SinkError('speech.output_failed', `cannot write ${path}: ${(err as Error).message}`);
      }
    },
  };
}
