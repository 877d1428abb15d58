/**
 * The technician's diagnostics screens at /diag, in Chromium, against the real
 * controller on simulated devices (PTY board, TCP printer, Mosquitto). What a technician
 * sees: the PIN pad, a wrong PIN refused, every section once signed in, simulated faults
 * (paper out, board unplugged, broker down) on the screen, a session that ended sending
 * them back to the PIN, a lockout with its wait. Screenshots go to docs/screens/diag-*.png with KIOSK_WRITE_SCREENS=1.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPin } from '../src/http/pin.js';
import type { Controller } from '../src/main.js';
import type { PtyBoard } from '../sim/board/ptyBoard.js';
import type { SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { startKiosk, stopKiosks } from './support/kioskHarness.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';

const PIN = '550137';
const CHROMIUM = '/usr/bin/chromium';
// The committed screenshots are refreshed on purpose (KIOSK_WRITE_SCREENS=1); an ordinary
// test run writes them to a temporary folder so it never changes the working tree.
const SCREENS = process.env.KIOSK_WRITE_SCREENS === '1' ? join(import.meta.dirname, '..', 'docs', 'screens') : mkdtempSync(join(tmpdir(), 'diag-shots-'));
/** The page refreshes every 1.5 s; a change must show within a few refreshes. */
const SHOWS_WITHIN_MS = 10_000;

