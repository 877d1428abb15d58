/**
 * One controller per data folder. Two controllers on one `dataDir` would hand out the
 * same event `seq` and the same offline ticket numbers. The lock is a small SQLite file
 * in the folder, held in exclusive locking mode for the life of the controller: the
 * operating system drops it when the process ends, however it ends (stop, kill -9, power
 * cut), so a stale lock can never keep a kiosk from starting. The outbox itself stays
 * readable by other processes (a technician's sqlite3, the tests).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, KioskError } from '../kernel/errors.js';

export const DATA_DIR_LOCK_FILE = 'controller.lock';

export interface DataDirLock {
  /** Lets another controller have the folder. Idempotent. */
  release(): void;
}

/** Takes the folder for this process, or throws KioskError (DataDirInUse, DataDirUnusable) at once. */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = join(dataDir, DATA_DIR_LOCK_FILE);
  let db: Database.Database | undefined;
  try {
    mkdirSync(dataDir, { recursive: true });
    // No busy wait: a held lock is another controller, not a moment's contention.
    db = new Database(file, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; in this mode it is kept until close.
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)');
    try {
      db.transaction(() => {
        db!.prepare('DELETE FROM holder').run();
        db!.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
      })();
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'SQLITE_FULL') throw e;
      // A full disk must not keep the kiosk from starting: the exclusive lock is taken
      // without writing a page (kept until close in this mode); the holder row is left stale.
      db.exec('BEGIN EXCLUSIVE');
      db.exec('COMMIT');
    }
  } catch (e) {
    db?.close();
    const code = (e as { code?: unknown } | null)?.code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new KioskError(
        ErrorCode.DataDirInUse,
        `Another controller is running on the data folder ${dataDir}: stop it first (two controllers on one folder would hand out the same numbers).`,
        { dataDir },
        { cause: e },
      );
    }
    throw new KioskError(ErrorCode.DataDirUnusable, `The data folder ${dataDir} cannot be locked for this controller (${String(code ?? (e as Error).message)}): check that it exists and is writable.`, { dataDir }, { cause: e });
  }
  const held = db;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      held.close();
    },
  };
}
