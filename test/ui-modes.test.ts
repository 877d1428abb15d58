/**
 * Seeing and reaching (CONTRACT §7, issue #11 item 5) in Debian's Chromium: large text and
 * high contrast switched on from every screen by touch and by keypad and ended with the
 * session; every text at least twice its size and one column in large text; every text at
 * 7:1 or better in high contrast, computed from the colours Chromium really renders; a
 * symbol beside every service; axe with no serious violation in both modes, portrait
 * 1080×1920 and landscape 1920×1080; the time-limit warning on screen with its tone.
 * Screenshots of each mode go to docs/screens/mode-*.png with KIOSK_WRITE_SCREENS=1.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UI_TIMINGS, type UiScreen } from '../src/machines/kioskUiMachine.js';
import { startKioskSim, type KioskSim } from '../sim/kioskSim.js';
import { KIOSK_VIEWPORT, launchChromium, tapControl, waitForScreen, waitUntilServing } from '../scripts/refresh-screens.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SCREENS = process.env.KIOSK_WRITE_SCREENS === '1' ? join(import.meta.dirname, '..', 'docs', 'screens') : mkdtempSync(join(tmpdir(), 'mode-shots-'));
const LANDSCAPE = { width: 1920, height: 1080 };
const TEST_TIMEOUT_MS = 120_000;
/** WCAG 2 AAA for text, asked by the issue for high contrast. */
const MIN_CONTRAST = 7;

let sim: KioskSim;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [sim, browser] = await Promise.all([startKioskSim({ httpPort: 0 }), launchChromium()]);
  mkdirSync(SCREENS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await sim?.stop();
});
afterEach(async () => {
  await page?.close();
  sim.controller.ui.setTimings(DEFAULT_UI_TIMINGS);
  sim.controller.ui.tap({ type: 'HOME' });
});

async function open(viewport = KIOSK_VIEWPORT): Promise<Page> {
  page = await browser.newPage({ viewport, deviceScaleFactor: 0.5, hasTouch: true });
  page.setDefaultTimeout(10_000);
  await page.goto(`${sim.controller.url}/`);
  await waitUntilServing(sim, page);
  await page.evaluate(AXE_SOURCE);
  return page;
}

/** Each text element's rendered font size, in document order. */
async function fontSizes(): Promise<number[]> {
  return page.locator('main h1, main h2, main p, main li, main button, main output, header button, header p').evaluateAll((els) =>
    els.map((e) => parseFloat(e.ownerDocument.defaultView!.getComputedStyle(e).fontSize)),
  );
}

/** Every visible text's contrast against the background it is really drawn on (WCAG formula). */
async function contrasts(): Promise<Array<{ text: string; ratio: number }>> {
  return page.locator('body *').evaluateAll((els) => {
    type El = (typeof els)[number];
    const win = els[0]!.ownerDocument.defaultView!;
    const rgb = (c: string): [number, number, number, number] => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      const [r, g, b, a] = (m ? m[1]!.split(/[ ,/]+/).filter(Boolean).map(Number) : [0, 0, 0, 0]) as number[];
      return [r!, g!, b!, a === undefined ? 1 : a];
    };
    const lum = ([r, g, b]: number[]): number => {
      const f = (v: number): number => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: El | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(win.getComputedStyle(e).backgroundColor);
        if (c[3] > 0) return c;
      }
      return [255, 255, 255, 1];
    };
    const out: Array<{ text: string; ratio: number }> = [];
    for (const el of els) {
      const own = Array.from(el.childNodes as ArrayLike<{ nodeType: number; textContent: string | null }>).some((n) => n.nodeType === 3 && (n.textContent ?? '').trim().length > 0);
      const style = win.getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (!own || style.visibility === 'hidden' || box.width <= 1 || box.height <= 1 || el.closest('[hidden]')) continue;
      const l1 = lum(rgb(style.color));
      const l2 = lum(background(el));
      out.push({ text: (el.textContent ?? '').trim().slice(0, 40), ratio: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05) });
    }
    return out;
  });
}

