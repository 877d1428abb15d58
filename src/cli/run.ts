/** `kiosk run --config FILE`: load, validate, start, and stop cleanly on SIGTERM/SIGINT. */
import { loadConfigFile } from '../config/load.js';
import { startController } from '../main.js';

export async function runFromConfigFile(file: string): Promise<void> {
  const config = loadConfigFile(file); // throws KioskError(1xx) → exit 2 with the message
  const controller = await startController(config);
  const log = controller.log;
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      controller.stop(signal).then(resolve, (err: unknown) => {
        log.error({ err: (err as Error).message }, 'unclean stop');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
