/**
 * What each screen says, as plain blocks built from the view and SCREEN_TEXTS: the page
 * renders these blocks (it has no words of its own) and speech reads the very same blocks
 * (`spokenScreen`), so what is heard can never drift from what is shown. Pure.
 */
import { TICKET_TEXTS } from '../../devices/printer/ticketTexts.js';
import { waitRange } from '../tickets/ticketContent.js';
import { VOLUME_STEPS, type Language, type UiScreen, type UiTapEvent } from '../machines/kioskUiMachine.js';
import type { UiView } from './kioskUi.js';
import { SCREEN_TEXTS, type ScreenTexts } from './screenTexts.js';

/** The shapes drawn beside service names (inline SVG on the page), one per service in order. */
export const SERVICE_SYMBOLS = ['circle', 'square', 'triangle', 'diamond', 'hexagon', 'star'] as const;
export type ServiceSymbol = (typeof SERVICE_SYMBOLS)[number];

export type ChoiceStyle = 'service' | 'priority-service' | 'priority' | 'appointment' | 'deposit' | 'main' | 'secondary' | 'key' | 'tool' | 'language';

export interface Choice {
  /** Stable name of the control on this screen (the page's data-focus-key). */
  key: string;
  event: UiTapEvent;
  label: string;
  sub?: string;
  style: ChoiceStyle;
  disabled?: boolean;
  symbol?: ServiceSymbol;
  /** A toggle's state (large text, high contrast). */
  pressed?: boolean;
  /** The label's own language (the language button is in the other language). */
  lang?: Language;
}

export type Block =
  | { kind: 'title'; text: string }
  | { kind: 'heading'; text: string }
  | { kind: 'text'; text: string; tone: 'plain' | 'note' | 'error' | 'status' | 'alert' }
  | { kind: 'list'; items: string[]; ordered: boolean; variant?: 'hours' }
  | { kind: 'ticket'; label: string; number: string; service: string; lines: string[] }
  | { kind: 'receipt'; text: string }
  | { kind: 'code'; label: string; value: string; spoken: string }
  | { kind: 'busy'; text: string }
  /** Changes every second: shown, not spoken (the warning before the limit is). */
  | { kind: 'countdown'; text: string }
  | { kind: 'choices'; layout: 'grid' | 'actions' | 'keypad'; choices: Choice[] };

export interface ScreenContent {
  screen: UiScreen;
  language: Language;
  brand: string;
  blocks: Block[];
  /** On every screen: language, large text, high contrast, Help. */
  toolbar: Choice[];
  toolbarLabel: string;
  /** Shown when the page loses the controller's stream. */
  lost: string;
  /** The warning before an idle return home, while it shows. */
  warning: { title: string; text: string; seconds: number } | null;
}

/** The view's fields the content is built from. */
export type ContentInput = Omit<UiView, 'rev' | 'content' | 'focus'>;

const KEYPAD_KEYS = '1234567890QWERTYUIOPASDFGHJKL-ZXCVBNM'.split('');

export function screenContent(v: ContentInput): ScreenContent {
  const t = SCREEN_TEXTS[v.language];
  const build = SCREENS[v.screen] ?? SCREENS.home;
  return {
    screen: v.screen,
    language: v.language,
    brand: t.brand,
    blocks: build(t, v),
    toolbar: toolbar(t, v),
    toolbarLabel: t.toolbar,
    lost: t.lost,
    warning: v.warning ? { title: t.warningTitle, text: t.warningText(Math.ceil(v.warning.ms / 1000)), seconds: Math.ceil(v.warning.ms / 1000) } : null,
  };
}

/** Every choice of the screen in the order the arrow keys go through them: the screen's, then the toolbar's. */
export function choicesOf(content: ScreenContent): Choice[] {
  const own = content.blocks.flatMap((b) => (b.kind === 'choices' ? b.choices : []));
  return [...own, ...content.toolbar];
}

