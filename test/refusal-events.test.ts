/**
 * Every refused request leaves an event (CONTRACT §6), and a flood of them cannot fill
 * the outbox: the first of a kind at once, the rest of its window as one event with a count.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../src/log.js';
import { RefusalEvents } from '../src/http/refusalEvents.js';
import type { NewEvent } from '../src/upstream/events.js';

describe('refusal events', () => {
  afterEach(() => vi.useRealTimers());

  it('records the first refusal at once and counts the rest of the window in one event; none is lost', () => {
    vi.useFakeTimers();
    const recorded: NewEvent<'http.request_refused'>[] = [];
    const refusals = new RefusalEvents((e) => recorded.push(e), silentLogger(), 10_000);
    const csrf = { status: 403, reason: 'foreign_origin', method: 'POST', path: '/api/diag/test-print' };
    for (let i = 0; i < 1000; i++) refusals.note(csrf);
    refusals.note({ ...csrf, status: 429, reason: 'locked_out', path: '/api/diag/login' });
    expect(recorded.map((e) => [e.data.status, e.data.count])).toEqual([
      [403, 1],
      [429, 1],
    ]);
    vi.advanceTimersByTime(10_000);
    expect(recorded.map((e) => [e.data.status, e.data.count])).toEqual([
      [403, 1],
      [429, 1],
      [403, 999],
    ]);
    refusals.note(csrf);
    refusals.flush();
    const total403 = recorded.filter((e) => e.data.status === 403).reduce((n, e) => n + e.data.count, 0);
    expect(total403).toBe(1001);
  });
});
