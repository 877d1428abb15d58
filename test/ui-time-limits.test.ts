/**
 * Time limits (CONTRACT §7) on a simulated clock: every idle return home is warned at
 * least 10 s ahead, any key or touch gives the full time again, speech mode makes every
 * limit three times as long, and a session left on the home screen is warned and ended.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor } from 'xstate';
import {
  DEFAULT_UI_TIMINGS,
  SPEECH_TIME_FACTOR,
  TIMEOUT_WARNING_MS,
  createKioskUiMachine,
  screenOf,
  timeoutWarningOf,
  type KioskUiBackend,
} from '../src/machines/kioskUiMachine.js';

const backend: KioskUiBackend = {
  issueTicket: async (service) => ({ kind: 'issued', ticket: 'P001', service, peopleAhead: 0, offline: false }),
  checkIn: async () => ({ kind: 'too_late' }),
  startDeposit: async () => ({ kind: 'box_full' }),
  watchDeposit: () => () => undefined,
  cancelDeposit: async () => undefined,
};

/** Moves the clock in 100 ms steps, so a delay started by another delay's end starts when that one ended. */
function advance(clock: SimulatedClock, ms: number): void {
  for (let left = ms; left > 0; left -= Math.min(100, left)) clock.increment(Math.min(100, left));
}

function start() {
  const clock = new SimulatedClock();
  const ui = createActor(createKioskUiMachine(backend), { clock, input: { services: ['prestacoes'], status: { open: true, printer: 'ready', deposits: true } } });
  ui.start();
  return { ui, clock };
}

