/**
 * Collection slip bookkeeping on a real outbox file: the receipt range since the last
 * collection survives restarts (events leave the outbox once central has them), a slip
 * that could not print waits, and the slip's lines carry the collected count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { noReplyStatus } from '../devices/printer/statusProtocol.js';
import { printerFacade } from '../src/facades/printer.js';
import { printerProfile } from '../devices/printer/models/index.js';
import { createPrinterMachine, type PrinterActor } from '../src/machines/printerMachine.js';
import { CollectionDesk, collectionSlipLines, type CollectionSlip } from '../src/dropbox/collectionSlip.js';
import { silentLogger } from '../src/log.js';
import { OutboxStore } from '../src/upstream/outbox.js';

const deposit = (count: number, receipt?: string) => ({ type: 'dropbox.deposit' as const, data: { box: 'box-1', count, inferred: false, ...(receipt ? { receipt } : {}) } });
const collected = (count: number) => ({ type: 'dropbox.collected' as const, data: { box: 'box-1', count } });

describe('collection slip bookkeeping', () => {
  let dir: string;
  let outbox: OutboxStore;
  let desks: CollectionDesk[] = [];
  let printers: PrinterActor[] = [];

  /** A printer that never connects: slips wait for it. */
  const unplugged = (): PrinterActor => {
    const actor = createActor(
      createPrinterMachine({
        connect: async () => {
          throw new Error('ECONNREFUSED');
        },
        close: async () => undefined,
        onDisconnect: () => () => undefined,
        readStatus: async () => noReplyStatus(),
        print: async () => {
          throw new Error('not connected');
        },
      }),
      { input: { model: 'epson' } },
    ).start();
    printers.push(actor);
    return actor;
  };

  const open = () => OutboxStore.open({ file: join(dir, 'outbox.sqlite'), kiosk: 'k1', site: 's1', maxBytes: 50 * 1024 * 1024, log: silentLogger() });
  const desk = (withPrinter = true) => {
    const printer = withPrinter ? unplugged() : null;
    const d = new CollectionDesk({ box: 'box-1', kioskId: 'k1', locale: 'en', timeZone: 'Europe/Lisbon', outbox, printer: printer ? printerFacade(printer, { profile: printerProfile('epson') }) : null, log: silentLogger() }).start();
    desks.push(d);
    return d;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'collection-slip-'));
    outbox = open();
  });

  afterEach(() => {
    for (const d of desks) d.stop();
    desks = [];
    for (const p of printers) p.stop();
    printers = [];
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the receipt range since the last collection after the events were sent and the controller restarted', () => {
    desk();
    outbox.append([deposit(1, 'R-K1-000007'), deposit(2), deposit(3, 'R-K1-000008')]);
    outbox.ack(outbox.lastSeq()); // central has them: they are gone from the outbox
    desks[0]!.stop();
    outbox.close();
    outbox = open();
    const again = desk();
    expect(again.view().sinceLast).toEqual({ receipts: 2, from: 'R-K1-000007', to: 'R-K1-000008' });

    outbox.append([collected(3)]);
    const slip = again.view().pendingSlip!;
    expect(slip).toMatchObject({ box: 'box-1', count: 3, range: { receipts: 2, from: 'R-K1-000007', to: 'R-K1-000008' } });
    expect(again.view().sinceLast).toEqual({ receipts: 0, from: null, to: null });
  });

  it('picks up events stored while it was not listening (a restart between an event and its bookkeeping)', () => {
    outbox.append([deposit(1, 'R-K1-000001'), collected(1), deposit(1, 'R-K1-000002')]);
    const d = desk();
    expect(d.view().pendingSlip).toMatchObject({ count: 1, range: { from: 'R-K1-000001', to: 'R-K1-000001' } });
    expect(d.view().sinceLast).toEqual({ receipts: 1, from: 'R-K1-000002', to: 'R-K1-000002' });
  });

  it('a slip that could not print waits, across a restart, with its count', () => {
    desk();
    outbox.append([deposit(1), deposit(2), collected(2)]);
    desks[0]!.stop();
    const again = desk();
    expect(again.view().pendingSlip).toMatchObject({ count: 2, attempts: 0 });
  });

  it('a kiosk without a printer keeps the collection as the last one, unprinted, with nothing left waiting', () => {
    const d = desk(false);
    outbox.append([deposit(1, 'R-K1-000003'), collected(1)]);
    expect(d.view().pendingSlip).toBeNull();
    expect(d.view().last).toMatchObject({ count: 1, printed: false, range: { from: 'R-K1-000003' } });
  });

  it('the slip shows the count, the receipt range, those without a receipt and two signature blocks', () => {
    const slip: CollectionSlip = { box: 'box-1', count: 5, collectedAt: '2026-11-28T15:05:00.000Z', seq: 812, range: { receipts: 3, from: 'R-K1-000120', to: 'R-K1-000122' }, attempts: 0 };
    const lines = collectionSlipLines(slip, { kioskId: 'lisboa-01-k1', locale: 'en', timeZone: 'Europe/Lisbon' });
    expect(lines).toEqual(expect.arrayContaining(['Box: box-1', 'Collected: 28/11/2026 15:05', 'ENVELOPES COLLECTED: 5', 'Receipts: 3', 'From: R-K1-000120', 'To: R-K1-000122', 'Envelopes without a receipt: 2', 'Record (event no.): 812']));
    expect(lines.filter((l) => l === 'Signature:')).toHaveLength(2);
    expect(lines).toContain('Collected by:');
    expect(lines).toContain('Witness:');
    expect(collectionSlipLines({ ...slip, attempts: 1 }, { kioskId: 'k', locale: 'pt-PT', timeZone: 'UTC' })[0]).toBe('*** CÓPIA ***');
  });
});
