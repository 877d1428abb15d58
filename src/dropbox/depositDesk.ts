/**
 * The deposit flow (issue #4): a citizen asks to deposit documents → a receipt is printed
 * (receipt id, box, date and time, QR, advice to keep it) → the slot light goes on →
 * the next envelope the board reports as a DROP within DEPOSIT_DROP_TIMEOUT_MS is linked
 * to the receipt (its `dropbox.deposit` event carries `receipt`) → light off. No drop in
 * time, or the citizen cancels: `dropbox.receipt_voided`, light off.
 *
 * One deposit at a time per kiosk. States: idle → printing → awaiting_drop → received |
 * voided (shown for DEPOSIT_RESULT_KEPT_MS, then idle again).
 *
 * Durable: the receipt counter and the receipt in flight live in the outbox's state
 * table, written in the same transaction as the event that goes with each step, so a
 * restart neither reuses a receipt id nor forgets a receipt waiting for its envelope
 * (it is resumed with the time it had left, or voided if that ran out meanwhile).
 * Receipt ids: `R-<kiosk tag>-<nnnnnn>` (e.g. `R-K1-000123`), unique per kiosk for the
 * life of its data folder.
 */
import type { TicketContent } from '../../devices/printer/ticketLayout.js';
import { DEFAULT_CONTACT_LINE, type TicketLocale } from '../../devices/printer/ticketTexts.js';
import type { Logger } from '../log.js';
import type { DropboxLedger, FillLevel, RecordedDeposit } from '../machines/dropboxLedger.js';
import type { Printer } from '../facades/printer.js';
import type { EventLog, NewEvent } from '../upstream/events.js';
import { kioskTag } from '../tickets/offlineNumbering.js';

/** How long the slot light waits for the envelope after the receipt is printed. */
export const DEPOSIT_DROP_TIMEOUT_MS = 120_000;
/** How long GET /api/deposits/current keeps showing `received` or `voided` before `idle`. */
export const DEPOSIT_RESULT_KEPT_MS = 30_000;
/** The printer machine answers every job; should it not, the receipt counts as not printed after this. */
export const DEPOSIT_PRINT_TIMEOUT_MS = 60_000;
/** A void the outbox refused (disk full) is tried again after this. */
export const DEPOSIT_VOID_RETRY_MS = 5_000;
/** Where the receipt's QR leads: `<base>/<site>/<receipt>`. */
export const DEFAULT_RECEIPT_URL_BASE = 'https://siga.seg-social.pt/r';

export const DEPOSIT_PENDING_STATE_KEY = 'deposits.pending';
export const RECEIPT_SEQ_STATE_KEY = 'deposits.receiptSeq';
const RECEIPT_DIGITS = 6;

export type DepositState = 'idle' | 'printing' | 'awaiting_drop' | 'received' | 'voided';
export type VoidReason = 'no_drop' | 'cancelled' | 'interrupted';

/** The receipt in flight, as stored. */
interface PendingReceiptRecord {
  receipt: string;
  box: string;
  phase: 'printing' | 'awaiting_drop';
  issuedAt: number;
  expiresAt: number | null;
}

export interface DepositClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: DepositClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** What the desk needs to know of the drop box (dropboxStatusView gives it). */
export interface DropboxAvailability {
  /** 'online' when frames arrive; anything else ('offline', 'starting') cannot take a deposit. */
  state: string;
  fillLevel: FillLevel | null;
  /** Door region of the drop-box machine: 'closed' | 'unknown' | 'openedByUs' | 'forced'. */
  door: string;
}

export type DepositStartOutcome =
  | { kind: 'started'; receipt: string; expiresInS: number }
  | { kind: 'busy' }
  | { kind: 'box_full' }
  | { kind: 'dropbox_unavailable'; detail: string }
  | { kind: 'printer_unavailable'; detail: string }
  | { kind: 'storage_error'; detail: string };

export type DepositCancelOutcome = { kind: 'cancelled'; receipt: string } | { kind: 'busy' } | { kind: 'none' } | { kind: 'storage_error'; detail: string };

