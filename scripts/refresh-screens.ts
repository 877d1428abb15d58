/**
 * Refreshes docs/screens/*.png: every screen of the touch UI in both languages, reached
 * by touch in Debian's Chromium against the simulated kiosk (`startKioskSim`), exactly as
 * a citizen would. Run after changing the UI:
 *
 *   node --import tsx scripts/refresh-screens.ts [--out docs/screens]
 *
 * The tour (`tourEveryScreen`) is shared with test/ui-screens.test.ts, so the screenshots
 * and the test walk the same path.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseConfig } from '../src/config/load.js';
import { startController, type Controller } from '../src/main.js';
import type { Language, UiScreen } from '../src/machines/kioskUiMachine.js';
import { SIM_SERVICES, startKioskSim, type KioskSim } from '../sim/kioskSim.js';

/** Debian's Chromium; never a downloaded browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** A portrait kiosk screen (21.5" 1080×1920); screenshots at half size keep the PNGs small. */
export const KIOSK_VIEWPORT = { width: 1080, height: 1920 };
export const SCREENSHOT_SCALE = 0.5;
/** How long a screen may take to appear after a tap (a ticket waits for central and the printer). */
export const SCREEN_WAIT_MS = 10_000;
/** Central's replies are held this long so the "printing…" screens can be seen (under the sim's 1.5 s request timeout). */
const SLOW_CENTRAL_MS = 700;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export async function openKioskPage(browser: Browser, url: string, opts: { bypassCSP?: boolean } = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: KIOSK_VIEWPORT, deviceScaleFactor: SCREENSHOT_SCALE, hasTouch: true, bypassCSP: opts.bypassCSP ?? false });
  // Every wait fails with its own message instead of running into the test's timeout.
  page.setDefaultTimeout(SCREEN_WAIT_MS);
  await page.goto(`${url}/`);
  return page;
}

export async function waitForScreen(page: Page, screen: UiScreen, timeoutMs = SCREEN_WAIT_MS): Promise<void> {
  await page.waitForSelector(`body[data-screen="${screen}"]`, { timeout: timeoutMs });
}

/** A touch on the control with this focus key (service-<id>, priority, back, home, key-A…). */
export async function tapControl(page: Page, key: string): Promise<void> {
  await page.tap(`[data-focus-key="${key}"]`);
}

/** Touches the language button if the page is not already in `language`. */
export async function useLanguage(page: Page, language: Language): Promise<void> {
  if ((await page.getAttribute('html', 'lang')) === language) return;
  await page.tap('#language');
  await page.waitForSelector(`html[lang="${language}"]`, { timeout: SCREEN_WAIT_MS });
}

/** Types a code on the on-screen keypad, one touch per character. */
export async function tapCode(page: Page, code: string): Promise<void> {
  for (const ch of code) {
    await tapControl(page, `key-${ch}`);
  }
  await waitForCode(page, code);
}

/** Waits until the code field shows `code` (the controller has every key). */
export async function waitForCode(page: Page, code: string): Promise<void> {
  // Locators, not page functions: the page's CSP forbids evaluating strings.
  await page.locator('output.code', { hasText: new RegExp(`^${code.replace(/[^A-Z0-9]/g, '.')}$`) }).waitFor({ timeout: SCREEN_WAIT_MS });
}

