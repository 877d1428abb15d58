/**
 * The one reconnecting-link shape for every device that can vanish (printer connection,
 * drop-box board port, scanner port, broker session):
 *
 *     disconnected ──open──▶ connecting ──opened──▶ ready
 *          ▲                   │    ▲                 │
 *          │ LINK.CLOSE        │    │ after backoff   │ lost (unplug, broker gone)
 *          │ (ours, any state) ▼    │                 ▼
 *          └──────────────── reconnecting ◀───────────┘
 *
 * The device's I/O is one callback actor, the *connection*: it opens its port or socket
 * when started, tells the link `LINK.OPENED` / `LINK.OPEN_FAILED` / `LINK.LOST`, and
 * closes as ours when stopped (so our own close is never mistaken for an unplug: the
 * link stops it only on its way to `reconnecting` or `disconnected`). The port object
 * lives only in that actor's closure, never in context.
 *
 * Anything else the connection sends (frames, scanned lines) is passed to the link's
 * parent as is; `LINK.SEND {command}` from the parent goes to the connection while ready.
 * The parent hears `LINK.READY`, `LINK.DOWN` (every failed open or loss, with the count
 * in a row) and `LINK.CLOSED` (our close); owners without a parent use the emitted
 * `ready` / `down` / `closed`. A repeated error is logged once, with a counter when the
 * link is back.
 */
import { assign, enqueueActions, setup, spawnChild, stopChild, type ActorRefFrom, type AnyEventObject, type CallbackActorLogic, type EventObject } from 'xstate';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';

/** What the connection actor tells the link. */
export type LinkConnectionEvent = { type: 'LINK.OPENED' } | { type: 'LINK.OPEN_FAILED'; message: string } | { type: 'LINK.LOST'; message: string };

/** What the owner may ask of the link. */
export type LinkControlEvent = { type: 'LINK.OPEN' } | { type: 'LINK.CLOSE' } | { type: 'LINK.SEND'; command: EventObject };

/** What the link tells its parent (and emits, for owners without one). */
export type LinkReportEvent =
  | { type: 'LINK.READY'; opens: number }
  /** `lost`: it was ready (an unplug); otherwise an open failed. `failures`: in a row, this one included. */
  | { type: 'LINK.DOWN'; message: string; failures: number; lost: boolean }
  | { type: 'LINK.CLOSED' };

export type LinkEmitted =
  | { type: 'ready'; opens: number }
  | { type: 'down'; message: string; failures: number; lost: boolean }
  | { type: 'closed' };

export type LinkState = 'disconnected' | 'connecting' | 'ready' | 'reconnecting';

export interface LinkContext<TInput> {
  connection: TInput;
  /** Whether the owner wants the link open (false after our own LINK.CLOSE). */
  wanted: boolean;
  /** Failures in a row since the last ready: the backoff's attempt. */
  failures: number;
  lastError: string | null;
  /** How often lastError came again unchanged (logged once, counted here). */
  repeats: number;
  opens: number;
  losses: number;
}

export interface LinkInput<TInput> {
  /** Handed to the connection actor each time it is started (path, URL…). */
  connection: TInput;
  /** Open at once (default) or wait for LINK.OPEN. */
  open?: boolean;
}

/** The two log levels the link uses; pino's Logger fits. */
export interface LinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LinkMachineOptions<TInput> {
  /** The device, in log lines ("scanner", "board port", "broker"). */
  name: string;
  policy: BackoffPolicy;
  // The connection's commands are whatever the device accepts: the link forwards them unread.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  connection: CallbackActorLogic<any, TInput>;
  log?: LinkLogger;
  /** [0, 1) for the jitter; tests pin it. */
  random?: () => number;
  /** Extra log fields (a path, a redacted URL). */
  logFields?: (input: TInput) => Record<string, unknown>;
  /**
   * When set, the failures in a row (the backoff's attempt) start again only after the
   * link stayed ready this long, so a peer that accepts and at once drops the connection
   * is retried with a growing wait, not at the first wait forever.
   */
  stableMs?: number;
}

const isReport = (t: string): boolean => t.startsWith('LINK.') || t.startsWith('xstate.');

function failureMessage(event: AnyEventObject): string {
  if (event.type === 'LINK.OPEN_FAILED' || event.type === 'LINK.LOST') return String((event as { message?: unknown }).message ?? 'closed');
  const error = (event as { error?: unknown }).error;
  return error instanceof Error ? error.message : String(error ?? 'connection failed');
}

