import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hoursSchema, type HoursConfig } from '../src/config/schema.js';
import { canIssueTicket, currentClosingTime, describeWeek, isOpen, nextOpening } from '../src/tickets/hours.js';

/** Parsed through the real schema, so defaults and validation are the config's own. */
function hours(input: Record<string, unknown>): HoursConfig {
  return hoursSchema.parse({ timezone: 'Europe/Lisbon', ...input });
}

const weekdays = (periods: [string, string][]) => ({ mon: periods, tue: periods, wed: periods, thu: periods, fri: periods });
const officeWeek = hours({ weekly: weekdays([['09:00', '16:00']]), closedDates: ['2026-12-25'] });
const at = (iso: string) => new Date(iso);

// November is winter time in Lisbon (UTC+0): local wall time equals UTC.
describe('a Lisbon office open Monday to Friday 09:00–16:00', () => {
  it('is open at 09:00 on a Monday', () => {
    expect(isOpen(officeWeek, at('2026-11-23T09:00:00Z'))).toBe(true);
  });

  it('is still closed at 08:59', () => {
    expect(isOpen(officeWeek, at('2026-11-23T08:59:59Z'))).toBe(false);
  });

  it('is closed at 16:00 sharp, the closing minute itself', () => {
    expect(isOpen(officeWeek, at('2026-11-23T15:59:59Z'))).toBe(true);
    expect(isOpen(officeWeek, at('2026-11-23T16:00:00Z'))).toBe(false);
  });

  it('is closed on a Saturday, a day missing from the weekly schedule', () => {
    expect(isOpen(officeWeek, at('2026-11-28T11:00:00Z'))).toBe(false);
  });

  it('is closed all day on a listed closed date (Christmas, a Friday)', () => {
    expect(isOpen(officeWeek, at('2026-12-25T11:00:00Z'))).toBe(false);
    expect(isOpen(officeWeek, at('2026-12-24T11:00:00Z'))).toBe(true);
  });

  it('reports today\'s closing time while open and none while closed', () => {
    expect(currentClosingTime(officeWeek, at('2026-11-23T10:00:00Z'))).toEqual(at('2026-11-23T16:00:00Z'));
    expect(currentClosingTime(officeWeek, at('2026-11-23T17:00:00Z'))).toBeNull();
  });

  it('next opens on Monday 09:00 when asked on Friday evening (over the weekend)', () => {
    expect(nextOpening(officeWeek, at('2026-11-27T16:30:00Z'))).toEqual(at('2026-11-30T09:00:00Z'));
  });

  it('skips a holiday Monday and next opens on Tuesday', () => {
    const withHoliday = hours({ weekly: weekdays([['09:00', '16:00']]), closedDates: ['2026-11-30'] });
    expect(nextOpening(withHoliday, at('2026-11-27T16:30:00Z'))).toEqual(at('2026-12-01T09:00:00Z'));
  });

  it('while open, the next opening is tomorrow\'s, not the current one', () => {
    expect(nextOpening(officeWeek, at('2026-11-23T10:00:00Z'))).toEqual(at('2026-11-24T09:00:00Z'));
  });

  it('has no next opening within two weeks when every day is closed', () => {
    const closedForRepairs = hours({ weekly: {} });
    expect(isOpen(closedForRepairs, at('2026-11-23T10:00:00Z'))).toBe(false);
    expect(nextOpening(closedForRepairs, at('2026-11-23T10:00:00Z'))).toBeNull();
  });
});

describe('a small office closed at lunch', () => {
  const lunch = hours({ weekly: weekdays([['09:00', '12:30'], ['13:30', '16:00']]) });

  it('is open in the morning, closed 12:30–13:30, open again in the afternoon', () => {
    expect(isOpen(lunch, at('2026-11-23T12:29:00Z'))).toBe(true);
    expect(isOpen(lunch, at('2026-11-23T12:30:00Z'))).toBe(false);
    expect(isOpen(lunch, at('2026-11-23T13:29:00Z'))).toBe(false);
    expect(isOpen(lunch, at('2026-11-23T13:30:00Z'))).toBe(true);
  });

  it('closes at 12:30 in the morning and reopens at 13:30', () => {
    expect(currentClosingTime(lunch, at('2026-11-23T10:00:00Z'))).toEqual(at('2026-11-23T12:30:00Z'));
    expect(nextOpening(lunch, at('2026-11-23T12:45:00Z'))).toEqual(at('2026-11-23T13:30:00Z'));
  });
});

