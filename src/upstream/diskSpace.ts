/**
 * Whether the disk under the outbox has room (CONTRACT §6: `outboxFull` is also true
 * when the disk is full, not only when the outbox's own cap is reached). Pure decision
 * plus one statfs: the outbox asks before appending and while it is full.
 *
 * Hysteresis, so that a disk hovering at the edge raises one alarm and not one per
 * second: full below `fullBelowBytes` free (or when SQLite said SQLITE_FULL), room
 * again only at `roomAboveBytes` free or more.
 */
import { statfsSync } from 'node:fs';

/** Free space under which the outbox stops taking events (room left for SQLite's own pages and the alarm). */
export const DISK_FULL_BELOW_BYTES = 2 * 1024 * 1024;
/** Free space from which the outbox takes events again. */
export const DISK_ROOM_ABOVE_BYTES = 8 * 1024 * 1024;
/** statfs at most this often on the append path (a disk does not fill in a millisecond). */
export const DISK_CHECK_INTERVAL_MS = 500;

export interface DiskThresholds {
  fullBelowBytes: number;
  roomAboveBytes: number;
}

export const DEFAULT_DISK_THRESHOLDS: DiskThresholds = { fullBelowBytes: DISK_FULL_BELOW_BYTES, roomAboveBytes: DISK_ROOM_ABOVE_BYTES };

/** Next full/not-full state from the free bytes and the current state. */
export function diskFullAfter(wasFull: boolean, freeBytes: number, t: DiskThresholds): boolean {
  return wasFull ? freeBytes < t.roomAboveBytes : freeBytes < t.fullBelowBytes;
}

/** Bytes an unprivileged process may still write on the filesystem holding `path`; null when unknown. */
export function freeBytes(path: string): number | null {
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
