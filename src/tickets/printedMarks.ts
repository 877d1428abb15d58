/**
 * A mark on disk for each ticket the printer confirmed whose `ticket.issued` is not
 * recorded yet: what lets a ticket printed just as the disk filled be recorded later —
 * also after a restart — instead of being reprinted or voided.
 *
 * The mark is an empty file in `dataDir/printed-marks/`: creating one needs an inode
 * and a directory entry but no data block, so it works on a disk too full for SQLite
 * to grow its WAL by one page. It is removed once the ticket is recorded.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export const PRINTED_MARKS_DIR = 'printed-marks';

export class PrintedMarks {
  private readonly dir: string;

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.dir = join(dataDir, PRINTED_MARKS_DIR);
    mkdirSync(this.dir, { recursive: true });
  }

  /** The printer confirmed `ticket`: mark it, durably. False when even that failed (logged). */
  printed(ticket: string): boolean {
    try {
      closeSync(openSync(join(this.dir, fileName(ticket)), 'w'));
      const dirFd = openSync(this.dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
      return true;
    } catch (err) {
      this.log.error({ ticket, err: (err as Error).message }, 'could not mark a printed ticket on disk: after a restart it would be reprinted');
      return false;
    }
  }

  /** Tickets marked as printed. */
  list(): Set<string> {
    try {
      return new Set(readdirSync(this.dir).map(ticketOf));
    } catch {
      return new Set();
    }
  }

  /** `ticket` is recorded (or no longer pending): the mark goes. */
  clear(ticket: string): void {
    rmSync(join(this.dir, fileName(ticket)), { force: true });
  }
}

/** Ticket numbers are printable ASCII (toCentralAnswer); the file name keeps them readable and safe. */
function fileName(ticket: string): string {
  return encodeURIComponent(ticket).replace(/\./g, '%2E');
}

function ticketOf(file: string): string {
  try {
    return decodeURIComponent(file);
  } catch {
    return file;
  }
}