/** Waits until the kiosk is connected to central and shows home. */
export async function waitUntilServing(sim: KioskSim, page: Page): Promise<void> {
  const deadline = Date.now() + SCREEN_WAIT_MS;
  while (!sim.controller.upstream.status().connected || sim.controller.upstream.queues() === null) {
    if (Date.now() > deadline) throw new Error('the simulated kiosk did not connect to central');
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitForScreen(page, 'home');
}

/** A kiosk whose office is closed (Saturday, open Mon–Fri), for the closed screen. */
export async function startClosedKiosk(brokerUrl: string): Promise<{ controller: Controller; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiosk-closed-'));
  const weekday: Array<[string, string]> = [['09:00', '16:00']];
  const config = parseConfig(
    {
      kiosk: { id: 'lisboa-01-k2', site: 'lisboa-01', locale: 'pt-PT' },
      dataDir,
      http: { host: '127.0.0.1', port: 0 },
      upstream: { url: brokerUrl, prefix: 'siga' },
      services: SIM_SERVICES,
      hours: { timezone: 'Europe/Lisbon', weekly: { mon: weekday, tue: weekday, wed: weekday, thu: weekday, fri: weekday } },
    },
    join(dataDir, 'closed-config.json'),
  );
  // Saturday 28 November 2026, 10:00 in Lisbon.
  const controller = await startController(config, { logTo: null, now: () => new Date('2026-11-28T10:00:00Z') });
  return {
    controller,
    async stop() {
      await controller.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type ScreenVisitor = (name: string, page: Page) => Promise<void>;

let codeSerial = 0;
/** A fresh appointment at central; codes check in once, so every visit makes its own. */
function appointment(sim: KioskSim, minutesFromNow: number, tag: string): string {
  const code = `SIM-${tag}-${process.pid % 1000}${++codeSerial}`.toUpperCase();
  sim.central.addAppointment({ code, service: 'contribuicoes', at: new Date(Date.now() + minutesFromNow * 60_000) });
  return code;
}

/**
 * Every screen of the UI in `language`, reached by touch from home, with `visit` called on
 * each (named after the machine's state, with a suffix where one state has two faces).
 * Leaves the kiosk at home. The closed screen needs its own kiosk: see `tourClosedScreen`.
 */
export async function tourEveryScreen(sim: KioskSim, page: Page, language: Language, visit: ScreenVisitor): Promise<void> {
  const at = async (screen: UiScreen, name: string = screen): Promise<void> => {
    await waitForScreen(page, screen);
    await visit(name, page);
  };
  const home = async (): Promise<void> => {
    await waitForScreen(page, 'home');
    await useLanguage(page, language);
  };

  await home();
  await at('home');

  // Priority explained, then a priority ticket with central slow enough to see "printing".
  await tapControl(page, 'priority');
  await at('priority');
  sim.central.delayReplies(SLOW_CENTRAL_MS);
  await tapControl(page, 'service-prestacoes');
  await at('issuing');
  sim.central.delayReplies(0);
  await at('ticket');
  await tapControl(page, 'home');

  // Appointment: a code of the wrong kind, then one on time.
  await home();
  await tapControl(page, 'appointment');
  await at('appointment');
  await tapCode(page, 'NOSUCH1');
  await tapControl(page, 'submit');
  await waitForScreen(page, 'appointment');
  await page.waitForSelector('.error', { timeout: SCREEN_WAIT_MS });
  await visit('appointment-error', page);
  const onTime = appointment(sim, 5, 'ok');
  await page.keyboard.type(onTime); // a keyboard types like the keypad
  await waitForCode(page, onTime);
  sim.central.delayReplies(SLOW_CENTRAL_MS);
  await tapControl(page, 'submit');
  await at('checkingIn');
  sim.central.delayReplies(0);
  await at('appointmentDone');
  await tapControl(page, 'home');

  for (const [screen, minutes] of [['appointmentEarly', 120], ['appointmentLate', -60]] as const) {
    await home();
    await tapControl(page, 'appointment');
    await waitForScreen(page, 'appointment');
    const code = appointment(sim, minutes, screen === 'appointmentEarly' ? 'early' : 'late');
    await page.keyboard.type(code);
    await waitForCode(page, code);
    await tapControl(page, 'submit');
    await at(screen);
    await tapControl(page, 'home');
  }

  // Deposit with a drop, then one cancelled, then a full box.
  await home();
  await tapControl(page, 'deposit');
  await at('deposit');
  await tapControl(page, 'confirm');
  await at('depositWaiting');
  sim.board.sim.drop(1);
  await at('depositThanks');
  await tapControl(page, 'home');

  await home();
  await tapControl(page, 'deposit');
  await waitForScreen(page, 'deposit');
  await tapControl(page, 'confirm');
  await waitForScreen(page, 'depositWaiting');
  await tapControl(page, 'cancel');
  await at('depositVoided');
  await tapControl(page, 'home');

  await home();
  sim.board.sim.fill(100);
  await waitForDropboxFill(sim, 'full');
  await tapControl(page, 'deposit');
  await waitForScreen(page, 'deposit');
  await tapControl(page, 'confirm');
  await at('depositFull');
  sim.board.sim.fill(0);
  await waitForDropboxFill(sim, 'ok');
  await tapControl(page, 'home');

  // The printer fails while the citizen reads: a notice, then out of service until it is back.
  await home();
  await tapControl(page, 'priority');
  await waitForScreen(page, 'priority');
  sim.printer.setStatus({ coverOpen: true });
  await at('notice', 'notice-printer');
  await tapControl(page, 'home'); // ends the session: back to the default language
  await waitForScreen(page, 'outOfService');
  await useLanguage(page, language);
  await at('outOfService');
  sim.printer.setStatus({ coverOpen: false });
  await waitForScreen(page, 'home');
}

/** The closed screen, on a kiosk whose office is closed. */
export async function tourClosedScreen(sim: KioskSim, browser: Browser, language: Language, visit: ScreenVisitor): Promise<void> {
  const closed = await startClosedKiosk(sim.broker.url);
  const page = await openKioskPage(browser, closed.controller.url);
  try {
    await waitForScreen(page, 'closed');
    await useLanguage(page, language);
    await visit('closed', page);
  } finally {
    await page.close();
    await closed.stop();
  }
}

async function waitForDropboxFill(sim: KioskSim, level: 'full' | 'ok'): Promise<void> {
  const deadline = Date.now() + SCREEN_WAIT_MS;
  for (;;) {
    const box = sim.controller.dropbox;
    const view = box ? box.status() : null;
    if (view?.fillLevel === level) return;
    if (Date.now() > deadline) throw new Error(`drop box fill did not become ${level}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const outArg = process.argv.indexOf('--out');
  const outDir = resolve(outArg > 0 ? (process.argv[outArg + 1] ?? 'docs/screens') : 'docs/screens');
  mkdirSync(outDir, { recursive: true });
  const sim = await startKioskSim({ httpPort: 0 });
  const browser = await launchChromium();
  const written: string[] = [];
  const shoot: (language: Language) => ScreenVisitor = (language) => async (name, page) => {
    // Let the spinner and the focus settle so the picture is what a citizen sees.
    await page.locator('h1').blur();
    const file = join(outDir, `${name}.${language}.png`);
    await page.screenshot({ path: file, animations: 'disabled' });
    written.push(file);
  };
  try {
    for (const language of ['pt-PT', 'en'] as const) {
      const page = await openKioskPage(browser, sim.controller.url);
      await waitUntilServing(sim, page);
      await tourEveryScreen(sim, page, language, shoot(language));
      await page.close();
      await tourClosedScreen(sim, browser, language, shoot(language));
    }
  } finally {
    await browser.close();
    await sim.stop();
  }
  console.log(`${written.length} screenshots in ${outDir}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