// ------------------------------------------------------------------ speech

/**
 * A number or code spelled out, so "P042" is heard as "P 0 4 2", not "P forty-two". Marks
 * that are not letters, digits or dashes (central's "*" on a priority number) are not read
 * out: the priority is said in words.
 */
export function spelled(code: string): string {
  return code
    .split('')
    .filter((ch) => /[\p{L}\p{N}-]/u.test(ch))
    .join(' ');
}

/** What a choice says when it takes focus: its name, what it leads to, and whether it is off. */
export function spokenChoice(choice: Choice, language: Language): string {
  const t = SCREEN_TEXTS[language];
  const parts = [choice.label];
  // The page's "·" separates two facts; heard, each is a sentence.
  if (choice.sub) parts.push(...choice.sub.split(' · '));
  if (choice.pressed !== undefined) parts.push(choice.pressed ? t.on : t.off);
  if (choice.disabled) parts.push(t.disabled);
  return parts.join('. ');
}

/** The screen's text as heard, block by block: everything shown except the choices (heard as focus moves) and countdowns. */
export function spokenBlocks(content: ScreenContent): string[] {
  const out: string[] = [];
  for (const b of content.blocks) {
    switch (b.kind) {
      case 'title':
      case 'heading':
      case 'text':
      case 'receipt':
        out.push(b.text);
        break;
      case 'busy':
        // The busy screens' title says the same: heard once.
        if (!out.includes(b.text)) out.push(b.text);
        break;
      case 'list':
        out.push(...b.items);
        break;
      case 'ticket':
        out.push(`${b.label}: ${spelled(b.number)}. ${b.service}.`, ...b.lines);
        break;
      case 'code':
        out.push(b.spoken);
        break;
      case 'countdown':
      case 'choices':
        break;
    }
  }
  return out;
}

/** A whole screen as heard when it appears: its text, then the focused choice or how to find the choices. */
export function spokenScreen(content: ScreenContent, focused: Choice | null): string {
  const t = SCREEN_TEXTS[content.language];
  const parts = spokenBlocks(content);
  const hasChoices = choicesOf(content).some((c) => c.style !== 'tool' && c.style !== 'language');
  if (focused) parts.push(spokenChoice(focused, content.language));
  else if (hasChoices) parts.push(t.choicesHint);
  return joinSentences(parts);
}

export function joinSentences(parts: string[]): string {
  return parts
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => (/[.!?:;…]$/.test(p) ? p : `${p}.`))
    .join(' ');
}

export function spokenVolume(step: number, language: Language): string {
  return SCREEN_TEXTS[language].volume(step, VOLUME_STEPS);
}

// ------------------------------------------------------------------ screens

type Build = (t: ScreenTexts, v: ContentInput) => Block[];

function title(text: string): Block {
  return { kind: 'title', text };
}
function text(textValue: string, tone: Extract<Block, { kind: 'text' }>['tone'] = 'plain'): Block {
  return { kind: 'text', text: textValue, tone };
}
function actions(...choices: Choice[]): Block {
  return { kind: 'choices', layout: 'actions', choices };
}
function homeChoice(t: ScreenTexts, label?: string): Choice {
  return { key: 'home', event: { type: 'HOME' }, label: label ?? t.done, style: 'main' };
}
function backChoice(t: ScreenTexts): Choice {
  return { key: 'back', event: { type: 'BACK' }, label: t.back, style: 'secondary' };
}

function alternatives(t: ScreenTexts, v: ContentInput): Block[] {
  return [{ kind: 'heading', text: t.altTitle }, { kind: 'list', ordered: false, items: [t.altOnline(v.alternatives), t.altPhone(v.alternatives)] }];
}

function hours(t: ScreenTexts, v: ContentInput): Block[] {
  return [{ kind: 'heading', text: t.hoursTitle }, { kind: 'list', ordered: false, variant: 'hours', items: v.hours[v.language] ?? [] }];
}

