/**
 * The durable event outbox (CONTRACT §5): every event is numbered and fsync'd to a
 * SQLite file before anyone is told it happened, and stays there until the broker has
 * acknowledged it (PUBACK). State that must change together with events (e.g. the drop
 * box's last count) lives in the same file and is written in the same transaction.
 *
 * Numbering: `seq` comes from a persistent counter, not from max(seq), because
 * published rows are deleted; it starts at 1 and grows by exactly 1 per event for the
 * life of the file. A transaction that fails consumes no number.
 *
 * Space: the outbox refuses events (KioskError OutboxFull) rather than fill the disk or
 * drop anything. "Used" is the live pages of the database plus the WAL file: freed pages
 * are reused, so acks make room again without a VACUUM.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fdatasync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, KioskError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EventEnvelope, NewEvent, StateLog } from './events.js';
import { DEFAULT_DISK_THRESHOLDS, DISK_CHECK_INTERVAL_MS, diskFullAfter, freeBytes, type DiskThresholds } from './diskSpace.js';

/** Bumped when the tables change; a file from a newer version is refused, never rewritten. */
export const OUTBOX_SCHEMA_VERSION = 1;
/** WAL file kept after a checkpoint; beyond this SQLite truncates it, so it cannot creep up. */
const WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;
/** Rough b-tree cost of one row beyond its payload (cell header, key, ts, page slack). */
const ROW_OVERHEAD_BYTES = 96;
/** Below this share of the cap, appends trust the running estimate instead of measuring. */
const ROOM_ESTIMATE_FRACTION = 0.9;

export interface OutboxOptions {
  /** The SQLite file; its folder is created. */
  file: string;
  kiosk: string;
  site: string;
  /** Disk the outbox may use (live database pages + WAL) before it refuses events. */
  maxBytes: number;
  log: Logger;
  now?: () => Date;
  newId?: () => string;
  /** Free space under which the disk counts as full, and from which it has room again (diskSpace.ts). */
  disk?: DiskThresholds;
  /** Free bytes on the outbox's disk (tests); default statfs of its folder. */
  freeBytes?: () => number | null;
  /** Flushes a file to disk, calling back when done (tests); default `fs.fdatasync`, on libuv's thread pool. */
  syncFile?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
}

export interface OutboxRow {
  seq: number;
  /** The envelope JSON exactly as it is published. */
  payload: string;
}

/** What the outbox tells its listeners. Listener errors are logged, never thrown into `append`. */
export interface OutboxEventMap {
  /** Events just committed to disk, in seq order. */
  appended: readonly EventEnvelope[];
  /** An append was refused for lack of space (its cap, or the disk: `disk`). */
  full: { usedBytes: number; maxBytes: number; disk?: boolean };
  /** Space was freed after a refusal: appends are taken again. */
  space: { usedBytes: number; maxBytes: number; disk?: boolean };
}

type Listener<K extends keyof OutboxEventMap> = (arg: OutboxEventMap[K]) => void;

export class OutboxStore implements StateLog {
  private nextSeq: number;
  private count: number;
  private closed = false;
  /** Last measured disk use and what was appended since (see ensureRoom). */
  private measuredUse: { bytes: number; added: number } | null = null;
  /** Envelopes appended inside `transaction()`, announced only after its commit. */
  private pendingAnnouncements: EventEnvelope[] | null = null;
  /** Bytes the last refused append needed; null while appends are accepted. */
  private refusedBytes: number | null = null;
  /** The disk under the outbox is full (statfs or SQLITE_FULL), until it has room again (hysteresis). */
  private diskFull = false;
  private diskCheckedAt = 0;
  /** While full, the disk is looked at on this timer, so room is noticed without any append. */
  private diskTimer: NodeJS.Timeout | null = null;
  /** The full/room alarms (device.fault/recovered outbox.full) not yet on disk, oldest first. */
  private readonly alarms: NewEvent[] = [];
  /** A descriptor of the WAL file, opened on first use: putState fsyncs it off the event loop. */
  private walFd: number | null = null;
  /** putState flushes not yet called back: the descriptor is closed only after them. */
  private flushesInFlight = 0;
  private readonly listeners: { [K in keyof OutboxEventMap]: Set<Listener<K>> } = {
    appended: new Set(),
    full: new Set(),
    space: new Set(),
  };