export interface DepositView {
  state: DepositState;
  receipt: string | null;
  /** Seconds left for the envelope while `awaiting_drop`; null otherwise. */
  secondsLeft: number | null;
  box: string;
  /** Why the last receipt was voided, while `voided`. */
  reason: VoidReason | null;
}

export interface DepositDeskOptions {
  box: string;
  kioskId: string;
  site: string;
  locale: TicketLocale;
  timeZone: string;
  events: EventLog;
  ledger: DropboxLedger;
  /** The drop box as it is now; null when it cannot be known. */
  dropbox: () => DropboxAvailability | null;
  setSlotLight: (mode: 'ON' | 'OFF') => void;
  printer: Printer | null;
  log: Logger;
  clock?: DepositClock;
  dropTimeoutMs?: number;
  receiptUrlBase?: string;
}

interface DepositTexts {
  title: string;
  box: string;
  keep: string;
  dropNow: (minutes: number) => string;
}

/** Printed only in PC860 characters. */
export const DEPOSIT_TEXTS: Record<TicketLocale, DepositTexts> = {
  'pt-PT': {
    title: 'Entrega de documentos',
    box: 'Marco de entrega',
    keep: 'Guarde este comprovativo: é a prova da sua entrega.',
    dropNow: (m) => `Introduza o envelope na ranhura iluminada nos próximos ${m} minutos.`,
  },
  en: {
    title: 'Document deposit',
    box: 'Drop box',
    keep: 'Keep this receipt: it is the proof of your deposit.',
    dropNow: (m) => `Put the envelope in the lit slot within the next ${m} minutes.`,
  },
};

export function formatReceiptId(tag: string, n: number): string {
  return `R-${tag}-${String(n).padStart(RECEIPT_DIGITS, '0')}`;
}

