/**
 * The keypad and speech mode on the controller, without a browser: KioskUi's keys (focus
 * held by the controller, Enter, Escape, F1, volume, typing) and the narrator's rules (what
 * is said when, any key cuts, F2 repeats, the session's end silences) with a recording
 * Speech in place of espeak-ng.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KioskConfig } from '../src/config/schema.js';
import type { Speech, Utterance } from '../src/facades/speech.js';
import { silentLogger } from '../src/log.js';
import type { KioskUiBackend } from '../src/machines/kioskUiMachine.js';
import { KioskUi, type KioskUiSources } from '../src/ui/kioskUi.js';
import { Narrator } from '../src/ui/narrator.js';
import type { NewEvent } from '../src/upstream/events.js';
import { waitFor } from './support/waitFor.js';

const CONFIG = {
  kiosk: { id: 'k1', site: 's1', locale: 'pt-PT' },
  services: [
    { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' }, online: false },
    { id: 'contribuicoes', prefix: 'C', name: { 'pt-PT': 'Contribuições', en: 'Contributions' }, online: false },
  ],
  hours: undefined,
} as unknown as Pick<KioskConfig, 'kiosk' | 'services' | 'hours'>;

const SOURCES: KioskUiSources = {
  printer: () => 'ready',
  deposits: () => true,
  upstreamConnected: () => true,
  queues: () => null,
  technicianKey: () => false,
  watch: () => () => undefined,
};

const BACKEND: KioskUiBackend = {
  issueTicket: async (service) => ({ kind: 'issued', ticket: 'P042', service, peopleAhead: 2, offline: false, estimatedWaitMin: 10 }),
  checkIn: async () => ({ kind: 'not_accepted', reason: 'unknown_appointment' }),
  startDeposit: async () => ({ kind: 'box_full' }),
  watchDeposit: () => () => undefined,
  cancelDeposit: async () => undefined,
};

function recordingSpeech() {
  const said: Array<Utterance & { volume: number }> = [];
  let cuts = 0;
  const speech: Speech = {
    status: () => ({ output: 'dir', state: 'ready', faults: [], headset: 'none' }),
    onChange: () => () => undefined,
    say: async (u, volume) => {
      said.push({ ...u, volume });
      return 'spoken';
    },
    cut: () => {
      cuts++;
    },
    onAudio: () => () => undefined,
  };
  return { speech, said, cuts: () => cuts };
}

let ui: KioskUi | null = null;
let narrator: Narrator | null = null;
afterEach(() => {
  narrator?.stop();
  ui?.stop();
  ui = null;
  narrator = null;
});

function start() {
  const events: NewEvent[] = [];
  ui = new KioskUi({ config: CONFIG, backend: BACKEND, sources: SOURCES, log: silentLogger(), record: (e) => events.push(e), volume: 60 }).start();
  const rec = recordingSpeech();
  narrator = new Narrator({ ui, speech: rec.speech, log: silentLogger() }).start();
  return { ui, events, ...rec };
}

describe('keypad on the controller', () => {
  it('arrows move the focus through the enabled choices and the toolbar, wrapping; Enter chooses the focused one', async () => {
    const { ui } = start();
    expect(ui.view().focus).toBeNull();
    ui.key('ArrowDown');
    expect(ui.view().focus).toBe('service-prestacoes');
    ui.key('ArrowUp');
    ui.key('ArrowUp');
    expect(ui.view().focus).toBe('contrast'); // wrapped from the first to the last (help), then one up
    ui.key('ArrowRight');
    expect(ui.view().focus).toBe('help');
    ui.key('ArrowDown'); // past the last: back to the first
    expect(ui.view().focus).toBe('service-prestacoes');
    ui.key('Enter');
    await waitFor(() => ui.view().screen === 'ticket', 'the ticket');
    expect(ui.view().focus).toBeNull(); // a new screen: no focus carried over
  });

  it('Escape goes back (or home); on the appointment screen letters, digits and "-" type, Backspace erases, Enter with no focus submits', async () => {
    const { ui } = start();
    ui.tap({ type: 'APPOINTMENT' });
    for (const k of ['a', 'B', '-', '1']) ui.key(k);
    expect(ui.view().entry.code).toBe('AB-1');
    ui.key('Backspace');
    expect(ui.view().entry.code).toBe('AB-');
    ui.key('Enter');
    await waitFor(() => ui.view().entry.error === 'unknown_appointment', 'the refusal');
    ui.key('Escape');
    expect(ui.view().screen).toBe('home');
    expect(ui.key('a')).toMatchObject({ accepted: false }); // letters do nothing on home
  });

  it('keys meant for a screen that has gone are dropped; unknown keys are refused', () => {
    const { ui } = start();
    expect(ui.key('Enter', 'priority')).toMatchObject({ accepted: false, reason: 'stale_screen' });
    expect(ui.key('Delete')).toMatchObject({ accepted: false });
    expect(ui.key('<script>')).toMatchObject({ accepted: false });
  });

  it('F1 records kiosk.help_requested with the screen and language, and starts speech mode', () => {
    const { ui, events } = start();
    ui.tap({ type: 'LANGUAGE', language: 'en' });
    ui.tap({ type: 'PRIORITY' });
    ui.key('F1');
    expect(events).toEqual([{ type: 'kiosk.help_requested', data: { screen: 'priority', language: 'en' } }]);
    expect(ui.view().a11y.speech).toBe(true);
  });
});

describe('narrator', () => {
  it('says nothing until speech mode; then how it started, the keys and the screen; then each focused choice', () => {
    const { ui, said } = start();
    ui.key('ArrowDown');
    expect(said).toEqual([]);
    ui.headset(true);
    expect(said.at(-1)!.text).toMatch(/^Modo de voz ligado\. Use as setas.*Bem-vindo\. Escolha o assunto/);
    expect(said.at(-1)).toMatchObject({ lang: 'pt-PT', screen: 'home', volume: 5 });
    ui.key('ArrowDown');
    expect(said.at(-1)!.text).toContain('Contribuições. Senha C');
  });

  it('any key cuts what is being said; F2 says the last utterance again; the volume keys say the new volume at it', async () => {
    const { ui, said, cuts } = start();
    ui.headset(true);
    ui.key('F2'); // before the opening was heard whole: repeated as it was, not doubled
    expect(said.at(-1)!.text).toBe(said.at(-2)!.text);
    await new Promise((r) => setImmediate(r)); // the opening has now been heard to its end
    const before = cuts();
    ui.key('F2');
    expect(cuts()).toBe(before + 1);
    expect(said.at(-1)!.text).toBe(said.at(-2)!.text);
    ui.key('+');
    expect(said.at(-1)).toMatchObject({ text: 'Volume 7 de 10', volume: 6 });
    ui.key('AudioVolumeDown');
    ui.key('-');
    expect(said.at(-1)).toMatchObject({ text: 'Volume 5 de 10', volume: 4 });
  });

  it('a result on the same screen (a refusal) is said; the screen in English is said in English', async () => {
    const { ui, said } = start();
    ui.tap({ type: 'HELP' });
    ui.tap({ type: 'LANGUAGE', language: 'en' });
    expect(said.at(-1)).toMatchObject({ lang: 'en' });
    ui.tap({ type: 'APPOINTMENT' });
    ui.key('X');
    expect(said.at(-1)!.text).toContain('Appointment code: X');
    ui.key('Enter');
    await waitFor(() => said.some((u) => u.text.includes('We found no appointment with this code')), 'the refusal said');
  });

  it('the end of the session silences speech (Help-started speech ends; nothing more is said)', () => {
    const { ui, said, cuts } = start();
    ui.tap({ type: 'HELP' });
    ui.tap({ type: 'PRIORITY' });
    const n = said.length;
    const c = cuts();
    ui.tap({ type: 'HOME' }); // home via HOME does not end the session: speech goes on
    expect(said.length).toBe(n + 1);
    ui.tap({ type: 'ISSUE', service: 'prestacoes' });
    return waitFor(() => ui.view().screen === 'ticket', 'ticket').then(() => {
      ui.tap({ type: 'HOME' }); // Done on the ticket ends the session
      expect(ui.view().a11y.speech).toBe(false);
      expect(cuts()).toBeGreaterThan(c);
      const after = said.length;
      ui.key('ArrowDown');
      expect(said.length).toBe(after);
    });
  });
});

describe('narrator and toggles', () => {
  it('a toggle switched by keypad says its new state', () => {
    const { ui, said } = start();
    ui.tap({ type: 'HELP' });
    ui.key('ArrowUp'); // help
    ui.key('ArrowUp'); // contrast
    ui.key('ArrowUp'); // large text
    expect(said.at(-1)!.text).toMatch(/Letra grande\. desligado\.?$/);
    ui.key('Enter');
    expect(ui.view().a11y.largeText).toBe(true);
    expect(said.at(-1)!.text).toMatch(/Letra grande\. ligado\.?$/);
  });
});
