/**
 * What speech mode says on every screen, in both languages, as text files a person can
 * read (test/snapshots/spoken.<lang>.txt). It is built from the same blocks the page
 * renders, so these files are also the screens' words; a change to either shows here.
 */
import { describe, expect, it } from 'vitest';
import { LANGUAGES, UI_SCREENS, type Language, type UiScreen } from '../src/machines/kioskUiMachine.js';
import { ALTERNATIVES, type UiView } from '../src/ui/kioskUi.js';
import { choicesOf, screenContent, spokenChoice, spokenScreen, type ContentInput } from '../src/ui/screenContent.js';

function viewOf(screen: UiScreen, language: Language): ContentInput {
  const base: ContentInput = {
    screen,
    language,
    kiosk: { id: 'lisboa-01-k1', site: 'lisboa-01' },
    status: { open: true, printer: 'ready', deposits: true, upstream: true },
    services: [
      { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' }, waiting: 3, estimatedWaitMin: 20, open: true, online: true },
      { id: 'contribuicoes', prefix: 'C', name: { 'pt-PT': 'Contribuições', en: 'Contributions' }, waiting: 1, estimatedWaitMin: 5, open: false, online: false },
    ],
    hours: { 'pt-PT': ['segunda a sexta: 09:00–16:00'], en: ['Monday to Friday: 09:00–16:00'] },
    nextOpening: null,
    ticket: null,
    entry: { code: '', error: null },
    checkedIn: null,
    comeBackAt: null,
    deposit: null,
    notice: null,
    alternatives: ALTERNATIVES,
    technicianKey: false,
    a11y: { speech: true, largeText: false, highContrast: false, volume: 5, headset: true },
    warning: null,
  };
  const serviceName = { 'pt-PT': 'Prestações', en: 'Benefits' };
  switch (screen) {
    case 'ticket':
      return { ...base, ticket: { ticket: 'P042', service: 'prestacoes', priority: true, peopleAhead: 3, offline: true, estimatedWaitMin: 20, likelyNotServedBeforeClosing: true, serviceName } };
    case 'appointment':
      return { ...base, entry: { code: 'AB-12', error: 'unknown_appointment' } };
    case 'appointmentDone':
      return { ...base, checkedIn: { ticket: 'A007', service: 'prestacoes', peopleAhead: 0, offline: false, provisional: false, estimatedWaitMin: null, serviceName } };
    case 'appointmentEarly':
      return { ...base, comeBackAt: { 'pt-PT': '14:30', en: '14:30' } };
    case 'depositWaiting':
    case 'depositThanks':
    case 'depositVoided':
      return { ...base, deposit: { receipt: 'R-0042', secondsLeft: 95 } };
    case 'notice':
      return { ...base, notice: 'printer' };
    case 'closed':
      return { ...base, status: { ...base.status, open: false }, nextOpening: { 'pt-PT': 'amanhã às 09:00', en: 'tomorrow at 09:00' } };
    case 'outOfService':
      return { ...base, status: { ...base.status, printer: 'fault' } };
    default:
      return base;
  }
}

function spokenReport(language: Language): string {
  const lines: string[] = [`# What speech mode says on each screen (${language})`, ''];
  for (const screen of UI_SCREENS) {
    const content = screenContent(viewOf(screen, language));
    lines.push(`## ${screen}`, '', spokenScreen(content, null), '');
    const choices = choicesOf(content);
    if (choices.length) {
      lines.push('Choices, as heard when focused (arrow keys):');
      for (const c of choices) lines.push(`- ${spokenChoice(c, language)}`);
      lines.push('');
    }
  }
  const warned = screenContent({ ...viewOf('ticket', language), warning: { ms: 15_000 } });
  lines.push('## warning before an idle return home', '', `${warned.warning!.title} ${warned.warning!.text}`, '');
  return lines.join('\n');
}

describe('spoken text of every screen', () => {
  for (const language of LANGUAGES) {
    it(`every screen in ${language} is spoken from the page's own words (readable snapshot)`, async () => {
      await expect(spokenReport(language)).toMatchFileSnapshot(`snapshots/spoken.${language}.txt`);
    });
  }

  it('a ticket is spoken whole: number spelled out, service, people ahead, estimated wait and every warning printed on it', () => {
    const content = screenContent(viewOf('ticket', 'en'));
    const said = spokenScreen(content, null);
    expect(said).toContain('Priority ticket: P 0 4 2. Benefits.');
    expect(said).toContain('3 people ahead of you');
    expect(said).toContain('Estimated wait: 15 to 25 minutes'); // the range printed on the paper
    expect(said).toContain('you will probably not be served before closing time');
    expect(said).toContain('Ticket issued without a connection to the central system');
    expect(said).toContain('Segurança Social Direta');
    const pt = spokenScreen(screenContent(viewOf('ticket', 'pt-PT')), null);
    expect(pt).toContain('Senha prioritária: P 0 4 2. Prestações.');
  });

  it('what is spoken is exactly the text the page shows (no second copy): every text block is in the speech', () => {
    for (const language of LANGUAGES) {
      for (const screen of UI_SCREENS) {
        const content = screenContent(viewOf(screen, language));
        const said = spokenScreen(content, null);
        for (const b of content.blocks) {
          if (b.kind === 'title' || b.kind === 'text' || b.kind === 'heading' || b.kind === 'receipt') expect(said, `${screen} ${language}`).toContain(b.text);
        }
      }
    }
  });

  it('a disabled choice says it is unavailable, a toggle says whether it is on', () => {
    const content = screenContent(viewOf('home', 'pt-PT'));
    const closed = choicesOf(content).find((c) => c.key === 'service-contribuicoes')!;
    expect(spokenChoice(closed, 'pt-PT')).toBe('Contribuições. Já não emite senhas hoje. indisponível');
    const large = choicesOf(content).find((c) => c.key === 'large-text')!;
    expect(spokenChoice(large, 'pt-PT')).toBe('Letra grande. desligado');
  });
});

// UiView is the type these fixtures stand for (minus what the controller adds).
export type _Fixture = Omit<UiView, 'rev' | 'content' | 'focus'>;
