/**
 * What a request addressed to somebody else gets (CONTRACT §6: 421 unless the Host is the
 * kiosk's own address with the port), and what /api/health says of every configured
 * device, the scanner included: the real controller on simulated devices and Mosquitto.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { HttpServer } from '../src/http/server.js';
import { MOCK_SCANNER_PATH, startKiosk, stopKiosks } from './support/kioskHarness.js';
import { useMosquitto } from './support/mosquitto.js';
import { waitUntil } from './support/waitUntil.js';

function statusFor(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/ping', headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Host a request is addressed to', () => {
  let server: HttpServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('answers its own address with the port, and 421 to any other, the same address without its port included', async () => {
    server = new HttpServer({ host: '127.0.0.1', port: 0, log: silentLogger() });
    server.route('GET', '/api/ping', () => ({ status: 200, body: { ok: true } }));
    const { port } = await server.listen();
    expect(await statusFor(port, `127.0.0.1:${port}`)).toBe(200);
    expect(await statusFor(port, `localhost:${port}`)).toBe(200);
    expect(await statusFor(port, `LOCALHOST:${port}`)).toBe(200);
    expect(await statusFor(port, '127.0.0.1')).toBe(421);
    expect(await statusFor(port, `127.0.0.1:${port + 1}`)).toBe(421);
    expect(await statusFor(port, `kiosk.attacker.example:${port}`)).toBe(421);
  });
});

describe('the health report', () => {
  const broker = useMosquitto();
  afterEach(stopKiosks);

  it('names the scanner and speech, and is degraded while the scanner cable is out', async () => {
    const kiosk = await startKiosk({ brokerUrl: broker.url, scanner: true, central: {} });
    const health = async () => (await kiosk.request('GET', '/api/health')).body as { status: string; devices: Record<string, { state: string }> };
    await waitUntil('scanner ready', async () => (await health()).devices.scanner?.state === 'ready');
    expect((await health()).status).toBe('ok');
    expect((await health()).devices.speech).toMatchObject({ state: 'off' });
    kiosk.serial.unplug(MOCK_SCANNER_PATH);
    await waitUntil('health degraded', async () => (await health()).status === 'degraded');
    expect((await health()).devices.scanner!.state).not.toBe('ready');
  });
});
