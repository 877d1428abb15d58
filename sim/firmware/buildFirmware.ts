/**
 * Builds the reference firmware, the simavr harness and the firmware's host tests
 * (`make -C firmware`), once per process. `make` is incremental, and `flock` keeps
 * two test workers from building in the same folder at once.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const FIRMWARE_DIR = fileURLToPath(new URL('../../firmware/', import.meta.url));
/** A cold build of everything takes a few seconds; a busy CI machine may take longer. */
export const FIRMWARE_BUILD_TIMEOUT_MS = 180_000;

/** Which firmware build to run: protocol v2 (the default), v1, or v2 with a 1.5 s UNLOCK cap. */
export type FirmwareVariant = 'v2' | 'v1' | 'test';

const BUILD_DIRS: Record<FirmwareVariant, string> = { v2: 'build', v1: 'build-v1', test: 'build-test' };

export interface FirmwareFiles {
  elf: string;
  symbols: string;
  harness: string;
  hostTests: string;
}

export function firmwareFiles(variant: FirmwareVariant = 'v2'): FirmwareFiles {
  const build = join(FIRMWARE_DIR, 'dropbox-board', BUILD_DIRS[variant]);
  return {
    elf: join(build, 'dropbox-board.elf'),
    symbols: join(build, 'symbols.txt'),
    harness: join(FIRMWARE_DIR, 'sim', 'build', 'dropbox-sim'),
    hostTests: join(FIRMWARE_DIR, 'test', 'build', 'host-tests'),
  };
}

let building: Promise<void> | null = null;

export function buildFirmware(): Promise<void> {
  building ??= new Promise<void>((resolve, reject) => {
    execFile(
      'flock',
      [join(FIRMWARE_DIR, '.build.lock'), 'make', '-s', '-C', FIRMWARE_DIR, 'all'],
      { timeout: FIRMWARE_BUILD_TIMEOUT_MS },
      (err, _stdout, stderr) => {
        if (err) {
          building = null;
          reject(new Error(`firmware build failed (make -C firmware): ${stderr.trim() || err.message}. Are gcc-avr, avr-libc, libsimavr-dev and libelf-dev installed? (npm run setup:system)`));
        } else resolve();
      },
    );
  });
  return building;
}
