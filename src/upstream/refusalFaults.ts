/**
 * A broker that refuses the kiosk (CONTRACT §8) is an upstream `device.fault` with its
 * reason, recorded once per reason until the refusal ends (then `device.recovered`), so a
 * kiosk retrying with backoff does not fill the outbox with one fault per attempt:
 *
 * - `upstream.connect_refused`: CONNACK with a reason code (`reason`: the number; 3.1.1: 4
 *   bad user name or password, 5 not authorised; 5.0: 0x86, 0x87, …);
 * - `upstream.tls_failed`: the TLS handshake failed (`reason`: OpenSSL's or Node's code,
 *   e.g. SELF_SIGNED_CERT_IN_CHAIN for a wrong CA, ERR_TLS_CERT_ALTNAME_INVALID for a
 *   host name the broker's certificate does not name);
 * - `upstream.credentials_unreadable`: a credential file went bad after start;
 * - `upstream.subscribe_refused`: SUBACK refused a subscription (`reason`: 0x80 or the 5.0 code);
 * - `upstream.connection_dropped`: the broker took the connection and closed it within
 *   BROKER_LINK_STABLE_MS twice in a row (Mosquitto drops a 3.1.1 client that publishes where its ACL
 *   denies it); recovered once a connection stays up that long.
 */
import { isKioskError } from '../errors.js';
import type { NewEvent } from './events.js';

export type RefusalCode = 'upstream.connect_refused' | 'upstream.tls_failed' | 'upstream.credentials_unreadable' | 'upstream.subscribe_refused' | 'upstream.connection_dropped';

export interface Refusal {
  code: RefusalCode;
  reason: string | number;
  detail: string;
}

const MQTT311_CONNACK: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
};

const TLS_ERROR_CODE = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|CERT_UNTRUSTED|CERT_REJECTED)/;

/** The refusal an error of a connection attempt stands for, or null (a network error is no refusal). */
export function classifyConnectError(err: unknown): Refusal | null {
  if (isKioskError(err)) return { code: 'upstream.credentials_unreadable', reason: String(err.context.key ?? 'upstream'), detail: err.message };
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (typeof e?.code === 'number' && /^Connection refused/.test(message)) {
    const text = MQTT311_CONNACK[e.code] ?? message.replace(/^Connection refused:\s*/, '');
    return { code: 'upstream.connect_refused', reason: e.code, detail: `the broker refused the connection: reason code ${e.code} (${text})` };
  }
  if (typeof e?.code === 'string' && TLS_ERROR_CODE.test(e.code)) return { code: 'upstream.tls_failed', reason: e.code, detail: `TLS with the broker failed: ${message}` };
  if (message === 'TLS not authorized') return { code: 'upstream.tls_failed', reason: 'TLS_NOT_AUTHORIZED', detail: 'the broker\'s certificate was not authorised' };
  return null;
}

export function classifySubscribeError(err: unknown, topics: readonly string[]): Refusal {
  const e = err as { code?: unknown; message?: unknown } | null;
  const reason = typeof e?.code === 'number' ? e.code : 0x80;
  return { code: 'upstream.subscribe_refused', reason, detail: `the broker refused the subscription to ${topics.join(', ')}: reason code ${reason} (check the broker ACL)` };
}

export class RefusalFaults {
  /** Raised and not yet recovered: code → reason. */
  private readonly raised = new Map<RefusalCode, string | number>();

  constructor(private readonly record: (event: NewEvent) => boolean) {}

  /** Records a fault for a refusal not already raised with the same reason. */
  note(refusal: Refusal | null): void {
    if (!refusal || this.raised.get(refusal.code) === refusal.reason) return;
    if (this.record({ type: 'device.fault', data: { device: 'upstream', code: refusal.code, detail: refusal.detail, reason: refusal.reason } })) this.raised.set(refusal.code, refusal.reason);
  }

  /** The broker took the connection: every connection refusal is over. */
  connected(): void {
    for (const code of ['upstream.connect_refused', 'upstream.tls_failed', 'upstream.credentials_unreadable'] as const) this.recover(code);
  }

  /** The broker confirmed the subscriptions: the session works again. */
  subscribed(): void {
    this.recover('upstream.subscribe_refused');
  }

  /** A connection stayed up: the broker keeps the kiosk's session again. */
  stable(): void {
    this.recover('upstream.connection_dropped');
  }

  private recover(code: RefusalCode): void {
    if (this.raised.has(code) && this.record({ type: 'device.recovered', data: { device: 'upstream', code } })) this.raised.delete(code);
  }
}
