/** `kiosk run --config FILE`: load, validate, start, and stop cleanly on SIGTERM/SIGINT. */
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../log.js';
import { startController } from '../main.js';
import { startSystemdNotifier } from '../systemd/notifySocket.js';
import { waitUntilApiAnswers } from '../systemd/readiness.js';

export async function runFromConfigFile(file: string): Promise<void> {
  const config = loadConfigFile(file); // throws KioskError(1xx) → exit 2 with the message
  const log = createLogger();
  // Before the controller starts: watchdog pings cover a slow start too.
  const systemd = startSystemdNotifier(log.child({ part: 'systemd' }));
  let controller: Awaited<ReturnType<typeof startController>>;
  try {
    controller = await startController(config, { log });
  } catch (e) {
    systemd.close();
    throw e;
  }
  if (systemd.active) {
    await waitUntilApiAnswers(controller.url);
    systemd.ready(`serving ${controller.url}`);
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
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
  });
  systemd.close();
}