describe('time limits with warnings', () => {
  it('the warning is at least 10 s ahead of every limit in the default timings', () => {
    expect(TIMEOUT_WARNING_MS).toBeGreaterThanOrEqual(10_000);
    for (const ms of [DEFAULT_UI_TIMINGS.idleMs, DEFAULT_UI_TIMINGS.resultMs, DEFAULT_UI_TIMINGS.noticeMs]) expect(ms).toBeGreaterThanOrEqual(TIMEOUT_WARNING_MS);
  });

  it('on a menu the warning shows 15 s before the 30 s idle return home, with its length, and then home', () => {
    const { ui, clock } = start();
    ui.send({ type: 'PRIORITY' });
    advance(clock, DEFAULT_UI_TIMINGS.idleMs - TIMEOUT_WARNING_MS - 1);
    expect(timeoutWarningOf(ui.getSnapshot())).toBeNull();
    advance(clock, 1);
    expect(screenOf(ui.getSnapshot())).toBe('priority');
    expect(timeoutWarningOf(ui.getSnapshot())).toEqual({ ms: TIMEOUT_WARNING_MS });
    advance(clock, TIMEOUT_WARNING_MS - 1);
    expect(screenOf(ui.getSnapshot())).toBe('priority');
    advance(clock, 1);
    expect(screenOf(ui.getSnapshot())).toBe('home');
  });

  it('a key or touch during the warning gives the whole time again', () => {
    const { ui, clock } = start();
    ui.send({ type: 'APPOINTMENT' });
    advance(clock, DEFAULT_UI_TIMINGS.idleMs - 1_000);
    expect(timeoutWarningOf(ui.getSnapshot())).not.toBeNull();
    ui.send({ type: 'ACTIVITY' });
    expect(timeoutWarningOf(ui.getSnapshot())).toBeNull();
    advance(clock, DEFAULT_UI_TIMINGS.idleMs - TIMEOUT_WARNING_MS - 100);
    expect(timeoutWarningOf(ui.getSnapshot())).toBeNull();
    advance(clock, TIMEOUT_WARNING_MS);
    expect(screenOf(ui.getSnapshot())).toBe('appointment');
    advance(clock, 100);
    expect(screenOf(ui.getSnapshot())).toBe('home');
  });

  it('in speech mode every limit and its warning are three times as long', async () => {
    const { ui, clock } = start();
    ui.send({ type: 'HELP' });
    ui.send({ type: 'ISSUE', service: 'prestacoes' });
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(screenOf(ui.getSnapshot())).toBe('ticket');
    const limit = DEFAULT_UI_TIMINGS.resultMs * SPEECH_TIME_FACTOR;
    const warning = TIMEOUT_WARNING_MS * SPEECH_TIME_FACTOR;
    advance(clock, limit - warning - 1);
    expect(timeoutWarningOf(ui.getSnapshot())).toBeNull();
    advance(clock, 1);
    expect(timeoutWarningOf(ui.getSnapshot())).toEqual({ ms: warning });
    advance(clock, warning - 1);
    expect(screenOf(ui.getSnapshot())).toBe('ticket');
    advance(clock, 1);
    expect(screenOf(ui.getSnapshot())).toBe('home');
    // The session ended: speech mode with it, and the next citizen's limits are back to normal.
    expect(ui.getSnapshot().context.speech).toBe(false);
    ui.send({ type: 'PRIORITY' });
    advance(clock, DEFAULT_UI_TIMINGS.idleMs);
    expect(screenOf(ui.getSnapshot())).toBe('home');
  });

  it('a session left on the home screen (English, large text) is warned and then ended; an untouched home never warns', () => {
    const { ui, clock } = start();
    advance(clock, DEFAULT_UI_TIMINGS.idleMs * 4);
    expect(timeoutWarningOf(ui.getSnapshot())).toBeNull();
    ui.send({ type: 'LANGUAGE', language: 'en' });
    ui.send({ type: 'LARGE_TEXT' });
    ui.send({ type: 'ACTIVITY' });
    advance(clock, DEFAULT_UI_TIMINGS.idleMs - TIMEOUT_WARNING_MS);
    expect(timeoutWarningOf(ui.getSnapshot())).toEqual({ ms: TIMEOUT_WARNING_MS });
    advance(clock, TIMEOUT_WARNING_MS);
    const c = ui.getSnapshot().context;
    expect([c.language, c.largeText]).toEqual(['pt-PT', false]);
    expect(timeoutWarningOf(ui.getSnapshot())).toBeNull();
  });

  it('large text, high contrast and volume are per session: set on any screen, all back to the defaults when it ends', () => {
    const { ui, clock } = start();
    const volume = ui.getSnapshot().context.volume;
    ui.send({ type: 'DEPOSIT' });
    ui.send({ type: 'LARGE_TEXT' });
    ui.send({ type: 'CONTRAST' });
    ui.send({ type: 'VOLUME', step: 1 });
    ui.send({ type: 'VOLUME', step: 1 });
    expect(ui.getSnapshot().context).toMatchObject({ largeText: true, highContrast: true, volume: volume + 2 });
    ui.send({ type: 'BACK' }); // back home is still the same citizen
    expect(ui.getSnapshot().context).toMatchObject({ largeText: true, highContrast: true });
    ui.send({ type: 'PRIORITY' });
    advance(clock, DEFAULT_UI_TIMINGS.idleMs);
    expect(screenOf(ui.getSnapshot())).toBe('home');
    expect(ui.getSnapshot().context).toMatchObject({ largeText: false, highContrast: false, volume });
  });

  it('a headset still plugged in when a session ends starts speech mode again for the next one', () => {
    const { ui, clock } = start();
    ui.send({ type: 'HEADSET', plugged: true });
    ui.send({ type: 'PRIORITY' });
    advance(clock, DEFAULT_UI_TIMINGS.idleMs * SPEECH_TIME_FACTOR);
    expect(screenOf(ui.getSnapshot())).toBe('home');
    expect(ui.getSnapshot().context.speech).toBe(true);
    ui.send({ type: 'HEADSET', plugged: false });
    ui.send({ type: 'PRIORITY' });
    advance(clock, DEFAULT_UI_TIMINGS.idleMs * SPEECH_TIME_FACTOR);
    expect(ui.getSnapshot().context.speech).toBe(false);
  });
});
