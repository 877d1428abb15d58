/**
 * The citizen's appointment, scanner and deposit routes (issue #4). The touch UI calls
 * these; every error body has `error` (stable code) and `message` (English, for logs and
 * developers: the UI words it for the citizen by `error`).
 *
 * POST /api/appointments/checkin {"code":"..."}
 *   201 {ticket, service, peopleAhead, offline, provisional, printed: true}
 *       (central silent: a provisional ticket, `offline` and `provisional` true, `service` null)
 *   400 invalid_request (body not an object) | invalid_code (not 6–32 of A–Z 0–9 "-", see tickets/appointments.ts)
 *   404 unknown_appointment
 *   409 too_early {comeBackAt} | too_late (offer a normal ticket) | already_checked_in | closed {nextOpening}
 *   502 central_error   503 printer_unavailable {detail} | busy (Retry-After) | storage_unavailable
 * GET /api/scanner → {state: 'absent'} or the scanner's status (state, port, counters…)
 * POST /api/deposits → 201 {receipt, expiresInS}
 *   409 busy (one deposit at a time) | box_full   503 dropbox_unavailable {detail} | printer_unavailable {detail} | storage_unavailable
 * GET /api/deposits/current → {state: idle|printing|awaiting_drop|received|voided, receipt, secondsLeft, box, reason}
 * DELETE /api/deposits/current → 200 {state: 'voided', receipt, reason: 'cancelled'} | 404 no_deposit | 409 busy (printing)
 */
import type { Scanner } from '../facades/scanner.js';
import type { DepositDesk } from '../dropbox/depositDesk.js';
import type { TicketOutcome } from '../machines/ticketMachine.js';
import { isAppointmentCode, normalizeAppointmentCode } from '../tickets/appointments.js';
import type { TicketDesk } from '../tickets/ticketDesk.js';
import { jsonError, type HttpReply, type HttpServer } from './server.js';
import { BUSY_RETRY_AFTER_S, deskRefusalReply } from './ticketRoutes.js';

export interface KioskRouteDeps {
  tickets: TicketDesk | null;
  scanner: Scanner | null;
  deposits: DepositDesk | null;
}

export function registerKioskRoutes(http: HttpServer, deps: KioskRouteDeps): void {
  http.route('POST', '/api/appointments/checkin', async (req) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return jsonError(400, 'invalid_request', 'send a JSON object such as {"code":"AB12-CD34"}');
    }
    const raw = (body as { code?: unknown }).code;
    const code = typeof raw === 'string' ? normalizeAppointmentCode(raw) : '';
    if (!isAppointmentCode(code)) return jsonError(400, 'invalid_code', 'this is not an appointment code: 6 to 32 letters, digits or "-"');
    if (!deps.tickets) return jsonError(503, 'printer_unavailable', 'this kiosk has no printer configured', { detail: 'absent' });
    return checkinReply(await deps.tickets.checkIn(code));
  });

  http.route('GET', '/api/scanner', () => ({ status: 200, body: deps.scanner ? deps.scanner.status() : { state: 'absent' } }));

  http.route('POST', '/api/deposits', async (req) => {
    if (!deps.deposits) return jsonError(503, 'dropbox_unavailable', 'this kiosk has no drop box', { detail: 'absent' });
    const body = req.body ?? {};
    const moreTime = typeof body === 'object' && !Array.isArray(body) ? (body as { moreTime?: unknown }).moreTime : undefined;
    if (typeof body !== 'object' || Array.isArray(body) || (moreTime !== undefined && typeof moreTime !== 'boolean')) {
      return jsonError(400, 'invalid_request', 'send {} or {"moreTime":true} (speech mode: three times the drop window)');
    }
    const r = await deps.deposits.begin({ moreTime: moreTime === true });
    switch (r.kind) {
      case 'started':
        return { status: 201, body: { receipt: r.receipt, expiresInS: r.expiresInS } };
      case 'busy':
        return { ...jsonError(409, 'busy', 'a deposit is already in progress at this kiosk'), headers: { 'retry-after': String(BUSY_RETRY_AFTER_S) } };
      case 'box_full':
        return jsonError(409, 'box_full', 'the drop box is full: documents can be handed in at the counter or sent through Segurança Social Direta');
      case 'dropbox_unavailable':
        return jsonError(503, 'dropbox_unavailable', 'the drop box cannot take documents now', { detail: r.detail });
      case 'printer_unavailable':
        return jsonError(503, 'printer_unavailable', 'the receipt cannot be printed now, so no deposit was started', { detail: r.detail });
      case 'storage_error':
        return jsonError(503, 'storage_unavailable', 'the kiosk cannot record deposits now', { detail: r.detail });
    }
  });

  http.route('GET', '/api/deposits/current', () => ({
    status: 200,
    body: deps.deposits ? deps.deposits.view() : { state: 'idle', receipt: null, secondsLeft: null, box: null, reason: null },
  }));

  http.route('DELETE', '/api/deposits/current', () => {
    if (!deps.deposits) return jsonError(404, 'no_deposit', 'no deposit is in progress');
    const r = deps.deposits.cancel();
    switch (r.kind) {
      case 'cancelled':
        return { status: 200, body: { state: 'voided', receipt: r.receipt, reason: 'cancelled' } };
      case 'busy':
        return jsonError(409, 'busy', 'the receipt is being printed: cancel once it is out');
      case 'none':
        return jsonError(404, 'no_deposit', 'no deposit is waiting for an envelope');
      case 'storage_error':
        return jsonError(503, 'storage_unavailable', 'the cancellation could not be recorded yet; it is retried', { detail: r.detail });
    }
  });
}

export function checkinReply(outcome: TicketOutcome): HttpReply {
  switch (outcome.kind) {
    case 'issued': {
      const provisional = outcome.provisional ?? false;
      return {
        status: 201,
        body: {
          ticket: outcome.ticket,
          service: provisional || outcome.service === '' ? null : outcome.service,
          peopleAhead: outcome.peopleAhead,
          offline: outcome.offline,
          provisional,
          printed: true,
          estimatedWaitMin: outcome.estimatedWaitMin ?? null,
        },
      };
    }
    case 'central_error':
      switch (outcome.code) {
        case 'too_early':
          return jsonError(409, 'too_early', 'it is too early to check in for this appointment', { comeBackAt: outcome.comeBackAt ?? null });
        case 'too_late':
          return jsonError(409, 'too_late', 'the check-in time for this appointment has passed: a normal ticket can be taken');
        case 'unknown_appointment':
          return jsonError(404, 'unknown_appointment', 'no appointment with this code at this office');
        case 'already_checked_in':
          return jsonError(409, 'already_checked_in', 'this appointment has already been checked in');
        default:
          return jsonError(502, 'central_error', 'the central queue system refused the check-in', { code: outcome.code, detail: outcome.message });
      }
    case 'closed':
    case 'printer_unavailable':
    case 'busy':
    case 'storage_error':
      return deskRefusalReply(outcome);
    case 'unknown_service':
      return jsonError(502, 'central_error', 'central named a service this kiosk does not know', { code: 'unknown_service' });
  }
}
