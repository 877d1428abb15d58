import { fstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, KioskError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import type { EventEnvelope, NewEvent } from '../src/upstream/events.js';
import { OUTBOX_SCHEMA_VERSION, OutboxStore, type OutboxOptions } from '../src/upstream/outbox.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let dir: string;
let file: string;
const open: OutboxStore[] = [];

function openOutbox(extra: Partial<OutboxOptions> = {}): OutboxStore {
  const o = OutboxStore.open({ file, kiosk: 'lisboa-01-k1', site: 'lisboa-01', maxBytes: 64 * 1024 * 1024, log: silentLogger(), ...extra });
  open.push(o);
  return o;
}

function deposit(count: number, pad = ''): NewEvent<'dropbox.deposit'> {
  return { type: 'dropbox.deposit', data: { box: 'box-1', count, inferred: false, ...(pad ? { receipt: pad } : {}) } };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiosk-outbox-'));
  file = join(dir, 'nested', 'outbox.db');
});

afterEach(() => {
  for (const o of open.splice(0)) o.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the event outbox', () => {
  it('numbers events 1, 2, 3… without gaps, also after publishing deletes them and the kiosk restarts', () => {
    const a = openOutbox();
    expect(a.lastSeq()).toBe(0);
    expect(a.append([deposit(1), deposit(2)]).map((e) => e.seq)).toEqual([1, 2]);
    expect(a.append([deposit(3)]).map((e) => e.seq)).toEqual([3]);
    a.ack(3); // everything published: the table is empty, the counter is not
    expect(a.depth()).toBe(0);
    a.close();

    const b = openOutbox();
    expect(b.lastSeq()).toBe(3);
    expect(b.append([deposit(4), deposit(5)]).map((e) => e.seq)).toEqual([4, 5]);
    b.close();
    const c = openOutbox();
    expect(c.append([deposit(6)])[0]!.seq).toBe(6);
  });

  it('stores well-formed envelopes and publishes exactly the stored JSON', () => {
    const at = new Date('2026-11-28T09:15:03.120Z');
    const o = openOutbox({ now: () => at });
    const [env] = o.append([deposit(7)]);
    expect(env).toEqual({
      v: 1,
      id: expect.stringMatching(UUID),
      seq: 1,
      ts: '2026-11-28T09:15:03.120Z',
      kiosk: 'lisboa-01-k1',
      site: 'lisboa-01',
      type: 'dropbox.deposit',
      data: { box: 'box-1', count: 7, inferred: false },
    });
    const rows = o.peek(0, 10);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.seq).toBe(1);
    expect(JSON.parse(rows[0]!.payload)).toEqual(env);
    expect(Object.keys(JSON.parse(rows[0]!.payload))).toEqual(['v', 'id', 'seq', 'ts', 'kiosk', 'site', 'type', 'data']);
  });

  it('gives every event its own id', () => {
    const o = openOutbox();
    const envs = o.append(Array.from({ length: 200 }, (_, i) => deposit(i)));
    expect(new Set(envs.map((e) => e.id)).size).toBe(200);
  });

  it('keeps events and state across a restart, and a null state value deletes the key', () => {
    const a = openOutbox();
    a.append([deposit(1)], { 'dropbox.lastCount': '1', 'printer.lastJob': 'P001' });
    a.append([deposit(2)], { 'dropbox.lastCount': '2', 'printer.lastJob': null });
    a.close();
    const b = openOutbox();
    expect(b.getState('dropbox.lastCount')).toBe('2');
    expect(b.getState('printer.lastJob')).toBeNull();
    expect(b.depth()).toBe(2);
    expect(b.peek(0, 10).map((r) => (JSON.parse(r.payload) as EventEnvelope<'dropbox.deposit'>).data.count)).toEqual([1, 2]);
    expect(b.oldest()?.seq).toBe(1);
  });

  it('putState commits at once (another connection sees it before the flush ends), resolves once flushed, and keeps it across a restart', async () => {
    const a = openOutbox();
    a.append([deposit(1)]);
    const flushed = a.putState({ 'tickets.pending': '["P001"]' });
    const other = new Database(file, { readonly: true });
    try {
      expect(other.prepare("SELECT value FROM state WHERE key = 'tickets.pending'").get()).toEqual({ value: '["P001"]' });
    } finally {
      other.close();
    }
    await expect(flushed).resolves.toBeUndefined();
    a.close();
    expect(openOutbox().getState('tickets.pending')).toBe('["P001"]');
  });

  it('putState resolves only once the WAL file is flushed, a flush running beside the caller', async () => {
    const flushes: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    const o = openOutbox({ syncFile: (_fd, done) => flushes.push(done) });
    let settled = false;
    const flushed = o.putState({ 'tickets.pending': '["P001"]' }).then(() => (settled = true));
    expect(o.getState('tickets.pending')).toBe('["P001"]');
    expect(flushes).toHaveLength(1);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    flushes[0]!(null);
    await flushed;
    expect(settled).toBe(true);
  });

  it('putState rejects with OutboxWriteFailed when the flush fails; close keeps the WAL file open for a flush in flight', async () => {
    const flushes: Array<{ fd: number; done: (err: NodeJS.ErrnoException | null) => void }> = [];
    const o = openOutbox({ syncFile: (fd, done) => flushes.push({ fd, done }) });
    const flushed = o.putState({ k: 'v' });
    const walInode = statSync(`${file}-wal`).ino;
    const inodeOf = (fd: number): number | null => {
      try {
        return fstatSync(fd).ino;
      } catch {
        return null;
      }
    };
    o.close();
    expect(inodeOf(flushes[0]!.fd)).toBe(walInode); // not closed under the flush
    flushes[0]!.done(Object.assign(new Error('I/O error'), { code: 'EIO' }));
    await expect(flushed).rejects.toMatchObject({ code: ErrorCode.OutboxWriteFailed });
    expect(inodeOf(flushes[0]!.fd)).not.toBe(walInode); // closed once it ended
    expect(() => o.putState({ k: 'w' })).toThrow(KioskError);
  });

  it('putState refused for space throws at once and changes nothing', async () => {
    const o = openOutbox({ maxBytes: 256 * 1024 });
    await o.putState({ k: 'before' });
    const err = thrown(() => o.putState({ k: 'x'.repeat(512 * 1024) }));
    expect(err).toBeInstanceOf(KioskError);
    expect((err as KioskError).code).toBe(ErrorCode.OutboxFull);
    expect(o.getState('k')).toBe('before');
  });

  it('writes nothing, and uses no sequence number, when the disk write fails halfway through a transaction', () => {
    const o = openOutbox();
    o.append([deposit(1)], { 'dropbox.lastCount': '1' });
    // A second connection makes SQLite fail the state write that follows the event inserts.
    const saboteur = new Database(file);
    saboteur.exec("CREATE TRIGGER fail_state BEFORE INSERT ON state WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'simulated I/O failure'); END");
    saboteur.close();

    let told = 0;
    o.on('appended', () => told++);
    const err = thrown(() => o.append([deposit(2), deposit(3)], { 'dropbox.lastCount': '3', boom: 'x' }));
    expect(err).toBeInstanceOf(KioskError);
    expect((err as KioskError).code).toBe(ErrorCode.OutboxWriteFailed);
    expect(told).toBe(0);
    expect(o.depth()).toBe(1);
    expect(o.lastSeq()).toBe(1);
    expect(o.peek(0, 10).map((r) => r.seq)).toEqual([1]);
    expect(o.getState('dropbox.lastCount')).toBe('1');

    expect(o.append([deposit(2)])[0]!.seq).toBe(2);
    o.close();
    const again = openOutbox();
    expect(again.peek(0, 10).map((r) => r.seq)).toEqual([1, 2]);
  });

  it('refuses events when full without dropping or numbering any, and takes them again once published events are acknowledged', () => {
    const o = openOutbox({ maxBytes: 256 * 1024 });
    const fullEvents: unknown[] = [];
    const spaceEvents: unknown[] = [];
    o.on('full', (i) => fullEvents.push(i));
    o.on('space', (i) => spaceEvents.push(i));
    const pad = 'x'.repeat(1000);
    let err: unknown;
    for (let i = 1; i < 10_000 && !err; i++) {
      try {
        o.append([deposit(i, pad)], { 'dropbox.lastCount': String(i) });
      } catch (e) {
        err = e;
      }
    }
    expect(err).toBeInstanceOf(KioskError);
    expect((err as KioskError).code).toBe(ErrorCode.OutboxFull);
    // One alarm, in the room kept for it: device.fault outbox.full after the last deposit.
    const alarm = JSON.parse(o.peek(o.lastSeq() - 1, 1)[0]!.payload) as { type: string; data: { code: string } };
    expect([alarm.type, alarm.data.code]).toEqual(['device.fault', 'outbox.full']);
    const stored = o.lastSeq() - 1;
    expect(stored).toBeGreaterThan(50);
    expect(o.depth()).toBe(stored + 1);
    expect(o.getState('dropbox.lastCount')).toBe(String(stored));
    expect(o.isFull()).toBe(true);
    expect(fullEvents).toHaveLength(1);

    // Still full: a second try changes nothing either.
    expect((thrown(() => o.append([deposit(0, pad)], { 'dropbox.lastCount': 'no' })) as KioskError).code).toBe(ErrorCode.OutboxFull);
    expect(o.lastSeq()).toBe(stored + 1);
    expect(o.getState('dropbox.lastCount')).toBe(String(stored));

    o.ack(stored - 10);
    expect(o.isFull()).toBe(false);
    expect(spaceEvents).toHaveLength(1);
    // The end of the alarm, then the next event.
    expect(JSON.parse(o.peek(stored + 1, 1)[0]!.payload).type).toBe('device.recovered');
    expect(o.append([deposit(0, pad)])[0]!.seq).toBe(stored + 3);
    expect(o.peek(0, 100).map((r) => r.seq)).toEqual(Array.from({ length: 13 }, (_, i) => stored - 9 + i));
  });

  it('deletes exactly the acknowledged events, by list or up to a seq', () => {
    const o = openOutbox();
    o.append([deposit(1), deposit(2), deposit(3), deposit(4), deposit(5)]);
    expect(o.ack([1, 3])).toBe(2);
    expect(o.peek(0, 10).map((r) => r.seq)).toEqual([2, 4, 5]);
    expect(o.peek(2, 1).map((r) => r.seq)).toEqual([4]);
    expect(o.ack(4)).toBe(2);
    expect(o.depth()).toBe(1);
    expect(o.oldest()?.seq).toBe(5);
    o.ack(5);
    expect(o.oldest()).toBeNull();
  });

  it('tells listeners only after the events are stored, and a failing listener does not fail the append', () => {
    const o = openOutbox();
    const seen: number[][] = [];
    o.on('appended', (envs) => seen.push(o.peek(0, 100).map((r) => r.seq).filter((s) => envs.some((e) => e.seq === s))));
    o.on('appended', () => {
      throw new Error('listener bug');
    });
    const unsubscribe = o.on('appended', () => seen.push([-1]));
    unsubscribe();
    expect(o.append([deposit(1), deposit(2)]).map((e) => e.seq)).toEqual([1, 2]);
    expect(seen).toEqual([[1, 2]]);
  });

  it('refuses a corrupt outbox file with a clear error and leaves it untouched', () => {
    const garbage = Buffer.alloc(8192, 'not a database, a damaged card ');
    writeFileSync(join(dir, 'bad.db'), garbage);
    const err = thrown(() => OutboxStore.open({ file: join(dir, 'bad.db'), kiosk: 'k', site: 's', maxBytes: 1e6, log: silentLogger() }));
    expect(err).toBeInstanceOf(KioskError);
    expect((err as KioskError).code).toBe(ErrorCode.OutboxUnreadable);
    expect((err as KioskError).message).toMatch(/bad\.db.*never reset/);
    expect(readFileSync(join(dir, 'bad.db')).equals(garbage)).toBe(true);
  });

  it('refuses an outbox written by a newer controller version', () => {
    openOutbox().close();
    const db = new Database(file);
    db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION + 1}`);
    db.close();
    const err = thrown(() => openOutbox());
    expect((err as KioskError).code).toBe(ErrorCode.OutboxUnreadable);
    expect((err as KioskError).message).toMatch(/newer controller/);
  });
});