function serviceChoices(t: ScreenTexts, v: ContentInput, priority: boolean): Block {
  return {
    kind: 'choices',
    layout: 'grid',
    choices: v.services.map((s, i) => ({
      key: `service-${s.id}`,
      event: { type: 'ISSUE', service: s.id },
      label: s.name[v.language] || s.name['pt-PT'],
      sub: s.open ? `${t.ticketPrefix(s.prefix)} · ${t.waiting(s.waiting)}` : t.serviceClosed,
      style: priority ? 'priority-service' : 'service',
      disabled: !s.open,
      symbol: SERVICE_SYMBOLS[i % SERVICE_SYMBOLS.length],
    })),
  };
}

/** The lines a ticket carries besides its number and service, as printed (TICKET_TEXTS) in the screen's language. */
function ticketLines(t: ScreenTexts, v: ContentInput, k: { peopleAhead: number | null; estimatedWaitMin?: number | null; offline: boolean; service: string; likelyNotServedBeforeClosing?: boolean }): string[] {
  const printed = TICKET_TEXTS[v.language];
  const lines = [t.ahead(k.peopleAhead)];
  // The same range the paper prints (waitRange), not central's bare estimate.
  if (k.estimatedWaitMin !== undefined) lines.push(t.estimatedWait(waitRange(k.estimatedWaitMin)));
  if (k.likelyNotServedBeforeClosing) lines.push(printed.likelyNotServedBeforeClosing);
  if (k.offline) lines.push(printed.offlineExplanation);
  if (v.services.find((s) => s.id === k.service)?.online) lines.push(printed.onlineHint);
  return lines;
}

function busy(textValue: string): Block[] {
  return [title(textValue), { kind: 'busy', text: textValue }];
}

