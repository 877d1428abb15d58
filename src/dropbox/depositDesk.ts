/**
 * The deposit desk (issue #4): what the HTTP routes and the touch UI call to take a
 * deposit. The flow itself is the deposit machine (src/machines/depositMachine.ts); the
 * desk provides its I/O (the printer, the outbox, the drop box's slot light and drop
 * link) and answers begin/cancel/view from its snapshot.
 *
 * Durable: the receipt counter and the receipt in flight live in the outbox's state
 * table, written in the same transaction as the event that goes with each step, so a
 * restart neither reuses a receipt id nor forgets a receipt waiting for its envelope
 * (it is resumed with the time it had left, or voided if that ran out meanwhile).
 * Receipt ids: `R-<kiosk tag>-<nnnnnn>` (e.g. `R-K1-000123`), unique per kiosk for the
 * life of its data folder.
 */
import { createActor, fromCallback, fromPromise, waitFor } from 'xstate';
import type { TicketContent } from '../../devices/printer/ticketLayout.js';
import { DEFAULT_CONTACT_LINE, type TicketLocale } from '../../devices/printer/ticketTexts.js';
import { systemClock, type Clock } from '../../kernel/clock.js';
import type { Logger } from '../../kernel/log.js';
import type { KioskConfig } from '../config/schema.js';
import type { Dropbox } from '../facades/dropbox.js';
import type { Printer } from '../facades/printer.js';
import {
  DEPOSIT_DROP_TIMEOUT_MS,
  depositMachine,
  type DepositMachineEvent,
  type DepositSnapshot,
  type PendingReceiptRecord,
  type PrintReceiptOutput,
  type VoidReason,
} from '../machines/depositMachine.js';
import { kioskTag } from '../tickets/offlineNumbering.js';
import type { EventLog, NewEvent } from '../upstream/events.js';

export { DEPOSIT_DROP_TIMEOUT_MS, DEPOSIT_RESULT_KEPT_MS, DEPOSIT_VOID_RETRY_MS, type VoidReason } from '../machines/depositMachine.js';

/** A citizen in speech mode gets this many times the drop window (CONTRACT §7: at least three). */
export const DEPOSIT_MORE_TIME_FACTOR = 3;
/** The printer machine answers every job; should it not, the receipt counts as not printed after this. */
export const DEPOSIT_PRINT_TIMEOUT_MS = 60_000;
/** Where the receipt's QR leads: `<base>/<site>/<receipt>`. */
export const DEFAULT_RECEIPT_URL_BASE = 'https://siga.seg-social.pt/r';

export const DEPOSIT_PENDING_STATE_KEY = 'deposits.pending';
export const RECEIPT_SEQ_STATE_KEY = 'deposits.receiptSeq';
const RECEIPT_DIGITS = 6;

