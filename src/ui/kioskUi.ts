/**
 * The touch UI on the controller's side: the screen-flow machine (kioskUiMachine) fed
 * with what the kiosk can serve right now (opening hours, printer, drop box, central's
 * queue state) and turned into one plain view the page renders. The page holds no flow
 * logic: it shows `view()` as pushed, and sends taps to `tap()`.
 *
 * Nothing personal is logged here: an appointment code lives only in the machine's
 * context until it is used, and in the view while the citizen types it.
 */
import { createActor, type Subscription } from 'xstate';
import type { NewEvent } from '../upstream/events.js';
import type { KioskConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { dateTimeFormat } from '../timeFormat.js';
import type { Dropbox } from '../facades/dropbox.js';
import type { Printer } from '../facades/printer.js';
import {
  LANGUAGES,
  createKioskUiMachine,
  screenOf,
  timeoutWarningOf,
  type CheckedIn,
  type EntryError,
  type IssuedTicket,
  type KioskUiActor,
  type KioskUiBackend,
  type Language,
  type NoticeReason,
  type UiScreen,
  type UiStatus,
  type UiTapEvent,
  type UiTimings,
} from '../machines/kioskUiMachine.js';
import { canIssueTicket, describeWeek, isOpen, nextOpening } from '../tickets/hours.js';
import { choicesOf, screenContent, type Choice, type ScreenContent } from './screenContent.js';
import type { QueueState, Upstream } from '../facades/upstream.js';

/** Opening hours change with the clock, not with an event: the status is re-read this often. */
export const UI_STATUS_REFRESH_MS = 5_000;
const DEFAULT_TIME_ZONE = 'Europe/Lisbon';

/** Where a citizen can go when the kiosk cannot serve them (shown on closed and out-of-service screens). */
export const ALTERNATIVES = {
  online: 'Segurança Social Direta',
  onlineAddress: 'www.seg-social.pt',
  phoneLine: 'Linha Segurança Social',
  phone: '300 502 502',
} as const;

type Localized = Record<Language, string>;

export interface UiServiceView {
  id: string;
  prefix: string;
  name: Localized;
  /** People waiting, from central's queue state; null when unknown or central is out of reach. */
  waiting: number | null;
  estimatedWaitMin: number | null;
  /** A ticket can be issued now (kiosk and service hours, cut-off). */
  open: boolean;
  /** Can also be done on Segurança Social Direta (said on the ticket). */
  online: boolean;
}

/** The session's accessibility, as the page and speech apply it. */
export interface UiAccessibility {
  speech: boolean;
  largeText: boolean;
  highContrast: boolean;
  volume: number;
  headset: boolean;
}

/** Everything the page shows, in both languages where it is text from the controller. */
export interface UiView {
  rev: number;
  screen: UiScreen;
  language: Language;
  kiosk: { id: string; site: string };
  status: UiStatus & { upstream: boolean };
  services: UiServiceView[];
  hours: Record<Language, string[]>;
  nextOpening: Localized | null;
  ticket: (IssuedTicket & { serviceName: Localized }) | null;
  entry: { code: string; error: EntryError | null };
  checkedIn: (CheckedIn & { serviceName: Localized }) | null;
  comeBackAt: Localized | null;
  deposit: { receipt: string; secondsLeft: number | null } | null;
  notice: NoticeReason | null;
  alternatives: typeof ALTERNATIVES;
  /** The board's technician key switch is on: the page opens the diagnostics (PIN first). */
  technicianKey: boolean;
  a11y: UiAccessibility;
  /** The warning before an idle return home, while it shows (its whole length). */
  warning: { ms: number } | null;
  /** The focus key of the choice under focus, held by the controller (CONTRACT §7). */
  focus: string | null;
  /** The screen's words and choices, built from SCREEN_TEXTS: what the page shows and speech says. */
  content: ScreenContent;
}

/** What the UI reads of the kiosk's devices; `kioskUiSources` builds it from the real ones. */
export interface KioskUiSources {
  printer(): UiStatus['printer'];
  deposits(): boolean;
  upstreamConnected(): boolean;
  queues(): QueueState | null;
  /** The drop-box board's technician key switch is turned on. */
  technicianKey(): boolean;
  /** Calls `onChange` whenever any of the above may have changed; returns an unsubscribe. */
  watch(onChange: () => void): () => void;
}

export interface ScanSource {
  onScan(listener: (scan: { code: string; valid: boolean }) => void): (() => void) | void;
}

export interface KioskUiOptions {
  config: Pick<KioskConfig, 'kiosk' | 'services' | 'hours'>;
  backend: KioskUiBackend;
  sources: KioskUiSources;
  scanner?: ScanSource | null;
  log: Logger;
  now?: () => Date;
  timings?: Partial<UiTimings>;
  /** Records a controller event (kiosk.help_requested); absent in tests that do not look. */
  record?: (event: NewEvent) => void;
  /** `accessibility.volume`, 0–100. */
  volume?: number;
}

/** The keypad's keys (CONTRACT §7), plus typing on the appointment screen. */
export const KEYPAD_KEY_PATTERN = /^(Arrow(Up|Down|Left|Right)|Enter|Escape|F1|F2|AudioVolume(Up|Down)|\+|-|Backspace|[A-Za-z0-9])$/;

export type TapResult = { accepted: boolean; screen: UiScreen; reason?: 'stale_screen' | 'not_here' };

export class KioskUi {
  private readonly actor: KioskUiActor;
  private readonly now: () => Date;
  private readonly listeners = new Set<(view: UiView) => void>();
  private readonly keyListeners = new Set<(key: string, view: UiView) => void>();
  private readonly cleanups: Array<() => void> = [];
  private lastJson = '';
  private lastStatusJson = '';
  private current: UiView;
  private rev = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A refresh asked for by a device change, run once after the current burst of changes. */
  private refreshSoon: NodeJS.Immediate | null = null;

  constructor(private readonly opts: KioskUiOptions) {
    this.now = opts.now ?? (() => new Date());
    const language: Language = opts.config.kiosk.locale === 'en' ? 'en' : 'pt-PT';
    this.actor = createActor(createKioskUiMachine(opts.backend), {
      input: {
        language,
        services: opts.config.services.map((s) => s.id),
        status: this.status(),
        ...(opts.timings ? { timings: opts.timings } : {}),
        ...(opts.volume !== undefined ? { volume: opts.volume } : {}),
      },
    });
    this.current = this.buildView();
  }

  start(): this {
    const sub: Subscription = this.actor.subscribe({
      next: () => this.publish(),
      error: (err) => this.opts.log.fatal({ err: (err as Error).message }, 'touch UI machine stopped on an error'),
    });
    this.cleanups.push(() => sub.unsubscribe());
    this.actor.start();
    // A ticket moves the printer machine through several states within a millisecond;
    // the screen needs the last of them, and the ticket should not wait for each.
    this.cleanups.push(
      this.opts.sources.watch(() => {
        this.refreshSoon ??= setImmediate(() => {
          this.refreshSoon = null;
          this.refresh();
        });
      }),
    );
    const unscan = this.opts.scanner?.onScan((scan) => {
      // The code itself is never logged (it identifies a citizen's appointment).
      this.opts.log.debug({ valid: scan.valid, length: scan.code.length }, 'scan received');
      this.actor.send({ type: 'SCAN', code: scan.code.trim().toUpperCase(), valid: scan.valid });
    });
    if (unscan) this.cleanups.push(unscan);
    this.timer = setInterval(() => this.refresh(), UI_STATUS_REFRESH_MS);
    this.timer.unref();
    this.refresh();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.refreshSoon) clearImmediate(this.refreshSoon);
    this.refreshSoon = null;
    for (const c of this.cleanups.splice(0)) c();
    this.actor.stop();
    this.listeners.clear();
  }

  view(): UiView {
    return this.current;
  }

  /** Called with every new view (not with repeats). Returns an unsubscribe. */
  subscribe(listener: (view: UiView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A tap from the page. `screen` is the screen the page showed when it was tapped: a tap
   * meant for a screen that has gone since (a double tap, a late render) is dropped.
   */
  tap(event: UiTapEvent, screen?: string): TapResult {
    const snapshot = this.actor.getSnapshot();
    const now = screenOf(snapshot);
    if (screen !== undefined && screen !== now) return { accepted: false, screen: now, reason: 'stale_screen' };
    // Any touch gives more time, even one the screen does not handle.
    if (event.type !== 'FOCUS') this.actor.send({ type: 'ACTIVITY' });
    if (!snapshot.can(event)) return { accepted: false, screen: now, reason: 'not_here' };
    if (event.type === 'HELP') this.recordHelp(snapshot.context.language, now);
    this.actor.send(event);
    // Help starts speech mode: the time limits it lengthens start again at their new length.
    if (event.type === 'HELP') this.actor.send({ type: 'ACTIVITY' });
    return { accepted: true, screen: screenOf(this.actor.getSnapshot()) };
  }

  /**
   * A key of the keypad (or keyboard), as the page saw it (CONTRACT §7): arrows move the
   * focus the controller holds, Enter chooses the focused choice, Escape goes back, F1 is
   * Help, volume keys change this session's volume. Listeners (speech) hear every key first:
   * any key cuts what is being said, F2 repeats it.
   */
  key(name: string, screen?: string): TapResult {
    const now = screenOf(this.actor.getSnapshot());
    if (!KEYPAD_KEY_PATTERN.test(name)) return { accepted: false, screen: now, reason: 'not_here' };
    for (const l of this.keyListeners) {
      try {
        l(name, this.current);
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'a key listener failed');
      }
    }
    if (screen !== undefined && screen !== now) return { accepted: false, screen: now, reason: 'stale_screen' };
    this.actor.send({ type: 'ACTIVITY' });
    const view = this.current;
    const choices = choicesOf(view.content).filter((c) => !c.disabled);
    const at = choices.findIndex((c) => c.key === view.focus);
    const typing = now === 'appointment';
    const focus = (c: Choice | undefined): TapResult => {
      if (c) this.actor.send({ type: 'FOCUS', key: c.key, screen: now });
      return { accepted: c !== undefined, screen: now };
    };
    switch (name) {
      case 'ArrowDown':
      case 'ArrowRight':
        return focus(choices[at < 0 ? 0 : (at + 1) % choices.length]);
      case 'ArrowUp':
      case 'ArrowLeft':
        return focus(choices[at < 0 ? choices.length - 1 : (at - 1 + choices.length) % choices.length]);
      case 'Enter': {
        const chosen = choices[at];
        if (chosen) return this.tap(chosen.event);
        return typing ? this.tap({ type: 'SUBMIT' }) : { accepted: false, screen: now, reason: 'not_here' };
      }
      case 'Escape':
        for (const event of [{ type: 'BACK' }, { type: 'CANCEL' }, { type: 'HOME' }] as const) {
          if (this.actor.getSnapshot().can(event)) return this.tap(event);
        }
        return { accepted: false, screen: now, reason: 'not_here' };
      case 'F1':
        return this.tap({ type: 'HELP' });
      case 'F2':
        return { accepted: true, screen: now };
      case 'AudioVolumeUp':
      case '+':
        return this.tap({ type: 'VOLUME', step: 1 });
      case 'AudioVolumeDown':
        return this.tap({ type: 'VOLUME', step: -1 });
      case '-':
        // A dash is part of some appointment codes: on that screen it types.
        return typing ? this.tap({ type: 'KEY', key: '-' }) : this.tap({ type: 'VOLUME', step: -1 });
      case 'Backspace':
        return typing ? this.tap({ type: 'ERASE' }) : { accepted: false, screen: now, reason: 'not_here' };
      default:
        return typing ? this.tap({ type: 'KEY', key: name.toUpperCase() }) : { accepted: false, screen: now, reason: 'not_here' };
    }
  }

  /** Called with every keypad key before it is handled (speech cuts and repeats here). */
  onKey(listener: (key: string, view: UiView) => void): () => void {
    this.keyListeners.add(listener);
    return () => this.keyListeners.delete(listener);
  }

  /** The headset jack: plugged in starts speech mode (CONTRACT §7). */
  headset(plugged: boolean): void {
    this.actor.send({ type: 'HEADSET', plugged });
    if (plugged) this.actor.send({ type: 'ACTIVITY' });
  }

  private recordHelp(language: Language, screen: UiScreen): void {
    try {
      this.opts.record?.({ type: 'kiosk.help_requested', data: { screen, language } });
    } catch (err) {
      // The help request could not be stored (outbox full): speech still starts, and the log says so.
      this.opts.log.error({ err: (err as Error).message }, 'help request could not be recorded');
    }
  }

  /** Shorter delays for tests, or an operator's own. Applies to delays started from now on. */
  setTimings(timings: Partial<UiTimings>): void {
    this.actor.send({ type: 'TIMINGS', timings });
  }

  /** Re-reads hours and devices; the machine hears only real changes. */
  refresh(): void {
    const status = this.status();
    const json = JSON.stringify(status);
    if (json !== this.lastStatusJson) {
      this.lastStatusJson = json;
      this.actor.send({ type: 'STATUS', status });
    }
    // Queue counts and hours text change the view without changing the flow.
    this.publish();
  }

  private status(): UiStatus {
    return {
      open: isOpen(this.opts.config.hours, this.now()),
      printer: this.opts.sources.printer(),
      deposits: this.opts.sources.deposits(),
    };
  }

  private publish(): void {
    const view = this.buildView();
    const { rev: _rev, ...rest } = view;
    const json = JSON.stringify(rest);
    if (json === this.lastJson) return;
    this.lastJson = json;
    this.current = { ...view, rev: ++this.rev };
    for (const l of this.listeners) {
      try {
        l(this.current);
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'a touch UI listener failed');
      }
    }
  }

  private buildView(): UiView {
    const { config } = this.opts;
    const snapshot = this.actor.getSnapshot();
    const c = snapshot.context;
    const at = this.now();
    const timeZone = config.hours?.timezone ?? DEFAULT_TIME_ZONE;
    const upstream = this.opts.sources.upstreamConnected();
    const queues = upstream ? this.opts.sources.queues() : null;
    const names = new Map(config.services.map((s) => [s.id, localize(s.name)]));
    // A provisional check-in has no service (central did not say which): no name, the page says "appointment".
    const nameOf = (id: string): Localized => names.get(id) ?? { 'pt-PT': id, en: id };
    const next = config.hours && !isOpen(config.hours, at) ? nextOpening(config.hours, at) : null;
    const screen = screenOf(snapshot);
    const base: Omit<UiView, 'content' | 'focus'> = {
      rev: this.rev,
      screen,
      language: c.language,
      kiosk: { id: config.kiosk.id, site: config.kiosk.site },
      status: { ...c.status, upstream },
      services: config.services.map((s) => {
        const q = queues?.services[s.id];
        return {
          id: s.id,
          prefix: s.prefix,
          name: nameOf(s.id),
          waiting: q ? q.waiting : null,
          estimatedWaitMin: q?.estimatedWaitMin ?? null,
          open: canIssueTicket(config.hours, s.hours, at).ok,
          online: s.online,
        };
      }),
      hours: { 'pt-PT': describeWeek(config.hours, 'pt-PT'), en: describeWeek(config.hours, 'en') },
      nextOpening: next ? formatBoth(next, timeZone, at) : null,
      ticket: c.ticket ? { ...c.ticket, serviceName: nameOf(c.ticket.service) } : null,
      entry: { code: c.code, error: c.entryError },
      checkedIn: c.checkedIn ? { ...c.checkedIn, serviceName: nameOf(c.checkedIn.service) } : null,
      comeBackAt: c.comeBackAt && !Number.isNaN(Date.parse(c.comeBackAt)) ? formatBoth(new Date(c.comeBackAt), timeZone, at) : null,
      deposit: c.deposit ? { receipt: c.deposit.receipt, secondsLeft: c.deposit.secondsLeft } : null,
      notice: c.notice,
      alternatives: ALTERNATIVES,
      technicianKey: this.opts.sources.technicianKey(),
      a11y: { speech: c.speech, largeText: c.largeText, highContrast: c.highContrast, volume: c.volume, headset: c.headset },
      warning: timeoutWarningOf(snapshot),
    };
    const content = screenContent(base);
    // Another screen's focus, or a choice that is gone or disabled, is no focus.
    const focusKey = c.focus && c.focus.screen === screen ? c.focus.key : null;
    const focus = focusKey && choicesOf(content).some((ch) => ch.key === focusKey && !ch.disabled) ? focusKey : null;
    return { ...base, content, focus };
  }
}