const SCREENS: Record<UiScreen, Build> = {
  home(t, v) {
    return [
      title(t.homeTitle),
      serviceChoices(t, v, false),
      { kind: 'heading', text: t.otherOptions },
      {
        kind: 'choices',
        layout: 'grid',
        choices: [
          { key: 'priority', event: { type: 'PRIORITY' }, label: t.priority, sub: t.prioritySub, style: 'priority' },
          { key: 'appointment', event: { type: 'APPOINTMENT' }, label: t.appointment, sub: t.appointmentSub, style: 'appointment' },
          { key: 'deposit', event: { type: 'DEPOSIT' }, label: t.deposit, sub: v.status.deposits ? t.depositSub : t.depositOff, style: 'deposit', disabled: !v.status.deposits },
        ],
      },
    ];
  },
  priority(t, v) {
    return [
      title(t.priorityTitle),
      text(t.priorityIntro),
      { kind: 'list', ordered: false, items: t.priorityWho },
      text(t.priorityProof, 'note'),
      { kind: 'heading', text: t.priorityChoose },
      serviceChoices(t, v, true),
      actions(backChoice(t)),
    ];
  },
  issuing: (t) => busy(t.issuing),
  ticket(t, v) {
    const k = v.ticket;
    if (!k) return [title(t.ticketTitle)];
    return [
      title(t.ticketTitle),
      { kind: 'ticket', label: k.priority ? t.priorityTicket : t.ticketLabel, number: k.ticket, service: k.serviceName[v.language], lines: ticketLines(t, v, k) },
      ...(k.offline ? [text(t.offline, 'note')] : []),
      actions(homeChoice(t)),
    ];
  },
  appointment(t, v) {
    return [
      title(t.appointmentTitle),
      text(t.appointmentHelp),
      ...(v.entry.error ? [text(t.entryErrors[v.entry.error], 'alert')] : []),
      { kind: 'code', label: t.codeLabel, value: v.entry.code || t.codeEmpty, spoken: t.codeSpoken(v.entry.code) },
      { kind: 'choices', layout: 'keypad', choices: KEYPAD_KEYS.map((k) => ({ key: `key-${k}`, event: { type: 'KEY', key: k }, label: k, style: 'key' })) },
      actions(
        { key: 'submit', event: { type: 'SUBMIT' }, label: t.submit, style: 'main' },
        { key: 'erase', event: { type: 'ERASE' }, label: t.erase, style: 'secondary' },
        backChoice(t),
      ),
    ];
  },
  checkingIn: (t) => busy(t.checkingIn),
  appointmentDone(t, v) {
    const c = v.checkedIn;
    if (!c) return [title(t.checkedInTitle)];
    return [
      title(t.checkedInTitle),
      { kind: 'ticket', label: t.ticketLabel, number: c.ticket, service: c.serviceName[v.language] || t.appointmentTitle, lines: ticketLines(t, v, c) },
      ...(c.provisional || c.offline ? [text(t.provisional, 'note')] : []),
      actions(homeChoice(t)),
    ];
  },
  appointmentEarly: (t, v) => [title(t.earlyTitle), text(t.earlyText(v.comeBackAt ? v.comeBackAt[v.language] : null), 'status'), actions(homeChoice(t))],
  appointmentLate: (t) => [title(t.lateTitle), text(t.lateText, 'status'), actions(homeChoice(t, t.takeNormal))],
  deposit: (t) => [
    title(t.depositTitle),
    { kind: 'list', ordered: true, items: t.depositSteps },
    actions({ key: 'confirm', event: { type: 'CONFIRM' }, label: t.printReceipt, style: 'main' }, backChoice(t)),
  ],
  depositStarting: (t) => busy(t.depositStarting),
  depositWaiting(t, v) {
    const d = v.deposit;
    return [
      title(t.depositWaitingTitle),
      { kind: 'receipt', text: t.receipt(d?.receipt ?? '') },
      { kind: 'countdown', text: t.secondsLeft(d?.secondsLeft ?? null) },
      actions({ key: 'cancel', event: { type: 'CANCEL' }, label: t.cancel, style: 'secondary' }),
    ];
  },
  depositCancelling: (t) => busy(t.cancelling),
  depositAbandoned: (t) => busy(t.cancelling),
  depositThanks: (t, v) => [title(t.thanksTitle), text(t.thanksText(v.deposit?.receipt ?? ''), 'status'), actions(homeChoice(t))],
  depositVoided: (t, v) => [title(t.voidedTitle), text(t.voidedText(v.deposit?.receipt ?? ''), 'status'), actions(homeChoice(t))],
  depositFull: (t, v) => [title(t.fullTitle), text(t.fullText, 'alert'), ...alternatives(t, v), actions(homeChoice(t))],
  notice: (t, v) => [title(t.noticeTitle), text(t.notices[v.notice ?? 'unavailable'] ?? t.notices.unavailable, 'alert'), actions(homeChoice(t))],
  closed: (t, v) => [
    title(t.closedTitle),
    ...(v.nextOpening ? [text(t.nextOpening(v.nextOpening[v.language]), 'status')] : []),
    ...hours(t, v),
    ...alternatives(t, v),
  ],
  outOfService(t, v) {
    if (v.status.printer === 'starting') return [title(t.startingTitle), text(t.startingText, 'status')];
    return [title(t.outTitle), text(t.outText, 'alert'), ...hours(t, v), ...alternatives(t, v)];
  },
};

function toolbar(t: ScreenTexts, v: ContentInput): Choice[] {
  return [
    { key: 'language', event: { type: 'LANGUAGE', language: t.otherLanguageLang }, label: t.otherLanguage, style: 'language', lang: t.otherLanguageLang },
    { key: 'large-text', event: { type: 'LARGE_TEXT' }, label: t.largeText, style: 'tool', pressed: v.a11y.largeText },
    { key: 'contrast', event: { type: 'CONTRAST' }, label: t.highContrast, style: 'tool', pressed: v.a11y.highContrast },
    { key: 'help', event: { type: 'HELP' }, label: t.help, style: 'tool' },
  ];
}
