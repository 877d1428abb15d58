/**
 * Speech latency benchmark (issue #11): a key press on the ticket screen → the first audio
 * byte of the ticket screen's utterance written to its output. The kiosk is the simulated
 * one (`startKioskSim`, speech `dir:`), the headset plugged in through its FIFO, a ticket
 * taken; then each sample is F2 (repeat: the ticket screen's utterance, spoken whole) sent
 * as the page sends it, `POST /api/ui/keys`, timed until the speech device reports the first
 * byte of the WAV written. Floor, in the same run and in alternating blocks: bare espeak-ng
 * with the same voice, rate, amplitude and text, its WAV on stdout written to a file, timed
 * from the spawn to that file's first byte.
 *
 * Alone: `node --import tsx bench/speechLatency.ts [samples]`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SPEECH_VOICES } from '../devices/speech/voices.js';
import { amplitudeOfStep } from '../devices/speech/volume.js';
import { readUtterances, startKioskSim } from '../sim/kioskSim.js';

const BLOCK = 20;
const WARMUP = 10;
const READY_TIMEOUT_MS = 20_000;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}
const round = (v: number): number => Math.round(v * 1000) / 1000;

async function until(check: () => boolean, what: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Bare espeak-ng, its WAV to a file: ms from the spawn to the first byte written. */
async function floorSample(text: string, file: string, volumeStep: number): Promise<number> {
  const voice = SPEECH_VOICES['pt-PT'];
  const out = await open(file, 'w');
  const started = performance.now();
  const espeak = spawn('espeak-ng', ['-v', voice.voice, '-s', String(voice.wordsPerMinute), '-a', String(amplitudeOfStep(volumeStep)), '--stdout'], { stdio: ['pipe', 'pipe', 'ignore'] });
  espeak.stdin.end(text);
  let first = NaN;
  for await (const chunk of espeak.stdout as AsyncIterable<Buffer>) {
    await out.write(chunk);
    if (Number.isNaN(first)) first = performance.now() - started;
  }
  await out.close();
  return first;
}

export async function benchSpeechLatency(opts: { samples: number }): Promise<Record<string, number>> {
  const sim = await startKioskSim({ httpPort: 0 });
  const scratch = mkdtempSync(join(tmpdir(), 'kiosk-speech-floor-'));
  try {
    const { controller } = sim;
    await until(() => controller.upstream.status().connected && controller.ui.view().screen === 'home', 'the kiosk serving');
    await sim.headset.plug();
    await until(() => controller.ui.view().a11y.speech, 'speech mode');
    controller.ui.tap({ type: 'ISSUE', service: 'prestacoes' });
    await until(() => controller.ui.view().screen === 'ticket', 'the ticket screen');
    await until(() => readUtterances(sim.speechDir).some((u) => u.screen === 'ticket'), 'the ticket utterance');
    const text = readUtterances(sim.speechDir).filter((u) => u.screen === 'ticket').at(-1)!.text;
    const volume = controller.ui.view().a11y.volume;

    let audioAt = NaN;
    controller.speech.onAudio((u) => {
      if (u.screen === 'ticket' && Number.isNaN(audioAt)) audioAt = performance.now();
    });
    const keyUrl = `${controller.url}/api/ui/keys`;
    const kioskSample = async (): Promise<number> => {
      const count = readUtterances(sim.speechDir).length;
      audioAt = NaN;
      const started = performance.now();
      const res = await fetch(keyUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'F2', screen: 'ticket' }) });
      await res.arrayBuffer();
      await until(() => !Number.isNaN(audioAt), 'the first audio byte');
      const ms = audioAt - started;
      // The utterance is let finish, so the next press does not cut it (that is another case).
      await until(() => readUtterances(sim.speechDir).length > count, 'the utterance written');
      return ms;
    };
    const floorFile = join(scratch, 'floor.wav');
    for (let i = 0; i < WARMUP; i++) {
      await kioskSample();
      await floorSample(text, floorFile, volume);
    }
    const kiosk: number[] = [];
    const floor: number[] = [];
    while (kiosk.length < opts.samples) {
      for (let i = 0; i < BLOCK && kiosk.length < opts.samples; i++) kiosk.push(await kioskSample());
      for (let i = 0; i < BLOCK && floor.length < opts.samples; i++) floor.push(await floorSample(text, floorFile, volume));
      // Each key gives the ticket screen more time: it stays up however long this runs.
    }
    const kp50 = percentile(kiosk, 0.5);
    const kp99 = percentile(kiosk, 0.99);
    const fp50 = percentile(floor, 0.5);
    const fp99 = percentile(floor, 0.99);
    return {
      samples: kiosk.length,
      'utterance characters': text.length,
      'kiosk p50 ms': round(kp50),
      'kiosk p99 ms': round(kp99),
      'floor p50 ms': round(fp50),
      'floor p99 ms': round(fp99),
      'p50 ratio to floor': round(kp50 / fp50),
      'p99 ratio to floor': round(kp99 / fp99),
    };
  } finally {
    await sim.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const samples = Number(process.argv[2] ?? 200);
  console.log(await benchSpeechLatency({ samples }));
  process.exit(0);
}