function localize(name: Record<string, string>): Localized {
  const fallback = name['pt-PT'] ?? Object.values(name)[0] ?? '';
  return { 'pt-PT': fallback, en: name.en ?? fallback };
}

/** "14:30" on the same day, "segunda-feira, 2 de março, 09:00" otherwise. */
function formatBoth(when: Date, timeZone: string, now: Date): Localized {
  const day = (d: Date): string => dateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
  const sameDay = day(when) === day(now);
  const options: Intl.DateTimeFormatOptions = sameDay
    ? { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
    : { timeZone, weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  const out = {} as Localized;
  for (const lang of LANGUAGES) out[lang] = dateTimeFormat(lang === 'en' ? 'en-GB' : 'pt-PT', options).format(when);
  return out;
}

/** The real devices as the UI sees them (the composition root passes what it built). */
export function kioskUiSources(devices: {
  printer: Printer | null;
  dropbox: Dropbox | null;
  upstream: Pick<Upstream, 'isConnected' | 'on' | 'queues' | 'onQueues'>;
}): KioskUiSources {
  const { printer, dropbox, upstream } = devices;
  return {
    printer() {
      if (!printer) return 'absent';
      const view = printer.status();
      if (view.ready) return 'ready';
      return view.state === 'connecting' ? 'starting' : 'fault';
    },
    deposits() {
      return dropbox ? dropbox.status().state === 'online' : false;
    },
    upstreamConnected: () => upstream.isConnected(),
    queues: () => upstream.queues(),
    technicianKey: () => (dropbox ? dropbox.status().keySwitch === 'ON' : false),
    watch(onChange) {
      const subs: Array<() => void> = [upstream.on('connected', onChange), upstream.on('disconnected', onChange), upstream.onQueues(() => onChange())];
      if (printer) subs.push(printer.onChange(() => onChange()));
      if (dropbox) subs.push(dropbox.onChange(onChange));
      return () => {
        for (const u of subs) u();
      };
    },
  };
}
