/** `kiosk run --config FILE`: load, validate, start, and stop cleanly on SIGTERM/SIGINT. */
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../../kernel/log.js';
import { startController } from '../main.js';
import { startSystemdNotifier } from '../systemd/notifySocket.js';
import { waitUntilApiAnswers } from '../systemd/readiness.js';

/** How often `kiosk run` started by npm looks for the npm process that started it. */
export const PARENT_WATCH_MS = 1_000;

export async function runFromConfigFile(file: string): Promise<void> {
  const config = loadConfigFile(file); // throws KioskError(1xx) → exit 2 with the message
  // Before the controller starts: watchdog pings cover a slow start too. Its few lines go
  // to stdout (the journal); the controller's own logger starts with the controller.
  const systemd = startSystemdNotifier(createLogger().child({ part: 'systemd' }));
  let controller: Awaited<ReturnType<typeof startController>>;
  try {
    controller = await startController(config);
  } catch (e) {
    systemd.close();
    throw e;
  }
  const log = controller.log;
  if (systemd.active) {
    await waitUntilApiAnswers(controller.url);
    systemd.ready(`serving ${controller.url}`);
  }
  let parentWatch: NodeJS.Timeout | null = null;
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (parentWatch) clearInterval(parentWatch);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      systemd.stopping();
      controller.stop(signal).then(resolve, (err: unknown) => {
        log.error({ err: (err as Error).message }, 'unclean stop');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // `npx kiosk run` runs us under npm and a shell that do not pass SIGTERM on: when they
    // are gone (we are someone else's child now), stop as if we had been sent it ourselves.
    const startedBy = process.ppid;
    if (process.env.npm_command === 'exec' || process.env.npm_lifecycle_event) {
      parentWatch = setInterval(() => {
        if (process.ppid !== startedBy) onSignal('SIGTERM');
      }, PARENT_WATCH_MS);
      parentWatch.unref();
    }
  });
  systemd.close();
}
