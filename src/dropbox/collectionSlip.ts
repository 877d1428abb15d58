/**
 * Collection slips (issue #5): when the drop box records a collection
 * (`dropbox.collected`), a slip is printed with the box, the count (the very number in
 * that event), date and time, the range of deposit receipts since the previous
 * collection, and lines for the collector's and a witness's signatures. The back office
 * checks the envelopes against it.
 *
 * The desk follows the outbox's `appended` notifications, in seq order: a
 * `dropbox.deposit` with a `receipt` widens the range, a `dropbox.collected` closes it
 * into a slip to print. Events leave the outbox once the broker has them, so the range
 * and the slip waiting to print are kept in the outbox's state table (key
 * `collection.<box>`) with the last seq seen; at start the desk reads the events still
 * in the outbox after that seq, so a restart between an event and its bookkeeping loses
 * nothing that had not already gone upstream.
 *
 * A slip that does not print (no paper, printer off) waits and is tried again when the
 * printer recovers and every COLLECTION_SLIP_RETRY_MS; once confirmed,
 * `dropbox.collection_slip` is recorded. A retry after an unconfirmed print is marked
 * as a copy.
 */
import { every, systemClock, type Clock } from '../../kernel/clock.js';
import { encodeLines, formatIssuedAt, LINE_WIDTH, type PrinterModel } from '../../devices/printer/ticketLayout.js';
import { TICKET_TEXTS, type TicketLocale } from '../../devices/printer/ticketTexts.js';
import type { Logger } from '../log.js';
import type { Printer } from '../facades/printer.js';
import type { EventEnvelope, EventLog, NewEvent } from '../upstream/events.js';

/** A slip waiting for the printer is tried again this often. */
export const COLLECTION_SLIP_RETRY_MS = 30_000;
/** The printer machine answers every job; should it not, the slip counts as not printed after this. */
export const COLLECTION_SLIP_PRINT_TIMEOUT_MS = 60_000;
/** Events read back from the outbox per query at start. */
const REPLAY_BATCH = 500;

export const collectionStateKey = (box: string): string => `collection.${box}`;

export interface ReceiptRange {
  receipts: number;
  from: string | null;
  to: string | null;
}

/** What one slip says. */
export interface CollectionSlip {
  box: string;
  count: number;
  /** ISO time of the `dropbox.collected` event. */
  collectedAt: string;
  /** Its seq: the back office finds the event by it. */
  seq: number;
  range: ReceiptRange;
  /** Print attempts so far (a later one is printed as a copy). */
  attempts: number;
}

interface StoredCollection {
  seenSeq: number;
  sinceLast: ReceiptRange;
  pending: CollectionSlip | null;
  last: (CollectionSlip & { printed: boolean; printedAt: string | null }) | null;
}

export interface SlipTexts {
  box: string;
  kiosk: string;
  collectedAt: string;
  envelopes: string;
  receipts: string;
  receiptsFrom: string;
  receiptsTo: string;
  withoutReceipt: string;
  none: string;
  record: string;
  collector: string;
  witness: string;
  name: string;
  signature: string;
  copy: string;
}

/** Only characters of code page PC860. */
export const SLIP_TEXTS: Record<TicketLocale, SlipTexts> = {
  'pt-PT': {
    box: 'Caixa',
    kiosk: 'Quiosque',
    collectedAt: 'Recolha em',
    envelopes: 'ENVELOPES RECOLHIDOS',
    receipts: 'Comprovativos',
    receiptsFrom: 'Do nº',
    receiptsTo: 'Ao nº',
    withoutReceipt: 'Envelopes sem comprovativo',
    none: 'nenhum',
    record: 'Registo (evento nº)',
    collector: 'Recolhido por',
    witness: 'Testemunha',
    name: 'Nome',
    signature: 'Assinatura',
    copy: '*** CÓPIA ***',
  },
  en: {
    box: 'Box',
    kiosk: 'Kiosk',
    collectedAt: 'Collected',
    envelopes: 'ENVELOPES COLLECTED',
    receipts: 'Receipts',
    receiptsFrom: 'From',
    receiptsTo: 'To',
    withoutReceipt: 'Envelopes without a receipt',
    none: 'none',
    record: 'Record (event no.)',
    collector: 'Collected by',
    witness: 'Witness',
    name: 'Name',
    signature: 'Signature',
    copy: '*** COPY ***',
  },
};

