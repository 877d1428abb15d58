/**
 * The touch UI's backend: the controller's own local API (CONTRACT §6 and the routes of
 * the appointment and deposit desks), called over loopback. The UI thus takes tickets,
 * checks in and deposits exactly as any other client of the API would, through the same
 * validation and the same one-at-a-time rules, and a route that is missing (a kiosk
 * without that desk) is just "not available now".
 */
import type { CheckInAttempt, DepositAttempt, KioskUiBackend, NoticeReason, TicketAttempt } from '../machines/kioskUiMachine.js';

/**
 * Longer than the ticket desk's own wait for the printer (PRINT_RESULT_TIMEOUT_MS, 60 s),
 * so the desk's answer always arrives before the UI gives up on it.
 */
export const UI_REQUEST_TIMEOUT_MS = 70_000;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Everything but following the deposit, which the UI does in-process (src/ui/depositFeed.ts). */
export function createHttpUiBackend(baseUrl: () => string, timeoutMs = UI_REQUEST_TIMEOUT_MS): Omit<KioskUiBackend, 'watchDeposit'> {
  async function call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, ms = timeoutMs): Promise<Answer> {
    const res = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(ms),
    });
    const text = await res.text();
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = {};
    }
    return { status: res.status, body: typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {} };
  }

  return {
    async issueTicket(service, priority): Promise<TicketAttempt> {
      const { status, body } = await call('POST', '/api/tickets', { service, priority });
      if (status === 201) {
        return {
          kind: 'issued',
          ticket: str(body.ticket),
          service: str(body.service) || service,
          peopleAhead: count(body.peopleAhead),
          offline: body.offline === true,
          estimatedWaitMin: count(body.estimatedWaitMin),
          likelyNotServedBeforeClosing: body.likelyNotServedBeforeClosing === true,
        };
      }
      return { kind: 'refused', reason: refusal(status, body) };
    },

    async checkIn(code): Promise<CheckInAttempt> {
      const { status, body } = await call('POST', '/api/appointments/checkin', { code });
      if (status === 201) {
        return {
          kind: 'checked_in',
          ticket: str(body.ticket),
          service: str(body.service),
          peopleAhead: count(body.peopleAhead),
          offline: body.offline === true,
          provisional: body.provisional === true,
          estimatedWaitMin: count(body.estimatedWaitMin),
        };
      }
      switch (body.error) {
        case 'too_early':
          return { kind: 'too_early', comeBackAt: typeof body.comeBackAt === 'string' ? body.comeBackAt : null };
        case 'too_late':
          return { kind: 'too_late' };
        case 'unknown_appointment':
        case 'invalid_code':
        case 'already_checked_in':
          return { kind: 'not_accepted', reason: body.error };
        default:
          return { kind: 'refused', reason: refusal(status, body) };
      }
    },

    async startDeposit(opts: { moreTime?: boolean } = {}): Promise<DepositAttempt> {
      const { status, body } = await call('POST', '/api/deposits', opts.moreTime ? { moreTime: true } : {});
      if (status === 201) return { kind: 'started', receipt: str(body.receipt), expiresInS: count(body.expiresInS) ?? 0 };
      if (body.error === 'box_full') return { kind: 'box_full' };
      return { kind: 'refused', reason: refusal(status, body) };
    },

    async cancelDeposit(): Promise<void> {
      await call('DELETE', '/api/deposits/current');
    },
  };
}

/** What an error answer means for the citizen. */
function refusal(status: number, body: Record<string, unknown>): NoticeReason {
  switch (body.error) {
    case 'printer_unavailable':
      return 'printer';
    case 'busy':
      return 'busy';
    case 'closed':
    case 'service_closed':
      return 'closed';
    case 'central_error':
      return 'central';
    case 'dropbox_unavailable':
      return 'dropbox';
    default:
      return status === 502 ? 'central' : 'unavailable';
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : null;
}
