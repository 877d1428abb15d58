/**
 * `kiosk sim` and the accessible mode (issue #11 item 7): `kiosk sim --help` says how to
 * try it; in a running simulator, the `e` command plugs the simulated headset in, speech
 * mode starts, and what is said is shown in the terminal and written under the data folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readUtterances } from '../sim/kioskSim.js';
import { waitFor } from './support/waitFor.js';

const KIOSK = join(import.meta.dirname, '..', 'bin', 'kiosk.js');
const SIM_TIMEOUT_MS = 60_000;

describe('kiosk sim: accessible mode', () => {
  it('kiosk sim --help explains how to plug the headset in and which keys do what', () => {
    const out = spawnSync(process.execPath, [KIOSK, 'sim', '--help'], { encoding: 'utf8' }).stdout;
    expect(out).toMatch(/type "e" and Enter to plug a headset in/);
    expect(out).toMatch(/F1 \(Help\)/);
    expect(out).toMatch(/F2 repeats/);
    expect(out).toMatch(/speech\/NNNNNN\.wav/);
  });

  it(
    'the e command plugs the headset in: the home screen is spoken, shown as "said" in the terminal and written as NNNNNN.wav + .json',
    async () => {
      const data = mkdtempSync(join(tmpdir(), 'kiosk-sim-a11y-'));
      const sim = spawn(process.execPath, [KIOSK, 'sim', '--port', '0', '--data-dir', data], { env: { ...process.env, KIOSK_SIM_COMMANDS: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      sim.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      sim.stderr.resume();
      try {
        await waitFor(() => out.includes('kiosk simulator running'), 'the simulator', SIM_TIMEOUT_MS / 2, 100);
        sim.stdin.write('e\n');
        await waitFor(() => /said \[pt-PT home\] Modo de voz ligado\./.test(out), 'the spoken home screen in the terminal', SIM_TIMEOUT_MS / 2, 100);
        expect(out).toContain('headset plugged in: speech mode');
        const said = readUtterances(join(data, 'speech'));
        expect(said[0]).toMatchObject({ n: 1, lang: 'pt-PT', screen: 'home' });
        expect(said[0]!.text).toContain('Bem-vindo');
      } finally {
        sim.stdin.write('q\n');
        await new Promise((r) => sim.once('exit', r));
        rmSync(data, { recursive: true, force: true });
      }
    },
    SIM_TIMEOUT_MS,
  );
});
