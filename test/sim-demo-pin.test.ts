/**
 * `kiosk sim` sets a demo diagnostics PIN and prints it at start, so a newcomer can open
 * /diag in the simulator: the printed PIN signs in at the printed address.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SIM_DIAG_PIN } from '../sim/kioskSim.js';

describe('kiosk sim', () => {
  it('prints a demo PIN that opens a diagnostics session', async () => {
    const child = spawn(process.execPath, ['bin/kiosk.js', 'sim', '--port', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      let out = '';
      const banner = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('demo PIN')) {
            clearTimeout(timer);
            resolve(out);
          }
        });
        child.once('exit', (code) => reject(new Error(`kiosk sim exited ${code}: ${out}`)));
      });
      const m = /diagnostics\s+(http:\/\/[^/\s]+)\/diag\s+demo PIN (\d+)/.exec(banner);
      expect(m?.[2]).toBe(SIM_DIAG_PIN);
      const res = await fetch(`${m![1]}/api/diag/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: m![2] }) });
      expect(res.status).toBe(200);
    } finally {
      child.stdin.end('q\n');
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
  }, 90_000);
});
