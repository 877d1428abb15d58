/**
 * The accessible kiosk end to end (CONTRACT §7, issue #11 "done when"): in Debian's Chromium
 * against the simulated kiosk, a citizen who cannot see the screen plugs a headset in (real
 * evdev records through the sim's FIFO) and, with the keypad alone, takes a ticket, a
 * priority ticket, checks in an appointment by typing its code and drops an envelope, in
 * Portuguese and in English. What they hear is read back from the utterance files
 * (NNNNNN.json, written after each WAV): every text the screen shows, and the ticket's number,
 * service and people ahead as printed. Also: Help (F1) asks staff to come, F2 repeats, a flood
 * of keys leaves the last choice heard, the focus the controller holds is the page's focus.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_UI_TIMINGS, type Language, type UiScreen } from '../src/machines/kioskUiMachine.js';
import { spelled } from '../src/ui/screenContent.js';
import { readUtterances, startKioskSim, type KioskSim } from '../sim/kioskSim.js';
import { launchChromium, openKioskPage, waitForCode, waitForScreen, waitUntilServing } from '../scripts/refresh-screens.js';
import { waitFor } from './support/waitFor.js';

const FLOW_TIMEOUT_MS = 60_000;
/** More presses than any screen has choices (the appointment keypad has 37 keys + 7 others). */
const MAX_PRESSES = 60;

let sim: KioskSim;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [sim, browser] = await Promise.all([startKioskSim({ httpPort: 0 }), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await sim?.stop();
});

beforeEach(async () => {
  sim.controller.ui.setTimings(DEFAULT_UI_TIMINGS);
  page = await openKioskPage(browser, sim.controller.url);
  await waitUntilServing(sim, page);
});

afterEach(async () => {
  if (sim.headset.plugged()) await sim.headset.unplug();
  await page.close();
  sim.controller.ui.tap({ type: 'HOME' });
});

function lastUtterance(): number {
  return readUtterances(sim.speechDir).at(-1)?.n ?? 0;
}

/** The first utterance after `after` on `screen` (waits for its JSON, i.e. its complete WAV). */
async function heard(screen: UiScreen, after: number): Promise<{ n: number; text: string; lang: string }> {
  let found: { n: number; text: string; lang: string } | undefined;
  await waitFor(
    () => {
      found = readUtterances(sim.speechDir, after).find((u) => u.screen === screen);
      return found !== undefined;
    },
    `an utterance on ${screen} after #${after}`,
    10_000,
  );
  return found!;
}

/** Presses ArrowDown until the controller's focus (and the page's) is on `key`; returns the presses. */
async function arrowTo(key: string): Promise<number> {
  for (let i = 1; i <= MAX_PRESSES; i++) {
    const before = (await page.getAttribute('body', 'data-focus')) ?? '';
    await page.keyboard.press('ArrowDown');
    await page.waitForSelector(`body:not([data-focus="${before}"])`, { timeout: 5_000 });
    if ((await page.getAttribute('body', 'data-focus')) === key) {
      // The controller's focus is the page's focused element (CONTRACT §7).
      await page.waitForSelector(`[data-focus-key="${key}"]:focus`, { timeout: 5_000 });
      return i;
    }
  }
  throw new Error(`focus never reached ${key}`);
}

async function choose(key: string): Promise<void> {
  await arrowTo(key);
  await page.keyboard.press('Enter');
}

/** Every text the screen shows (title, paragraphs, list items, ticket lines), as the page has it. */
async function shownTexts(): Promise<string[]> {
  return page
    .locator('main h1, main h2, main p:not(.sr-only):not([aria-live="off"]), main li, main output')
    .allInnerTexts()
    .then((texts) => texts.map((t) => t.replace(/\s+/g, ' ').trim()).filter((t) => t.length > 0));
}

/** What was heard holds every text shown (numbers and codes are heard spelled out). */
async function expectHeardAllShown(text: string): Promise<void> {
  const squash = (s: string): string => s.replace(/[^\p{L}\p{N}]/gu, '').toLowerCase();
  const texts = await shownTexts();
  expect(texts.length).toBeGreaterThan(1);
  for (const shown of texts) {
    if (shown === '—') continue; // an empty code field: heard as "empty"
    expect(squash(text), `heard "${text}" lacks the shown "${shown}"`).toContain(squash(shown));
  }
}

