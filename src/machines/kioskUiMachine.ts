/**
 * The citizen's screen flow, run on the controller (not in the page): the page renders
 * the snapshot this machine produces and sends taps back as events. Everything that
 * matters — one ticket per tap, what a refusal means, when to give up on a citizen who
 * walked away — is decided here, where tests can drive it without a browser.
 *
 *   home ─ISSUE──────────────▶ issuing ─▶ ticket | notice
 *        ─PRIORITY─▶ priority ─ISSUE─▶ issuing
 *        ─APPOINTMENT─▶ appointment (type or scan) ─SUBMIT/SCAN─▶ checkingIn
 *              ─▶ appointmentDone | appointmentEarly | appointmentLate | appointment (with an error) | notice
 *        ─DEPOSIT─▶ deposit ─CONFIRM─▶ depositStarting ─▶ depositWaiting | depositFull | notice
 *              depositWaiting ─▶ depositThanks | depositVoided (no drop in time, or CANCEL)
 *   home ⇄ closed (opening hours) ⇄ outOfService (printer cannot print: nothing can be served)
 *
 * Every screen that returns home on its own does so in two steps (`active` → `warning`):
 * the citizen is warned TIMEOUT_WARNING_MS ahead, and any key or touch (ACTIVITY) starts
 * the screen's time again. In speech mode every limit is SPEECH_TIME_FACTOR times longer.
 * The session's accessibility (speech mode, large text, high contrast, volume) and the
 * choice under focus live here too, so the page, the keypad and speech agree on them.
 *
 * I/O happens only in the named actors (issueTicket, checkIn, startDeposit, watchDeposit,
 * cancelDeposit), provided by `createKioskUiMachine(backend)`. Taps the current screen does
 * not handle are ignored: a double tap while a ticket prints issues one ticket.
 */
