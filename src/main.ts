/**
 * The composition root: the only place real devices, the outbox and the upstream link
 * are built and wired together. `kiosk run` and `kiosk sim` both start the controller
 * through `startController`; tests do too, with the devices they simulate.
 */
import { join } from 'node:path';
import { createActor, type Actor } from 'xstate';
import { createBoardPortLogic } from '../devices/board/boardPortActor.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import type { SerialTransportFactory } from '../devices/serial/transport.js';
import type { KioskConfig } from './config/schema.js';
import { HttpServer } from './http/server.js';
import { registerHealthRoutes } from './http/healthRoutes.js';
import { createLogger, type Logger } from './log.js';
import { DropboxLedger } from './machines/dropboxLedger.js';
import { createDropboxMachine, type DropboxMachine } from './machines/dropboxMachine.js';
import { OutboxStore } from './upstream/outbox.js';
import { UpstreamLink } from './upstream/upstreamLink.js';
import { VERSION } from './version.js';

export interface ControllerOptions {
  log?: Logger;
  /** The serial seam; the real serialport unless a test or the simulator says otherwise. */
  openSerial?: SerialTransportFactory;
  /** Upstream reconnect backoff (tests shorten it). */
  upstreamBackoff?: { initialMs: number; maxMs: number };
}

export interface Controller {
  readonly config: KioskConfig;
  readonly url: string;
  readonly outbox: OutboxStore;
  readonly upstream: UpstreamLink;
  readonly dropbox: { actor: Actor<DropboxMachine>; ledger: DropboxLedger } | null;
  stop(reason?: string): Promise<void>;
}

export const OUTBOX_FILE = 'outbox.sqlite';

export async function startController(config: KioskConfig, options: ControllerOptions = {}): Promise<Controller> {
  const log = options.log ?? createLogger();
  const openSerial = options.openSerial ?? openSerialPort;

  const outbox = OutboxStore.open({
    file: join(config.dataDir, OUTBOX_FILE),
    kiosk: config.kiosk.id,
    site: config.kiosk.site,
    maxBytes: Math.round(config.upstream.outboxMaxMb * 1024 * 1024),
    log: log.child({ part: 'outbox' }),
  });
  outbox.append([{ type: 'kiosk.started', data: { version: VERSION } }]);

  const upstream = new UpstreamLink({
    url: config.upstream.url,
    prefix: config.upstream.prefix,
    site: config.kiosk.site,
    kiosk: config.kiosk.id,
    username: config.upstream.username,
    password: config.upstream.password,
    outbox,
    log: log.child({ part: 'upstream' }),
    version: VERSION,
    ...(options.upstreamBackoff ? { backoff: options.upstreamBackoff } : {}),
  });
  upstream.start();

  let dropbox: Controller['dropbox'] = null;
  if (config.dropbox) {
    const boxLog = log.child({ part: 'dropbox' });
    const ledger = new DropboxLedger(outbox, config.dropbox.id, boxLog);
    const machine = createDropboxMachine({ ledger, log: boxLog, now: Date.now, boardPort: createBoardPortLogic(openSerial) });
    const actor = createActor(machine, { input: { box: config.dropbox.id, path: config.dropbox.port, baudRate: config.dropbox.baudRate } });
    actor.subscribe({ error: (err) => boxLog.fatal({ err: (err as Error).message }, 'drop-box machine stopped on an error') });
    actor.start();
    dropbox = { actor, ledger };
  }

  const http = new HttpServer({ host: config.http.host, port: config.http.port, log: log.child({ part: 'http' }) });
  registerHealthRoutes(http, { upstream, outbox, dropbox });
  const { url } = await http.listen();
  log.info({ url, kiosk: config.kiosk.id, version: VERSION }, 'kiosk controller started');

  let stopping: Promise<void> | null = null;
  return {
    config,
    url,
    outbox,
    upstream,
    dropbox,
    stop(reason = 'stop') {
      stopping ??= (async () => {
        log.info({ reason }, 'kiosk controller stopping');
        await http.close().catch(() => undefined);
        dropbox?.actor.stop();
        await upstream.stop();
        outbox.close();
        log.info('kiosk controller stopped');
      })();
      return stopping;
    },
  };
}
