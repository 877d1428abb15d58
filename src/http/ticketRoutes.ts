/**
 * POST /api/tickets (CONTRACT §6): `{"service":"prestacoes","priority":false}` →
 * `201 {ticket, service, peopleAhead, offline, printed: true}`.
 *
 * 413 (body over the limit), 415 (not JSON) and 400 malformed_json are answered by
 * HttpServer before this handler runs. Here: 400 for a body that is not an object, an
 * unknown service or a `priority` that is not a boolean; 409 `closed` outside opening
 * hours, after the cut-off or when central says the service is closed (with
 * `nextOpening` when known); 503 `printer_unavailable` when the printer cannot print
 * (nothing was printed, or the ticket will be reprinted or voided); 503 `busy` with
 * Retry-After while another ticket is being issued (one at a time per kiosk: a double
 * tap must not print two tickets); 502 `central_error`; 503 `storage_unavailable` when
 * the outbox cannot record. Every error body has `error` and `message`.
 */
import type { TicketOutcome } from '../machines/ticketMachine.js';
import type { TicketDesk } from '../tickets/ticketDesk.js';
import { jsonError, type HttpReply, type HttpServer } from './server.js';

/** Seconds a busy answer asks the screen to wait before trying again. */
export const BUSY_RETRY_AFTER_S = 2;

export function registerTicketRoutes(http: HttpServer, desk: TicketDesk | null): void {
  http.route('POST', '/api/tickets', async (req) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return jsonError(400, 'invalid_request', 'send a JSON object such as {"service":"prestacoes","priority":false}');
    }
    const { service, priority } = body as { service?: unknown; priority?: unknown };
    if (typeof service !== 'string' || service.length === 0) return jsonError(400, 'invalid_request', '"service" must be the id of a service');
    if (priority !== undefined && typeof priority !== 'boolean') return jsonError(400, 'invalid_request', '"priority" must be true or false');
    if (!desk) return jsonError(503, 'printer_unavailable', 'this kiosk has no printer configured', { detail: 'absent' });
    if (!desk.service(service)) return jsonError(400, 'unknown_service', `no service "${service.slice(0, 64)}" at this kiosk`);
    return replyFor(await desk.issue(service, priority ?? false));
  });
}

export function replyFor(outcome: TicketOutcome): HttpReply {
  switch (outcome.kind) {
    case 'issued':
      return {
        status: 201,
        body: {
          ticket: outcome.ticket,
          service: outcome.service,
          peopleAhead: outcome.peopleAhead,
          offline: outcome.offline,
          printed: true,
          // Project fields (printed on the ticket; the touch UI shows and speaks them).
          estimatedWaitMin: outcome.estimatedWaitMin ?? null,
          likelyNotServedBeforeClosing: outcome.likelyNotServedBeforeClosing ?? false,
        },
      };
    case 'closed':
    case 'printer_unavailable':
    case 'busy':
    case 'storage_error':
      return deskRefusalReply(outcome);
    case 'unknown_service':
      return jsonError(400, 'unknown_service', `no service "${outcome.service.slice(0, 64)}" at this kiosk`);
    case 'central_error':
      return jsonError(502, 'central_error', 'the central queue system refused the ticket', { code: outcome.code, detail: outcome.message });
  }
}

/** The refusals a ticket and an appointment check-in share: closed, printer, busy, storage. */
export function deskRefusalReply(outcome: Extract<TicketOutcome, { kind: 'closed' | 'printer_unavailable' | 'busy' | 'storage_error' }>): HttpReply {
  switch (outcome.kind) {
    case 'closed':
      return jsonError(409, 'closed', outcome.message, { reason: outcome.reason, nextOpening: outcome.nextOpening });
    case 'printer_unavailable':
      return jsonError(503, 'printer_unavailable', 'the printer cannot print a ticket now: please ask at the counter', { detail: outcome.detail });
    case 'busy':
      return { ...jsonError(503, 'busy', 'a ticket is being printed: try again in a moment'), headers: { 'retry-after': String(BUSY_RETRY_AFTER_S) } };
    case 'storage_error':
      return jsonError(503, 'storage_unavailable', 'the kiosk cannot record tickets now: please ask at the counter', { detail: outcome.detail });
  }
}