/** Underscores to sign on, and to write a name on after "Name: ", at most (fewer on narrow paper). */
const SIGNATURE_LINE_CHARS = 40;
const NAME_LINE_CHARS = 34;

/** The slip's lines, title excluded (see encodeCollectionSlip), for `columns` per line (default 48). */
export function collectionSlipLines(slip: CollectionSlip, opts: { kioskId: string; locale: TicketLocale; timeZone: string; columns?: number }): string[] {
  const t = SLIP_TEXTS[opts.locale];
  const r = slip.range;
  const columns = opts.columns ?? LINE_WIDTH;
  const rule = '-'.repeat(columns);
  const nameLine = '_'.repeat(Math.max(1, Math.min(NAME_LINE_CHARS, columns - t.name.length - 2)));
  const signatureLine = '_'.repeat(Math.min(SIGNATURE_LINE_CHARS, columns));
  const lines = [
    ...(slip.attempts > 0 ? [t.copy] : []),
    `${t.box}: ${slip.box}`,
    `${t.kiosk}: ${opts.kioskId}`,
    `${t.collectedAt}: ${formatIssuedAt(new Date(slip.collectedAt), opts.timeZone)}`,
    rule,
    `${t.envelopes}: ${slip.count}`,
    `${t.receipts}: ${r.receipts === 0 ? t.none : r.receipts}`,
  ];
  if (r.from !== null) lines.push(`${t.receiptsFrom}: ${r.from}`, `${t.receiptsTo}: ${r.to ?? r.from}`);
  // Only when it makes sense: receipts seen before a count regression could exceed it.
  if (slip.count >= r.receipts) lines.push(`${t.withoutReceipt}: ${slip.count - r.receipts}`);
  lines.push(`${t.record}: ${slip.seq}`, rule, '');
  for (const who of [t.collector, t.witness]) lines.push(`${who}:`, '', `${t.name}: ${nameLine}`, '', `${t.signature}:`, '', signatureLine, '');
  return lines;
}

export function encodeCollectionSlip(slip: CollectionSlip, opts: { type: PrinterModel; kioskId: string; locale: TicketLocale; timeZone: string; columns?: number }): Buffer {
  return encodeLines(collectionSlipLines(slip, opts), { type: opts.type, title: TICKET_TEXTS[opts.locale].title.collection_slip, ...(opts.columns ? { columns: opts.columns } : {}) });
}

/** The outbox as the desk uses it (OutboxStore fits). */
export interface CollectionOutbox extends Pick<EventLog, 'append' | 'getState'> {
  on(event: 'appended', listener: (events: readonly EventEnvelope[]) => void): () => void;
  peek(afterSeq: number, limit: number): Array<{ seq: number; payload: string }>;
}

export interface CollectionDeskOptions {
  box: string;
  kioskId: string;
  locale: TicketLocale;
  timeZone: string;
  outbox: CollectionOutbox;
  printer: Printer | null;
  log: Logger;
  clock?: Clock;
}

export interface CollectionDeskView {
  /** Receipts deposited since the last collection. */
  sinceLast: ReceiptRange;
  /** A slip waiting for the printer. */
  pendingSlip: CollectionSlip | null;
  printing: boolean;
  last: StoredCollection['last'];
}

export class CollectionDesk {
  private readonly clock: Clock;
  private readonly key: string;
  private state: StoredCollection;
  private printing: Promise<void> | null = null;
  private stopped = false;
  private stopRetry: (() => void) | null = null;
  private readonly offs: Array<() => void> = [];