async function axeSerious(): Promise<string[]> {
  return (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
       .then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`,
  )) as string[];
}

async function gridColumns(): Promise<number> {
  return page
    .locator('main .grid')
    .first()
    .evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).gridTemplateColumns.split(' ').filter(Boolean).length);
}

/** The screens every mode is checked on, reached by touch. */
const TOUR: Array<{ screen: UiScreen; go: () => Promise<void> }> = [
  { screen: 'home', go: async () => undefined },
  { screen: 'priority', go: () => tapControl(page, 'priority') },
  { screen: 'appointment', go: () => tapControl(page, 'appointment') },
  { screen: 'deposit', go: () => tapControl(page, 'deposit') },
];

describe('large text and high contrast in Chromium', () => {
  for (const [orientation, viewport] of [
    ['portrait', KIOSK_VIEWPORT],
    ['landscape', LANDSCAPE],
  ] as const) {
    it(
      `${orientation}: large text doubles every text and goes to one column, high contrast is 7:1 everywhere, axe finds nothing serious`,
      async () => {
        await open(viewport);
        const findings: string[] = [];
        for (const stop of TOUR) {
          sim.controller.ui.tap({ type: 'HOME' });
          await waitForScreen(page, 'home');
          await stop.go();
          await waitForScreen(page, stop.screen);
          const normal = await fontSizes();
          for (const v of await axeSerious()) findings.push(`${stop.screen} normal: ${v}`);

          // Large text, by touch, on this very screen.
          await tapControl(page, 'large-text');
          await page.waitForSelector('html.large-text');
          const large = await fontSizes();
          expect(large.length).toBe(normal.length);
          large.forEach((px, i) => {
            if (px < normal[i]! * 2 - 0.01) findings.push(`${stop.screen}: text #${i} is ${px}px in large text, ${normal[i]}px normally`);
          });
          if (stop.screen === 'home' || stop.screen === 'priority') expect(await gridColumns()).toBe(1);
          for (const v of await axeSerious()) findings.push(`${stop.screen} large text: ${v}`);
          await page.screenshot({ path: join(SCREENS, `mode-large-text.${stop.screen}.${orientation}.png`), fullPage: false });

          // High contrast, by keypad (arrows to the toggle, Enter), on top.
          for (let i = 0; i < 60 && (await page.getAttribute('body', 'data-focus')) !== 'contrast'; i++) {
            const before = (await page.getAttribute('body', 'data-focus')) ?? '';
            await page.keyboard.press('ArrowUp');
            await page.waitForSelector(`body:not([data-focus="${before}"])`);
          }
          await page.keyboard.press('Enter');
          await page.waitForSelector('html.high-contrast');
          expect(await page.getAttribute('[data-focus-key="contrast"]', 'aria-pressed')).toBe('true');
          const measured = await contrasts();
          expect(measured.length).toBeGreaterThan(5); // the check saw the screen's texts
          for (const c of measured) if (c.ratio < MIN_CONTRAST) findings.push(`${stop.screen}: "${c.text}" at ${c.ratio.toFixed(2)}:1`);
          for (const v of await axeSerious()) findings.push(`${stop.screen} high contrast: ${v}`);
          await page.screenshot({ path: join(SCREENS, `mode-large-high-contrast.${stop.screen}.${orientation}.png`) });

          // Large text off again (touch): high contrast alone.
          await tapControl(page, 'large-text');
          await page.waitForSelector('html:not(.large-text).high-contrast');
          for (const c of await contrasts()) if (c.ratio < MIN_CONTRAST) findings.push(`${stop.screen} (contrast only): "${c.text}" at ${c.ratio.toFixed(2)}:1`);
          if (stop.screen === 'home') await page.screenshot({ path: join(SCREENS, `mode-high-contrast.home.${orientation}.png`) });
          await tapControl(page, 'contrast');
          await page.waitForSelector('html:not(.high-contrast)');
        }
        expect(findings).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );
  }

  it('both modes end with the session: a ticket taken in large text and high contrast, Done, and the next citizen sees the normal page', async () => {
    await open();
    await tapControl(page, 'large-text');
    await tapControl(page, 'contrast');
    await page.waitForSelector('html.large-text.high-contrast');
    await tapControl(page, 'service-prestacoes');
    await waitForScreen(page, 'ticket');
    expect(await page.getAttribute('html', 'class')).toContain('large-text');
    await tapControl(page, 'home');
    await waitForScreen(page, 'home');
    await page.waitForSelector('html:not(.large-text):not(.high-contrast)');
  }, TEST_TIMEOUT_MS);

  it('every service has a symbol beside its name, each service its own, hidden from screen readers (the name says it)', async () => {
    await open();
    const symbols = await page.locator('main .big[data-focus-key^="service-"]').evaluateAll((els) =>
      els.map((e) => {
        const svg = e.querySelector('svg.symbol');
        return { cls: svg?.getAttribute('class') ?? '', hidden: svg?.getAttribute('aria-hidden') ?? '', name: e.querySelector('.name')?.textContent ?? '' };
      }),
    );
    expect(symbols.length).toBe(3);
    expect(new Set(symbols.map((s) => s.cls)).size).toBe(3);
    for (const s of symbols) expect(s).toMatchObject({ hidden: 'true', name: expect.stringMatching(/\S/) });
  }, TEST_TIMEOUT_MS);

  it('the warning before an idle return home shows with its countdown and sounds a tone; a touch gives more time', async () => {
    await open();
    sim.controller.ui.setTimings({ idleMs: 12_000, warningMs: 10_000 });
    await tapControl(page, 'priority');
    await waitForScreen(page, 'priority');
    await page.waitForSelector('#warning:not([hidden])', { timeout: 5_000 });
    expect(await page.locator('#warning').innerText()).toMatch(/Ainda está aí\?[\s\S]*10 segundos/);
    expect(Number(await page.getAttribute('body', 'data-tones'))).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: join(SCREENS, `mode-warning.priority.portrait.png`) });
    await page.tap('main h1'); // any touch
    await page.waitForSelector('#warning[hidden]', { state: 'attached', timeout: 5_000 });
    expect(await page.getAttribute('body', 'data-screen')).toBe('priority');
  }, TEST_TIMEOUT_MS);
});
