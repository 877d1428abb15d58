/**
 * The deposit flow (issue #4) as one XState machine:
 *
 *   resuming ─▶ idle ─START─▶ printing ─▶ awaitingDrop ─DEPOSIT─▶ received ─▶ idle
 *                                 │            │ dropWindow / CANCEL
 *                                 ▼            ▼
 *                               idle        voiding ─▶ voided ─▶ idle
 *                                              └─ refused ─▶ voidRetrying ─voidRetry─▶ voiding
 *
 * A receipt is printed (the `printReceipt` actor prints it and records
 * `dropbox.receipt_issued`), the slot light goes on, and the next envelope the board
 * reports as a DROP within the drop window is linked to it; no drop in time, or the
 * citizen cancels, voids it (`recordVoid` actor). Guards and `assign` are pure: the
 * printer, the outbox and the slot light are reached only through the actors and the
 * named actions the deposit desk provides.
 */
import { assign, fromCallback, fromPromise, setup, type SnapshotFrom } from 'xstate';

/** How long the slot light waits for the envelope after the receipt is printed. */
export const DEPOSIT_DROP_TIMEOUT_MS = 120_000;
/** How long `received` or `voided` stays shown before `idle`. */
export const DEPOSIT_RESULT_KEPT_MS = 30_000;
/** A void the outbox refused (disk full) is tried again after this. */
export const DEPOSIT_VOID_RETRY_MS = 5_000;
/** While the citizen drops the envelope, watchers hear the time left this often. */
export const DEPOSIT_COUNTDOWN_TICK_MS = 1_000;

export type VoidReason = 'no_drop' | 'cancelled' | 'interrupted';

/** The receipt in flight, as stored beside the events. */
export interface PendingReceiptRecord {
  receipt: string;
  box: string;
  phase: 'printing' | 'awaiting_drop';
  issuedAt: number;
  expiresAt: number | null;
  /** This receipt's drop window when not the desk's default (longer in speech mode, CONTRACT §7). */
  windowMs?: number;
}

/** What printing a receipt came to (the actor also recorded `dropbox.receipt_issued`). */
export type PrintReceiptOutput = { kind: 'issued'; record: PendingReceiptRecord } | { kind: 'not_printed'; reason: string } | { kind: 'storage_error'; detail: string };

export interface DepositMachineInput {
  /** The receipt a restart left in flight, and whether its window ran out meanwhile. */
  resume: { record: PendingReceiptRecord; expired: boolean; windowMs: number } | null;
  dropTimeoutMs: number;
}

export type DepositMachineEvent =
  | { type: 'START'; record: PendingReceiptRecord }
  | { type: 'DEPOSIT'; receipt: string | undefined; count: number }
  | { type: 'CANCEL' }
  | { type: 'VOID.RECORDED' }
  | { type: 'VOID.REFUSED' };

export interface DepositContext {
  record: PendingReceiptRecord | null;
  /** Time the envelope has, from the moment the machine enters awaitingDrop. */
  windowMs: number;
  dropTimeoutMs: number;
  voidReason: VoidReason | null;
  /** Why the last START ended without a deposit (for the desk's answer). */
  lastFailure: { kind: 'not_printed'; reason: string } | { kind: 'storage_error'; detail: string } | null;
  /** Countdown ticks while awaiting the drop: each one is a snapshot watchers see. */
  ticks: number;
}