  private readonly insertEvent: Database.Statement<[number, string, string]>;
  private readonly upsertState: Database.Statement<[string, string]>;
  private readonly deleteState: Database.Statement<[string]>;
  private readonly selectState: Database.Statement<[string], { value: string }>;
  private readonly writeNextSeq: Database.Statement<[number]>;
  private readonly selectAfter: Database.Statement<[number, number], OutboxRow>;
  private readonly deleteUpTo: Database.Statement<[number]>;
  private readonly deleteOne: Database.Statement<[number]>;
  private readonly selectOldest: Database.Statement<[], { seq: number; ts: string }>;
  /** `db.pragma()` prepares its statement on every call: these are switched per ack. */
  private readonly syncNormal: Database.Statement<[]>;
  private readonly syncFull: Database.Statement<[]>;
  private readonly appendTx: (rows: readonly { seq: number; ts: string; payload: string }[], state: readonly [string, string | null][], nextSeq: number) => void;
  private readonly ackListTx: (seqs: readonly number[]) => number;
  private readonly ackUpToTx: (upTo: number) => number;

  private constructor(
    private readonly db: Database.Database,
    private readonly opts: Required<Pick<OutboxOptions, 'file' | 'kiosk' | 'site' | 'maxBytes' | 'log' | 'now' | 'newId' | 'syncFile' | 'disk' | 'freeBytes'>>,
  ) {
    this.insertEvent = db.prepare('INSERT INTO events (seq, ts, payload) VALUES (?, ?, ?)');
    this.upsertState = db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.deleteState = db.prepare('DELETE FROM state WHERE key = ?');
    this.selectState = db.prepare('SELECT value FROM state WHERE key = ?');
    this.writeNextSeq = db.prepare("UPDATE meta SET value = ? WHERE key = 'next_seq'");
    this.selectAfter = db.prepare('SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.deleteUpTo = db.prepare('DELETE FROM events WHERE seq <= ?');
    this.deleteOne = db.prepare('DELETE FROM events WHERE seq = ?');
    this.selectOldest = db.prepare('SELECT seq, ts FROM events ORDER BY seq LIMIT 1');
    this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.syncFull = db.prepare('PRAGMA synchronous = FULL');

    this.appendTx = db.transaction((rows, state, nextSeq) => {
      for (const r of rows) this.insertEvent.run(r.seq, r.ts, r.payload);
      for (const [key, value] of state) {
        if (value === null) this.deleteState.run(key);
        else this.upsertState.run(key, value);
      }
      // The counter itself is written only when rows are deleted (ack): while rows exist,
      // MAX(seq) + 1 is the next seq, so an append touches one page fewer (less to fsync).
      void nextSeq;
    });
    this.ackListTx = db.transaction((seqs) => {
      this.writeNextSeq.run(this.nextSeq);
      let changes = 0;
      for (const s of seqs) changes += this.deleteOne.run(s).changes;
      return changes;
    });
    this.ackUpToTx = db.transaction((upTo: number) => {
      this.writeNextSeq.run(this.nextSeq);
      return this.deleteUpTo.run(upTo).changes;
    });

    const stored = (db.prepare("SELECT value FROM meta WHERE key = 'next_seq'").get() as { value: number } | undefined)?.value;
    const maxSeq = (db.prepare('SELECT MAX(seq) AS m FROM events').get() as { m: number | null }).m ?? 0;
    if (stored === undefined) {
      throw new KioskError(ErrorCode.OutboxUnreadable, `The outbox ${opts.file} has no sequence counter: it is damaged. Move it aside for inspection; it is never reset automatically.`, { file: opts.file });
    }
    // Defensive: a counter behind the rows would reuse numbers; never go backwards.
    this.nextSeq = Math.max(stored, maxSeq + 1);
    this.count = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  }

  static open(options: OutboxOptions): OutboxStore {
    const folder = dirname(options.file);
    const opts = { now: () => new Date(), newId: () => randomUUID(), syncFile: fdatasync, disk: DEFAULT_DISK_THRESHOLDS, freeBytes: () => freeBytes(folder), ...options };
    mkdirSync(dirname(opts.file), { recursive: true });
    let db: Database.Database | undefined;
    try {
      db = new Database(opts.file);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL was refused`);
      // FULL: every append is fsync'd before it returns (acks relax it, see ack()).
      db.pragma('synchronous = FULL');
      db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      migrate(db, opts.file);
      return new OutboxStore(db, opts);
    } catch (e) {
      db?.close();
      if (e instanceof KioskError) throw e;
      throw new KioskError(
        ErrorCode.OutboxUnreadable,
        `The outbox ${opts.file} cannot be opened (${sqliteCode(e) ?? (e as Error).message}). It is kept as it is, never reset: move it aside for inspection and restart, or free the disk / fix permissions.`,
        { file: opts.file, sqliteCode: sqliteCode(e) },
        { cause: e },
      );
    }
  }

  /**
   * Numbers and stores `events` and writes `state` (null deletes a key) in one fsync'd
   * transaction; returns the envelopes only after the commit. Throws KioskError
   * (OutboxFull | OutboxWriteFailed) and then nothing was written and no seq was used.
   */
  append(events: readonly NewEvent[], state: Readonly<Record<string, string | null>> = {}): EventEnvelope[] {
    return this.write(events, state, false);
  }

  private write(events: readonly NewEvent[], state: Readonly<Record<string, string | null>>, alarm: boolean): EventEnvelope[] {
    if (this.closed) throw new KioskError(ErrorCode.OutboxWriteFailed, 'The outbox is closed: the controller is shutting down.');
    if (!alarm) this.writeAlarms();
    const ts = this.opts.now().toISOString();
    const envelopes: EventEnvelope[] = events.map((e, i) => ({
      v: 1,
      id: this.opts.newId(),
      seq: this.nextSeq + i,
      ts,
      kiosk: this.opts.kiosk,
      site: this.opts.site,
      type: e.type,
      data: e.data,
    }));
    const rows = envelopes.map((env) => ({ seq: env.seq, ts, payload: JSON.stringify(env) }));
    const stateEntries = Object.entries(state);
    const needed =
      rows.reduce((n, r) => n + Buffer.byteLength(r.payload) + ROW_OVERHEAD_BYTES, 0) +
      stateEntries.reduce((n, [k, v]) => n + k.length + (v?.length ?? 0) + ROW_OVERHEAD_BYTES, 0);
    // The alarms themselves are tiny and go in the room kept below the thresholds.
    if (!alarm) {
      this.ensureDiskRoom();
      this.ensureRoom(needed);
    }
    try {
      this.appendTx(rows, stateEntries, this.nextSeq + rows.length);
    } catch (e) {
      const code = sqliteCode(e);
      if (code === 'SQLITE_FULL') {
        if (!alarm) this.markDiskFull();
        throw new KioskError(ErrorCode.OutboxFull, 'The disk holding the outbox is full: events are refused until space is freed.', { sqliteCode: code }, { cause: e });
      }
      throw new KioskError(ErrorCode.OutboxWriteFailed, `The outbox could not store ${rows.length} event(s) (${code ?? (e as Error).message}); nothing was written.`, { sqliteCode: code }, { cause: e });
    }
    this.nextSeq += rows.length;
    this.count += rows.length;
    if (envelopes.length > 0) {
      if (this.pendingAnnouncements) this.pendingAnnouncements.push(...envelopes);
      else this.emit('appended', envelopes);
    }
    return envelopes;
  }

  /**
   * Runs `fn` in one transaction: every append inside is committed by a single fsync
   * (group commit) and announced to listeners only after that commit. An append that
   * fails inside is rolled back alone (SQLite savepoint); if the commit itself fails,
   * everything inside is undone, seq numbers included, and the error is thrown.
   */
  transaction<T>(fn: () => T): T {
    if (this.pendingAnnouncements) return fn(); // already inside one
    const before = { nextSeq: this.nextSeq, count: this.count };
    this.pendingAnnouncements = [];
    let announced: EventEnvelope[] = [];
    try {
      const result = this.db.transaction(fn)();
      announced = this.pendingAnnouncements;
      return result;
    } catch (e) {
      this.nextSeq = before.nextSeq;
      this.count = before.count;
      throw e;
    } finally {
      this.pendingAnnouncements = null;
      if (announced.length > 0) this.emit('appended', announced);
    }
  }

  getState(key: string): string | null {
    return this.selectState.get(key)?.value ?? null;
  }

  /**
   * Writes `state` (no events) in one transaction committed at once, and resolves once
   * that commit is on disk. The commit goes to the WAL without SQLite's own fsync; the
   * fsync of the WAL file runs on libuv's thread pool, so the caller's next step (the
   * ticket machine encodes the ticket) overlaps the disk instead of waiting for it. A
   * crash of this process after the commit loses nothing: the pages are in the kernel.
   * Throws KioskError at once like `append` when the commit fails (then nothing changed);
   * the promise rejects with OutboxWriteFailed when the fsync fails (the state is written
   * but may not survive a power cut).
   */
  putState(state: Readonly<Record<string, string | null>>): Promise<void> {
    if (this.closed) throw new KioskError(ErrorCode.OutboxWriteFailed, 'The outbox is closed: the controller is shutting down.');
    const fd = this.pendingAnnouncements ? null : this.walDescriptor();
    if (fd === null) {
      // Inside a transaction (its commit syncs) or no WAL file to sync: the plain way.
      this.append([], state);
      return Promise.resolve();
    }
    this.syncNormal.run();
    try {
      this.append([], state);
    } finally {
      this.syncFull.run();
    }
    this.flushesInFlight++;
    return new Promise<void>((resolve, reject) => {
      this.opts.syncFile(fd, (err) => {
        this.flushesInFlight--;
        // Closed meanwhile: the descriptor waited for this flush (see close()).
        if (this.closed && this.flushesInFlight === 0) this.closeWal();
        if (!err) resolve();
        else reject(new KioskError(ErrorCode.OutboxWriteFailed, `The outbox wrote state but could not flush it to disk (${err.code ?? err.message}).`, { errno: err.code }, { cause: err }));
      });
    });
  }

  /** Up to `limit` stored events with seq > `afterSeq`, oldest first. */
  peek(afterSeq: number, limit: number): OutboxRow[] {
    try {
      return this.selectAfter.all(afterSeq, limit);
    } catch (e) {
      throw new KioskError(ErrorCode.OutboxUnreadable, `The outbox cannot be read (${sqliteCode(e) ?? (e as Error).message}).`, { sqliteCode: sqliteCode(e) }, { cause: e });
    }
  }

  /**
   * Deletes published events: every seq <= `upTo` (a number), or exactly the seqs listed.
   * One transaction per call, so callers batch. Returns the rows deleted.
   */
  ack(upToOrSeqs: number | readonly number[]): number {
    // No fsync for deletes: a delete lost to a power cut only resends events (consumers drop
    // repeated ids), and the next append's fsync of the WAL makes it durable anyway.
    this.syncNormal.run();
    let deleted: number;
    try {
      deleted = typeof upToOrSeqs === 'number' ? this.ackUpToTx(upToOrSeqs) : this.ackListTx(upToOrSeqs);
    } finally {
      this.syncFull.run();
    }
    this.count -= deleted;
    if (this.refusedBytes !== null && deleted > 0) {
      // Freed pages are only visible as room once the WAL stops holding them.
      this.checkpoint();
      this.isFull();
    }
    return deleted;
  }

  /** Events stored and not yet acknowledged. */
  depth(): number {
    return this.count;
  }

  oldest(): { seq: number; ts: string } | null {
    return this.selectOldest.get() ?? null;
  }

  /** The seq of the last event ever appended to this file; 0 before the first. */
  lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Appends `events` now, or — when the outbox is full — as soon as it has room (kept in
   * memory, in order, with the full/room alarms): for events that must not stop the
   * controller, such as kiosk.started on a full disk. A crash before then loses them.
   */
  appendSoon(events: readonly NewEvent[]): void {
    try {
      this.append(events);
    } catch (e) {
      if (!(e instanceof KioskError) || e.code !== ErrorCode.OutboxFull) throw e;
      this.opts.log.warn({ types: events.map((ev) => ev.type) }, 'outbox full: events kept in memory until there is room');
      for (const ev of events) this.alarms.push(ev);
      this.ensureDiskTimer();
    }
  }

  /** True while the last append was refused for space (cap or disk) and not enough has been freed since. */
  isFull(): boolean {
    this.checkDisk(this.diskFull);
    if (this.diskFull) return true;
    if (this.refusedBytes === null) return false;
    const used = this.usedBytes();
    if (used + this.refusedBytes > this.opts.maxBytes) return true;
    this.refusedBytes = null;
    this.opts.log.info({ usedBytes: used, maxBytes: this.opts.maxBytes }, 'outbox has room again: events are accepted');
    this.raiseAlarm({ type: 'device.recovered', data: { device: 'upstream', code: 'outbox.full' } });
    this.emit('space', { usedBytes: used, maxBytes: this.opts.maxBytes });
    return false;
  }

  /** Refuses (OutboxFull) while the disk is full; looks at it at most every DISK_CHECK_INTERVAL_MS. */
  private ensureDiskRoom(): void {
    this.checkDisk(false);
    if (!this.diskFull) return;
    throw new KioskError(ErrorCode.OutboxFull, 'The disk holding the outbox is full: events are refused until space is freed.', { disk: true });
  }

  private checkDisk(force: boolean): void {
    const now = Date.now();
    if (!force && !this.diskFull && now - this.diskCheckedAt < DISK_CHECK_INTERVAL_MS) return;
    this.diskCheckedAt = now;
    const free = this.opts.freeBytes();
    if (free === null) return;
    const full = diskFullAfter(this.diskFull, free, this.opts.disk);
    if (full && !this.diskFull) this.markDiskFull(free);
    else if (!full && this.diskFull) {
      this.diskFull = false;
      this.opts.log.info({ freeBytes: free }, 'the outbox disk has room again: events are accepted');
      this.raiseAlarm({ type: 'device.recovered', data: { device: 'upstream', code: 'outbox.full' } });
      this.emit('space', { usedBytes: this.usedBytes(), maxBytes: this.opts.maxBytes, disk: true });
    }
  }

  private markDiskFull(free: number | null = this.opts.freeBytes()): void {
    if (this.diskFull) return;
    this.diskFull = true;
    this.diskCheckedAt = Date.now();
    const detail = `the disk holding the outbox is full (${free ?? 'unknown'} bytes free): events are refused until space is freed`;
    this.opts.log.error({ freeBytes: free, depth: this.count }, 'outbox disk full: events are refused until space is freed');
    this.raiseAlarm({ type: 'device.fault', data: { device: 'upstream', code: 'outbox.full', detail } });
    this.emit('full', { usedBytes: this.usedBytes(), maxBytes: this.opts.maxBytes, disk: true });
    this.ensureDiskTimer();
  }

  /** Runs while the disk is full or an alarm waits: notices room, writes the alarms. */
  private ensureDiskTimer(): void {
    if (this.diskTimer || this.closed) return;
    this.diskTimer = setInterval(() => {
      this.writeAlarms();
      if (this.diskFull) this.checkDisk(true);
      if (!this.diskFull && this.alarms.length === 0) this.stopDiskTimer();
    }, DISK_CHECK_INTERVAL_MS * 2);
    this.diskTimer.unref();
  }

  private stopDiskTimer(): void {
    if (this.diskTimer) clearInterval(this.diskTimer);
    this.diskTimer = null;
  }

  /** Records a full/room alarm now, or as soon as the disk takes it (kept in order). */
  private raiseAlarm(event: NewEvent): void {
    this.alarms.push(event);
    this.writeAlarms();
    if (this.alarms.length > 0) this.ensureDiskTimer();
  }

  private writeAlarms(): void {
    // Inside a caller's transaction an alarm could be rolled back with it: written outside.
    if (this.pendingAnnouncements) return;
    while (this.alarms.length > 0 && !this.closed) {
      try {
        this.write([this.alarms[0]!], {}, true);
      } catch {
        return; // SQLITE_FULL: tried again before the next append and on the disk timer
      }
      this.alarms.shift();
    }
  }

  /** Live database pages plus the WAL file, in bytes. */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    const wal = statSync(`${this.opts.file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    return (pages - free) * pageSize + wal;
  }

  /** Subscribes to an outbox event; returns the unsubscribe function. */
  on<K extends keyof OutboxEventMap>(event: K, listener: Listener<K>): () => void {
    this.listeners[event].add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof OutboxEventMap>(event: K, listener: Listener<K>): void {
    this.listeners[event].delete(listener);
  }

  /** Checkpoints the WAL into the database and closes the file. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.stopDiskTimer();
    this.closed = true;
    try {
      this.checkpoint();
    } finally {
      this.db.close();
      // A flush still running on the thread pool keeps the descriptor: closing it under
      // the flush would fail it, or flush whatever file reused the number.
      if (this.flushesInFlight === 0) this.closeWal();
    }
  }

  private closeWal(): void {
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
  }

  /** The WAL file's descriptor (SQLite names it `<file>-wal`), or null when it cannot be opened. */
  private walDescriptor(): number | null {
    if (this.walFd === null) {
      try {
        this.walFd = openSync(`${this.opts.file}-wal`, 'r');
      } catch {
        return null;
      }
    }
    return this.walFd;
  }

  private ensureRoom(needed: number): void {
    // Measuring costs three pragmas and a stat; far from the cap, an estimate that only
    // grows (appended bytes since the last measure) is enough to know we are under it.
    if (this.measuredUse !== null && this.measuredUse.bytes + this.measuredUse.added + needed <= this.opts.maxBytes * ROOM_ESTIMATE_FRACTION) {
      this.measuredUse.added += needed;
      return;
    }
    const measured = this.usedBytes();
    this.measuredUse = { bytes: measured, added: needed };
    if (measured + needed <= this.opts.maxBytes) return;
    this.measuredUse = null;
    // The WAL may be what is over the line: fold it into the database and look again.
    this.checkpoint();
    const used = this.usedBytes();
    if (used + needed <= this.opts.maxBytes) return;
    this.markFull(needed);
    throw new KioskError(
      ErrorCode.OutboxFull,
      `The outbox is full (${used} of ${this.opts.maxBytes} bytes used, ${this.count} events waiting for the broker): new events are refused until the broker takes some.`,
      { usedBytes: used, maxBytes: this.opts.maxBytes, depth: this.count },
    );
  }

  private markFull(needed: number): void {
    const first = this.refusedBytes === null;
    this.refusedBytes = needed;
    if (!first) return;
    const info = { usedBytes: this.usedBytes(), maxBytes: this.opts.maxBytes };
    this.opts.log.error({ ...info, depth: this.count }, 'outbox full: events are refused until the broker acknowledges some');
    this.raiseAlarm({ type: 'device.fault', data: { device: 'upstream', code: 'outbox.full', detail: `the outbox holds ${info.usedBytes} of ${info.maxBytes} bytes: events are refused until the broker takes some` } });
    this.emit('full', info);
  }

  private checkpoint(): void {
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (e) {
      this.opts.log.warn({ err: e }, 'outbox WAL checkpoint failed');
    }
  }

  private emit<K extends keyof OutboxEventMap>(event: K, arg: OutboxEventMap[K]): void {
    for (const l of this.listeners[event]) {
      try {
        l(arg);
      } catch (e) {
        // The events are already durable: a listener's bug must not look like a failed append.
        this.opts.log.error({ err: e, event }, 'outbox listener threw');
      }
    }
  }
}

function migrate(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > OUTBOX_SCHEMA_VERSION) {
    throw new KioskError(ErrorCode.OutboxUnreadable, `The outbox ${file} was written by a newer controller (schema ${version}, this one knows ${OUTBOX_SCHEMA_VERSION}). Upgrade the controller; the file is left untouched.`, { file, version });
  }
  if (version === 0) {
    db.transaction(() => {
      db.exec(`
        CREATE TABLE events (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, payload TEXT NOT NULL);
        CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta (key, value) VALUES ('next_seq', 1);
      `);
      db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION}`);
    })();
    return;
  }
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  for (const t of ['events', 'state', 'meta']) {
    if (!tables.has(t)) {
      throw new KioskError(ErrorCode.OutboxUnreadable, `The outbox ${file} lacks its "${t}" table: it is damaged. Move it aside for inspection; it is never reset automatically.`, { file });
    }
  }
}

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
