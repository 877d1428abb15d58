/**
 * The drop box (CONTRACT §3) as one XState v5 machine with parallel regions:
 *
 *  - link      the serial port, a reconnecting link (devices/link/): connecting → ready,
 *              reconnecting with backoff when it vanishes (an unplug is a state, not an exception)
 *  - presence  online / offline from frame silence (3 s), with fault and recovery events
 *  - frames    every valid frame: seq gaps, counts (via the ledger), fill, tamper, key
 *  - door      closed / opened by us (collection) / forced
 *  - commands  one command on the wire at a time, resent until ACKed
 *
 *  - unlockWindow  open for DOOR_UNLOCK_AUTHORISES_MS after each UNLOCK written
 *
 * Context holds plain data only; the port lives in the `boardPort` actor and durable
 * counts in the DropboxLedger, both handed in by the composition root. Guards and
 * `assign` are pure (they read context and the event only: a frame carries the time it
 * arrived, the ledger's pending RESET is told back as LEDGER.CHANGED); the outbox writes
 * and the log lines are named actions. A serial chunk's frames are handled inside one
 * outbox transaction (the port actor's `batch`), so its deposits and their recorded
 * count still commit together.
 */
import { and, assign, emit, enqueueActions, setup, stateIn, type SnapshotFrom } from 'xstate';
import type { BoardPortCommand, BoardPortEvent, BoardPortInput } from '../../devices/board/boardPortActor.js';
import { createLinkMachine, type LinkConnectionEvent, type LinkReportEvent } from '../../devices/link/linkMachine.js';
import type { BoardCommand, BoardFrame, MalformedReason } from '../../devices/board/frames.js';
import { framesLostBetween, nextSeq } from '../../devices/board/protocol.js';
import { isProtocolVersion } from '../../devices/board/versions/index.js';
import type { Logger } from '../log.js';
import { RateLimitedLog } from '../log.js';
import { faultEvent, recoveredEvent } from '../upstream/deviceFaults.js';
import type { NewEvent } from '../upstream/events.js';
import {
  BOARD_COMMAND_ACK_MS,
  BOARD_COMMAND_MAX_ATTEMPTS,
  BOARD_LINK_POLICY,
  BOARD_RESET_RETRY_MS,
  BOARD_SILENCE_MS,
  DOOR_UNLOCK_AUTHORISES_MS,
} from './delays.js';
import { fillLevel, type DropboxLedger } from './dropboxLedger.js';
import type { CallbackActorLogic } from 'xstate';

/** Requests from the rest of the controller (UI, diagnostics). */
export type DropboxRequest =
  | { type: 'DROPBOX.UNLOCK'; ms: number }
  | { type: 'DROPBOX.LED'; mode: 'OFF' | 'ON' | 'BLINK' }
  | { type: 'DROPBOX.STATUS' };

export type DropboxEvent = Exclude<BoardPortEvent, LinkConnectionEvent> | LinkReportEvent | DropboxRequest | LedgerEvent | { type: 'UNLOCK.SENT' };

/** What the ledger holds after a write, told back to the machine so its guards read only context. */
export type LedgerEvent = { type: 'LEDGER.CHANGED'; pendingReset: number | null };

/** Things the machine tells observers about (the slot beam); deposits come from the ledger. */
export type DropboxEmitted = { type: 'slot'; occupied: boolean };

const MALFORMED_REASONS: readonly MalformedReason[] = ['too_long', 'not_ascii', 'bad_syntax', 'bad_checksum', 'unknown_type', 'bad_args'];
const RECENT_FRAMES_KEPT = 20;

export interface DropboxContext {
  box: string;
  path: string;
  baudRate: number;
  portReady: boolean;
  reopenFailures: number;
  lastSeq: number | null;
  nextCmdSeq: number;
  queue: BoardCommand[];
  inFlight: { seq: number; command: BoardCommand; attempts: number } | null;
  door: 'OPEN' | 'CLOSED' | null;
  fillPercent: number | null;
  slot: boolean | null;
  key: 'ON' | 'OFF' | null;
  dropCount: number | null;
  /** The ledger's pending RESET count, as last told (LEDGER.CHANGED). */
  pendingReset: number | null;
  firmware: string | null;
  boardId: string | null;
  lastFrameAt: number | null;
  lastPortError: string | null;
  recentFrames: string[];
  counters: {
    frames: number;
    malformed: Record<MalformedReason, number>;
    framesLost: number;
    reopens: number;
    commandsSent: number;
    naks: number;
    ackTimeouts: number;
    boardErrors: number;
    collections: number;
    forcedOpenings: number;
  };
}

