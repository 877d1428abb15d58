/**
 * The scanner's upstream events: every code read becomes `scanner.scan {kind, valid}`
 * (never the code), and the port's loss and return `device.fault` / `device.recovered`
 * with `device: 'scanner'`. Codes of the wrong shape are recorded at most once per
 * INVALID_SCAN_EVENT_INTERVAL_MS: a scanner stuck reading noise must not fill the outbox.
 */
import type { Scanner } from '../facades/scanner.js';
import type { Logger } from '../log.js';
import type { NewEvent } from '../upstream/events.js';

export const INVALID_SCAN_EVENT_INTERVAL_MS = 10_000;

export function recordScannerEvents(scanner: Pick<Scanner, 'onScan' | 'onFault'>, record: (e: NewEvent) => void, log: Logger, now: () => number = Date.now): () => void {
  let lastInvalidAt = -Infinity;
  const safe = (e: NewEvent): void => {
    try {
      record(e);
    } catch (err) {
      log.error({ err: (err as Error).message, event: e.type }, 'scanner event could not be stored in the outbox');
    }
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
    safe(e.kind === 'fault' ? { type: 'device.fault', data: { device: 'scanner', code: e.code, detail: e.detail } } : { type: 'device.recovered', data: { device: 'scanner', code: e.code } }),
  );
  return () => {
    offScan();
    offFault();
  };
}