export type DepositState = 'idle' | 'printing' | 'awaiting_drop' | 'received' | 'voided';

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
  dropbox: Dropbox;
  kiosk: Pick<KioskConfig['kiosk'], 'id' | 'site' | 'locale'>;
  timeZone: string;
  events: EventLog;
  printer: Printer | null;
  log: Logger;
  clock?: Clock;
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
  private readonly clock: Clock;
  private readonly tag: string;
  private readonly dropTimeoutMs: number;
  private readonly actor;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly opts: DepositDeskOptions) {
    this.clock = opts.clock ?? systemClock;
    this.tag = kioskTag(opts.kiosk.id);
    this.dropTimeoutMs = opts.dropTimeoutMs ?? DEPOSIT_DROP_TIMEOUT_MS;
    const stored = parsePending(opts.events.getState(DEPOSIT_PENDING_STATE_KEY));
    const windowMs = stored?.expiresAt != null ? stored.expiresAt - this.clock.now() : 0;
    this.actor = createActor(this.machine(), {
      clock: this.clock,
      input: { dropTimeoutMs: this.dropTimeoutMs, resume: stored ? { record: stored, expired: windowMs <= 0, windowMs } : null },
    });
    this.actor.subscribe({ error: (err) => opts.log.fatal({ err: (err as Error).message }, 'deposit machine stopped on an error') });
  }

  /** Listens for deposits and resumes (or voids) a receipt left pending by a restart. */
  start(): this {
    this.unsubscribe = this.opts.dropbox.onDeposit((d) => this.actor.send({ type: 'DEPOSIT', receipt: d.receipt, count: d.count }));
    this.actor.start();
    const resumed = this.actor.getSnapshot();
    if (resumed.matches('awaitingDrop')) this.opts.log.info({ receipt: resumed.context.record?.receipt }, 'deposit receipt from before the restart waits for its envelope');
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.actor.stop();
  }

  view(): DepositView {
    return this.viewOf(this.actor.getSnapshot());
  }

  /** Calls `listener` with the view now and after every change of the flow; returns the unsubscribe function. */
  watch(listener: (view: DepositView) => void): () => void {
    listener(this.view());
    const sub = this.actor.subscribe((s) => listener(this.viewOf(s)));
    return () => sub.unsubscribe();
  }

  /** A citizen asks to deposit: checks, prints the receipt, lights the slot. Never rejects. */
  async begin(opts: { moreTime?: boolean } = {}): Promise<DepositStartOutcome> {
    const snapshot = this.actor.getSnapshot();
    if (snapshot.matches('printing') || snapshot.matches('awaitingDrop') || snapshot.matches('voiding')) return { kind: 'busy' };
    if (snapshot.matches('voidRetrying')) return { kind: 'storage_error', detail: 'the last receipt\'s void is not recorded yet' };
    const box = this.opts.dropbox.status();
    if (box.state !== 'online') return { kind: 'dropbox_unavailable', detail: box.state };
    if (box.fillLevel === 'full') return { kind: 'box_full' };
    if (box.door === 'openedByUs' || box.door === 'forced') return { kind: 'dropbox_unavailable', detail: 'door_open' };
    const printer = this.opts.printer;
    if (!printer) return { kind: 'printer_unavailable', detail: 'absent' };
    const pv = printer.status();
    if (!pv.ready) return { kind: 'printer_unavailable', detail: pv.state };

    const n = (Number(this.opts.events.getState(RECEIPT_SEQ_STATE_KEY) ?? '0') || 0) + 1;
    // In speech mode every time limit is at least three times as long (CONTRACT §7).
    const windowMs = opts.moreTime ? this.dropTimeoutMs * DEPOSIT_MORE_TIME_FACTOR : this.dropTimeoutMs;
    const record: PendingReceiptRecord = { receipt: formatReceiptId(this.tag, n), box: this.opts.dropbox.id, phase: 'printing', issuedAt: this.clock.now(), expiresAt: null, ...(opts.moreTime ? { windowMs } : {}) };
    try {
      // The id is taken (and the receipt known to be in flight) before a byte is printed.
      this.opts.events.append([], { [RECEIPT_SEQ_STATE_KEY]: String(n), [DEPOSIT_PENDING_STATE_KEY]: JSON.stringify(record) });
    } catch (err) {
      return { kind: 'storage_error', detail: (err as Error).message };
    }
    this.actor.send({ type: 'START', record });
    const after = await waitFor(this.actor, (s) => !s.matches('printing')).catch(() => this.actor.getSnapshot());
    if (this.stopped || after.status !== 'active') return { kind: 'printer_unavailable', detail: 'shutting_down' };
    if (after.matches('awaitingDrop') && after.context.record?.receipt === record.receipt) {
      return { kind: 'started', receipt: record.receipt, expiresInS: Math.round(windowMs / 1000) };
    }
    const failure = after.context.lastFailure;
    if (failure?.kind === 'storage_error') return { kind: 'storage_error', detail: failure.detail };
    return { kind: 'printer_unavailable', detail: failure?.reason ?? 'unconfirmed' };
  }

  /** The citizen walked away (or pressed cancel): the receipt is voided. */
  cancel(): DepositCancelOutcome {
    const snapshot = this.actor.getSnapshot();
    if (snapshot.matches('printing')) return { kind: 'busy' };
    if (!snapshot.matches('awaitingDrop') || !snapshot.context.record) return { kind: 'none' };
    const receipt = snapshot.context.record.receipt;
    this.actor.send({ type: 'CANCEL' });
    // recordVoid answers synchronously: the void's fate is in the snapshot already.
    return this.actor.getSnapshot().matches('voided') ? { kind: 'cancelled', receipt } : { kind: 'storage_error', detail: 'the void could not be recorded; it is retried' };
  }

  private viewOf(s: DepositSnapshot): DepositView {
    const record = s.context.record;
    const state: DepositState = s.matches('printing')
      ? 'printing'
      : s.matches('awaitingDrop')
        ? 'awaiting_drop'
        : s.matches('received')
          ? 'received'
          : s.matches('voided') || s.matches('voiding') || s.matches('voidRetrying')
            ? 'voided'
            : 'idle';
    const awaiting = state === 'awaiting_drop' && record?.expiresAt != null;
    return {
      state,
      receipt: state === 'idle' ? null : (record?.receipt ?? null),
      secondsLeft: awaiting ? Math.max(0, Math.ceil((record.expiresAt! - this.clock.now()) / 1000)) : null,
      box: this.opts.dropbox.id,
      reason: state === 'voided' ? s.context.voidReason : null,
    };
  }

  /** The machine with the desk's I/O: printer, outbox, slot light, the drop link, log lines. */
  private machine() {
    const { events, log, dropbox } = this.opts;
    return depositMachine.provide({
      actors: {
        printReceipt: fromPromise<PrintReceiptOutput, { record: PendingReceiptRecord }>(({ input }) => this.printAndRecord(input.record)),
        recordVoid: fromCallback<DepositMachineEvent, { record: PendingReceiptRecord; reason: VoidReason }>(({ input, sendBack }) => {
          const { record, reason } = input;
          dropbox.linkNextDrop(null);
          const event: NewEvent<'dropbox.receipt_voided'> = { type: 'dropbox.receipt_voided', data: { box: record.box, receipt: record.receipt, reason } };
          try {
            events.append([event], { [DEPOSIT_PENDING_STATE_KEY]: null });
            sendBack({ type: 'VOID.RECORDED' });
          } catch (err) {
            log.error({ receipt: record.receipt, err: (err as Error).message }, 'deposit receipt void could not be recorded; retrying');
            sendBack({ type: 'VOID.REFUSED' });
          }
        }),
      },
      actions: {
        openSlot: (_, { record }) => {
          dropbox.linkNextDrop({ receipt: record.receipt, state: { [DEPOSIT_PENDING_STATE_KEY]: null } });
          dropbox.setSlotLight('ON');
        },
        closeSlot: () => dropbox.setSlotLight('OFF'),
        noteReceived: (_, { receipt, count }) => log.info({ receipt, count }, 'envelope received for the deposit receipt'),
        noteVoided: (_, { receipt, reason }) => log.info({ receipt, reason }, 'deposit receipt voided'),
        forgetUnprinted: () => {
          // A receipt that was never printed is simply no longer in flight (its id is not reused).
          try {
            events.append([], { [DEPOSIT_PENDING_STATE_KEY]: null });
          } catch (err) {
            log.error({ err: (err as Error).message }, 'could not clear the unprinted deposit receipt; voided at the next start');
          }
        },
      },
    });
  }

  private async printAndRecord(record: PendingReceiptRecord): Promise<PrintReceiptOutput> {
    const printer = this.opts.printer;
    if (!printer) return { kind: 'not_printed', reason: 'absent' };
    const printed = await printer.print({ kind: 'ticket', content: this.receiptContent(record), isTicket: false }, { timeoutMs: DEPOSIT_PRINT_TIMEOUT_MS });
    if (!printed.confirmed) {
      this.opts.log.warn({ receipt: record.receipt, reason: printed.reason }, 'deposit receipt not confirmed by the printer: deposit not started');
      return { kind: 'not_printed', reason: printed.reason ?? 'unconfirmed' };
    }
    const waiting: PendingReceiptRecord = { ...record, phase: 'awaiting_drop', expiresAt: this.clock.now() + (record.windowMs ?? this.dropTimeoutMs) };
    try {
      this.opts.events.append([{ type: 'dropbox.receipt_issued', data: { box: record.box, receipt: record.receipt } }], { [DEPOSIT_PENDING_STATE_KEY]: JSON.stringify(waiting) });
    } catch (err) {
      this.opts.log.error({ receipt: record.receipt, err: (err as Error).message }, 'printed deposit receipt could not be recorded');
      return { kind: 'storage_error', detail: (err as Error).message };
    }
    this.opts.log.info({ receipt: record.receipt }, 'deposit receipt printed; slot light on');
    return { kind: 'issued', record: waiting };
  }

  private receiptContent(record: PendingReceiptRecord): TicketContent {
    const { locale, site } = this.opts.kiosk;
    const t = DEPOSIT_TEXTS[locale];
    const base = (this.opts.receiptUrlBase ?? DEFAULT_RECEIPT_URL_BASE).replace(/\/+$/, '');
    return {
      number: record.receipt,
      serviceName: t.title,
      office: site,
      issuedAt: new Date(record.issuedAt),
      timeZone: this.opts.timeZone,
      locale,
      peopleAhead: null,
      waitMin: null,
      qrUrl: `${base}/${encodeURIComponent(site)}/${encodeURIComponent(record.receipt)}`,
      contactLine: DEFAULT_CONTACT_LINE,
      onlineHint: false,
      likelyNotServedBeforeClosing: false,
      offline: false,
      kind: 'deposit_receipt',
      extraLines: [`${t.box}: ${record.box}`, t.keep, t.dropNow(Math.max(1, Math.round((record.windowMs ?? this.dropTimeoutMs) / 60_000)))],
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