async function plugHeadsetAndListen(language: Language): Promise<number> {
  const before = lastUtterance();
  await sim.headset.plug();
  await page.waitForSelector('body[data-speech="on"]');
  const opening = await heard('home', before);
  // Every session starts in the kiosk's language, with the keys explained.
  expect(opening.text).toContain('Bem-vindo');
  expect(opening.text).toContain('Use as setas');
  await useLanguageByKeys(language);
  return lastUtterance();
}

/** The language button, reached and pressed with the keypad; the home screen is then heard in it. */
async function useLanguageByKeys(language: Language): Promise<void> {
  if ((await page.getAttribute('html', 'lang')) === language) return;
  const mark = lastUtterance();
  await choose('language');
  await page.waitForSelector(`html[lang="${language}"]`);
  await waitFor(() => readUtterances(sim.speechDir, mark).some((u) => u.lang === language && u.screen === 'home'), `home heard in ${language}`);
}

function printedLines(index: number): string[] {
  const job = sim.printer.jobs[index];
  if (!job) throw new Error(`no print job #${index + 1}`);
  return job.document.lines.map((l) => l.text.trim());
}

async function ticketHeard(screen: 'ticket' | 'appointmentDone', after: number, jobIndex: number): Promise<string> {
  await waitForScreen(page, screen);
  const u = await heard(screen, after);
  const number = (await page.locator('.ticket .number').innerText()).trim();
  expect(u.text).toContain(spelled(number));
  await expectHeardAllShown(u.text);
  // What the paper says is heard too: the number and the people ahead printed on it.
  await sim.printer.waitForJobs(jobIndex + 1);
  const paper = printedLines(jobIndex);
  expect(paper).toContain(number);
  const ahead = paper.find((l) => /^(Pessoas à sua frente|People ahead of you)/.test(l));
  if (ahead) expect(u.text).toContain(ahead.replace(/\D+/g, ' ').trim().split(' ')[0]!);
  return u.text;
}

