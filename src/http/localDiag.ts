/**
 * The two ways a technician at the kiosk is never locked out of diagnostics (CONTRACT
 * §6): the board's key switch turned on ends any lockout, and a Unix socket in the data
 * folder (mode 0600) serves the same API to `kiosk diag --socket` without the lockout.
 */
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { DiagAuth } from './diagAuth.js';
import type { HttpServer } from './server.js';

export const DIAG_SOCKET_FILE = 'diag.sock';
/** Unix socket paths longer than this do not fit in sockaddr_un on Linux. */
const MAX_SOCKET_PATH_BYTES = 107;

export function diagSocketPath(dataDir: string): string {
  return join(dataDir, DIAG_SOCKET_FILE);
}

/** Serves the local diagnostics socket; a path that cannot be a socket is logged, not fatal. */
export async function listenLocalDiag(http: HttpServer, dataDir: string, log: Logger): Promise<string | null> {
  const path = diagSocketPath(dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    log.warn({ path }, 'diagnostics: the data folder path is too long for the local socket; kiosk diag must use --url');
    return null;
  }
  try {
    await http.listenLocal(path);
    return path;
  } catch (err) {
    log.warn({ path, err: (err as Error).message }, 'diagnostics: the local socket could not be opened; kiosk diag must use --url');
    return null;
  }
}

/** What the key switch watch needs of the drop box (its façade). */
export interface KeySwitchSource {
  status(): { keySwitch: 'ON' | 'OFF' | null };
  onChange(listener: () => void): () => void;
}

/** Ends the lockout each time the key switch turns on; returns the stop function. */
export function endLockoutOnKeySwitch(source: KeySwitchSource, auth: Pick<DiagAuth, 'endLockout'>): () => void {
  let last: 'ON' | 'OFF' | null = source.status().keySwitch;
  return source.onChange(() => {
    const key = source.status().keySwitch;
    if (key === 'ON' && last !== 'ON') auth.endLockout('key_switch');
    last = key;
  });
}
