/**
 * The durable record of tickets between "we have a number" and "it is issued or void",
 * kept in the outbox's state table so that every change is in the same fsync'd
 * transaction as the upstream event it goes with:
 *
 *  - `hold`: a ticket about to be printed is stored as pending (and, offline, its number
 *    is taken from the counter) before a single byte goes to the printer. A crash or a
 *    failed print can then never lose or reuse the number. A central number is held
 *    with `putState`: committed at once, on disk when `onDisk` resolves; the caller
 *    encodes the ticket while the disk works and sends it only after both.
 *  - `recordIssued`: the printer confirmed it: `ticket.issued` and the removal from
 *    pending, one transaction. A ticket counts as issued only here.
 *  - `voidTicket`: it could not be printed in time: `ticket.print_failed` and the removal,
 *    one transaction.
 * Pending tickets are few (one per print fault), so they are one JSON list under one key.
 */
import type { StateLog } from '../upstream/events.js';
import {
  OFFLINE_SEQ_STATE_KEY,
  formatOfflineNumber,
  kioskTag,
  nextOfflineSeq,
  officeDay,
  parseOfflineSeqState,
} from './offlineNumbering.js';

export const PENDING_STATE_KEY = 'tickets.pending';

/** A ticket with a number, as printed (and reprinted) and reported. Plain data (JSON). */
export type { HeldTicket } from '../machines/ticketMachine.js';
import type { HeldTicket } from '../machines/ticketMachine.js';

export type TicketFields = Omit<HeldTicket, 'ticket' | 'heldAt'>;

export interface TicketLedgerOptions {
  kioskId: string;
  /** The office's zone: offline numbers start again each office day. */
  timeZone: string;
  now: () => Date;
}

export class TicketLedger {
  private readonly tag: string;
  private pendingList: HeldTicket[];

  constructor(
    private readonly log: StateLog,
    private readonly opts: TicketLedgerOptions,
  ) {
    this.tag = kioskTag(opts.kioskId);
    this.pendingList = parsePending(log.getState(PENDING_STATE_KEY));
  }

  /** Tickets numbered but neither issued nor void, oldest first. */
  pending(): HeldTicket[] {
    return [...this.pendingList];
  }

  /**
   * Stores a central-numbered ticket as pending. Throws KioskError (outbox) and then
   * nothing changed; otherwise the hold is committed and `onDisk` resolves once it is
   * fsync'd (it rejects when the disk fails: print nothing then).
   */
  holdCentral(ticket: string, fields: TicketFields): { held: HeldTicket; onDisk: Promise<void> } {
    const held: HeldTicket = { ...fields, ticket, heldAt: this.opts.now().getTime() };
    const list = [...this.pendingList.filter((p) => p.ticket !== ticket), held];
    const onDisk = this.log.putState({ [PENDING_STATE_KEY]: JSON.stringify(list) });
    this.pendingList = list;
    return { held, onDisk };
  }

  /** Takes the next offline number and stores the ticket as pending, in one transaction. */
  holdOffline(prefix: string, fields: TicketFields): HeldTicket {
    const now = this.opts.now();
    const day = officeDay(now, this.opts.timeZone);
    const { n, state } = nextOfflineSeq(parseOfflineSeqState(this.log.getState(OFFLINE_SEQ_STATE_KEY)), fields.service, day);
    const held: HeldTicket = { ...fields, offline: true, ticket: formatOfflineNumber(prefix, fields.priority, this.tag, n), heldAt: now.getTime() };
    const list = [...this.pendingList, held];
    this.log.append([], { [OFFLINE_SEQ_STATE_KEY]: JSON.stringify(state), [PENDING_STATE_KEY]: JSON.stringify(list) });
    this.pendingList = list;
    return held;
  }

  /** The printer confirmed `held`: it is issued. */
  recordIssued(held: HeldTicket): void {
    const list = this.pendingList.filter((p) => p.ticket !== held.ticket);
    this.log.append(
      [{ type: 'ticket.issued', data: { ticket: held.ticket, service: held.service, priority: held.priority, offline: held.offline, peopleAhead: held.peopleAhead } }],
      { [PENDING_STATE_KEY]: JSON.stringify(list) },
    );
    this.pendingList = list;
  }

  /** `held` was never printed and will not be: central drops the number. */
  voidTicket(held: HeldTicket, reason: string): void {
    const list = this.pendingList.filter((p) => p.ticket !== held.ticket);
    this.log.append([{ type: 'ticket.print_failed', data: { ticket: held.ticket, reason } }], { [PENDING_STATE_KEY]: JSON.stringify(list) });
    this.pendingList = list;
  }
}

function parsePending(raw: string | null): HeldTicket[] {
  if (raw === null) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v.filter((t): t is HeldTicket => typeof (t as HeldTicket | null)?.ticket === 'string') : [];
  } catch {
    return [];
  }
}