  constructor(private readonly opts: CollectionDeskOptions) {
    this.clock = opts.clock ?? systemClock;
    this.key = collectionStateKey(opts.box);
    this.state = loadState(opts.outbox.getState(this.key));
  }

  start(): this {
    this.replay();
    this.offs.push(this.opts.outbox.on('appended', (events) => this.take(events)));
    const printer = this.opts.printer;
    if (printer) {
      this.offs.push(printer.onEvent((e) => e.type === 'recovered' && this.printPending()));
    }
    this.stopRetry = every(this.clock, COLLECTION_SLIP_RETRY_MS, () => this.printPending());
    this.printPending();
    return this;
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.offs.splice(0)) off();
    this.stopRetry?.();
    this.stopRetry = null;
  }

  view(): CollectionDeskView {
    return { sinceLast: { ...this.state.sinceLast }, pendingSlip: this.state.pending, printing: this.printing !== null, last: this.state.last };
  }

  /** Resolves when no slip is being printed (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.printing) await this.printing;
  }

  /** Tries to print the waiting slip, if any and if the printer can. Never rejects. */
  printPending(): void {
    if (this.stopped || this.printing || !this.state.pending) return;
    const { printer } = this.opts;
    if (!printer || !printer.status().ready) return;
    const slip = this.state.pending;
    this.printing = this.print(slip, printer)
      .catch((err: unknown) => this.opts.log.error({ err: (err as Error).message }, 'collection slip: print failed'))
      .finally(() => {
        this.printing = null;
      });
  }

  private async print(slip: CollectionSlip, printer: Printer): Promise<void> {
    const { kioskId, locale, timeZone } = this.opts;
    const lines = collectionSlipLines(slip, { kioskId, locale, timeZone, columns: printer.columns });
    const answer = await printer.print({ kind: 'slip', lines, title: TICKET_TEXTS[locale].title.collection_slip }, { timeoutMs: COLLECTION_SLIP_PRINT_TIMEOUT_MS });
    const result = answer.outcome === 'timeout' ? null : answer;
    const confirmed = result?.outcome === 'confirmed';
    if (this.state.pending?.seq !== slip.seq) return;
    if (!confirmed) {
      // An unconfirmed job may have printed: the next one says it is a copy.
      const attempts = result?.outcome === 'refused' ? slip.attempts : slip.attempts + 1;
      this.save({ ...this.state, pending: { ...slip, attempts } });
      this.opts.log.warn({ box: slip.box, count: slip.count, outcome: result?.outcome ?? 'timeout', reason: result?.reason ?? null }, 'collection slip not printed; it is tried again');
      return;
    }
    const event: NewEvent = {
      type: 'dropbox.collection_slip',
      data: { box: slip.box, count: slip.count, receipts: slip.range.receipts, receiptsFrom: slip.range.from, receiptsTo: slip.range.to },
    };
    const at = new Date().toISOString();
    this.save({ ...this.state, pending: null, last: { ...slip, printed: true, printedAt: at } }, [event]);
    this.opts.log.info({ box: slip.box, count: slip.count, receipts: slip.range.receipts }, 'collection slip printed');
  }

  /** Events still in the outbox after the last one this desk saw (restart). */
  private replay(): void {
    let after = this.state.seenSeq;
    for (;;) {
      const rows = this.opts.outbox.peek(after, REPLAY_BATCH);
      if (rows.length === 0) break;
      const events: EventEnvelope[] = [];
      for (const row of rows) {
        try {
          events.push(JSON.parse(row.payload) as EventEnvelope);
        } catch {
          // An unreadable row is the outbox's problem; it says so when it publishes.
        }
      }
      this.take(events);
      after = rows[rows.length - 1]!.seq;
      if (rows.length < REPLAY_BATCH) break;
    }
  }

  private take(events: readonly EventEnvelope[]): void {
    let next = this.state;
    let changed = false;
    let collected = false;
    for (const e of events) {
      if (e.seq <= next.seenSeq) continue;
      if (e.type === 'dropbox.deposit') {
        const d = e.data as { box: string; receipt?: string };
        if (d.box !== this.opts.box || d.receipt === undefined) continue;
        const r = next.sinceLast;
        next = { ...next, seenSeq: e.seq, sinceLast: { receipts: r.receipts + 1, from: r.from ?? d.receipt, to: d.receipt } };
        changed = true;
      } else if (e.type === 'dropbox.collected') {
        const d = e.data as { box: string; count: number };
        if (d.box !== this.opts.box) continue;
        if (next.pending) {
          // Two collections before a slip could print: the older is not lost, it stays as `last` unprinted.
          this.opts.log.error({ box: d.box, count: next.pending.count }, 'collection slip never printed before the next collection');
          next = { ...next, last: { ...next.pending, printed: false, printedAt: null } };
        }
        const slip: CollectionSlip = { box: d.box, count: d.count, collectedAt: e.ts, seq: e.seq, range: next.sinceLast, attempts: 0 };
        // Without a printer there is nothing to wait for: the collection is kept as the last one, unprinted.
        next = this.opts.printer
          ? { ...next, seenSeq: e.seq, pending: slip, sinceLast: { receipts: 0, from: null, to: null } }
          : { ...next, seenSeq: e.seq, pending: null, last: { ...slip, printed: false, printedAt: null }, sinceLast: { receipts: 0, from: null, to: null } };
        changed = true;
        collected = true;
      }
    }
    if (!changed) return;
    this.save(next);
    if (collected) this.printPending();
  }

  /** Writes the state (with `events`, in one transaction); kept in memory if the outbox refuses. */
  private save(next: StoredCollection, events: NewEvent[] = []): void {
    this.state = next;
    try {
      this.opts.outbox.append(events, { [this.key]: JSON.stringify(next) });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'collection bookkeeping could not be stored; kept in memory and written with the next change');
    }
  }
}

