/**
 * Appointment check-in (issue #4): the shape of an appointment code, how central's
 * `appointment.checkin` reply is read, and what an appointment ticket carries. Pure.
 *
 * Code shape (our decision, documented for the UI and for central): 6 to 32 characters,
 * capital letters A–Z, digits and "-", neither starting nor ending with "-"
 * (`SIM-ON-TIME`, `4F7Q-2K9M`). A typed or scanned code is normalised first: spaces at
 * both ends removed, letters upper-cased. Anything else is `invalid_code` and never
 * reaches central.
 *
 * A code is a key to a citizen's appointment: it never appears in full in a log, an
 * event, or on paper — `codeHint` (masked, last 4) is what is shown.
 */
import type { TicketContent } from '../../devices/printer/ticketLayout.js';
import type { TicketLocale } from '../../devices/printer/ticketTexts.js';
import { mask } from '../log.js';
import { dateTimeFormat } from '../timeFormat.js';
import type { ServiceConfig } from '../config/schema.js';
import type { RequestResult } from '../upstream/requestReply.js';
import { ticketContent, type TicketContentSettings } from './ticketContent.js';
import type { HeldTicket } from './ticketLedger.js';

export const APPOINTMENT_CODE_MIN_LENGTH = 6;
export const APPOINTMENT_CODE_MAX_LENGTH = 32;
const CODE_PATTERN = /^[A-Z0-9](?:[A-Z0-9-]{4,30})[A-Z0-9]$/;
/** Characters of the code kept visible in a hint. */
export const CODE_HINT_KEEP = 4;
/** Offline (provisional) appointment numbers: `A-<kiosk tag>-<nnn>`, like central's `A001` but never equal. */
export const APPOINTMENT_OFFLINE_PREFIX = 'A';
/** The offline counter of provisional appointment tickets when no service has prefix "A". */
export const APPOINTMENT_COUNTER_KEY = 'appointment';

/** Spaces trimmed, upper case; does not validate. */
export function normalizeAppointmentCode(raw: string): string {
  return raw.trim().toUpperCase();
}

/** True for a normalised code of the documented shape. */
export function isAppointmentCode(code: string): boolean {
  return CODE_PATTERN.test(code);
}

/** "SIM-ON-TIME" → "*******TIME": what logs, events and paper show. */
export function codeHint(code: string): string {
  return mask(code, CODE_HINT_KEEP);
}

/** What a held ticket carries when it is an appointment ticket (plain data, stored with it). */
export interface AppointmentInfo {
  codeHint: string;
  /** Central did not answer: an offline number, to be confirmed at the counter. */
  provisional: boolean;
  /** The appointment's time from central (ISO), null when provisional. */
  at: string | null;
}

export type AppointmentHeld = HeldTicket & { appointment?: AppointmentInfo };

export function appointmentOf(held: HeldTicket): AppointmentInfo | null {
  return (held as AppointmentHeld).appointment ?? null;
}

/** Central's refusals of a check-in that the citizen is told about. */
export type CheckinRefusal = 'too_early' | 'too_late' | 'unknown_appointment' | 'already_checked_in';
export const CHECKIN_REFUSALS: readonly string[] = ['too_early', 'too_late', 'unknown_appointment', 'already_checked_in'];

/**
 * When a too-early appointment may come back: the reply's `comeBackAt`, or the ISO time
 * in its message when the link passed only code and message on.
 */
export function comeBackAtOf(error: { message: string } & Record<string, unknown>): string | null {
  const explicit = error.comeBackAt;
  if (typeof explicit === 'string' && !Number.isNaN(Date.parse(explicit))) return new Date(explicit).toISOString();
  const m = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/.exec(error.message);
  return m && !Number.isNaN(Date.parse(m[0])) ? new Date(m[0]).toISOString() : null;
}

/** The service and time of an ok check-in reply (`data.appointment`), when central gave them. */
export function appointmentReplyDetails(r: RequestResult<unknown>): { service: string | null; at: string | null } {
  if (!('ok' in r) || !r.ok) return { service: null, at: null };
  const a = (r.data as { appointment?: { service?: unknown; at?: unknown } } | null)?.appointment;
  const service = typeof a?.service === 'string' && /^[a-z0-9][a-z0-9_-]{0,31}$/.test(a.service) ? a.service : null;
  const at = typeof a?.at === 'string' && !Number.isNaN(Date.parse(a.at)) ? new Date(a.at).toISOString() : null;
  return { service, at };
}

interface AppointmentTexts {
  provisionalService: string;
  appointmentAt: string;
  code: string;
  provisionalMark: string;
  provisionalAdvice: string;
}

/** Printed only in PC860 characters. */
export const APPOINTMENT_TEXTS: Record<TicketLocale, AppointmentTexts> = {
  'pt-PT': {
    provisionalService: 'Marcação',
    appointmentAt: 'Hora marcada',
    code: 'Código da marcação',
    provisionalMark: '*** SENHA PROVISÓRIA ***',
    provisionalAdvice: 'A sua marcação não pôde ser confirmada. Guarde esta senha e apresente-a no balcão quando for chamado.',
  },
  en: {
    provisionalService: 'Appointment',
    appointmentAt: 'Appointment time',
    code: 'Appointment code',
    provisionalMark: '*** PROVISIONAL TICKET ***',
    provisionalAdvice: 'Your appointment could not be confirmed. Keep this ticket and show it at the counter when called.',
  },
};

/** Time of day as printed ("10:30") in the office's zone. */
function timeOfDay(iso: string, timeZone: string): string {
  return dateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
}

/**
 * An appointment ticket: kind 'appointment', the service central named (its name when
 * the kiosk knows it), the appointment time, the masked code; a provisional one is
 * marked offline and provisional with what to do.
 */
export function appointmentContent(held: HeldTicket, info: AppointmentInfo, service: ServiceConfig | undefined, s: TicketContentSettings): TicketContent {
  const t = APPOINTMENT_TEXTS[s.locale];
  const svc: ServiceConfig = service ?? { id: held.service, prefix: APPOINTMENT_OFFLINE_PREFIX, name: { [s.locale]: info.provisional ? t.provisionalService : held.service }, online: false };
  const base = ticketContent(held, svc, s);
  const extraLines: string[] = [];
  if (info.provisional) extraLines.push(t.provisionalMark, t.provisionalAdvice);
  if (info.at) extraLines.push(`${t.appointmentAt}: ${timeOfDay(info.at, s.timeZone)}`);
  extraLines.push(`${t.code}: ${info.codeHint}`);
  return {
    ...base,
    serviceName: info.provisional && !service ? t.provisionalService : base.serviceName,
    kind: 'appointment',
    onlineHint: false,
    extraLines,
  };
}
