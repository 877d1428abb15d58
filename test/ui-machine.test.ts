/**
 * The touch UI's screen flow without a browser: the machine with a recording backend and
 * a fake clock, for the rules that must hold whatever the page does.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import {
  DEFAULT_UI_TIMINGS,
  createKioskUiMachine,
  screenOf,
  type CheckInAttempt,
  type DepositState,
  type KioskUiBackend,
  type TicketAttempt,
  type UiStatus,
} from '../src/machines/kioskUiMachine.js';

const READY: UiStatus = { open: true, printer: 'ready', deposits: true };

function recordingBackend(overrides: Partial<KioskUiBackend> = {}) {
  const calls: string[] = [];
  let release: (a: TicketAttempt) => void = () => undefined;
  const backend: KioskUiBackend = {
    issueTicket: (service, priority) => {
      calls.push(`issue ${service} ${priority}`);
      return new Promise((resolve) => (release = resolve));
    },
    checkIn: async (code) => {
      calls.push(`checkin ${code}`);
      return { kind: 'too_late' } satisfies CheckInAttempt;
    },
    startDeposit: async () => {
      calls.push('deposit');
      return { kind: 'started', receipt: 'R-1', expiresInS: 60 };
    },
    watchDeposit: (listener: (s: DepositState) => void) => {
      listener({ state: 'awaiting_drop', receipt: 'R-1', secondsLeft: 30 });
      return () => undefined;
    },
    cancelDeposit: async () => {
      calls.push('cancel');
    },
    ...overrides,
  };
  return { backend, calls, finishTicket: (a: TicketAttempt) => release(a) };
}

function start(backend: KioskUiBackend, status: UiStatus = READY) {
  const actor = createActor(createKioskUiMachine(backend), { input: { services: ['prestacoes', 'contribuicoes'], status } });
  actor.start();
  return actor;
}

describe('touch UI flow', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a double tap on a service while the ticket prints asks for one ticket only', async () => {
    const { backend, calls, finishTicket } = recordingBackend();
    const ui = start(backend);
    ui.send({ type: 'ISSUE', service: 'prestacoes' });
    ui.send({ type: 'ISSUE', service: 'prestacoes' });
    expect(screenOf(ui.getSnapshot())).toBe('issuing');
    finishTicket({ kind: 'issued', ticket: 'P001', service: 'prestacoes', peopleAhead: 2, offline: false });
    await vi.advanceTimersByTimeAsync(0);
    ui.send({ type: 'ISSUE', service: 'prestacoes' }); // a late third tap lands on the ticket screen
    expect(screenOf(ui.getSnapshot())).toBe('ticket');
    expect(calls).toEqual(['issue prestacoes false']);
    expect(ui.getSnapshot().context.ticket).toMatchObject({ ticket: 'P001', peopleAhead: 2 });
  });

  it('a citizen who walks away mid-typing is back home in the default language after the idle delay, code forgotten', async () => {
    const ui = start(recordingBackend().backend);
    ui.send({ type: 'LANGUAGE', language: 'en' });
    ui.send({ type: 'APPOINTMENT' });
    ui.send({ type: 'KEY', key: 'A' });
    await vi.advanceTimersByTimeAsync(DEFAULT_UI_TIMINGS.idleMs - 1_000);
    ui.send({ type: 'KEY', key: 'B' }); // typing restarts the delay
    await vi.advanceTimersByTimeAsync(DEFAULT_UI_TIMINGS.idleMs - 1_000);
    expect(screenOf(ui.getSnapshot())).toBe('appointment');
    expect(ui.getSnapshot().context.code).toBe('AB');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(screenOf(ui.getSnapshot())).toBe('home');
    expect(ui.getSnapshot().context).toMatchObject({ language: 'pt-PT', code: '' });
  });

  it('a deposit nobody finishes is cancelled once its window and the grace have passed', async () => {
    const { backend, calls } = recordingBackend();
    const ui = start(backend);
    ui.send({ type: 'DEPOSIT' });
    ui.send({ type: 'CONFIRM' });
    await vi.advanceTimersByTimeAsync(0);
    expect(screenOf(ui.getSnapshot())).toBe('depositWaiting');
    await vi.advanceTimersByTimeAsync(60_000 + DEFAULT_UI_TIMINGS.depositWaitGraceMs);
    expect(calls).toEqual(['deposit', 'cancel']);
    expect(screenOf(ui.getSnapshot())).toBe('home');
  });

  it('learns of the envelope in-process the moment the deposit machine records it: thanks at once, no timer, and it stops listening', async () => {
    const listeners = new Set<(s: DepositState) => void>();
    const { backend } = recordingBackend({
      watchDeposit: (listener) => {
        listeners.add(listener);
        listener({ state: 'awaiting_drop', receipt: 'R-1', secondsLeft: 60 });
        return () => listeners.delete(listener);
      },
    });
    const ui = start(backend);
    ui.send({ type: 'DEPOSIT' });
    ui.send({ type: 'CONFIRM' });
    await vi.advanceTimersByTimeAsync(0);
    expect(screenOf(ui.getSnapshot())).toBe('depositWaiting');
    expect(listeners.size).toBe(1);
    for (const l of listeners) l({ state: 'awaiting_drop', receipt: 'R-1', secondsLeft: 59 });
    expect(ui.getSnapshot().context.deposit).toMatchObject({ receipt: 'R-1', secondsLeft: 59 });
    for (const l of listeners) l({ state: 'received', receipt: 'R-1', secondsLeft: null });
    expect(screenOf(ui.getSnapshot())).toBe('depositThanks');
    expect(listeners.size).toBe(0);
  });

  it('the printer failing while the citizen reads the priority screen shows the printer notice, then out of service until it is back', async () => {
    const ui = start(recordingBackend().backend);
    ui.send({ type: 'PRIORITY' });
    ui.send({ type: 'STATUS', status: { ...READY, printer: 'fault' } });
    expect(screenOf(ui.getSnapshot())).toBe('notice');
    expect(ui.getSnapshot().context.notice).toBe('printer');
    await vi.advanceTimersByTimeAsync(DEFAULT_UI_TIMINGS.noticeMs);
    expect(screenOf(ui.getSnapshot())).toBe('outOfService');
    ui.send({ type: 'STATUS', status: READY });
    expect(screenOf(ui.getSnapshot())).toBe('home');
  });

  it('a valid scan on the home screen checks in at once; a scan of the wrong shape asks to try again', async () => {
    const { backend, calls } = recordingBackend();
    const ui = start(backend);
    ui.send({ type: 'SCAN', code: '', valid: false });
    expect(screenOf(ui.getSnapshot())).toBe('appointment');
    expect(ui.getSnapshot().context.entryError).toBe('bad_scan');
    ui.send({ type: 'SCAN', code: 'ABC-123', valid: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['checkin ABC-123']);
    expect(screenOf(ui.getSnapshot())).toBe('appointmentLate');
  });

  it('outside opening hours the closed screen shows, and home returns when the office opens', () => {
    const ui = start(recordingBackend().backend, { ...READY, open: false });
    expect(screenOf(ui.getSnapshot())).toBe('closed');
    ui.send({ type: 'ISSUE', service: 'prestacoes' });
    expect(screenOf(ui.getSnapshot())).toBe('closed');
    ui.send({ type: 'STATUS', status: READY });
    expect(screenOf(ui.getSnapshot())).toBe('home');
  });
});
