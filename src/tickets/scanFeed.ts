/**
 * The scanner's upstream events: every code read becomes `scanner.scan {kind, valid}`
 * (never the code), and the port's loss and return `device.fault` / `device.recovered`
 * with `device: 'scanner'`. Codes of the wrong shape are recorded at most once per
 * INVALID_SCAN_EVENT_INTERVAL_MS: a scanner stuck reading noise must not fill the outbox.
 */
import type { DeviceFaultCode } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/log.js';
import type { Scanner } from '../facades/scanner.js';
import { eventRecorder, faultEvent, recoveredEvent } from '../upstream/deviceFaults.js';
import type { EventLog, NewEvent } from '../upstream/events.js';

export const INVALID_SCAN_EVENT_INTERVAL_MS = 10_000;

export function recordScannerEvents(scanner: Pick<Scanner, 'onScan' | 'onFault'>, events: Pick<EventLog, 'append'>, log: Logger, now: () => number = Date.now): () => void {
  let lastInvalidAt = -Infinity;
  const record = eventRecorder(events, log, 'scanner events');
  const safe = (e: NewEvent): void => {
    record([e]);
  };
  const offScan = scanner.onScan((scan) => {
    if (!scan.valid) {
      const t = now();
      if (t - lastInvalidAt < INVALID_SCAN_EVENT_INTERVAL_MS) return;
      lastInvalidAt = t;
    }
    safe({ type: 'scanner.scan', data: { kind: scan.valid ? 'appointment_code' : 'unrecognised', valid: scan.valid } });
  });
  const offFault = scanner.onFault((e) =>
    // The driver's codes are SCANNER_FAULT_CODES, all in the kernel's DeviceFault (tested).
    safe(e.kind === 'fault' ? faultEvent(e.code as DeviceFaultCode, e.detail) : recoveredEvent(e.code as DeviceFaultCode)),
  );
  return () => {
    offScan();
    offFault();
  };
}
