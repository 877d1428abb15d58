/**
 * Upstream event types (CONTRACT §5). Every event the controller emits is one of
 * these; `data` shapes are fixed here so producers and the simulated central agree.
 */
export type DeviceName = 'printer' | 'dropbox' | 'scanner' | 'upstream';

export interface EventDataByType {
  'kiosk.started': { version: string };
  'kiosk.stopped': { reason: string };
  'ticket.issued': { ticket: string; service: string; priority: boolean; offline: boolean; peopleAhead: number | null };
  'ticket.print_failed': { ticket: string; reason: string };
  'dropbox.deposit': { box: string; count: number; inferred: boolean; receipt?: string };
  'dropbox.door': { box: string; state: 'open' | 'closed' };
  'dropbox.collected': { box: string; count: number };
  'dropbox.fill': { box: string; percent: number; level: 'ok' | 'nearly_full' | 'full' };
  'dropbox.tamper': { box: string; code: string };
  'dropbox.key': { box: string; state: 'on' | 'off' };
  'printer.paper': { state: 'ok' | 'near_end' | 'out' };
  'device.fault': { device: DeviceName; code: string; detail: string };
  'device.recovered': { device: DeviceName; code: string };
  // Technician diagnostics (CONTRACT §6). `session` is a random id that is not the
  // token; nothing here names a person, and the PIN never leaves verifyPin.
  'diag.login': { session: string };
  'diag.login_failed': { consecutiveFailures: number };
  'diag.locked_out': { consecutiveFailures: number; retryAfterS: number };
  'diag.logout': { session: string; reason: 'logout' | 'idle' | 'max_age' | 'evicted'; durationS: number };
  'diag.action': { session: string; action: 'test_print' | 'slot_light' | 'door_unlock'; detail: string };
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
