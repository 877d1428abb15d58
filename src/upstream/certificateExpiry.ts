/**
 * A kiosk certificate (or its CA) that expires within CERT_EXPIRY_WARNING_DAYS is a
 * warning event (CONTRACT §8), at start and then once a day, so the office renews it
 * before the broker starts refusing the kiosk.
 */
import type { NewEvent } from './events.js';
import { expiringCertificates, type CertificateInfo } from './connectOptions.js';

/** How often the expiry dates are looked at again while the controller runs. */
export const CERT_EXPIRY_CHECK_MS = 86_400_000;

export function watchCertificateExpiry(certs: readonly CertificateInfo[], record: (event: NewEvent) => void, now: () => Date = () => new Date()): () => void {
  if (certs.length === 0) return () => undefined;
  const check = (): void => {
    for (const c of expiringCertificates(certs, now())) {
      record({
        type: 'device.fault',
        data: { device: 'upstream', code: 'upstream.certificate_expiring', reason: c.key, detail: `${c.key} "${c.subject}" expires ${c.notAfter.toISOString()} (in ${c.daysLeft} days): issue a new one` },
      });
    }
  };
  check();
  const timer = setInterval(check, CERT_EXPIRY_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