/** What collectionStatus needs of the drop box (dropboxStatusView gives it). */
export interface CollectionDropboxView {
  state: string;
  door: string;
  dropCount: number | null;
  recordedCount: number;
  pendingReset: number | null;
  commands: { inFlight: { command: { type: string }; attempts: number } | null };
}

export interface CollectionStatus extends CollectionDeskView {
  /** The board: 'online', 'offline' or 'starting'. */
  state: string;
  door: string;
  /** `door_open`: an authorised opening in progress; `reset_pending`: collected, the board has not acknowledged RESET yet. */
  phase: 'idle' | 'door_open' | 'door_forced' | 'reset_pending';
  /** Envelopes the collection will record (the controller's count): what the screen shows. */
  count: number;
  /** The board's own counter, for comparison. */
  boardCount: number | null;
  pendingReset: number | null;
  /** Attempts of the RESET on the wire, when one is. */
  resetAttempts: number | null;
}

/** The collection as the diagnostics screen shows it. */
export function collectionStatus(box: CollectionDropboxView, desk: CollectionDeskView | null): CollectionStatus {
  const inFlight = box.commands.inFlight;
  const phase = box.door === 'openedByUs' ? 'door_open' : box.door === 'forced' ? 'door_forced' : box.pendingReset !== null ? 'reset_pending' : 'idle';
  return {
    ...(desk ?? { sinceLast: { receipts: 0, from: null, to: null }, pendingSlip: null, printing: false, last: null }),
    state: box.state,
    door: box.door,
    phase,
    count: box.recordedCount,
    boardCount: box.dropCount,
    pendingReset: box.pendingReset,
    resetAttempts: inFlight?.command.type === 'RESET' ? inFlight.attempts : null,
  };
}

function loadState(raw: string | null): StoredCollection {
  const fresh: StoredCollection = { seenSeq: 0, sinceLast: { receipts: 0, from: null, to: null }, pending: null, last: null };
  if (raw === null) return fresh;
  try {
    return { ...fresh, ...(JSON.parse(raw) as Partial<StoredCollection>) };
  } catch {
    return fresh;
  }
}