describe('keypad and headset alone, in Chromium', () => {
  for (const language of ['pt-PT', 'en'] as const) {
    it(
      `${language}: a ticket, a priority ticket, an appointment typed on the keypad and an envelope, everything on screen heard`,
      async () => {
        let mark = await plugHeadsetAndListen(language);
        const words = language === 'en' ? { priority: 'Priority ticket', thanks: 'Documents received' } : { priority: 'Senha prioritária', thanks: 'Documentos recebidos' };

        // 1. A ticket.
        let jobs = sim.printer.jobs.length;
        await choose('service-prestacoes');
        const ticket = await ticketHeard('ticket', mark, jobs);
        expect(ticket).toContain(language === 'en' ? 'Benefits' : 'Prestações');
        mark = lastUtterance();
        await choose('home'); // "Done": the session ends, the headset is still in: speech again
        await waitForScreen(page, 'home');
        await useLanguageByKeys(language);

        // 2. A priority ticket.
        mark = lastUtterance();
        await choose('priority');
        await waitForScreen(page, 'priority');
        const explained = await heard('priority', mark);
        await expectHeardAllShown(explained.text);
        mark = lastUtterance();
        jobs = sim.printer.jobs.length;
        await choose('service-contribuicoes');
        expect(await ticketHeard('ticket', mark, jobs)).toContain(words.priority);
        mark = lastUtterance();
        await page.keyboard.press('Escape'); // Escape leaves the ticket screen too
        await waitForScreen(page, 'home');
        await useLanguageByKeys(language);

        // 3. An appointment, its code typed on the keypad.
        const code = `KEY-${language === 'en' ? 'E' : 'P'}${process.pid % 1000}`;
        sim.central.addAppointment({ code, service: 'prestacoes', at: new Date(Date.now() + 5 * 60_000) });
        mark = lastUtterance();
        await choose('appointment');
        await waitForScreen(page, 'appointment');
        await expectHeardAllShown((await heard('appointment', mark)).text);
        await page.keyboard.type(code);
        await waitForCode(page, code);
        await waitFor(() => readUtterances(sim.speechDir, mark).some((u) => u.text.includes(code.split('').join(' '))), 'the code typed heard back, spelled');
        mark = lastUtterance();
        jobs = sim.printer.jobs.length;
        await page.keyboard.press('Enter'); // no choice focused: Enter confirms the code
        await ticketHeard('appointmentDone', mark, jobs);
        await page.keyboard.press('Escape');
        await waitForScreen(page, 'home');
        await useLanguageByKeys(language);

        // 4. An envelope.
        mark = lastUtterance();
        await choose('deposit');
        await waitForScreen(page, 'deposit');
        await expectHeardAllShown((await heard('deposit', mark)).text);
        mark = lastUtterance();
        await choose('confirm');
        await waitForScreen(page, 'depositWaiting');
        const waiting = await heard('depositWaiting', mark);
        const receipt = (await page.locator('main .receipt').innerText()).trim();
        expect(waiting.text).toContain(receipt);
        mark = lastUtterance();
        sim.board.sim.drop(1);
        await waitForScreen(page, 'depositThanks');
        const thanks = await heard('depositThanks', mark);
        expect(thanks.text).toContain(words.thanks);
        await expectHeardAllShown(thanks.text);
        for (const u of readUtterances(sim.speechDir).slice(-3)) expect(u.lang).toBe(language);
      },
      FLOW_TIMEOUT_MS * 2,
    );
  }

  it(
    'F1 asks staff to come (kiosk.help_requested with screen and language), starts speech and explains the keys; F2 repeats',
    async () => {
      await page.keyboard.press('ArrowDown'); // a first key: the page has focus
      const mark = lastUtterance();
      await page.keyboard.press('F1');
      await page.waitForSelector('body[data-speech="on"]');
      const help = await heard('home', mark);
      expect(help.text).toContain('Pedimos a um funcionário');
      expect(help.text).toContain('Use as setas');
      await waitFor(() => sim.central.events().some((e) => e.type === 'kiosk.help_requested'), 'help request at central');
      const event = sim.central.events().filter((e) => e.type === 'kiosk.help_requested').at(-1)!;
      expect(event.data).toEqual({ screen: 'home', language: 'pt-PT' });
      const before = lastUtterance();
      await page.keyboard.press('F2');
      await waitFor(() => lastUtterance() > before, 'a repeat');
      expect(readUtterances(sim.speechDir, before)[0]!.text).toBe(readUtterances(sim.speechDir, mark).at(-1)!.text);
      // Speech ends with the session.
      await page.keyboard.press('ArrowUp');
      await page.waitForSelector('body[data-focus="help"]');
      sim.controller.ui.tap({ type: 'HOME' });
    },
    FLOW_TIMEOUT_MS,
  );

  it(
    'a flood of arrow presses: speech keeps up, the last choice is what is heard last, and nothing queues',
    async () => {
      await sim.headset.plug();
      await page.waitForSelector('body[data-speech="on"]');
      const mark = lastUtterance();
      const presses = 25;
      for (let i = 0; i < presses; i++) await page.keyboard.press('ArrowDown', { delay: 0 });
      // The controller has had every press once its answers stop changing the focus.
      let settled = '';
      await waitFor(async () => {
        const now = `${await page.getAttribute('body', 'data-focus')}|${lastUtterance()}`;
        const same = now === settled;
        settled = now;
        return same;
      }, 'the focus and speech settled', 10_000, 400);
      const focus = await page.getAttribute('body', 'data-focus');
      const label = await page.locator(`[data-focus-key="${focus}"] .name, [data-focus-key="${focus}"]`).first().innerText();
      const after = readUtterances(sim.speechDir, mark);
      expect(after.length).toBeLessThanOrEqual(presses);
      expect(after.at(-1)!.text.split('.')[0]!.trim()).toBe(label.split('\n')[0]!.trim());
      await sim.headset.unplug();
    },
    FLOW_TIMEOUT_MS,
  );
});