export interface DropboxInput {
  box: string;
  path: string;
  baudRate: number;
}

export interface DropboxDeps {
  ledger: DropboxLedger;
  log: Logger;
  /** Wall clock in ms; the simulated clock's in tests. */
  now: () => number;
  /** Opens the port; the composition root passes createBoardPortLogic(openSerialPort). */
  boardPort: CallbackActorLogic<BoardPortCommand, BoardPortInput>;
}

/**
 * Frames missing between the last seq seen and this frame's. HELLO starts the board's
 * numbering afresh (it rebooted), a repeated seq is a duplicate, not a gap.
 */
export function seqFramesLost(lastSeq: number | null, frame: BoardFrame): number {
  return frame.type === 'HELLO' ? 0 : framesLostBetween(lastSeq, frame.seq);
}

type FrameOf<T extends BoardFrame['type']> = Extract<BoardFrame, { type: T }>;

function frameIs<T extends BoardFrame['type']>(event: DropboxEvent, type: T): event is { type: 'BOARD.FRAME'; frame: FrameOf<T>; raw: string; at: number } {
  return event.type === 'BOARD.FRAME' && event.frame.type === type;
}

export function createDropboxMachine(deps: DropboxDeps) {
  const { ledger, log } = deps;
  const malformedLog = new RateLimitedLog(log, 10_000, deps.now);
  const box = ledger.box;
  const record = (events: NewEvent[]) => ledger.record(events);
  const boardLink = createLinkMachine<BoardPortInput>({ name: 'drop-box port', policy: BOARD_LINK_POLICY, connection: deps.boardPort, log, logFields: (i) => ({ box, path: i.path }) });

  return setup({
    types: {
      context: {} as DropboxContext,
      events: {} as DropboxEvent,
      input: {} as DropboxInput,
      emitted: {} as DropboxEmitted,
    },
    actors: { boardLink },
    delays: {
      unlockAuthorises: DOOR_UNLOCK_AUTHORISES_MS,
      boardSilence: BOARD_SILENCE_MS,
      commandAck: BOARD_COMMAND_ACK_MS,
      resetRetry: BOARD_RESET_RETRY_MS,
    },
    guards: {
      portReady: ({ context }) => context.portReady,
      hasQueued: ({ context }) => context.queue.length > 0,
      isDoorOpen: ({ event }) => frameIs(event, 'DOOR') && event.frame.state === 'OPEN',
      isDoorClosed: ({ event }) => frameIs(event, 'DOOR') && event.frame.state === 'CLOSED',
      recentlyUnlocked: stateIn({ unlockWindow: 'open' }),
      isAckOfInFlight: ({ context, event }) => frameIs(event, 'ACK') && context.inFlight?.seq === event.frame.cmdSeq,
      inFlightIsStatus: ({ context }) => context.inFlight?.command.type === 'STATUS',
      isNakOfInFlight: ({ context, event }) => frameIs(event, 'NAK') && context.inFlight?.seq === event.frame.cmdSeq,
      attemptsLeft: ({ context }) => (context.inFlight?.attempts ?? 0) < BOARD_COMMAND_MAX_ATTEMPTS,
      resetDue: ({ context }) => context.pendingReset !== null && !context.queue.some((c) => c.type === 'RESET') && context.inFlight?.command.type !== 'RESET',
    },
    actions: {
      logMalformed: ({ event }) => {
        if (event.type === 'BOARD.MALFORMED') malformedLog.warn({ box, reason: event.reason, detail: event.detail, raw: event.raw.slice(0, 60) }, 'malformed frame from the drop-box board ignored');
      },
      countMalformed: assign(({ context, event }) => {
        if (event.type !== 'BOARD.MALFORMED') return {};
        const malformed = { ...context.counters.malformed, [event.reason]: context.counters.malformed[event.reason] + 1 };
        return { counters: { ...context.counters, malformed } };
      }),
      /** Side effects of a frame, run before applyFrame so they see the previous state. */
      recordFrameEffects: ({ context, event, self }) => {
        if (event.type !== 'BOARD.FRAME') return;
        const f = event.frame;
        const lost = seqFramesLost(context.lastSeq, f);
        if (lost > 0) {
          const expected = nextSeq(context.lastSeq ?? 0);
          record([faultEvent('dropbox.frames_lost', `${lost} frame(s) lost: expected seq ${expected}, got ${f.seq}`)]);
        }
        switch (f.type) {
          case 'HELLO':
            log.info({ box, firmware: f.firmware, boardId: f.boardId, version: f.version }, 'drop-box board said hello');
            if (!isProtocolVersion(f.version)) {
              record([faultEvent('dropbox.protocol_version', `board speaks protocol ${f.version}, controller speaks 1 and 2`)]);
            }
            break;
          case 'HB':
          case 'DROP':
            ledger.observeCount(f.dropCount, f.type === 'DROP', f.seq);
            // A count below ours with a RESET pending confirms it (the ACK was lost).
            if (ledger.pendingReset !== context.pendingReset) self.send({ type: 'LEDGER.CHANGED', pendingReset: ledger.pendingReset });
            break;
          case 'FILL':
            if (f.percent !== context.fillPercent) record([{ type: 'dropbox.fill', data: { box, percent: f.percent, level: fillLevel(f.percent) } }]);
            break;
          case 'TAMPER':
            record([{ type: 'dropbox.tamper', data: { box, code: f.code } }]);
            log.warn({ box, code: f.code }, 'drop-box tamper sensor tripped');
            break;
          case 'KEY':
            if (f.state !== context.key) record([{ type: 'dropbox.key', data: { box, state: f.state === 'ON' ? 'on' : 'off' } }]);
            break;
          case 'ERR':
            record([faultEvent('dropbox.board_error', f.text ? `${f.code}: ${f.text}` : f.code)]);
            break;
          default:
            break;
        }
      },
      /** All of a frame's context changes in one assign: this runs for every frame. */
      applyFrame: assign(({ context, event }) => {
        if (event.type !== 'BOARD.FRAME') return {};
        const f = event.frame;
        const recentFrames = context.recentFrames.length >= RECENT_FRAMES_KEPT ? [...context.recentFrames.slice(1), event.raw] : [...context.recentFrames, event.raw];
        const lost = seqFramesLost(context.lastSeq, f);
        const counters = { ...context.counters, frames: context.counters.frames + 1, framesLost: context.counters.framesLost + lost };
        const common = { lastFrameAt: event.at, recentFrames, lastSeq: f.seq, counters };
        switch (f.type) {
          case 'HELLO':
            return { ...common, firmware: f.firmware, boardId: f.boardId };
          case 'HB':
          case 'DROP':
            return { ...common, dropCount: f.dropCount };
          case 'SLOT':
            return { ...common, slot: f.occupied };
          case 'FILL':
            return { ...common, fillPercent: f.percent };
          case 'KEY':
            return { ...common, key: f.state };
          case 'ERR':
            return { ...common, counters: { ...counters, boardErrors: counters.boardErrors + 1 } };
          case 'DOOR':
            return { ...common, door: f.state };
          default:
            return common;
        }
      }),
      emitSlot: emit(({ event }) => ({ type: 'slot' as const, occupied: frameIs(event, 'SLOT') ? event.frame.occupied : false })),
      recordOffline: ({ context }) => {
        record([faultEvent('dropbox.offline', context.lastPortError ? `no frame for ${BOARD_SILENCE_MS / 1000} s; port: ${context.lastPortError}` : `no frame for ${BOARD_SILENCE_MS / 1000} s`)]);
        log.warn({ box }, 'drop-box board offline');
      },
      recordRecovered: () => {
        record([recoveredEvent('dropbox.offline')]);
        log.info({ box }, 'drop-box board back online');
      },
      recordAuthorisedOpen: () => {
        record([{ type: 'dropbox.door', data: { box, state: 'open' } }]);
      },
      recordForcedOpen: () => {
        record([
          { type: 'dropbox.door', data: { box, state: 'open' } },
          { type: 'dropbox.tamper', data: { box, code: 'FORCED_DOOR' } },
        ]);
        log.warn({ box }, 'drop-box door opened without an unlock');
      },
      recordDoorClosed: () => {
        record([{ type: 'dropbox.door', data: { box, state: 'closed' } }]);
      },
      recordCollection: ({ self }) => {
        const collected = ledger.recordCollection();
        if (collected) log.info({ box, count: collected.count }, 'drop box collected');
        else log.error({ box }, 'drop-box collection could not be recorded: outbox refused it');
        self.send({ type: 'LEDGER.CHANGED', pendingReset: ledger.pendingReset });
      },
      /** After a count was taken in (it may have confirmed a lost RESET ACK): the ledger's state, told back. */
      tellLedgerState: ({ self }) => {
        self.send({ type: 'LEDGER.CHANGED', pendingReset: ledger.pendingReset });
      },
      noteLedgerState: assign(({ event }) => (event.type === 'LEDGER.CHANGED' ? { pendingReset: event.pendingReset } : {})),
      queueResetIfDue: assign(({ context }) => {
        const pending = context.pendingReset;
        if (pending === null || context.queue.some((c) => c.type === 'RESET') || context.inFlight?.command.type === 'RESET') return {};
        return { queue: [...context.queue, { type: 'RESET', dropCount: pending } as const] };
      }),
      queueStatus: assign(({ context }) => ({ queue: [...context.queue.filter((c) => c.type !== 'STATUS'), { type: 'STATUS' } as const] })),
      queueRequest: assign(({ context, event }) => {
        switch (event.type) {
          case 'DROPBOX.UNLOCK':
            return { queue: [...context.queue, { type: 'UNLOCK', ms: event.ms } as const] };
          case 'DROPBOX.LED':
            return { queue: [...context.queue.filter((c) => c.type !== 'LED'), { type: 'LED', mode: event.mode } as const] };
          case 'DROPBOX.STATUS':
            return { queue: [...context.queue.filter((c) => c.type !== 'STATUS'), { type: 'STATUS' } as const] };
          default:
            return {};
        }
      }),
      takeNextCommand: assign(({ context }) => {
        const [command, ...rest] = context.queue;
        if (!command) return {};
        return { queue: rest, inFlight: { seq: context.nextCmdSeq, command, attempts: 0 }, nextCmdSeq: nextSeq(context.nextCmdSeq) };
      }),
      markInFlightSent: assign(({ context }) => {
        if (!context.inFlight) return {};
        return {
          inFlight: { ...context.inFlight, attempts: context.inFlight.attempts + 1 },
          counters: { ...context.counters, commandsSent: context.counters.commandsSent + 1 },
        };
      }),
      /** Each UNLOCK written (re)opens the window in which a DOOR,OPEN is authorised. */
      openUnlockWindowIfUnlock: enqueueActions(({ context, enqueue }) => {
        if (context.inFlight?.command.type === 'UNLOCK') enqueue.raise({ type: 'UNLOCK.SENT' });
      }),
      writeInFlight: enqueueActions(({ context, enqueue }) => {
        if (!context.inFlight) return;
        const command: BoardPortCommand = { type: 'PORT.SEND', seq: context.inFlight.seq, command: context.inFlight.command };
        enqueue.sendTo('link', { type: 'LINK.SEND', command });
      }),
      confirmResetIfAcked: ({ context, self }) => {
        if (context.inFlight?.command.type !== 'RESET') return;
        try {
          ledger.confirmReset();
          log.info({ box }, 'board acknowledged the collection reset');
        } catch (err) {
          log.error({ box, err: (err as Error).message }, 'could not store the board reset; it is retried');
        }
        self.send({ type: 'LEDGER.CHANGED', pendingReset: ledger.pendingReset });
      },
      clearInFlight: assign({ inFlight: null }),
      countCollection: assign(({ context }) => ({ counters: { ...context.counters, collections: context.counters.collections + 1 } })),
      countForcedOpening: assign(({ context }) => ({ counters: { ...context.counters, forcedOpenings: context.counters.forcedOpenings + 1 } })),
      logNak: ({ context, event }) => {
        if (frameIs(event, 'NAK')) log.warn({ box, command: context.inFlight?.command.type, reason: event.frame.reason }, 'board refused a command');
      },
      countNak: assign(({ context }) => ({ counters: { ...context.counters, naks: context.counters.naks + 1 } })),
      countAckTimeout: assign(({ context }) => ({ counters: { ...context.counters, ackTimeouts: context.counters.ackTimeouts + 1 } })),
      recordCommandUnacked: ({ context }) => {
        const cmd = context.inFlight?.command;
        if (cmd) record([faultEvent('dropbox.command_unacked', `${cmd.type} not acknowledged after ${BOARD_COMMAND_MAX_ATTEMPTS} attempts`)]);
      },
      requeueInFlight: assign(({ context }) => {
        if (!context.inFlight) return {};
        // Resent with a fresh seq after the port is back; ACKs to the old one are ignored.
        return { queue: [context.inFlight.command, ...context.queue], inFlight: null };
      }),
      // The link logs its own failures (a repeated one once) and its return.
      notePortOpened: assign({ reopenFailures: 0, lastPortError: null, portReady: true }),
      notePortFailure: assign(({ context, event }) => {
        const message = event.type === 'LINK.DOWN' ? event.message : 'port link failed';
        return { portReady: false, reopenFailures: context.reopenFailures + 1, lastPortError: message, counters: { ...context.counters, reopens: context.counters.reopens + 1 } };
      }),
    },
  }).createMachine({
    id: 'dropbox',
    type: 'parallel',
    on: { 'LEDGER.CHANGED': { actions: ['noteLedgerState', 'queueResetIfDue'] } },
    context: ({ input }) => ({
      box: input.box,
      path: input.path,
      baudRate: input.baudRate,
      portReady: false,
      reopenFailures: 0,
      lastSeq: null,
      nextCmdSeq: 0,
      queue: [],
      inFlight: null,
      door: null,
      fillPercent: null,
      slot: null,
      key: null,
      dropCount: null,
      // Read once as the machine starts (a crash between a collection and its ACK); from
      // then on the ledger tells every change back (LEDGER.CHANGED).
      pendingReset: ledger.pendingReset,
      firmware: null,
      boardId: null,
      lastFrameAt: null,
      lastPortError: null,
      recentFrames: [],
      counters: {
        frames: 0,
        malformed: Object.fromEntries(MALFORMED_REASONS.map((r) => [r, 0])) as Record<MalformedReason, number>,
        framesLost: 0,
        reopens: 0,
        commandsSent: 0,
        naks: 0,
        ackTimeouts: 0,
        boardErrors: 0,
        collections: 0,
        forcedOpenings: 0,
      },
    }),
    states: {
      link: {
        invoke: {
          id: 'link',
          src: 'boardLink',
          input: ({ context }) => ({ connection: { path: context.path, baudRate: context.baudRate } }),
          // The link itself failed (a bug, not an unplug): start it afresh.
          onError: { target: '#dropbox.link', reenter: true, actions: 'notePortFailure' },
        },
        initial: 'connecting',
        states: {
          connecting: {},
          ready: {},
          reconnecting: {},
        },
        on: {
          'LINK.READY': { target: '.ready', actions: ['notePortOpened', 'queueStatus', 'queueResetIfDue'] },
          'LINK.DOWN': { target: '.reconnecting', actions: 'notePortFailure' },
        },
      },
      presence: {
        initial: 'starting',
        states: {
          starting: {
            after: { boardSilence: { target: 'offline', actions: 'recordOffline' } },
            on: { 'BOARD.FRAME': { target: 'online' } },
          },
          online: {
            after: { boardSilence: { target: 'offline', actions: 'recordOffline' } },
            on: { 'BOARD.FRAME': { target: 'online', reenter: true } },
          },
          offline: {
            on: { 'BOARD.FRAME': { target: 'online', actions: 'recordRecovered' } },
          },
        },
      },
      frames: {
        on: {
          'BOARD.FRAME': [
            { guard: ({ event }) => frameIs(event, 'HELLO'), actions: ['recordFrameEffects', 'applyFrame', 'queueStatus', 'queueResetIfDue'] },
            { guard: ({ event }) => frameIs(event, 'SLOT'), actions: ['recordFrameEffects', 'applyFrame', 'emitSlot'] },
            { actions: ['recordFrameEffects', 'applyFrame'] },
          ],
          'BOARD.MALFORMED': { actions: ['countMalformed', 'logMalformed'] },
        },
      },
      /** Open for DOOR_UNLOCK_AUTHORISES_MS after each UNLOCK written: a DOOR,OPEN then is ours. */
      unlockWindow: {
        initial: 'shut',
        states: {
          shut: { on: { 'UNLOCK.SENT': 'open' } },
          open: {
            after: { unlockAuthorises: 'shut' },
            on: { 'UNLOCK.SENT': { target: 'open', reenter: true } },
          },
        },
      },
      door: {
        initial: 'unknown',
        states: {
          unknown: {
            on: {
              'BOARD.FRAME': [
                { guard: and(['isDoorOpen', 'recentlyUnlocked']), target: 'openedByUs', actions: 'recordAuthorisedOpen' },
                { guard: 'isDoorOpen', target: 'forced', actions: ['recordForcedOpen', 'countForcedOpening'] },
                { guard: 'isDoorClosed', target: 'closed' },
              ],
            },
          },
          closed: {
            on: {
              'BOARD.FRAME': [
                { guard: and(['isDoorOpen', 'recentlyUnlocked']), target: 'openedByUs', actions: 'recordAuthorisedOpen' },
                { guard: 'isDoorOpen', target: 'forced', actions: ['recordForcedOpen', 'countForcedOpening'] },
              ],
            },
          },
          openedByUs: {
            // The RESET is queued when the ledger tells back its pending count (LEDGER.CHANGED).
            on: { 'BOARD.FRAME': { guard: 'isDoorClosed', target: 'closed', actions: ['recordCollection', 'countCollection'] } },
          },
          forced: {
            on: { 'BOARD.FRAME': { guard: 'isDoorClosed', target: 'closed', actions: 'recordDoorClosed' } },
          },
        },
      },
      commands: {
        initial: 'idle',
        on: {
          'DROPBOX.UNLOCK': { actions: 'queueRequest' },
          'DROPBOX.LED': { actions: 'queueRequest' },
          'DROPBOX.STATUS': { actions: 'queueRequest' },
        },
        states: {
          idle: {
            always: { guard: and(['portReady', 'hasQueued']), target: 'awaitingAck', actions: 'takeNextCommand' },
            after: { resetRetry: { guard: 'resetDue', actions: 'queueResetIfDue', target: 'idle', reenter: true } },
          },
          awaitingAck: {
            entry: ['markInFlightSent', 'openUnlockWindowIfUnlock', 'writeInFlight'],
            // STATUS is answered with state frames (CONTRACT §3), not necessarily an ACK:
            // nothing to wait for, and a board that ACKs it anyway is ignored harmlessly.
            always: { guard: 'inFlightIsStatus', target: 'idle', actions: 'clearInFlight' },
            after: {
              commandAck: [
                { guard: 'attemptsLeft', target: 'awaitingAck', reenter: true, actions: 'countAckTimeout' },
                { target: 'idle', actions: ['countAckTimeout', 'recordCommandUnacked', 'clearInFlight'] },
              ],
            },
            on: {
              'BOARD.FRAME': [
                { guard: 'isAckOfInFlight', target: 'idle', actions: ['confirmResetIfAcked', 'clearInFlight'] },
                { guard: and(['isNakOfInFlight', 'attemptsLeft']), target: 'awaitingAck', reenter: true, actions: ['countNak', 'logNak'] },
                { guard: 'isNakOfInFlight', target: 'idle', actions: ['countNak', 'logNak', 'recordCommandUnacked', 'clearInFlight'] },
              ],
              'LINK.DOWN': { target: 'idle', actions: 'requeueInFlight' },
            },
          },
        },
      },
    },
  });
}

