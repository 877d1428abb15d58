/**
 * The touch UI in Debian's Chromium against the simulated kiosk: every screen reached by
 * touch in Portuguese and in English, each one checked for its language, its target sizes,
 * and by axe-core for accessibility; nothing refused by the page's Content-Security-Policy.
 * The same tour writes docs/screens (scripts/refresh-screens.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Language } from '../src/machines/kioskUiMachine.js';
import { startKioskSim, type KioskSim } from '../sim/kioskSim.js';
import { launchChromium, openKioskPage, tourClosedScreen, tourEveryScreen, waitUntilServing, type ScreenVisitor } from '../scripts/refresh-screens.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** 15 mm at 96 dpi is 57 px; the kiosk's buttons are at least 64. */
const MIN_TARGET_PX = 57;
const TOUR_TIMEOUT_MS = 90_000;

let sim: KioskSim;
let browser: Browser;

beforeAll(async () => {
  [sim, browser] = await Promise.all([startKioskSim({ httpPort: 0 }), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await sim?.stop();
});

interface Finding {
  screen: string;
  problem: string;
}

function checker(language: Language, findings: Finding[], visited: string[]): ScreenVisitor {
  return async (screen, page) => {
    visited.push(screen);
    if ((await page.getAttribute('html', 'lang')) !== language) findings.push({ screen, problem: `page language is not ${language}` });
    if (!(await page.locator('h1').innerText()).trim()) findings.push({ screen, problem: 'no title' });
    // CONTRACT §7: large text, high contrast and Help on every screen, each a named control.
    for (const key of ['large-text', 'contrast', 'help', 'language']) {
      if ((await page.locator(`header [data-focus-key="${key}"]:visible`).count()) !== 1) findings.push({ screen, problem: `no ${key} control` });
    }
    const sizes = await page.locator('button:visible').evaluateAll((els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return { name: e.textContent ?? '', w: r.width, h: r.height };
      }),
    );
    for (const s of sizes) if (s.w < MIN_TARGET_PX || s.h < MIN_TARGET_PX) findings.push({ screen, problem: `button "${s.name}" is ${s.w}×${s.h} px` });
    const violations = (await page.evaluate(
      `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
         .then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`,
    )) as string[];
    for (const v of violations) findings.push({ screen, problem: `axe ${v}` });
  };
}

async function kioskPage(): Promise<{ page: Page; refusals: string[] }> {
  const page = await openKioskPage(browser, sim.controller.url);
  const refusals: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') refusals.push(m.text());
  });
  await waitUntilServing(sim, page);
  await page.evaluate(AXE_SOURCE);
  return { page, refusals };
}

describe('touch UI screens in Chromium', () => {
  for (const language of ['pt-PT', 'en'] as const) {
    it(
      `every screen is reached by touch in ${language}, in that language, with large targets and no serious accessibility violation`,
      async () => {
        const { page, refusals } = await kioskPage();
        const findings: Finding[] = [];
        const visited: string[] = [];
        await tourEveryScreen(sim, page, language, checker(language, findings, visited));
        await page.close();
        await tourClosedScreen(sim, browser, language, async (screen, closedPage) => {
          await closedPage.evaluate(AXE_SOURCE);
          await checker(language, findings, visited)(screen, closedPage);
        });
        expect(visited).toEqual([
          'home',
          'priority',
          'issuing',
          'ticket',
          'appointment',
          'appointment-error',
          'checkingIn',
          'appointmentDone',
          'appointmentEarly',
          'appointmentLate',
          'deposit',
          'depositWaiting',
          'depositThanks',
          'depositVoided',
          'depositFull',
          'notice-printer',
          'outOfService',
          'closed',
        ]);
        expect(findings).toEqual([]);
        expect(refusals).toEqual([]);
      },
      TOUR_TIMEOUT_MS,
    );
  }

  it('the page is served with a strict Content-Security-Policy and the right content types', async () => {
    const base = sim.controller.url;
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect((await fetch(`${base}/kiosk.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${base}/kiosk.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const bad = await fetch(`${base}/api/ui/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'ISSUE', service: 7 }) });
    expect(bad.status).toBe(400);
  });
});

describe('kiosk launch script', () => {
  it('starts Debian Chromium in kiosk mode, locked down, on the address it is given', () => {
    const command = execFileSync('bash', ['scripts/kiosk-browser.sh', '--dry-run', 'http://127.0.0.1:8080/'], { encoding: 'utf8' });
    expect(command.startsWith('/usr/bin/chromium ')).toBe(true);
    for (const flag of ['--kiosk', '--incognito', '--noerrdialogs', '--disable-translate', '--no-first-run', '--disable-pinch', '--overscroll-history-navigation=0', '--check-for-update-interval=31536000']) {
      expect(command.split(' ')).toContain(flag);
    }
    expect(command.trim().endsWith('http://127.0.0.1:8080/')).toBe(true);
  });
});