import { assign, fromCallback, fromPromise, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';

export type Language = 'pt-PT' | 'en';
export const LANGUAGES: readonly Language[] = ['pt-PT', 'en'];

/**
 * The screen delays, all overridable (tests shorten them). Chosen for a public office:
 *  - IDLE_MS 30 s on menus and forms: long enough to read the priority explanation or
 *    find an appointment letter, short enough that the next person finds the home screen;
 *  - RESULT_MS 60 s on the ticket and other results: the number is on paper too, but an
 *    elderly citizen may read the screen slowly; "Concluir" ends it at once;
 *  - NOTICE_MS 20 s on refusals and faults: a clear message, then back home;
 *  - the deposit wait follows the deposit's own window (`expiresInS` from the drop-box
 *    side) plus DEPOSIT_WAIT_GRACE_MS, a backstop should its state stop answering.
 */
export const IDLE_MS = 30_000;
export const RESULT_MS = 60_000;
export const NOTICE_MS = 20_000;
export const DEPOSIT_WAIT_GRACE_MS = 10_000;
/** Used when the drop-box side does not say how long the slot stays open. */
export const DEPOSIT_DEFAULT_WINDOW_S = 120;
/** Longest appointment code the keypad accepts (the check-in itself validates the shape). */
export const APPOINTMENT_CODE_MAX = 32;
/**
 * CONTRACT §7: the warning before any idle return home comes at least 10 s ahead; 15 s
 * leaves time to hear the spoken warning and still press a key.
 */
export const TIMEOUT_WARNING_MS = 15_000;
/** CONTRACT §7: in speech mode every time limit is at least three times as long. */
export const SPEECH_TIME_FACTOR = 3;
/** Volume steps of a session (0 = quietest); the speech device maps each to its gain. */
export const VOLUME_STEPS = 10;

export interface UiTimings {
  idleMs: number;
  resultMs: number;
  noticeMs: number;
  depositWaitGraceMs: number;
  /** How long before an idle return home the warning shows (never less than 10 s in service). */
  warningMs: number;
}

export const DEFAULT_UI_TIMINGS: UiTimings = {
  idleMs: IDLE_MS,
  resultMs: RESULT_MS,
  noticeMs: NOTICE_MS,
  depositWaitGraceMs: DEPOSIT_WAIT_GRACE_MS,
  warningMs: TIMEOUT_WARNING_MS,
};

/** The session volume step for a configured volume 0–100. */
export function volumeStepOf(volume: number): number {
  return Math.max(0, Math.min(VOLUME_STEPS - 1, Math.round((volume / 100) * (VOLUME_STEPS - 1))));
}

/** What the kiosk can serve right now (computed by KioskUi from hours and devices). */
export interface UiStatus {
  /** Within the kiosk's opening hours. */
  open: boolean;
  /** Printer state: tickets, check-ins and deposit receipts all need paper. */
  printer: 'ready' | 'starting' | 'fault' | 'absent';
  /** The drop box can take a deposit (board online). */
  deposits: boolean;
}

/** Why an action could not be done; the page has a plain sentence for each. */
export type NoticeReason =
  | 'printer' // the printer cannot print now
  | 'busy' // another print is under way
  | 'closed' // the service or the office is closed (or closes soon)
  | 'central' // central refused
  | 'dropbox' // the drop box is out of order
  | 'unavailable'; // anything else: the function is not available now

export interface IssuedTicket {
  ticket: string;
  service: string;
  priority: boolean;
  peopleAhead: number | null;
  offline: boolean;
  /** Printed on the ticket too, so it is shown and spoken. */
  estimatedWaitMin?: number | null;
  likelyNotServedBeforeClosing?: boolean;
}

export type TicketAttempt = ({ kind: 'issued' } & Omit<IssuedTicket, 'priority'>) | { kind: 'refused'; reason: NoticeReason };

export interface CheckedIn {
  ticket: string;
  service: string;
  peopleAhead: number | null;
  offline: boolean;
  provisional: boolean;
  estimatedWaitMin?: number | null;
}

export type CheckInAttempt =
  | ({ kind: 'checked_in' } & CheckedIn)
  | { kind: 'too_early'; comeBackAt: string | null }
  | { kind: 'too_late' }
  | { kind: 'not_accepted'; reason: EntryError }
  | { kind: 'refused'; reason: NoticeReason };

/** Why a code typed or scanned was not taken; shown on the appointment screen. */
export type EntryError = 'invalid_code' | 'unknown_appointment' | 'already_checked_in' | 'bad_scan';

export type DepositAttempt = { kind: 'started'; receipt: string; expiresInS: number } | { kind: 'box_full' } | { kind: 'refused'; reason: NoticeReason };

export interface DepositState {
  state: 'idle' | 'awaiting_drop' | 'received' | 'voided';
  receipt: string | null;
  secondsLeft: number | null;
}

/** The I/O the screen flow needs; `createHttpUiBackend` is the real one. Never rejects on a refusal. */
export interface KioskUiBackend {
  issueTicket(service: string, priority: boolean): Promise<TicketAttempt>;
  checkIn(code: string): Promise<CheckInAttempt>;
  /** `moreTime`: speech mode, the drop window three times as long (CONTRACT §7). */
  startDeposit(opts?: { moreTime?: boolean }): Promise<DepositAttempt>;
  /**
   * Follows the deposit in flight in-process: `listener` hears its state now and at every
   * change (the deposit machine's snapshots); returns the unsubscribe function.
   */
  watchDeposit(listener: (state: DepositState) => void): () => void;
  cancelDeposit(): Promise<void>;
}

/** Events a tap (or a key) on the page may send. Validated by the HTTP route. */
export type UiTapEvent =
  | { type: 'LANGUAGE'; language: Language }
  | { type: 'ISSUE'; service: string }
  | { type: 'PRIORITY' }
  | { type: 'APPOINTMENT' }
  | { type: 'DEPOSIT' }
  | { type: 'CONFIRM' }
  | { type: 'CANCEL' }
  | { type: 'BACK' }
  | { type: 'HOME' }
  | { type: 'KEY'; key: string }
  | { type: 'ERASE' }
  | { type: 'SUBMIT' }
  /** Help: staff are called and speech mode starts. */
  | { type: 'HELP' }
  | { type: 'LARGE_TEXT' }
  | { type: 'CONTRAST' }
  | { type: 'VOLUME'; step: 1 | -1 }
  /** A touch anywhere that is not a control: the citizen is there (more time), nothing else. */
  | { type: 'TOUCH' }
  /** The page's focus moved (Tab, a touch); `screen` is the screen it moved on. */
  | { type: 'FOCUS'; key: string | null; screen: string };

/** Events only the controller sends. */
export type UiInternalEvent =
  | { type: 'STATUS'; status: UiStatus }
  | { type: 'TIMINGS'; timings: Partial<UiTimings> }
  | { type: 'SCAN'; code: string; valid: boolean }
  | { type: 'DEPOSIT.STATE'; state: DepositState }
  /** A key or touch: the citizen is there, the screen's time starts again. */
  | { type: 'ACTIVITY' }
  | { type: 'HEADSET'; plugged: boolean };

export type KioskUiEvent = UiTapEvent | UiInternalEvent;

export interface KioskUiContext {
  language: Language;
  defaultLanguage: Language;
  timings: UiTimings;
  status: UiStatus;
  services: string[];
  /** The ticket being asked for (service, priority) while issuing. */
  request: { service: string; priority: boolean } | null;
  ticket: IssuedTicket | null;
  /** The appointment code being typed or just scanned; cleared once used. */
  code: string;
  entryError: EntryError | null;
  checkedIn: CheckedIn | null;
  comeBackAt: string | null;
  deposit: { receipt: string; expiresInS: number; secondsLeft: number | null } | null;
  notice: NoticeReason | null;
  /** The choice under focus (its focus key) and the screen it is on; another screen's focus is none. */
  focus: { screen: string; key: string } | null;
  /** Speech mode: a headset was plugged in or Help pressed; ends with the session. */
  speech: boolean;
  largeText: boolean;
  highContrast: boolean;
  /** This session's volume step (0..VOLUME_STEPS-1); each session starts at defaultVolume. */
  volume: number;
  defaultVolume: number;
  /** A headset is plugged in now (speech mode starts again for the next session while it is). */
  headset: boolean;
}

export interface KioskUiInput {
  language?: Language;
  timings?: Partial<UiTimings>;
  status?: UiStatus;
  services: string[];
  /** Configured `accessibility.volume`, 0–100. */
  volume?: number;
}

const SESSION_CLEARED = {
  request: null,
  ticket: null,
  code: '',
  entryError: null,
  checkedIn: null,
  comeBackAt: null,
  deposit: null,
  notice: null,
  focus: null,
} satisfies Partial<KioskUiContext>;

/** What the transition back to a timed screen's start looks like (any key or touch). */
const MORE_TIME = { target: '.active' } as const;
const TIMED_OUT_HOME = { target: '#kioskUi.home', actions: 'endSession' } as const;

export type TimeLimit = 'idle' | 'result' | 'notice';

/** A screen that returns home after its `limit`, warning first (CONTRACT §7). */
function timed(limit: TimeLimit) {
  switch (limit) {
    case 'idle':
      return { initial: 'active' as const, states: { active: { after: { idleBeforeWarning: 'warning' as const } }, warning: { after: { idleWarning: TIMED_OUT_HOME } } } };
    case 'result':
      return { initial: 'active' as const, states: { active: { after: { resultBeforeWarning: 'warning' as const } }, warning: { after: { resultWarning: TIMED_OUT_HOME } } } };
    case 'notice':
      return { initial: 'active' as const, states: { active: { after: { noticeBeforeWarning: 'warning' as const } }, warning: { after: { noticeWarning: TIMED_OUT_HOME } } } };
  }
}

/** A limit as it applies to this session: longer in speech mode. */
export function sessionLimitMs(context: Pick<KioskUiContext, 'speech' | 'timings'>, limit: TimeLimit): number {
  const ms = { idle: context.timings.idleMs, result: context.timings.resultMs, notice: context.timings.noticeMs }[limit];
  return context.speech ? ms * SPEECH_TIME_FACTOR : ms;
}
/** How long before the limit the warning comes (the whole limit when it is shorter than that). */
export function warningLeadMs(context: Pick<KioskUiContext, 'speech' | 'timings'>, limit: TimeLimit): number {
  const lead = context.speech ? context.timings.warningMs * SPEECH_TIME_FACTOR : context.timings.warningMs;
  return Math.min(sessionLimitMs(context, limit), lead);
}

/** One keypad key: a letter, a digit or the dash some codes carry. */
export const KEY_PATTERN = /^[A-Z0-9-]$/;

export const kioskUiMachine = setup({
  types: {
    context: {} as KioskUiContext,
    events: {} as KioskUiEvent,
    input: {} as KioskUiInput,
  },
  actors: {
    issueTicket: fromPromise<TicketAttempt, { service: string; priority: boolean }>(async () => ({ kind: 'refused', reason: 'unavailable' })),
    checkIn: fromPromise<CheckInAttempt, { code: string }>(async () => ({ kind: 'refused', reason: 'unavailable' })),
    startDeposit: fromPromise<DepositAttempt, { moreTime: boolean }>(async () => ({ kind: 'refused', reason: 'unavailable' })),
    cancelDeposit: fromPromise<void, void>(async () => undefined),
    watchDeposit: fromCallback<KioskUiEvent>(() => () => undefined),
  },
  delays: {
    idle: ({ context }) => sessionLimitMs(context, 'idle'),
    idleBeforeWarning: ({ context }) => sessionLimitMs(context, 'idle') - warningLeadMs(context, 'idle'),
    idleWarning: ({ context }) => warningLeadMs(context, 'idle'),
    resultBeforeWarning: ({ context }) => sessionLimitMs(context, 'result') - warningLeadMs(context, 'result'),
    resultWarning: ({ context }) => warningLeadMs(context, 'result'),
    noticeBeforeWarning: ({ context }) => sessionLimitMs(context, 'notice') - warningLeadMs(context, 'notice'),
    noticeWarning: ({ context }) => warningLeadMs(context, 'notice'),
    depositWait: ({ context }) => (context.deposit?.expiresInS ?? DEPOSIT_DEFAULT_WINDOW_S) * 1000 + context.timings.depositWaitGraceMs,
  },
  guards: {
    closed: ({ context }) => !context.status.open,
    sessionInUse: ({ context }) =>
      context.language !== context.defaultLanguage || (context.speech && !context.headset) || context.largeText || context.highContrast || context.volume !== context.defaultVolume,
    isOpen: ({ context }) => context.status.open,
    cannotPrint: ({ context }) => context.status.printer !== 'ready',
    canServe: ({ context }) => context.status.open && context.status.printer === 'ready',
    depositsAvailable: ({ context }) => context.status.deposits,
    knownService: ({ context, event }) => event.type === 'ISSUE' && context.services.includes(event.service),
    validKey: ({ context, event }) => event.type === 'KEY' && KEY_PATTERN.test(event.key) && context.code.length < APPOINTMENT_CODE_MAX,
    hasCode: ({ context }) => context.code.length > 0,
    validScan: ({ event }) => event.type === 'SCAN' && event.valid && event.code.length > 0,
    invalidScan: ({ event }) => event.type === 'SCAN' && !(event.valid && event.code.length > 0),
    depositIs: ({ event }, params: { state: DepositState['state'][] }) => event.type === 'DEPOSIT.STATE' && params.state.includes(event.state.state),
  },
  actions: {
    /** Back to a clean home: the next citizen sees the default language and nothing of the last one. */
    endSession: assign(({ context }) => ({
      ...SESSION_CLEARED,
      language: context.defaultLanguage,
      // Speech, large text and contrast end with the session; a headset still plugged in starts speech again.
      speech: context.headset,
      largeText: false,
      highContrast: false,
      volume: context.defaultVolume,
    })),
    startSpeech: assign({ speech: true }),
    noteHeadset: assign(({ context, event }) => (event.type === 'HEADSET' ? { headset: event.plugged, speech: context.speech || event.plugged } : {})),
    toggleLargeText: assign(({ context }) => ({ largeText: !context.largeText })),
    toggleContrast: assign(({ context }) => ({ highContrast: !context.highContrast })),
    changeVolume: assign(({ context, event }) => (event.type === 'VOLUME' ? { volume: Math.max(0, Math.min(VOLUME_STEPS - 1, context.volume + event.step)) } : {})),
    setFocus: assign(({ event }) => (event.type === 'FOCUS' ? { focus: event.key === null ? null : { screen: event.screen, key: event.key } } : {})),
    clearResults: assign(() => SESSION_CLEARED),
    setLanguage: assign(({ event }) => (event.type === 'LANGUAGE' ? { language: event.language } : {})),
    setStatus: assign(({ event }) => (event.type === 'STATUS' ? { status: event.status } : {})),
    setTimings: assign(({ context, event }) => (event.type === 'TIMINGS' ? { timings: { ...context.timings, ...event.timings } } : {})),
    askTicket: assign(({ event }, params: { priority: boolean }) => (event.type === 'ISSUE' ? { request: { service: event.service, priority: params.priority }, notice: null } : {})),
    typeKey: assign(({ context, event }) => (event.type === 'KEY' ? { code: context.code + event.key, entryError: null } : {})),
    erase: assign(({ context }) => ({ code: context.code.slice(0, -1), entryError: null })),
    takeScan: assign(({ event }) => (event.type === 'SCAN' ? { code: event.code, entryError: null } : {})),
    badScan: assign(() => ({ code: '', entryError: 'bad_scan' as const })),
    showNotice: assign((_, params: { reason: NoticeReason }) => ({ notice: params.reason })),
    noteDeposit: assign(({ context, event }) =>
      event.type === 'DEPOSIT.STATE' && context.deposit ? { deposit: { ...context.deposit, secondsLeft: event.state.secondsLeft } } : {},
    ),
  },
}).createMachine({
  id: 'kioskUi',
  context: ({ input }) => ({
    language: input.language ?? 'pt-PT',
    defaultLanguage: input.language ?? 'pt-PT',
    timings: { ...DEFAULT_UI_TIMINGS, ...input.timings },
    status: input.status ?? { open: true, printer: 'starting', deposits: false },
    services: input.services,
    ...SESSION_CLEARED,
    speech: false,
    largeText: false,
    highContrast: false,
    volume: volumeStepOf(input.volume ?? 60),
    defaultVolume: volumeStepOf(input.volume ?? 60),
    headset: false,
  }),
  initial: 'home',
  on: {
    LANGUAGE: { actions: 'setLanguage' },
    STATUS: { actions: 'setStatus' },
    TIMINGS: { actions: 'setTimings' },
    HELP: { actions: 'startSpeech' },
    HEADSET: { actions: 'noteHeadset' },
    LARGE_TEXT: { actions: 'toggleLargeText' },
    CONTRAST: { actions: 'toggleContrast' },
    VOLUME: { actions: 'changeVolume' },
    FOCUS: { actions: 'setFocus' },
    // Screens without a time limit take activity without doing anything.
    ACTIVITY: {},
  },
  states: {
    home: {
      entry: 'clearResults',
      // Home waits for ever for the next citizen, but a session left there (another language,
      // speech, large text) is warned and ended like any other screen.
      initial: 'active',
      states: {
        active: {
          after: {
            idleBeforeWarning: [
              { guard: 'sessionInUse', target: 'warning' },
              { target: 'active', reenter: true },
            ],
          },
        },
        warning: { after: { idleWarning: { target: 'active', actions: 'endSession' } } },
      },
      always: [
        { guard: 'closed', target: 'closed' },
        { guard: 'cannotPrint', target: 'outOfService' },
      ],
      on: {
        ACTIVITY: MORE_TIME,
        ISSUE: { guard: 'knownService', target: 'issuing', actions: { type: 'askTicket', params: { priority: false } } },
        PRIORITY: 'priority',
        APPOINTMENT: 'appointment',
        DEPOSIT: { guard: 'depositsAvailable', target: 'deposit' },
        // A citizen may scan the appointment letter straight away, without a tap.
        SCAN: [
          { guard: 'validScan', target: 'checkingIn', actions: 'takeScan' },
          { guard: 'invalidScan', target: 'appointment', actions: 'badScan' },
        ],
      },
    },

    priority: {
      always: { guard: 'cannotPrint', target: 'notice', actions: { type: 'showNotice', params: { reason: 'printer' } } },
      ...timed('idle'),
      on: {
        ACTIVITY: MORE_TIME,
        ISSUE: { guard: 'knownService', target: 'issuing', actions: { type: 'askTicket', params: { priority: true } } },
        BACK: 'home',
        HOME: 'home',
      },
    },

    // No tap is handled here: a second tap on a service cannot ask for a second ticket.
    issuing: {
      invoke: {
        src: 'issueTicket',
        input: ({ context }) => context.request ?? { service: '', priority: false },
        onDone: [
          {
            guard: ({ event }) => event.output.kind === 'issued',
            target: 'ticket',
            actions: assign(({ context, event }) => {
              const o = event.output as Extract<TicketAttempt, { kind: 'issued' }>;
              const { kind: _kind, ...issued } = o;
              return { ticket: { ...issued, priority: context.request?.priority ?? false }, request: null };
            }),
          },
          {
            target: 'notice',
            actions: assign(({ event }) => ({ notice: event.output.kind === 'refused' ? event.output.reason : 'unavailable', request: null })),
          },
        ],
        onError: { target: 'notice', actions: assign({ notice: 'unavailable' as const, request: null }) },
      },
    },

    ticket: {
      ...timed('result'),
      on: { ACTIVITY: MORE_TIME, HOME: { target: 'home', actions: 'endSession' } },
    },

    appointment: {
      always: { guard: 'cannotPrint', target: 'notice', actions: { type: 'showNotice', params: { reason: 'printer' } } },
      ...timed('idle'),
      on: {
        ACTIVITY: MORE_TIME,
        // Each key restarts the idle delay: someone typing has not walked away.
        KEY: { guard: 'validKey', target: 'appointment', reenter: true, actions: 'typeKey' },
        ERASE: { target: 'appointment', reenter: true, actions: 'erase' },
        SUBMIT: { guard: 'hasCode', target: 'checkingIn' },
        SCAN: [
          { guard: 'validScan', target: 'checkingIn', actions: 'takeScan' },
          { target: 'appointment', reenter: true, actions: 'badScan' },
        ],
        BACK: 'home',
        HOME: 'home',
      },
    },

    checkingIn: {
      invoke: {
        src: 'checkIn',
        input: ({ context }) => ({ code: context.code }),
        onDone: [
          {
            guard: ({ event }) => event.output.kind === 'checked_in',
            target: 'appointmentDone',
            actions: assign(({ event }) => {
              const { kind: _kind, ...checkedIn } = event.output as Extract<CheckInAttempt, { kind: 'checked_in' }>;
              return { checkedIn, code: '' };
            }),
          },
          {
            guard: ({ event }) => event.output.kind === 'too_early',
            target: 'appointmentEarly',
            actions: assign(({ event }) => ({ comeBackAt: (event.output as Extract<CheckInAttempt, { kind: 'too_early' }>).comeBackAt, code: '' })),
          },
          { guard: ({ event }) => event.output.kind === 'too_late', target: 'appointmentLate', actions: assign({ code: '' }) },
          {
            guard: ({ event }) => event.output.kind === 'not_accepted',
            target: 'appointment',
            actions: assign(({ event }) => ({ entryError: (event.output as Extract<CheckInAttempt, { kind: 'not_accepted' }>).reason, code: '' })),
          },
          {
            target: 'notice',
            actions: assign(({ event }) => ({ notice: event.output.kind === 'refused' ? event.output.reason : 'unavailable', code: '' })),
          },
        ],
        onError: { target: 'notice', actions: assign({ notice: 'unavailable' as const, code: '' }) },
      },
    },

    appointmentDone: {
      ...timed('result'),
      on: { ACTIVITY: MORE_TIME, HOME: { target: 'home', actions: 'endSession' } },
    },
    appointmentEarly: {
      ...timed('result'),
      on: { ACTIVITY: MORE_TIME, HOME: { target: 'home', actions: 'endSession' } },
    },
    // Too late for the appointment: the way on is a normal ticket, from home.
    appointmentLate: {
      ...timed('result'),
      on: { ACTIVITY: MORE_TIME, HOME: 'home', BACK: 'home' },
    },

    deposit: {
      always: { guard: 'cannotPrint', target: 'notice', actions: { type: 'showNotice', params: { reason: 'printer' } } },
      ...timed('idle'),
      on: { ACTIVITY: MORE_TIME, CONFIRM: 'depositStarting', BACK: 'home', HOME: 'home' },
    },

    depositStarting: {
      invoke: {
        src: 'startDeposit',
        input: ({ context }) => ({ moreTime: context.speech }),
        onDone: [
          {
            guard: ({ event }) => event.output.kind === 'started',
            target: 'depositWaiting',
            actions: assign(({ event }) => {
              const o = event.output as Extract<DepositAttempt, { kind: 'started' }>;
              return { deposit: { receipt: o.receipt, expiresInS: o.expiresInS, secondsLeft: o.expiresInS } };
            }),
          },
          { guard: ({ event }) => event.output.kind === 'box_full', target: 'depositFull' },
          { target: 'notice', actions: assign(({ event }) => ({ notice: event.output.kind === 'refused' ? event.output.reason : 'unavailable' })) },
        ],
        onError: { target: 'notice', actions: assign({ notice: 'unavailable' as const }) },
      },
    },

    depositWaiting: {
      invoke: { src: 'watchDeposit' },
      // Backstop: the deposit's own window has passed and its state said nothing.
      after: { depositWait: 'depositAbandoned' },
      on: {
        'DEPOSIT.STATE': [
          { guard: { type: 'depositIs', params: { state: ['received'] } }, target: 'depositThanks' },
          { guard: { type: 'depositIs', params: { state: ['voided', 'idle'] } }, target: 'depositVoided' },
          { actions: 'noteDeposit' },
        ],
        CANCEL: 'depositCancelling',
      },
    },

    // The citizen said no: void the receipt and say so.
    depositCancelling: {
      invoke: { src: 'cancelDeposit', onDone: 'depositVoided', onError: 'depositVoided' },
    },
    // Nobody is there any more: void the receipt and go home quietly.
    depositAbandoned: {
      invoke: {
        src: 'cancelDeposit',
        onDone: { target: 'home', actions: 'endSession' },
        onError: { target: 'home', actions: 'endSession' },
      },
    },

    depositThanks: {
      ...timed('result'),
      on: { ACTIVITY: MORE_TIME, HOME: { target: 'home', actions: 'endSession' } },
    },
    depositVoided: {
      ...timed('result'),
      on: { ACTIVITY: MORE_TIME, HOME: { target: 'home', actions: 'endSession' } },
    },
    depositFull: {
      ...timed('notice'),
      on: { ACTIVITY: MORE_TIME, HOME: { target: 'home', actions: 'endSession' } },
    },

    notice: {
      ...timed('notice'),
      on: { ACTIVITY: MORE_TIME, HOME: { target: 'home', actions: 'endSession' } },
    },

    // Home decides what comes next once the office opens (the printer may still be down).
    closed: {
      always: { guard: 'isOpen', target: 'home' },
      after: { idle: { actions: 'endSession', target: 'closed', reenter: true } },
    },

    outOfService: {
      always: [
        { guard: 'closed', target: 'closed' },
        { guard: 'canServe', target: 'home' },
      ],
      after: { idle: { actions: 'endSession', target: 'outOfService', reenter: true } },
    },
  },
});

export type KioskUiMachine = typeof kioskUiMachine;
export type KioskUiActor = ActorRefFrom<KioskUiMachine>;
export type KioskUiSnapshot = SnapshotFrom<KioskUiMachine>;

/** Every screen the page can show: one per state of the machine. */
export const UI_SCREENS = [
  'home',
  'priority',
  'issuing',
  'ticket',
  'appointment',
  'checkingIn',
  'appointmentDone',
  'appointmentEarly',
  'appointmentLate',
  'deposit',
  'depositStarting',
  'depositWaiting',
  'depositCancelling',
  'depositAbandoned',
  'depositThanks',
  'depositVoided',
  'depositFull',
  'notice',
  'closed',
  'outOfService',
] as const;
export type UiScreen = (typeof UI_SCREENS)[number];

/** The machine with its I/O bound to a backend. */
export function createKioskUiMachine(backend: KioskUiBackend): KioskUiMachine {
  return kioskUiMachine.provide({
    actors: {
      issueTicket: fromPromise(({ input }: { input: { service: string; priority: boolean } }) => backend.issueTicket(input.service, input.priority)),
      checkIn: fromPromise(({ input }: { input: { code: string } }) => backend.checkIn(input.code)),
      startDeposit: fromPromise<DepositAttempt, { moreTime: boolean }>(({ input }) => backend.startDeposit({ moreTime: input.moreTime })),
      cancelDeposit: fromPromise(() => backend.cancelDeposit()),
      // The deposit machine's changes, as they happen; the backstop delay still ends the wait.
      watchDeposit: fromCallback<KioskUiEvent>(({ sendBack }) => backend.watchDeposit((state) => sendBack({ type: 'DEPOSIT.STATE', state }))),
    },
  });
}

/** The screen name the page renders: the machine's state. */
export function screenOf(snapshot: KioskUiSnapshot): UiScreen {
  return (typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value)[0]) as UiScreen;
}

/** The limit each timed screen runs under (the page's countdown and the spoken warning use it). */
export const SCREEN_TIME_LIMITS: Partial<Record<UiScreen, TimeLimit>> = {
  home: 'idle',
  priority: 'idle',
  appointment: 'idle',
  deposit: 'idle',
  ticket: 'result',
  appointmentDone: 'result',
  appointmentEarly: 'result',
  appointmentLate: 'result',
  depositThanks: 'result',
  depositVoided: 'result',
  depositFull: 'notice',
  notice: 'notice',
};

/** The warning before an idle return home, while it shows: how long it lasts in all. */
export function timeoutWarningOf(snapshot: KioskUiSnapshot): { ms: number } | null {
  const screen = screenOf(snapshot);
  const limit = SCREEN_TIME_LIMITS[screen];
  if (!limit || !snapshot.matches({ [screen]: 'warning' } as never)) return null;
  return { ms: warningLeadMs(snapshot.context, limit) };
}
