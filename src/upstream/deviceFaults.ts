/**
 * The one place a device fault becomes an event: `device.fault {device, code, detail}` and
 * `device.recovered {device, code}` (CONTRACT §5), the device read from the code's prefix.
 * And the one "record, log on failure" wrapper every device and desk records through.
 */
import { faultDevice, type DeviceFaultCode } from '../../kernel/errors.js';
import { RateLimitedLog, type Logger } from '../../kernel/log.js';
import type { DeviceName, EventLog, NewEvent } from './events.js';

export function faultEvent(code: DeviceFaultCode, detail: string): NewEvent<'device.fault'> {
  return { type: 'device.fault', data: { device: faultDevice(code) as DeviceName, code, detail } };
}

export function recoveredEvent(code: DeviceFaultCode): NewEvent<'device.recovered'> {
  return { type: 'device.recovered', data: { device: faultDevice(code) as DeviceName, code } };
}

/** Appends events (and state) in one transaction; false when the outbox refused, logged (rate-limited). */
export type RecordEvents = (events: readonly NewEvent[], state?: Record<string, string | null>) => boolean;

/**
 * Records through `events`; a refusal (outbox full, disk gone) is logged at most once per
 * interval with a count, never thrown: the caller decides whether to retry.
 */
export function eventRecorder(events: Pick<EventLog, 'append'>, log: Logger, what = 'events'): RecordEvents {
  const refused = new RateLimitedLog(log);
  return (batch, state) => {
    try {
      events.append(batch, state);
      return true;
    } catch (err) {
      refused.warn({ err: (err as Error).message, types: batch.map((e) => e.type) }, `outbox refused ${what}; they are retried where the device allows`);
      return false;
    }
  };
}
