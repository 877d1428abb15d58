/**
 * Upstream event types (CONTRACT §5). Every event the controller emits is one of
 * these; `data` shapes are fixed here so producers and the simulated central agree.
 */
export type DeviceName = 'printer' | 'dropbox' | 'scanner' | 'upstream' | 'speech';

export interface EventDataByType {
  'kiosk.started': { version: string };
  'kiosk.stopped': { reason: string };
  /** CONTRACT §7: Help pressed (F1 or the Help button): staff are asked to come. */
  'kiosk.help_requested': { screen: string; language: 'pt-PT' | 'en' };
  'ticket.issued': { ticket: string; service: string; priority: boolean; offline: boolean; peopleAhead: number | null };
  'ticket.print_failed': { ticket: string; reason: string };
  'dropbox.deposit': { box: string; count: number; inferred: boolean; receipt?: string };
  'dropbox.door': { box: string; state: 'open' | 'closed' };
  'dropbox.collected': { box: string; count: number };
  'dropbox.fill': { box: string; percent: number; level: 'ok' | 'nearly_full' | 'full' };
  'dropbox.tamper': { box: string; code: string };
  'dropbox.key': { box: string; state: 'on' | 'off' };
  // Deposit receipts (issue #4): issued once printed; voided when no envelope followed
  // in time ('no_drop'), the citizen left ('cancelled'), or a restart cut the print ('interrupted').
  'dropbox.receipt_issued': { box: string; receipt: string };
  'dropbox.receipt_voided': { box: string; receipt: string; reason: 'no_drop' | 'cancelled' | 'interrupted' };
  // An appointment ticket, recorded once printed (instead of ticket.issued). The code
  // itself never travels in full: `codeHint` is masked (last 4 characters).
  // `service` is null on a provisional ticket (central did not answer).
  'appointment.checkin': {
    ticket: string;
    service: string | null;
    offline: boolean;
    provisional: boolean;
    result: 'checked_in' | 'provisional';
    peopleAhead: number | null;
    codeHint: string;
  };
  /** A code read by the scanner (never the code): `kind` is what it looks like. */
  'scanner.scan': { kind: 'appointment_code' | 'unrecognised'; valid: boolean };
  'printer.paper': { state: 'ok' | 'near_end' | 'out' };
  // Paper forecast (issue #5): the roll is expected to run out around `emptyAround`
  // ("HH:MM" in the kiosk's time zone; `emptyAt` the same instant in UTC).
  'printer.paper_forecast': { emptyAround: string; emptyAt: string; ticketsLeft: number; ticketsPerHour: number };
  'printer.roll_changed': { reason: 'technician' | 'refilled_after_out' };
  // A collection slip printed for the `dropbox.collected` with the same box and count;
  // receipts deposited since the previous collection (null when none carried a receipt).
  'dropbox.collection_slip': { box: string; count: number; receipts: number; receiptsFrom: string | null; receiptsTo: string | null };
  /** `reason`: the broker's reason code or the TLS error code of an upstream refusal (CONTRACT §8). */
  'device.fault': { device: DeviceName; code: string; detail: string; reason?: string | number };
  'device.recovered': { device: DeviceName; code: string };
  // Technician diagnostics (CONTRACT §6). `session` is a random id that is not the
  // token; nothing here names a person, and the PIN never leaves verifyPin.
  'diag.login': { session: string };
  'diag.login_failed': { consecutiveFailures: number };
  'diag.locked_out': { consecutiveFailures: number; retryAfterS: number };
  'diag.logout': { session: string; reason: 'logout' | 'idle' | 'max_age' | 'evicted'; durationS: number };
  // A request refused before any handler ran (CONTRACT §6: 403 cross-site, 413, 429
  // lockout); `count` refusals of the same kind since the previous such event.
  'http.request_refused': { status: number; reason: string; method: string; path: string; count: number };
  'diag.lockout_ended': { reason: 'key_switch' };
  'diag.action': { session: string; action: 'test_print' | 'slot_light' | 'door_unlock' | 'collection_start' | 'roll_changed'; detail: string };
}

export type EventType = keyof EventDataByType;

/** An event as produced inside the controller, before the outbox numbers it. */
export interface NewEvent<T extends EventType = EventType> {
  type: T;
  data: EventDataByType[T];
}

/** The envelope published on `P/S/K/events`. */
export interface EventEnvelope<T extends EventType = EventType> {
  v: 1;
  id: string;
  seq: number;
  ts: string;
  kiosk: string;
  site: string;
  type: T;
  data: EventDataByType[T];
}

/**
 * Where producers put events. `append` returns only after the events (and any state
 * written with them) are fsync'd to disk, in one transaction, so nothing is told to
 * anyone before it is durable. It throws KioskError(OutboxFull | OutboxWriteFailed)
 * when it cannot, and then nothing was written.
 */
export interface EventLog {
  append(events: readonly NewEvent[], state?: Readonly<Record<string, string | null>>): EventEnvelope[];
  /** Durable key/value state kept beside the events (e.g. the drop box's last count). */
  getState(key: string): string | null;
}

/**
 * An EventLog that can also write state (no events) with its fsync running beside the
 * caller's next step: `putState` commits at once — readers see it, and a crash of this
 * process cannot lose it — and resolves once it is on disk (power loss cannot either).
 * Nothing outside the process may act on that state before the promise resolves. A
 * failed commit throws at once, like `append`, and then nothing changed.
 */
export interface StateLog extends EventLog {
  putState(state: Readonly<Record<string, string | null>>): Promise<void>;
}