describe('diagnostics screens in Chromium', () => {
  let broker: Mosquitto;
  let board: PtyBoard;
  let printer: SimulatedPrinter;
  let controller: Controller;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SCREENS, { recursive: true });
    broker = await startMosquitto();
    const kiosk = await startKiosk({
      brokerUrl: broker.url,
      kioskId: 'lisboa-01-k1',
      site: 'lisboa-01',
      board: { on: 'pty', sim: { boardId: 'SCREEN-1', firmware: 'sim-1.0.0' } },
      config: { upstream: { url: broker.url, prefix: 'siga' }, diagnostics: { pinHash: await hashPin(PIN) } },
      options: { upstreamBackoff: { initialMs: 50, maxMs: 200 } },
      // The screens show the devices coming up: no wait here.
      ready: { printer: false, upstream: false, dropbox: false },
    });
    controller = kiosk.controller;
    board = kiosk.pty;
    printer = kiosk.printer;
    board.sim.drop(3);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // The kiosk's touch screen: 1280 × 800.
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  afterAll(async () => {
    await browser?.close();
    await stopKiosks();
    await broker?.stop();
  });

  async function typePin(pin: string): Promise<void> {
    for (const d of pin) await page.click(`#keypad button[data-key="${d}"]`);
    await page.click('#login-submit');
  }

  async function tab(name: string): Promise<void> {
    await page.click(`#tab-${name}`);
    await expectVisible(`#panel-${name}`);
  }

  const expectVisible = (selector: string) => page.waitForSelector(selector, { state: 'visible', timeout: SHOWS_WITHIN_MS });
  const expectText = (selector: string, text: string | RegExp) =>
    page.waitForFunction(
      ([sel, src, flags]) => {
        // Runs in the page; the test's TypeScript has no DOM types.
        const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document;
        const el = doc.querySelector(sel!);
        return !!el && new RegExp(src!, flags!).test(el.textContent ?? '');
      },
      [selector, typeof text === 'string' ? text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : text.source, typeof text === 'string' ? '' : text.flags],
      { timeout: SHOWS_WITHIN_MS },
    );

  it('asks for the PIN, refuses a wrong one with a clear message, and with the right one shows every section', async () => {
    const res = await page.goto(`${controller.url}/diag`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expectVisible('#login');
    expect(await page.isVisible('#console')).toBe(false);
    await page.screenshot({ path: join(SCREENS, 'diag-login.png') });

    await typePin('000000');
    await expectText('#login-message', /Wrong PIN\. 4 attempt\(s\) left/);
    expect(await page.isVisible('#console')).toBe(false);

    await typePin(PIN);
    await expectVisible('#console');
    await expectText('#problems', 'All devices OK');

    // Printer
    await expectText('#printer-state', /stateonline/);
    await expectText('#printer-bytes', /DLE EOT 4.*ok/);
    await expectText('#forecast', /tickets per roll/);
    await expectText('#forecast-headline', /Not enough tickets yet|Roll empty around/);
    await page.screenshot({ path: join(SCREENS, 'diag-printer.png'), fullPage: true });

    // Board
    await tab('board');
    await expectText('#board-state', /linkonline/);
    await expectText('#board-state', /board count \(dropCount\)3/);
    await expectText('#board-frames', /heartbeat: up \d+ s, count 3/);
    await expectText('#board-counters', /frames lost0/);
    await page.screenshot({ path: join(SCREENS, 'diag-board.png'), fullPage: true });

    // Collection: the count, then a collection with the door opened and closed.
    await tab('collection');
    await expectText('#collection-count', '3');
    await page.click('#collection-start');
    await expectText('#collection-message', /Door unlocked for 30 s.*3 envelope/);
    await board.sim.waitForCommand((c) => c.type === 'UNLOCK', SHOWS_WITHIN_MS);
    board.sim.openDoor();
    await expectText('#collection-phase', /Door open/);
    await page.screenshot({ path: join(SCREENS, 'diag-collection.png'), fullPage: true });
    board.sim.closeDoor();
    await expectText('#collection-last', /slipprinted/);
    await expectText('#collection-last', /envelopes3/);
    await expectText('#collection-count', '0');

    // Scanner: none configured on this kiosk.
    await tab('scanner');
    await expectText('#scanner-state', /stateabsent/);

    // Upstream
    await tab('upstream');
    await expectText('#upstream-state', /brokerconnected/);
    await expectText('#outbox-recent', /dropbox\.collected/);
    await page.screenshot({ path: join(SCREENS, 'diag-upstream.png'), fullPage: true });

    // Self-test: a test ticket really prints.
    await tab('selftest');
    const jobsBefore = printer.jobs.length;
    await page.click('#test-print');
    await expectText('#selftest-message', 'Test ticket printed.');
    expect(printer.jobs.length).toBe(jobsBefore + 1);
    await page.click('[data-led="BLINK"]');
    await expectText('#selftest-message', 'Slot light: blink.');
    await board.sim.waitForCommand((c) => c.type === 'LED' && c.mode === 'BLINK', SHOWS_WITHIN_MS);

    // Log tail
    await tab('log');
    // The controller's own recent lines, whoever started it (issue #9: the tail was always empty).
    await expectText('#log-lines', /kiosk controller started/);
    await page.screenshot({ path: join(SCREENS, 'diag-log.png'), fullPage: true });
  });

  it('shows paper out, an unplugged board and a broker that is down', async () => {
    await tab('printer');
    printer.setStatus({ paper: 'out' });
    await expectText('#problems', /Printer: paper out \(printer\.paper_out\)/);
    await expectText('#printer-bytes', /DLE EOT 4.*paper end/);
    await expectText('#forecast-headline', 'Roll empty now');

    await board.unplug();
    await expectText('#problems', /Drop-box board: offline/);
    await broker.stop();
    await expectText('#problems', /Upstream: not connected to the broker/);
    await page.screenshot({ path: join(SCREENS, 'diag-faults.png'), fullPage: true });

    await tab('board');
    await expectText('#board-state', /linkoffline/);

    // Back to normal: a refill counts as a new roll; the board and broker return.
    printer.refill();
    await board.replug();
    await broker.restart();
    await expectText('#problems', 'All devices OK');
  });

  it('goes back to the PIN pad when the session ends, and shows the wait after too many wrong PINs', async () => {
    // The session ends behind the page's back (here: signed out from another window).
    await page.evaluate(() => fetch('/api/diag/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
    await expectVisible('#login');
    await expectText('#login-message', /Signed out/);
    expect(await page.isVisible('#console')).toBe(false);

    for (let i = 0; i < 5; i++) {
      await typePin('111111');
      await expectText('#login-message', /Wrong PIN/);
    }
    await typePin('111111');
    await expectText('#login-message', /Too many wrong PINs\. Try again in (29|30) s/);
    expect(await page.isDisabled('#login-submit')).toBe(true);
    await page.screenshot({ path: join(SCREENS, 'diag-lockout.png') });
  });
});