export class DepositDesk {
  private state: DepositState = 'idle';
  private current: PendingReceiptRecord | null = null;
  private voidReason: VoidReason | null = null;
  private expiryTimer: unknown = null;
  private resultTimer: unknown = null;
  private readonly clock: DepositClock;
  private readonly tag: string;
  private readonly dropTimeoutMs: number;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly opts: DepositDeskOptions) {
    this.clock = opts.clock ?? systemClock;
    this.tag = kioskTag(opts.kioskId);
    this.dropTimeoutMs = opts.dropTimeoutMs ?? DEPOSIT_DROP_TIMEOUT_MS;
  }

  /** Listens for deposits and resumes (or voids) a receipt left pending by a restart. */
  start(): this {
    this.unsubscribe = this.opts.ledger.onDeposit((d) => this.onDeposit(d));
    const stored = parsePending(this.opts.events.getState(DEPOSIT_PENDING_STATE_KEY));
    if (!stored) return this;
    this.current = stored;
    if (stored.phase === 'printing' || stored.expiresAt === null) {
      // Cut off while printing: the citizen may hold a receipt nobody will honour.
      this.voidCurrent('interrupted');
    } else if (this.clock.now() >= stored.expiresAt) {
      this.voidCurrent('no_drop');
    } else {
      this.opts.log.info({ receipt: stored.receipt }, 'deposit receipt from before the restart waits for its envelope');
      this.awaitDrop(stored);
    }
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.clearTimer('expiryTimer');
    this.clearTimer('resultTimer');
  }

  view(): DepositView {
    const c = this.current;
    const awaiting = this.state === 'awaiting_drop' && c?.expiresAt != null;
    return {
      state: this.state,
      receipt: this.state === 'idle' ? null : (c?.receipt ?? null),
      secondsLeft: awaiting ? Math.max(0, Math.ceil((c.expiresAt! - this.clock.now()) / 1000)) : null,
      box: this.opts.box,
      reason: this.state === 'voided' ? this.voidReason : null,
    };
  }

  /** A citizen asks to deposit: checks, prints the receipt, lights the slot. Never rejects. */
  async begin(): Promise<DepositStartOutcome> {
    if (this.state === 'printing' || this.state === 'awaiting_drop') return { kind: 'busy' };
    const box = this.opts.dropbox();
    if (!box || box.state !== 'online') return { kind: 'dropbox_unavailable', detail: box ? box.state : 'absent' };
    if (box.fillLevel === 'full') return { kind: 'box_full' };
    if (box.door === 'openedByUs' || box.door === 'forced') return { kind: 'dropbox_unavailable', detail: 'door_open' };
    const printer = this.opts.printer;
    if (!printer) return { kind: 'printer_unavailable', detail: 'absent' };
    const pv = printer.status();
    if (!pv.ready) return { kind: 'printer_unavailable', detail: pv.state };

    const now = this.clock.now();
    const n = (Number(this.opts.events.getState(RECEIPT_SEQ_STATE_KEY) ?? '0') || 0) + 1;
    const record: PendingReceiptRecord = { receipt: formatReceiptId(this.tag, n), box: this.opts.box, phase: 'printing', issuedAt: now, expiresAt: null };
    try {
      // The id is taken (and the receipt known to be in flight) before a byte is printed.
      this.opts.events.append([], { [RECEIPT_SEQ_STATE_KEY]: String(n), [DEPOSIT_PENDING_STATE_KEY]: JSON.stringify(record) });
    } catch (err) {
      return { kind: 'storage_error', detail: (err as Error).message };
    }
    this.clearTimer('resultTimer');
    this.state = 'printing';
    this.current = record;
    this.voidReason = null;

    const printed = await this.print(record, printer);
    if (this.stopped) return { kind: 'printer_unavailable', detail: 'shutting_down' };
    if (!printed.confirmed) {
      this.opts.log.warn({ receipt: record.receipt, reason: printed.reason }, 'deposit receipt not confirmed by the printer: deposit not started');
      this.forget();
      return { kind: 'printer_unavailable', detail: printed.reason ?? 'unconfirmed' };
    }
    const waiting: PendingReceiptRecord = { ...record, phase: 'awaiting_drop', expiresAt: this.clock.now() + this.dropTimeoutMs };
    try {
      this.opts.events.append([{ type: 'dropbox.receipt_issued', data: { box: this.opts.box, receipt: record.receipt } }], {
        [DEPOSIT_PENDING_STATE_KEY]: JSON.stringify(waiting),
      });
    } catch (err) {
      this.opts.log.error({ receipt: record.receipt, err: (err as Error).message }, 'printed deposit receipt could not be recorded');
      this.forget();
      return { kind: 'storage_error', detail: (err as Error).message };
    }
    this.opts.log.info({ receipt: record.receipt }, 'deposit receipt printed; slot light on');
    this.awaitDrop(waiting);
    return { kind: 'started', receipt: record.receipt, expiresInS: Math.round(this.dropTimeoutMs / 1000) };
  }

  /** The citizen walked away (or pressed cancel): the receipt is voided. */
  cancel(): DepositCancelOutcome {
    if (this.state === 'printing') return { kind: 'busy' };
    if (this.state !== 'awaiting_drop' || !this.current) return { kind: 'none' };
    const receipt = this.current.receipt;
    return this.voidCurrent('cancelled') ? { kind: 'cancelled', receipt } : { kind: 'storage_error', detail: 'the void could not be recorded; it is retried' };
  }

  private awaitDrop(record: PendingReceiptRecord): void {
    this.current = record;
    this.state = 'awaiting_drop';
    this.opts.ledger.setPendingReceipt({ receipt: record.receipt, state: { [DEPOSIT_PENDING_STATE_KEY]: null } });
    this.opts.setSlotLight('ON');
    this.clearTimer('expiryTimer');
    const left = Math.max(0, (record.expiresAt ?? 0) - this.clock.now());
    this.expiryTimer = this.clock.setTimeout(() => {
      this.expiryTimer = null;
      if (this.state === 'awaiting_drop') this.voidCurrent('no_drop');
    }, left);
  }

  private onDeposit(d: RecordedDeposit): void {
    const c = this.current;
    if (this.state !== 'awaiting_drop' || !c || d.receipt !== c.receipt) return;
    this.clearTimer('expiryTimer');
    this.state = 'received';
    this.opts.log.info({ receipt: c.receipt, count: d.count }, 'envelope received for the deposit receipt');
    // The ledger tells us from inside the drop-box machine's frame handling: the light
    // command goes to that machine after the current frame is done.
    queueMicrotask(() => this.opts.setSlotLight('OFF'));
    this.keepResult();
  }

  /** Records the void; false when the outbox refused (it is retried). */
  private voidCurrent(reason: VoidReason): boolean {
    const c = this.current;
    if (!c) return false;
    const event: NewEvent<'dropbox.receipt_voided'> = { type: 'dropbox.receipt_voided', data: { box: c.box, receipt: c.receipt, reason } };
    this.opts.ledger.setPendingReceipt(null);
    try {
      this.opts.events.append([event], { [DEPOSIT_PENDING_STATE_KEY]: null });
    } catch (err) {
      this.opts.log.error({ receipt: c.receipt, err: (err as Error).message }, 'deposit receipt void could not be recorded; retrying');
      this.clearTimer('expiryTimer');
      this.expiryTimer = this.clock.setTimeout(() => {
        this.expiryTimer = null;
        if (!this.stopped) this.voidCurrent(reason);
      }, DEPOSIT_VOID_RETRY_MS);
      this.state = 'voided';
      this.voidReason = reason;
      return false;
    }
    this.clearTimer('expiryTimer');
    this.opts.log.info({ receipt: c.receipt, reason }, 'deposit receipt voided');
    this.opts.setSlotLight('OFF');
    this.state = 'voided';
    this.voidReason = reason;
    this.keepResult();
    return true;
  }

  /** A receipt that was never printed: it is simply no longer in flight (its id is not reused). */
  private forget(): void {
    try {
      this.opts.events.append([], { [DEPOSIT_PENDING_STATE_KEY]: null });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'could not clear the unprinted deposit receipt; voided at the next start');
    }
    this.state = 'idle';
    this.current = null;
  }

  private keepResult(): void {
    this.clearTimer('resultTimer');
    this.resultTimer = this.clock.setTimeout(() => {
      this.resultTimer = null;
      if (this.state === 'received' || this.state === 'voided') {
        this.state = 'idle';
        this.current = null;
        this.voidReason = null;
      }
    }, DEPOSIT_RESULT_KEPT_MS);
  }

  private clearTimer(which: 'expiryTimer' | 'resultTimer'): void {
    if (this[which] !== null) this.clock.clearTimeout(this[which]);
    this[which] = null;
  }

  private async print(record: PendingReceiptRecord, printer: Printer): Promise<{ confirmed: boolean; reason: string | null }> {
    const r = await printer.print({ kind: 'ticket', content: this.receiptContent(record), isTicket: false }, { timeoutMs: DEPOSIT_PRINT_TIMEOUT_MS });
    return { confirmed: r.confirmed, reason: r.reason };
  }

  private receiptContent(record: PendingReceiptRecord): TicketContent {
    const t = DEPOSIT_TEXTS[this.opts.locale];
    const base = (this.opts.receiptUrlBase ?? DEFAULT_RECEIPT_URL_BASE).replace(/\/+$/, '');
    return {
      number: record.receipt,
      serviceName: t.title,
      office: this.opts.site,
      issuedAt: new Date(record.issuedAt),
      timeZone: this.opts.timeZone,
      locale: this.opts.locale,
      peopleAhead: null,
      waitMin: null,
      qrUrl: `${base}/${encodeURIComponent(this.opts.site)}/${encodeURIComponent(record.receipt)}`,
      contactLine: DEFAULT_CONTACT_LINE,
      onlineHint: false,
      likelyNotServedBeforeClosing: false,
      offline: false,
      kind: 'deposit_receipt',
      extraLines: [`${t.box}: ${record.box}`, t.keep, t.dropNow(Math.max(1, Math.round(this.dropTimeoutMs / 60_000)))],
    };
  }
}

function parsePending(raw: string | null): PendingReceiptRecord | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<PendingReceiptRecord> | null;
    if (!v || typeof v.receipt !== 'string' || typeof v.box !== 'string' || (v.phase !== 'printing' && v.phase !== 'awaiting_drop')) return null;
    return {
      receipt: v.receipt,
      box: v.box,
      phase: v.phase,
      issuedAt: typeof v.issuedAt === 'number' ? v.issuedAt : 0,
      expiresAt: typeof v.expiresAt === 'number' ? v.expiresAt : null,
    };
  } catch {
    return null;
  }
}