export type DropboxMachine = ReturnType<typeof createDropboxMachine>;
export type DropboxSnapshot = SnapshotFrom<DropboxMachine>;

/** The public face of the machine for /api/health and diagnostics. */
export function dropboxStatusView(snapshot: DropboxSnapshot, ledger: DropboxLedger) {
  const c = snapshot.context;
  const v = snapshot.value as { link: string; presence: string; door: string; commands: string };
  const linkState = v.link;
  const malformedTotal = Object.values(c.counters.malformed).reduce((a, b) => a + b, 0);
  return {
    state: v.presence === 'online' ? 'online' : v.presence === 'offline' ? 'offline' : 'starting',
    port: { path: c.path, link: linkState, lastError: c.lastPortError },
    board: { id: c.boardId, firmware: c.firmware },
    door: v.door,
    fillPercent: c.fillPercent,
    fillLevel: c.fillPercent === null ? null : fillLevel(c.fillPercent),
    slotOccupied: c.slot,
    keySwitch: c.key,
    dropCount: c.dropCount,
    recordedCount: ledger.recordedCount,
    pendingReset: ledger.pendingReset,
    lastFrameAt: c.lastFrameAt === null ? null : new Date(c.lastFrameAt).toISOString(),
    /** The board's own seq in its last frame (a reboot starts it again from 0). */
    lastSeq: c.lastSeq,
    counters: { ...c.counters, malformedTotal },
    recentFrames: c.recentFrames,
    commands: { state: v.commands, inFlight: c.inFlight, queued: c.queue.length },
  };
}