export function createLinkMachine<TInput>(opts: LinkMachineOptions<TInput>) {
  const random = opts.random ?? Math.random;
  const fields = (c: LinkContext<TInput>): Record<string, unknown> => ({ link: opts.name, ...(opts.logFields?.(c.connection) ?? {}) });

  return setup({
    types: {
      context: {} as LinkContext<TInput>,
      events: {} as AnyEventObject,
      input: {} as LinkInput<TInput>,
      emitted: {} as LinkEmitted,
    },
    actors: { connection: opts.connection },
    delays: {
      reconnectBackoff: ({ context }) => backoffDelayMs(opts.policy, context.failures, random),
      linkStable: () => opts.stableMs ?? 0,
    },
    guards: {
      wanted: ({ context }) => context.wanted,
      isData: ({ event }) => !isReport(event.type),
    },
    actions: {
      startConnection: spawnChild('connection', { id: 'connection', input: ({ context }) => context.connection }),
      stopConnection: stopChild('connection'),
      want: assign({ wanted: true }),
      unwant: assign({ wanted: false }),
      /** Logged only when the error is new: the same error again is counted, not logged. */
      logFailure: ({ context, event }) => {
        const message = failureMessage(event);
        if (message === context.lastError) return;
        opts.log?.warn({ ...fields(context), message, failures: context.failures + 1 }, `${opts.name} unavailable; retrying with backoff`);
      },
      noteFailure: assign(({ context, event }) => {
        const message = failureMessage(event);
        return {
          failures: context.failures + 1,
          repeats: message === context.lastError ? context.repeats + 1 : 0,
          lastError: message,
          losses: context.losses + (event.type === 'LINK.LOST' ? 1 : 0),
        };
      }),
      logReady: ({ context }) => {
        opts.log?.info({ ...fields(context), failedAttempts: context.failures, ...(context.repeats > 0 ? { lastErrorRepeats: context.repeats } : {}) }, `${opts.name} ready`);
      },
      noteReady: assign(({ context }) => ({ failures: opts.stableMs ? context.failures : 0, repeats: 0, lastError: null, opens: context.opens + 1 })),
      noteStable: assign({ failures: 0 }),
      tellReady: enqueueActions(({ context, enqueue, self }) => {
        enqueue.emit({ type: 'ready', opens: context.opens });
        if (self._parent) enqueue.sendParent({ type: 'LINK.READY', opens: context.opens });
      }),
      tellDown: enqueueActions(({ context, event, enqueue, self }, params: { lost: boolean }) => {
        const report = { message: context.lastError ?? failureMessage(event), failures: context.failures, lost: params.lost };
        enqueue.emit({ type: 'down', ...report });
        if (self._parent) enqueue.sendParent({ type: 'LINK.DOWN', ...report });
      }),
      tellClosed: enqueueActions(({ enqueue, self }) => {
        enqueue.emit({ type: 'closed' });
        if (self._parent) enqueue.sendParent({ type: 'LINK.CLOSED' });
      }),
      /** Frames, lines…: the connection's news goes to the parent unread. */
      forwardData: enqueueActions(({ event, enqueue, self }) => {
        if (self._parent) enqueue.sendParent(event);
      }),
      forwardCommand: enqueueActions(({ event, enqueue }) => {
        if (event.type === 'LINK.SEND') enqueue.sendTo('connection', (event as Extract<LinkControlEvent, { type: 'LINK.SEND' }>).command);
      }),
    },
  }).createMachine({
    id: 'link',
    context: ({ input }) => ({
      connection: input.connection,
      wanted: input.open ?? true,
      failures: 0,
      lastError: null,
      repeats: 0,
      opens: 0,
      losses: 0,
    }),
    initial: 'disconnected',
    on: {
      'LINK.CLOSE': { target: '.disconnected', actions: ['unwant', 'tellClosed'] },
    },
    states: {
      disconnected: {
        entry: 'stopConnection',
        always: { guard: 'wanted', target: 'connecting' },
        on: { 'LINK.OPEN': { target: 'connecting', actions: 'want' } },
      },
      connecting: {
        entry: 'startConnection',
        on: {
          'LINK.OPENED': { target: 'ready', actions: ['logReady', 'noteReady', 'tellReady'] },
          'LINK.OPEN_FAILED': { target: 'reconnecting', actions: ['logFailure', 'noteFailure', { type: 'tellDown', params: { lost: false } }] },
          'xstate.error.actor.connection': { target: 'reconnecting', actions: ['logFailure', 'noteFailure', { type: 'tellDown', params: { lost: false } }] },
          // A device may talk the instant its port opens, before it says so.
          '*': { guard: 'isData', actions: 'forwardData' },
        },
      },
      ready: {
        ...(opts.stableMs ? { after: { linkStable: { actions: 'noteStable' as const } } } : {}),
        on: {
          'LINK.LOST': { target: 'reconnecting', actions: ['logFailure', 'noteFailure', { type: 'tellDown', params: { lost: true } }] },
          'xstate.error.actor.connection': { target: 'reconnecting', actions: ['logFailure', 'noteFailure', { type: 'tellDown', params: { lost: true } }] },
          'LINK.SEND': { actions: 'forwardCommand' },
          '*': { guard: 'isData', actions: 'forwardData' },
        },
      },
      reconnecting: {
        entry: 'stopConnection',
        after: { reconnectBackoff: { target: 'connecting' } },
      },
    },
  });
}

export type LinkMachine<TInput = unknown> = ReturnType<typeof createLinkMachine<TInput>>;
export type LinkActorRef<TInput = unknown> = ActorRefFrom<LinkMachine<TInput>>;

/** The link's state by its public name. */
export function linkStateOf(snapshot: { value: unknown } | undefined): LinkState {
  const v = snapshot?.value;
  return v === 'connecting' || v === 'ready' || v === 'reconnecting' ? v : 'disconnected';
}
