/**
 * A page from another origin cannot change anything on the kiosk (CONTRACT §6), even
 * while a technician's session is open in the same browser: real Chromium, the real
 * controller on a simulated board and printer, and an "attacker" page served from
 * another port on 127.0.0.1 (the same site, so SameSite=Strict cookies are sent).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { hashPin } from '../src/http/pin.js';
import { crossSiteRefusal } from '../src/http/requestGuards.js';
import { startController, type Controller } from '../src/main.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { startPtyBoard, type PtyBoard } from '../sim/board/ptyBoard.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';

const PIN = '482913';
const CHROMIUM = '/usr/bin/chromium';

/** What the attacker's page tries, each as a request Chromium sends without a preflight. */
const ATTACKS = [
  { path: '/api/diag/dropbox/unlock', init: {} },
  { path: '/api/diag/test-print', init: {} },
  { path: '/api/diag/collection/start', init: {} },
  { path: '/api/deposits', init: {} },
  { path: '/api/tickets', init: { body: '{"service":"prestacoes","priority":false}', headers: { 'content-type': 'text/plain' } } },
];

function attackerPage(kiosk: string): string {
  return `<!doctype html><title>not the kiosk</title><script>
    window.done = Promise.all(${JSON.stringify(ATTACKS)}.map((a) =>
      fetch(${JSON.stringify(kiosk)} + a.path, { method: 'POST', mode: 'no-cors', credentials: 'include', ...a.init }).then(() => 'sent', (e) => String(e))));
  </script>`;
}

describe('cross-site requests in Chromium', () => {
  let dir: string;
  let board: PtyBoard;
  let printer: SimulatedPrinter;
  let controller: Controller;
  let browser: Browser;
  let page: Page;
  let attacker: Server;
  let attackerUrl: string;

  const events = (type?: string) =>
    controller.outbox
      .peek(0, 100_000)
      .map((r) => JSON.parse(r.payload) as EventEnvelope)
      .filter((e) => type === undefined || e.type === type);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cross-site-'));
    board = await startPtyBoard(dir, { boardId: 'CSRF-1' });
    printer = await startSimulatedPrinter({ port: 0 });
    const config = parseConfig(
      {
        kiosk: { id: 'lisboa-01-k1', site: 'lisboa-01' },
        dataDir: join(dir, 'data'),
        http: { host: '127.0.0.1', port: 0 },
        printer: { type: 'epson', interface: `tcp://127.0.0.1:${printer.port}` },
        dropbox: { id: 'box-1', port: board.controllerPath, baudRate: 115200 },
        // Nobody listens there: events stay in the outbox, where the test reads them.
        upstream: { url: 'mqtt://127.0.0.1:9', prefix: 'siga', requestTimeoutMs: 300 },
        diagnostics: { pinHash: await hashPin(PIN) },
      },
      join(dir, 'kiosk.json'),
    );
    controller = await startController(config, { logTo: null, upstreamBackoff: { initialMs: 1000, maxMs: 5000 } });
    await vi.waitFor(() => expect(controller.dropbox!.status().lastFrameAt).not.toBeNull(), { timeout: 10_000 });
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(attackerPage(controller.url));
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => attacker?.close(r));
    await controller?.stop();
    await printer?.close();
    await board?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with a technician signed in, a page on another port can neither unlock, print, start a collection nor take a ticket', async () => {
    await page.goto(`${controller.url}/diag`);
    const login = await page.evaluate(async (pin) => (await fetch('/api/diag/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin }) })).status, PIN);
    expect(login).toBe(200);
    const jobsBefore = printer.jobs.length;

    await page.goto(attackerUrl);
    const sent = await page.evaluate(() => (globalThis as unknown as { done: Promise<string[]> }).done);
    expect(sent).toEqual(ATTACKS.map(() => 'sent'));

    expect(events('diag.action')).toEqual([]);
    expect(events('dropbox.receipt_issued')).toEqual([]);
    expect(events('ticket.issued')).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(printer.jobs.length).toBe(jobsBefore);
    expect(board.sim.commandsReceived.filter((c) => c.command.type === 'UNLOCK')).toEqual([]);
    await vi.waitFor(() => expect(events('http.request_refused').length).toBeGreaterThanOrEqual(ATTACKS.length), { timeout: 5_000 });
    const refused = events('http.request_refused').map((e) => e.data as { status: number; path: string; reason: string });
    expect(refused.map((r) => r.path).sort()).toEqual(ATTACKS.map((a) => a.path).sort());
    expect(refused.every((r) => r.status === 403)).toBe(true);

    // The technician's own page still works: same origin, same session.
    await page.goto(`${controller.url}/diag`);
    const led = await page.evaluate(async () => (await fetch('/api/diag/dropbox/led', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"BLINK"}' })).status);
    expect(led).toBe(202);
  }, 60_000);

  it('crossSiteRefusal: Origin of another port, null, Sec-Fetch-Site cross-site or same-site refuse; own origin, GET and no Origin pass', () => {
    const host = '127.0.0.1:8080';
    expect(crossSiteRefusal('POST', { host, origin: 'http://127.0.0.1:8081' })).toBe('foreign_origin');
    expect(crossSiteRefusal('POST', { host, origin: 'null' })).toBe('foreign_origin');
    expect(crossSiteRefusal('DELETE', { host, origin: 'http://evil.example' })).toBe('foreign_origin');
    expect(crossSiteRefusal('POST', { host, 'sec-fetch-site': 'same-site' })).toBe('cross_site_fetch');
    expect(crossSiteRefusal('POST', { host, 'sec-fetch-site': 'cross-site', origin: `http://${host}` })).toBe('cross_site_fetch');
    expect(crossSiteRefusal('POST', { host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).toBeNull();
    expect(crossSiteRefusal('POST', { host })).toBeNull(); // curl, the kiosk's own CLI
    expect(crossSiteRefusal('GET', { host, origin: 'http://127.0.0.1:8081' })).toBeNull();
  });
});
