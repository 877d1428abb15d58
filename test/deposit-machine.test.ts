/**
 * The deposit flow's machine on its own: XState's SimulatedClock for every wait, and its
 * I/O (printer, outbox, slot light) provided as recording stand-ins, so each rule is
 * checked without a printer, a board or a disk.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, fromCallback, fromPromise } from 'xstate';
import {
  DEPOSIT_COUNTDOWN_TICK_MS,
  DEPOSIT_DROP_TIMEOUT_MS,
  DEPOSIT_RESULT_KEPT_MS,
  DEPOSIT_VOID_RETRY_MS,
  depositMachine,
  type DepositMachineEvent,
  type DepositMachineInput,
  type PendingReceiptRecord,
  type PrintReceiptOutput,
  type VoidReason,
} from '../src/machines/depositMachine.js';

const RECORD: PendingReceiptRecord = { receipt: 'R-K1-000001', box: 'box-1', phase: 'printing', issuedAt: 0, expiresAt: null };

function run(opts: { print?: PrintReceiptOutput; voidRefusals?: number; input?: Partial<DepositMachineInput> } = {}) {
  const clock = new SimulatedClock();
  const calls: string[] = [];
  let refusals = opts.voidRefusals ?? 0;
  const machine = depositMachine.provide({
    actors: {
      printReceipt: fromPromise<PrintReceiptOutput, { record: PendingReceiptRecord }>(async ({ input }) => {
        calls.push(`print ${input.record.receipt}`);
        return opts.print ?? { kind: 'issued', record: { ...input.record, phase: 'awaiting_drop', expiresAt: DEPOSIT_DROP_TIMEOUT_MS } };
      }),
      recordVoid: fromCallback<DepositMachineEvent, { record: PendingReceiptRecord; reason: VoidReason }>(({ input, sendBack }) => {
        calls.push(`void ${input.record.receipt} ${input.reason}`);
        if (refusals > 0) {
          refusals--;
          sendBack({ type: 'VOID.REFUSED' });
        } else sendBack({ type: 'VOID.RECORDED' });
      }),
    },
    actions: {
      openSlot: () => calls.push('light on'),
      closeSlot: () => calls.push('light off'),
      forgetUnprinted: () => calls.push('forget'),
    },
  });
  const actor = createActor(machine, { clock, input: { resume: null, dropTimeoutMs: DEPOSIT_DROP_TIMEOUT_MS, ...opts.input } });
  actor.start();
  const state = () => actor.getSnapshot().value;
  return { actor, clock, calls, state };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('the deposit machine', () => {
  it('prints, lights the slot, links the envelope of its receipt, then shows the result for a while', async () => {
    const { actor, clock, calls, state } = run();
    actor.send({ type: 'START', record: RECORD });
    expect(state()).toBe('printing');
    await settle();
    expect(state()).toEqual({ awaitingDrop: 'counting' });
    actor.send({ type: 'DEPOSIT', receipt: undefined, count: 4 }); // somebody else's envelope
    actor.send({ type: 'DEPOSIT', receipt: 'R-K1-000009', count: 5 });
    expect(state()).toEqual({ awaitingDrop: 'counting' });
    actor.send({ type: 'DEPOSIT', receipt: RECORD.receipt, count: 6 });
    expect(state()).toBe('received');
    clock.increment(DEPOSIT_RESULT_KEPT_MS - 1);
    expect(state()).toBe('received');
    clock.increment(1);
    expect(state()).toBe('idle');
    expect(calls).toEqual(['print R-K1-000001', 'light on', 'light off']);
    expect(actor.getSnapshot().context.record).toBeNull();
  });

  it('voids the receipt when the drop window runs out, not a millisecond before', async () => {
    const { actor, clock, calls, state } = run();
    actor.send({ type: 'START', record: RECORD });
    await settle();
    clock.increment(DEPOSIT_DROP_TIMEOUT_MS - 1);
    expect(state()).toEqual({ awaitingDrop: 'counting' });
    clock.increment(1);
    expect(state()).toBe('voided');
    expect(calls).toEqual(['print R-K1-000001', 'light on', 'void R-K1-000001 no_drop', 'light off']);
  });

  it('tells its watchers the time left once a second while the slot is lit', async () => {
    const { actor, clock } = run();
    actor.send({ type: 'START', record: RECORD });
    await settle();
    let seen = 0;
    actor.subscribe(() => seen++);
    for (let i = 0; i < 3; i++) clock.increment(DEPOSIT_COUNTDOWN_TICK_MS);
    expect(seen).toBe(3);
    expect(actor.getSnapshot().context.ticks).toBe(3);
  });

  it('a cancel voids as cancelled; a void the outbox refuses is retried and the light stays on until it is recorded', async () => {
    const { actor, clock, calls, state } = run({ voidRefusals: 1 });
    actor.send({ type: 'START', record: RECORD });
    await settle();
    actor.send({ type: 'CANCEL' });
    expect(state()).toBe('voidRetrying');
    expect(calls.at(-1)).toBe('void R-K1-000001 cancelled');
    clock.increment(DEPOSIT_VOID_RETRY_MS);
    expect(state()).toBe('voided');
    expect(calls.slice(2)).toEqual(['void R-K1-000001 cancelled', 'void R-K1-000001 cancelled', 'light off']);
  });

  it('a receipt the printer did not confirm starts nothing: no light, the receipt forgotten, the reason kept', async () => {
    const { actor, calls, state } = run({ print: { kind: 'not_printed', reason: 'paper_out' } });
    actor.send({ type: 'START', record: RECORD });
    await settle();
    expect(state()).toBe('idle');
    expect(calls).toEqual(['print R-K1-000001', 'forget']);
    expect(actor.getSnapshot().context.lastFailure).toEqual({ kind: 'not_printed', reason: 'paper_out' });
  });

  it('after a restart: waits the time the receipt had left, voids one whose time ran out, and voids one cut off while printing', () => {
    const waiting = { ...RECORD, phase: 'awaiting_drop' as const, expiresAt: 60_000 };
    const resumed = run({ input: { resume: { record: waiting, expired: false, windowMs: 60_000 } } });
    expect(resumed.state()).toEqual({ awaitingDrop: 'counting' });
    resumed.clock.increment(60_000);
    expect(resumed.calls).toEqual(['light on', 'void R-K1-000001 no_drop', 'light off']);

    const late = run({ input: { resume: { record: waiting, expired: true, windowMs: -5 } } });
    expect(late.state()).toBe('voided');
    expect(late.calls).toEqual(['void R-K1-000001 no_drop', 'light off']);

    const cut = run({ input: { resume: { record: RECORD, expired: false, windowMs: 0 } } });
    expect(cut.state()).toBe('voided');
    expect(cut.calls).toEqual(['void R-K1-000001 interrupted', 'light off']);
  });
});