export const depositMachine = setup({
  types: {
    context: {} as DepositContext,
    events: {} as DepositMachineEvent,
    input: {} as DepositMachineInput,
  },
  actors: {
    // Provided by the deposit desk: print the receipt and record its issue.
    printReceipt: fromPromise<PrintReceiptOutput, { record: PendingReceiptRecord }>(async () => ({ kind: 'not_printed', reason: 'no_printer' })),
    // Provided by the deposit desk: record the void; answers VOID.RECORDED or VOID.REFUSED.
    recordVoid: fromCallback<DepositMachineEvent, { record: PendingReceiptRecord; reason: VoidReason }>(({ sendBack }) => {
      sendBack({ type: 'VOID.REFUSED' });
    }),
  },
  actions: {
    // Provided by the deposit desk (slot light, the drop link, log lines).
    openSlot: (_, _params: { record: PendingReceiptRecord }) => undefined,
    closeSlot: () => undefined,
    noteReceived: (_, _params: { receipt: string; count: number }) => undefined,
    noteVoided: (_, _params: { receipt: string; reason: VoidReason }) => undefined,
    forgetUnprinted: () => undefined,
    takeRecord: assign(({ event }) => (event.type === 'START' ? { record: event.record, voidReason: null, lastFailure: null, windowMs: 0, ticks: 0 } : {})),
    clear: assign({ record: null, voidReason: null, ticks: 0 }),
    tick: assign(({ context }) => ({ ticks: context.ticks + 1 })),
  },
  guards: {
    nothingToResume: ({ context }) => context.record === null,
    interruptedWhilePrinting: ({ context }) => context.record?.phase === 'printing' || context.record?.expiresAt === null,
    resumedWindowRanOut: ({ context }) => context.windowMs <= 0,
    isOurDeposit: ({ context, event }) => event.type === 'DEPOSIT' && event.receipt !== undefined && event.receipt === context.record?.receipt,
  },
  delays: {
    dropWindow: ({ context }) => Math.max(0, context.windowMs),
    resultKept: DEPOSIT_RESULT_KEPT_MS,
    voidRetry: DEPOSIT_VOID_RETRY_MS,
    countdownTick: DEPOSIT_COUNTDOWN_TICK_MS,
  },
}).createMachine({
  id: 'deposit',
  context: ({ input }) => ({
    record: input.resume?.record ?? null,
    windowMs: input.resume ? (input.resume.expired ? 0 : input.resume.windowMs) : 0,
    dropTimeoutMs: input.dropTimeoutMs,
    voidReason: null,
    lastFailure: null,
    ticks: 0,
  }),
  initial: 'resuming',
  states: {
    resuming: {
      always: [
        { guard: 'nothingToResume', target: 'idle' },
        // Cut off while printing: the citizen may hold a receipt nobody will honour.
        { guard: 'interruptedWhilePrinting', target: 'voiding', actions: assign({ voidReason: 'interrupted' as VoidReason }) },
        { guard: 'resumedWindowRanOut', target: 'voiding', actions: assign({ voidReason: 'no_drop' as VoidReason }) },
        { target: 'awaitingDrop' },
      ],
    },
    idle: {
      on: { START: { target: 'printing', actions: 'takeRecord' } },
    },
    printing: {
      invoke: {
        src: 'printReceipt',
        input: ({ context }) => ({ record: context.record! }),
        onDone: [
          {
            guard: ({ event }) => event.output.kind === 'issued',
            target: 'awaitingDrop',
            actions: assign(({ context, event }) => {
              const out = event.output as Extract<PrintReceiptOutput, { kind: 'issued' }>;
              return { record: out.record, windowMs: out.record.windowMs ?? context.dropTimeoutMs };
            }),
          },
          {
            target: 'idle',
            actions: [assign(({ event }) => ({ record: null, lastFailure: event.output.kind === 'issued' ? null : event.output })), 'forgetUnprinted'],
          },
        ],
        onError: { target: 'idle', actions: [assign(({ event }) => ({ record: null, lastFailure: { kind: 'not_printed' as const, reason: String((event.error as Error)?.message ?? event.error) } })), 'forgetUnprinted'] },
      },
    },
    awaitingDrop: {
      entry: { type: 'openSlot', params: ({ context }) => ({ record: context.record! }) },
      after: { dropWindow: { target: 'voiding', actions: assign({ voidReason: 'no_drop' as VoidReason }) } },
      on: {
        DEPOSIT: {
          guard: 'isOurDeposit',
          target: 'received',
          actions: { type: 'noteReceived', params: ({ context, event }) => ({ receipt: context.record!.receipt, count: (event as { count: number }).count }) },
        },
        CANCEL: { target: 'voiding', actions: assign({ voidReason: 'cancelled' as VoidReason }) },
      },
      initial: 'counting',
      states: {
        counting: {
          after: { countdownTick: { target: 'counting', reenter: true, actions: 'tick' } },
        },
      },
    },
    received: {
      entry: 'closeSlot',
      after: { resultKept: { target: 'idle', actions: 'clear' } },
      // The result is only on show: the next citizen need not wait for it to go.
      on: { START: { target: 'printing', actions: 'takeRecord' } },
    },
    voiding: {
      invoke: {
        src: 'recordVoid',
        input: ({ context }) => ({ record: context.record!, reason: context.voidReason ?? 'no_drop' }),
      },
      on: {
        'VOID.RECORDED': {
          target: 'voided',
          actions: { type: 'noteVoided', params: ({ context }) => ({ receipt: context.record!.receipt, reason: context.voidReason ?? 'no_drop' }) },
        },
        'VOID.REFUSED': 'voidRetrying',
      },
    },
    voidRetrying: {
      after: { voidRetry: 'voiding' },
    },
    voided: {
      entry: 'closeSlot',
      after: { resultKept: { target: 'idle', actions: 'clear' } },
      // The result is only on show: the next citizen need not wait for it to go.
      on: { START: { target: 'printing', actions: 'takeRecord' } },
    },
  },
});

export type DepositMachine = typeof depositMachine;
export type DepositSnapshot = SnapshotFrom<DepositMachine>;