describe('always open and round-the-clock schedules', () => {
  it('is always open with no hours configured, and never closes', () => {
    expect(isOpen(undefined, at('2026-12-25T03:00:00Z'))).toBe(true);
    expect(currentClosingTime(undefined, at('2026-12-25T03:00:00Z'))).toBeNull();
    expect(nextOpening(undefined, at('2026-12-25T03:00:00Z'))).toBeNull();
    expect(canIssueTicket(undefined, undefined, at('2026-12-25T03:00:00Z'))).toEqual({ ok: true, closesAt: null, ticketsUntil: null });
  });

  it('joins an evening ending at 24:00 with the next day starting at 00:00 into one opening', () => {
    const lateShift = hours({ weekly: { mon: [['18:00', '24:00']], tue: [['00:00', '02:00']] } });
    expect(isOpen(lateShift, at('2026-11-23T23:59:00Z'))).toBe(true);
    expect(currentClosingTime(lateShift, at('2026-11-23T20:00:00Z'))).toEqual(at('2026-11-24T02:00:00Z'));
  });

  it('never closes on a 24-hours-a-day, 7-days-a-week schedule', () => {
    const day: [string, string][] = [['00:00', '24:00']];
    const allWeek = hours({ weekly: { mon: day, tue: day, wed: day, thu: day, fri: day, sat: day, sun: day } });
    expect(isOpen(allWeek, at('2026-11-23T03:00:00Z'))).toBe(true);
    expect(currentClosingTime(allWeek, at('2026-11-23T03:00:00Z'))).toBeNull();
  });
});

describe('issuing tickets', () => {
  it('issues a ticket while open and says when the office closes', () => {
    expect(canIssueTicket(officeWeek, undefined, at('2026-11-23T10:00:00Z'))).toEqual({
      ok: true,
      closesAt: at('2026-11-23T16:00:00Z'),
      ticketsUntil: at('2026-11-23T16:00:00Z'),
    });
  });

  it('refuses a ticket when closed, naming the next opening', () => {
    expect(canIssueTicket(officeWeek, undefined, at('2026-11-28T10:00:00Z'))).toEqual({
      ok: false,
      reason: 'closed',
      nextOpening: at('2026-11-30T09:00:00Z'),
    });
  });

  it('stops issuing tickets 15 minutes before closing with a 15-minute cut-off', () => {
    const withCutoff = hours({ weekly: weekdays([['09:00', '16:00']]), cutoffMinutes: 15 });
    expect(canIssueTicket(withCutoff, undefined, at('2026-11-23T15:44:59Z'))).toEqual({
      ok: true,
      closesAt: at('2026-11-23T16:00:00Z'),
      ticketsUntil: at('2026-11-23T15:45:00Z'),
    });
    expect(canIssueTicket(withCutoff, undefined, at('2026-11-23T15:45:00Z'))).toEqual({
      ok: false,
      reason: 'cutoff',
      nextOpening: at('2026-11-24T09:00:00Z'),
    });
    // The office itself is still open: only tickets stop.
    expect(isOpen(withCutoff, at('2026-11-23T15:50:00Z'))).toBe(true);
  });

  it('refuses a service whose own hours are narrower than the kiosk\'s (closed at lunch)', () => {
    const service = hours({ weekly: weekdays([['09:00', '12:30'], ['13:30', '16:00']]) });
    expect(canIssueTicket(officeWeek, service, at('2026-11-23T13:00:00Z'))).toEqual({
      ok: false,
      reason: 'closed',
      nextOpening: at('2026-11-23T13:30:00Z'),
    });
    expect(canIssueTicket(officeWeek, service, at('2026-11-23T10:00:00Z'))).toEqual({
      ok: true,
      closesAt: at('2026-11-23T12:30:00Z'),
      ticketsUntil: at('2026-11-23T12:30:00Z'),
    });
  });

  it('applies a service\'s own cut-off before the kiosk closes', () => {
    const service = hours({ weekly: weekdays([['09:00', '16:00']]), cutoffMinutes: 30 });
    const decision = canIssueTicket(officeWeek, service, at('2026-11-23T15:40:00Z'));
    expect(decision).toEqual({ ok: false, reason: 'cutoff', nextOpening: at('2026-11-24T09:00:00Z') });
  });

  it('refuses a service open on Saturday when the kiosk itself is closed', () => {
    const saturdayService = hours({ weekly: { sat: [['09:00', '13:00']] } });
    const decision = canIssueTicket(officeWeek, saturdayService, at('2026-11-28T10:00:00Z'));
    expect(decision).toMatchObject({ ok: false, reason: 'closed' });
  });
});

