/**
 * A pair of connected pseudo-terminals made by socat: the controller opens one end as
 * if it were /dev/ttyACM0, a simulated device drives the other. Killing socat makes
 * both ends vanish, which is how a USB unplug looks to the controller.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** How long socat may take to create both links before we give up. */
export const PTY_START_TIMEOUT_MS = 5000;
/** How long socat may take to exit after SIGTERM before it is killed outright. */
export const PTY_STOP_TIMEOUT_MS = 2000;
/** How often to look for the links while socat starts. */
const LINK_POLL_INTERVAL_MS = 10;

export interface PtyPair {
  /** The end the controller opens. */
  readonly controllerPath: string;
  /** The end the simulated device opens. */
  readonly boardPath: string;
  /** Kills socat: both ends vanish and the links are removed. */
  unplug(): Promise<void>;
  /** Starts socat again with the same link paths. */
  replug(): Promise<void>;
  /** Kills socat for good. */
  close(): Promise<void>;
}

/** Every socat still running, killed if the test process exits without closing it. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export async function createPtyPair(dir: string): Promise<PtyPair> {
  const controllerPath = join(dir, 'controller');
  const boardPath = join(dir, 'board');
  let socat: ChildProcess | null = null;
  let closed = false;

  const removeLinks = (): void => {
    rmSync(controllerPath, { force: true });
    rmSync(boardPath, { force: true });
  };

  const start = async (): Promise<void> => {
    removeLinks(); // stale links from a crashed run would make us think socat is ready
    killAllOnExit();
    const child = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${controllerPath}`, `pty,raw,echo=0,link=${boardPath}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    running.add(child);
    child.once('exit', () => running.delete(child));
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    socat = child;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearInterval(poll);
        clearTimeout(timeout);
        child.off('error', onError);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onError = (err: NodeJS.ErrnoException): void => {
        settle(
          err.code === 'ENOENT'
            ? new Error('socat not found: run scripts/install-system-deps.sh')
            : new Error(`could not start socat: ${err.message}`),
        );
      };
      const onExit = (code: number | null): void => {
        settle(new Error(`socat exited (code ${code}) before creating ${controllerPath}: ${stderr.trim()}`));
      };
      const poll = setInterval(() => {
        if (existsSync(controllerPath) && existsSync(boardPath)) settle();
      }, LINK_POLL_INTERVAL_MS);
      const timeout = setTimeout(() => {
        child.kill('SIGKILL');
        settle(new Error(`socat did not create ${controllerPath} within ${PTY_START_TIMEOUT_MS} ms: ${stderr.trim()}`));
      }, PTY_START_TIMEOUT_MS);
      child.once('error', onError);
      child.once('exit', onExit);
    });
    // A spawn error after start (none expected) must not be an unhandled 'error' event.
    child.on('error', () => undefined);
  };

  const stop = async (): Promise<void> => {
    const child = socat;
    socat = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), PTY_STOP_TIMEOUT_MS);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    removeLinks();
  };

  await start();
  return {
    controllerPath,
    boardPath,
    unplug: stop,
    async replug() {
      if (closed) throw new Error('PTY pair is closed');
      if (socat) return;
      await start();
    },
    async close() {
      closed = true;
      await stop();
    },
  };
}
