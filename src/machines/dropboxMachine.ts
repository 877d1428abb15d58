/**
 * The drop box (CONTRACT §3) as one XState v5 machine with parallel regions:
 *
 *  - link      the serial port: open → ready, or waiting to reopen with backoff when it
 *              vanishes (an unplug is a state here, not an exception)
 *  - presence  online / offline from frame silence (3 s), with fault and recovery events
 *  - frames    every valid frame: seq gaps, counts (via the ledger), fill, tamper, key
 *  - door      closed / opened by us (collection) / forced
 *  - commands  one command on the wire at a time, resent until ACKed
 *
 * Context holds plain data only; the port lives in the `boardPort` actor and durable
 * counts in the DropboxLedger, both handed in by the composition root.
 */
import { and, assign, emit, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { BoardPortCommand, BoardPortEvent, BoardPortInput } from '../../devices/board/boardPortActor.js';
import type { BoardCommand, BoardFrame, MalformedReason } from '../../devices/board/frames.js';
import { framesLostBetween, nextSeq } from '../../devices/board/protocol.js';
import type { Logger } from '../log.js';
import { RateLimitedLog } from '../log.js';
import type { NewEvent } from '../upstream/events.js';
import {
  BOARD_COMMAND_ACK_MS,
  BOARD_COMMAND_MAX_ATTEMPTS,
  BOARD_RESET_RETRY_MS,
  BOARD_SILENCE_MS,
  DOOR_UNLOCK_AUTHORISES_MS,
  boardReopenDelay,
} from './delays.js';
import { fillLevel, type DropboxLedger } from './dropboxLedger.js';
import type { CallbackActorLogic } from 'xstate';

/** Requests from the rest of the controller (UI, diagnostics). */
export type DropboxRequest =
  | { type: 'DROPBOX.UNLOCK'; ms: number }
  | { type: 'DROPBOX.LED'; mode: 'OFF' | 'ON' | 'BLINK' }
  | { type: 'DROPBOX.STATUS' };

export type DropboxEvent = BoardPortEvent | DropboxRequest;

/** Things the machine tells observers about (the UI's slot light, deposits linked to receipts). */
export type DropboxEmitted =
  | { type: 'slot'; occupied: boolean }
  | { type: 'deposit'; count: number }
  | { type: 'fill'; percent: number };

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
  firmware: string | null;
  boardId: string | null;
  lastUnlockAt: number | null;
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

function frameIs<T extends BoardFrame['type']>(event: DropboxEvent, type: T): event is { type: 'BOARD.FRAME'; frame: FrameOf<T>; raw: string } {
  return event.type === 'BOARD.FRAME' && event.frame.type === type;
}

export function createDropboxMachine(deps: DropboxDeps) {
  const { ledger, log } = deps;
  const malformedLog = new RateLimitedLog(log, 10_000, deps.now);
  const box = ledger.box;
  const record = (events: NewEvent[]) => ledger.record(events);

  return setup({
    types: {
      context: {} as DropboxContext,
      events: {} as DropboxEvent,
      input: {} as DropboxInput,
      emitted: {} as DropboxEmitted,
    },
    actors: { boardPort: deps.boardPort },
    delays: {
      boardSilence: BOARD_SILENCE_MS,
      reopenBackoff: ({ context }) => boardReopenDelay(context.reopenFailures),
      commandAck: BOARD_COMMAND_ACK_MS,
      resetRetry: BOARD_RESET_RETRY_MS,
    },
    guards: {
      portReady: ({ context }) => context.portReady,
      hasQueued: ({ context }) => context.queue.length > 0,
      isDoorOpen: ({ event }) => frameIs(event, 'DOOR') && event.frame.state === 'OPEN',
      isDoorClosed: ({ event }) => frameIs(event, 'DOOR') && event.frame.state === 'CLOSED',
      recentlyUnlocked: ({ context }) => context.lastUnlockAt !== null && deps.now() - context.lastUnlockAt <= DOOR_UNLOCK_AUTHORISES_MS,
      isAckOfInFlight: ({ context, event }) => frameIs(event, 'ACK') && context.inFlight?.seq === event.frame.cmdSeq,
      inFlightIsStatus: ({ context }) => context.inFlight?.command.type === 'STATUS',
      isNakOfInFlight: ({ context, event }) => frameIs(event, 'NAK') && context.inFlight?.seq === event.frame.cmdSeq,
      attemptsLeft: ({ context }) => (context.inFlight?.attempts ?? 0) < BOARD_COMMAND_MAX_ATTEMPTS,
      resetDue: ({ context }) => ledger.pendingReset !== null && !context.queue.some((c) => c.type === 'RESET') && context.inFlight?.command.type !== 'RESET',
    },
    actions: {
      noteMalformed: assign(({ context, event }) => {
        if (event.type !== 'BOARD.MALFORMED') return {};
        malformedLog.warn({ box, reason: event.reason, detail: event.detail, raw: event.raw.slice(0, 60) }, 'malformed frame from the drop-box board ignored');
        const malformed = { ...context.counters.malformed, [event.reason]: context.counters.malformed[event.reason] + 1 };
        return { counters: { ...context.counters, malformed } };
      }),
      /** Side effects of a frame, run before applyFrame so they see the previous state. */
      recordFrameEffects: ({ context, event }) => {
        if (event.type !== 'BOARD.FRAME') return;
        const f = event.frame;
        const lost = seqFramesLost(context.lastSeq, f);
        if (lost > 0) {
          const expected = nextSeq(context.lastSeq ?? 0);
          record([{ type: 'device.fault', data: { device: 'dropbox', code: 'dropbox.frames_lost', detail: `${lost} frame(s) lost: expected seq ${expected}, got ${f.seq}` } }]);
        }
        switch (f.type) {
          case 'HELLO':
            log.info({ box, firmware: f.firmware, boardId: f.boardId, version: f.version }, 'drop-box board said hello');
            if (f.version !== 1) {
              record([{ type: 'device.fault', data: { device: 'dropbox', code: 'dropbox.protocol_version', detail: `board speaks protocol ${f.version}, controller speaks 1` } }]);
            }
            break;
          case 'HB':
          case 'DROP':
            ledger.observeCount(f.dropCount, f.type === 'DROP', f.seq);
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
            record([{ type: 'device.fault', data: { device: 'dropbox', code: 'dropbox.board_error', detail: f.text ? `${f.code}: ${f.text}` : f.code } }]);
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
        const common = { lastFrameAt: deps.now(), recentFrames, lastSeq: f.seq, counters };
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
        record([{ type: 'device.fault', data: { device: 'dropbox', code: 'dropbox.offline', detail: context.lastPortError ? `no frame for ${BOARD_SILENCE_MS / 1000} s; port: ${context.lastPortError}` : `no frame for ${BOARD_SILENCE_MS / 1000} s` } }]);
        log.warn({ box }, 'drop-box board offline');
      },
      recordRecovered: () => {
        record([{ type: 'device.recovered', data: { device: 'dropbox', code: 'dropbox.offline' } }]);
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
      recordCollection: () => {
        const collected = ledger.recordCollection();
        if (collected) log.info({ box, count: collected.count }, 'drop box collected');
        else log.error({ box }, 'drop-box collection could not be recorded: outbox refused it');
      },
      queueResetIfDue: assign(({ context }) => {
        const pending = ledger.pendingReset;
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
        const isUnlock = context.inFlight.command.type === 'UNLOCK';
        return {
          inFlight: { ...context.inFlight, attempts: context.inFlight.attempts + 1 },
          lastUnlockAt: isUnlock ? deps.now() : context.lastUnlockAt,
          counters: { ...context.counters, commandsSent: context.counters.commandsSent + 1 },
        };
      }),
      writeInFlight: ({ context, self }) => {
        const port = self.getSnapshot().children.port as ActorRefFrom<DropboxDeps['boardPort']> | undefined;
        if (context.inFlight) port?.send({ type: 'PORT.SEND', seq: context.inFlight.seq, command: context.inFlight.command });
      },
      confirmResetIfAcked: ({ context }) => {
        if (context.inFlight?.command.type !== 'RESET') return;
        try {
          ledger.confirmReset();
          log.info({ box }, 'board acknowledged the collection reset');
        } catch (err) {
          log.error({ box, err: (err as Error).message }, 'could not store the board reset; it is retried');
        }
      },
      clearInFlight: assign({ inFlight: null }),
      countCollection: assign(({ context }) => ({ counters: { ...context.counters, collections: context.counters.collections + 1 } })),
      countForcedOpening: assign(({ context }) => ({ counters: { ...context.counters, forcedOpenings: context.counters.forcedOpenings + 1 } })),
      countNak: assign(({ context, event }) => {
        if (frameIs(event, 'NAK')) log.warn({ box, command: context.inFlight?.command.type, reason: event.frame.reason }, 'board refused a command');
        return { counters: { ...context.counters, naks: context.counters.naks + 1 } };
      }),
      countAckTimeout: assign(({ context }) => ({ counters: { ...context.counters, ackTimeouts: context.counters.ackTimeouts + 1 } })),
      giveUpCommand: assign(({ context }) => {
        const cmd = context.inFlight?.command;
        if (cmd) {
          record([{ type: 'device.fault', data: { device: 'dropbox', code: 'dropbox.command_unacked', detail: `${cmd.type} not acknowledged after ${BOARD_COMMAND_MAX_ATTEMPTS} attempts` } }]);
        }
        return { inFlight: null };
      }),
      requeueInFlight: assign(({ context }) => {
        if (!context.inFlight) return {};
        // Resent with a fresh seq after the port is back; ACKs to the old one are ignored.
        return { queue: [context.inFlight.command, ...context.queue], inFlight: null };
      }),
      notePortOpened: assign(({ context }) => {
        log.info({ box, path: context.path }, 'drop-box port open');
        return { reopenFailures: 0, lastPortError: null, portReady: true };
      }),
      notePortFailure: assign(({ context, event }) => {
        const message = event.type === 'PORT.OPEN_FAILED' || event.type === 'PORT.CLOSED' ? event.message : 'port actor failed';
        if (context.reopenFailures === 0) log.warn({ box, path: context.path, message }, 'drop-box port unavailable; reopening with backoff');
        return { portReady: false, reopenFailures: context.reopenFailures + 1, lastPortError: message, counters: { ...context.counters, reopens: context.counters.reopens + 1 } };
      }),
    },
  }).createMachine({
    id: 'dropbox',
    type: 'parallel',
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
      firmware: null,
      boardId: null,
      lastUnlockAt: null,
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
        initial: 'open',
        states: {
          open: {
            invoke: {
              id: 'port',
              src: 'boardPort',
              input: ({ context }) => ({ path: context.path, baudRate: context.baudRate }),
              onError: { target: 'waiting', actions: 'notePortFailure' },
            },
            initial: 'opening',
            states: {
              opening: {
                on: { 'PORT.OPENED': { target: 'ready', actions: ['notePortOpened', 'queueStatus', 'queueResetIfDue'] } },
              },
              ready: {},
            },
            on: {
              'PORT.OPEN_FAILED': { target: 'waiting', actions: 'notePortFailure' },
              'PORT.CLOSED': { target: 'waiting', actions: 'notePortFailure' },
            },
          },
          waiting: {
            after: { reopenBackoff: { target: 'open' } },
          },
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
          'BOARD.MALFORMED': { actions: 'noteMalformed' },
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
            on: { 'BOARD.FRAME': { guard: 'isDoorClosed', target: 'closed', actions: ['recordCollection', 'countCollection', 'queueResetIfDue'] } },
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
            entry: ['markInFlightSent', 'writeInFlight'],
            // STATUS is answered with state frames (CONTRACT §3), not necessarily an ACK:
            // nothing to wait for, and a board that ACKs it anyway is ignored harmlessly.
            always: { guard: 'inFlightIsStatus', target: 'idle', actions: 'clearInFlight' },
            after: {
              commandAck: [
                { guard: 'attemptsLeft', target: 'awaitingAck', reenter: true, actions: 'countAckTimeout' },
                { target: 'idle', actions: ['countAckTimeout', 'giveUpCommand'] },
              ],
            },
            on: {
              'BOARD.FRAME': [
                { guard: 'isAckOfInFlight', target: 'idle', actions: ['confirmResetIfAcked', 'clearInFlight'] },
                { guard: and(['isNakOfInFlight', 'attemptsLeft']), target: 'awaitingAck', reenter: true, actions: 'countNak' },
                { guard: 'isNakOfInFlight', target: 'idle', actions: ['countNak', 'giveUpCommand'] },
              ],
              'PORT.CLOSED': { target: 'idle', actions: 'requeueInFlight' },
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
  const v = snapshot.value as { link: unknown; presence: string; door: string; commands: string };
  const linkState = typeof v.link === 'string' ? v.link : `open.${Object.values(v.link as Record<string, string>)[0]}`;
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
    counters: { ...c.counters, malformedTotal },
    recentFrames: c.recentFrames,
    commands: { state: v.commands, inFlight: c.inFlight, queued: c.queue.length },
  };
}