describe('daylight saving time in Lisbon', () => {
  const sundays = hours({ weekly: { sun: [['09:00', '16:00']] } });

  it('opens at 09:00 local = 08:00 UTC on the spring-forward Sunday (2026-03-29)', () => {
    expect(isOpen(sundays, at('2026-03-29T07:59:59Z'))).toBe(false);
    expect(isOpen(sundays, at('2026-03-29T08:00:00Z'))).toBe(true);
    expect(currentClosingTime(sundays, at('2026-03-29T10:00:00Z'))).toEqual(at('2026-03-29T15:00:00Z'));
    expect(nextOpening(sundays, at('2026-03-28T12:00:00Z'))).toEqual(at('2026-03-29T08:00:00Z'));
  });

  it('opens at 09:00 local = 09:00 UTC on the fall-back Sunday (2026-10-25)', () => {
    expect(isOpen(sundays, at('2026-10-25T08:59:59Z'))).toBe(false);
    expect(isOpen(sundays, at('2026-10-25T09:00:00Z'))).toBe(true);
    expect(currentClosingTime(sundays, at('2026-10-25T10:00:00Z'))).toEqual(at('2026-10-25T16:00:00Z'));
    expect(nextOpening(sundays, at('2026-10-24T12:00:00Z'))).toEqual(at('2026-10-25T09:00:00Z'));
  });

  it('maps a start time inside the spring gap (01:30 does not exist) forward to 02:30 summer time', () => {
    const night = hours({ weekly: { sun: [['01:30', '03:00']] } });
    expect(nextOpening(night, at('2026-03-28T12:00:00Z'))).toEqual(at('2026-03-29T01:30:00Z'));
    expect(isOpen(night, at('2026-03-29T01:29:00Z'))).toBe(false);
  });

  it('takes the first of the two 01:30s on the fall-back night (summer time, 00:30 UTC)', () => {
    const night = hours({ weekly: { sun: [['01:30', '03:00']] } });
    expect(nextOpening(night, at('2026-10-24T12:00:00Z'))).toEqual(at('2026-10-25T00:30:00Z'));
    // 03:00 winter time = 03:00 UTC: the night lasts 2 h 30 min of real time.
    expect(currentClosingTime(night, at('2026-10-25T01:00:00Z'))).toEqual(at('2026-10-25T03:00:00Z'));
  });

  it('uses summer time on an ordinary summer weekday (09:00 local = 08:00 UTC)', () => {
    expect(isOpen(officeWeek, at('2026-07-15T07:59:00Z'))).toBe(false);
    expect(isOpen(officeWeek, at('2026-07-15T08:00:00Z'))).toBe(true);
  });
});

describe('another time zone', () => {
  it('honours Atlantic/Azores: 09:00 local is 10:00 UTC in winter', () => {
    const azores = hours({ timezone: 'Atlantic/Azores', weekly: weekdays([['09:00', '16:00']]) });
    expect(isOpen(azores, at('2026-11-23T09:30:00Z'))).toBe(false);
    expect(isOpen(azores, at('2026-11-23T10:00:00Z'))).toBe(true);
    expect(currentClosingTime(azores, at('2026-11-23T12:00:00Z'))).toEqual(at('2026-11-23T17:00:00Z'));
  });

  it('reads closed dates in the office\'s own date, not UTC\'s (Azores 23:30 is already tomorrow in UTC)', () => {
    const lateAzores = hours({ timezone: 'Atlantic/Azores', weekly: { mon: [['22:00', '24:00']] }, closedDates: ['2026-11-24'] });
    // Monday 23 Nov 23:30 Azores = Tuesday 24 Nov 00:30 UTC; the closed date is Tuesday.
    expect(isOpen(lateAzores, at('2026-11-24T00:30:00Z'))).toBe(true);
  });
});

describe('the schedule shown on the closed screen', () => {
  it('groups weekdays in Portuguese', () => {
    expect(describeWeek(officeWeek, 'pt-PT')).toEqual(['Seg–Sex 09:00–16:00', 'Sáb–Dom encerrado']);
  });

  it('lists a lunch closure and a Saturday morning in English', () => {
    const h = hours({ weekly: { ...weekdays([['09:00', '12:30'], ['13:30', '16:00']]), sat: [['09:00', '12:00']] } });
    expect(describeWeek(h, 'en')).toEqual(['Mon–Fri 09:00–12:30, 13:30–16:00', 'Sat 09:00–12:00', 'Sun closed']);
  });

  it('says always open when there are no hours', () => {
    expect(describeWeek(undefined, 'pt-PT')).toEqual(['Aberto todos os dias, 24 horas']);
  });
});

describe('properties over two years of instants in Lisbon, Azores and Madeira', () => {
  const zones = ['Europe/Lisbon', 'Atlantic/Azores', 'Atlantic/Madeira'];
  const instant = fc.date({ min: at('2026-01-01T00:00:00Z'), max: at('2027-12-31T00:00:00Z'), noInvalidDate: true });
  const schedule = (tz: string) =>
    hours({ timezone: tz, weekly: { ...weekdays([['09:00', '12:30'], ['13:30', '16:00']]), sun: [['01:30', '02:30']] } });

  it('the next opening is in the future, open at that moment and closed just before it', () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...zones), (now, tz) => {
        const h = schedule(tz);
        const next = nextOpening(h, now);
        expect(next).not.toBeNull();
        expect(next!.getTime()).toBeGreaterThan(now.getTime());
        expect(isOpen(h, next!)).toBe(true);
        expect(isOpen(h, new Date(next!.getTime() - 1))).toBe(false);
      }),
    );
  });

  it('while open, the office is open until the closing time and closed at it', () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...zones), (now, tz) => {
        const h = schedule(tz);
        const closes = currentClosingTime(h, now);
        expect(closes !== null).toBe(isOpen(h, now));
        if (closes) {
          expect(isOpen(h, new Date(closes.getTime() - 1))).toBe(true);
          expect(isOpen(h, closes)).toBe(false);
        }
      }),
    );
  });
});
