/**
 * The composition root: the only place real devices, the outbox and the upstream link
 * are built and wired together. `kiosk run` and `kiosk sim` both start the controller
 * through `startController`; tests do too, with the devices they simulate.
 *
 * Each device is started by its wiring module (src/wiring/<device>.ts), which gets its
 * own slice of the config and returns its façade and its stop. Every part started goes on
 * one stack (Lifecycle): a start that fails half-way stops what already started, newest
 * first, and throws one KioskError naming what failed. The root owns the logger and the
 * ring of recent lines behind GET /api/diag/logs, whoever starts it.
 */
import type { PrinterTransportFactory } from '../devices/printer/printerTransport.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import type { SerialTransportFactory } from '../devices/serial/transport.js';
import { systemClock, type Clock } from '../kernel/clock.js';
import { ErrorCode, KioskError } from '../kernel/errors.js';
import { pino } from 'pino';
import { createLogger, type Logger } from '../kernel/log.js';
import { createLogRing, type LogRing } from '../kernel/logRing.js';
import type { KioskConfig } from './config/schema.js';
import { lockDataDir } from './dataDirLock.js';
import { CollectionDesk, collectionStatus } from './dropbox/collectionSlip.js';
import { DepositDesk } from './dropbox/depositDesk.js';
import type { Dropbox } from './facades/dropbox.js';
import { registerDiagPageRoutes } from './http/diagPageRoutes.js';
import { registerDiagRoutes, trackOutboxForDiagnostics } from './http/diagRoutes.js';
import { registerHealthRoutes } from './http/healthRoutes.js';
import { registerKioskRoutes } from './http/kioskRoutes.js';
import { HttpServer } from './http/server.js';
import { registerTicketRoutes } from './http/ticketRoutes.js';
import { registerUiRoutes } from './http/uiRoutes.js';
import { endLockoutOnKeySwitch, listenLocalDiag } from './http/localDiag.js';
import { RefusalEvents } from './http/refusalEvents.js';
import { Lifecycle } from './lifecycle.js';
import type { UiTimings } from './machines/kioskUiMachine.js';
import type { PrintDocument, Printer } from './facades/printer.js';
import type { Scanner } from './facades/scanner.js';
import type { ConnectFn, Upstream } from './facades/upstream.js';
import { watchCertificateExpiry } from './upstream/certificateExpiry.js';
import { loadUpstreamAccess } from './upstream/connectOptions.js';
import { eventRecorder } from './upstream/deviceFaults.js';
import { typicalTicketLengthMm } from './printer/paperForecast.js';
import { PaperWatch } from './printer/paperWatch.js';
import { TicketDesk, type TicketDeskTimings } from './tickets/ticketDesk.js';
import { watchDeposits } from './ui/depositFeed.js';
import { createHttpUiBackend } from './ui/httpBackend.js';
import { KioskUi, kioskUiSources } from './ui/kioskUi.js';
import { Narrator } from './ui/narrator.js';
import type { Speech } from './facades/speech.js';
import { startSpeech } from './wiring/speech.js';
import type { OutboxStore } from './upstream/outbox.js';
import { VERSION } from './version.js';
import { startDropbox } from './wiring/dropbox.js';
import { startPrinter } from './wiring/printer.js';
import { startScanner } from './wiring/scanner.js';
import { startOutbox, startUpstream } from './wiring/upstream.js';

export { OUTBOX_FILE } from './wiring/upstream.js';

export interface ControllerOptions {
  /**
   * Level of the lines written to `logTo`; KIOSK_LOG_LEVEL or 'info' when absent. The
   * diagnostics ring keeps info and above whatever this says (debug too, when asked).
   */
  logLevel?: string;
  /** Where log lines go besides the diagnostics ring: stdout when absent, nowhere when null. */
  logTo?: NodeJS.WritableStream | null;
  /** The serial seam; the real serialport unless a test or the simulator says otherwise. */
  openSerial?: SerialTransportFactory;
  /** Upstream reconnect backoff (tests shorten it). */
  upstreamBackoff?: { initialMs: number; maxMs: number };
  /** mqtt.connect, or a wrapper that watches it (tests count attempts and topics). */
  upstreamConnect?: ConnectFn;
  /** The printer seam; built from `printer.interface` unless a test says otherwise. */
  openPrinter?: PrinterTransportFactory;
  /** The clock for opening hours and printed times (tests pin it). */
  now?: () => Date;
  /**
   * The clock of the citizen flows (the deposit machine); a SimulatedClock in tests. The
   * device links keep real time (`deviceClock`): a board heartbeats in real time, and
   * simulated minutes without its frames would be a real silence.
   */
  clock?: Clock;
  /** The clock of the device machines (drop box); the system clock unless a test drives it. */
  deviceClock?: Clock;
  /** Reprint sweep and window (tests shorten them). */
  ticketTimings?: TicketDeskTimings;
  /** The deposit flow's drop timeout (tests shorten it). */
  deposits?: { dropTimeoutMs?: number };
  /** Scanner reopen backoff (tests shorten it). */
  scannerBackoff?: { initialMs: number; maxMs: number };
  /** The touch UI's idle and result delays (tests shorten them). */
  uiTimings?: Partial<UiTimings>;
}

export interface Controller {
  readonly config: KioskConfig;
  readonly url: string;
  readonly outbox: OutboxStore;
  readonly upstream: Upstream;
  /** The drop box, when configured. */
  readonly dropbox: Dropbox | null;
  readonly printer: Printer | null;
  readonly tickets: TicketDesk | null;
  /** The serial scanner, when configured: `onScan` offers each code to the UI. */
  readonly scanner: Scanner | null;
  /** The deposit flow, when the kiosk has a drop box. */
  readonly deposits: DepositDesk | null;
  /** Collection slips, when the kiosk has a drop box (issue #5). */
  readonly collections: CollectionDesk | null;
  /** Paper use and the roll forecast, when the kiosk has a printer (issue #5). */
  readonly paper: PaperWatch | null;
  /** The citizen touch UI's flow (its page is served at `/`). */
  readonly ui: KioskUi;
  /** The controller's logger (the CLI logs its own lines through it). */
  readonly log: Logger;
  /** The controller's recent log lines (what GET /api/diag/logs shows). */
  readonly logs: LogRing;
  /** Speech output and the headset jack (CONTRACT §7). */
  readonly speech: Speech;
  stop(reason?: string): Promise<void>;
}

/** Log lines kept for GET /api/diag/logs. */
export const LOG_RING_LINES = 500;
const DEFAULT_TIME_ZONE = 'Europe/Lisbon';

export async function startController(config: KioskConfig, options: ControllerOptions = {}): Promise<Controller> {
  // The last log lines, already redacted, for the technician's diagnostics screen.
  const outLevel = options.logLevel ?? process.env.KIOSK_LOG_LEVEL ?? 'info';
  const outLevelValue = outLevel === 'silent' ? Infinity : (pino.levels.values[outLevel] ?? pino.levels.values.info!);
  const logs = createLogRing(LOG_RING_LINES, options.logTo === null ? {} : { forwardTo: options.logTo ?? process.stdout, forwardMinLevel: outLevelValue });
  // The ring keeps info and above even when the terminal shows only warnings.
  const log = createLogger({ destination: logs, level: outLevelValue < pino.levels.values.info! ? outLevel : 'info' });
  const openSerial = options.openSerial ?? openSerialPort;
  const clock = options.clock ?? systemClock;
  const deviceClock = options.deviceClock ?? systemClock;
  const timeZone = config.hours?.timezone ?? DEFAULT_TIME_ZONE;
  const { kiosk } = config;
  const life = new Lifecycle(log);
  // Password and TLS files read and checked first: a bad one is a config error (exit 2).
  const upstreamAccess = loadUpstreamAccess(config.upstream);

  try {
    // One controller per data folder: a second one would reuse seq and ticket numbers.
    const dataDirLock = lockDataDir(config.dataDir);
    life.onStop('data folder lock', () => dataDirLock.release());

    const outboxPart = await life.start('outbox', () => startOutbox({ dataDir: config.dataDir, kiosk, outboxMaxMb: config.upstream.outboxMaxMb }, { log: log.child({ part: 'outbox' }) }));
    life.onStop('outbox', outboxPart.stop);
    const outbox = outboxPart.facade;
    // A full disk must not keep the kiosk from starting: recorded once there is room.
    outbox.appendSoon([{ type: 'kiosk.started', data: { version: VERSION } }]);

    const upstreamPart = await life.start('upstream link', () =>
      startUpstream(config.upstream, kiosk, {
        outbox,
        access: upstreamAccess,
        log: log.child({ part: 'upstream' }),
        ...(options.upstreamBackoff ? { backoff: options.upstreamBackoff } : {}),
        ...(options.upstreamConnect ? { connect: options.upstreamConnect } : {}),
      }),
    );
    life.onStop('upstream link', upstreamPart.stop);
    const upstream = upstreamPart.facade;
    const stopExpiryWatch = watchCertificateExpiry(upstreamAccess.certificates, (e) => void eventRecorder(outbox, log, 'certificate expiry warnings')([e]), options.now);
    life.onStop('certificate expiry watch', stopExpiryWatch);

    let dropbox: Dropbox | null = null;
    if (config.dropbox) {
      const dropboxConfig = config.dropbox;
      const part = await life.start('drop box', () => startDropbox(dropboxConfig, { outbox, openSerial, clock: deviceClock, log: log.child({ part: 'dropbox' }) }));
      life.onStop('drop box', part.stop);
      dropbox = part.facade;
    }

    let printer: Printer | null = null;
    if (config.printer) {
      const printerConfig = config.printer;
      const part = await life.start('printer', () =>
        startPrinter(printerConfig, { events: outbox, openSerial, ...(options.openPrinter ? { openPrinter: options.openPrinter } : {}), log: log.child({ part: 'printer' }) }),
      );
      life.onStop('printer', part.stop);
      printer = part.facade;
    }

    const tickets = new TicketDesk({
      config: { kiosk, services: config.services, hours: config.hours, upstream: config.upstream, printer: config.printer },
      events: outbox,
      central: upstream,
      printer,
      log: log.child({ part: 'tickets' }),
      dataDir: config.dataDir,
      storageFull: () => outbox.isFull(),
      ...(options.now ? { now: options.now } : {}),
      ...(options.ticketTimings ? { timings: options.ticketTimings } : {}),
    }).start();
    life.onStop('ticket desk', () => tickets.stop());
    // A ticket printed while the disk was full is recorded once there is room.
    life.onStop('ticket desk room watch', outbox.on('space', () => tickets.roomAgain()));

    let scanner: Scanner | null = null;
    if (config.scanner) {
      const scannerConfig = config.scanner;
      const part = await life.start('scanner', () =>
        startScanner(scannerConfig, { events: outbox, openSerial, log: log.child({ part: 'scanner' }), ...(options.scannerBackoff ? { backoff: options.scannerBackoff } : {}) }),
      );
      life.onStop('scanner', part.stop);
      scanner = part.facade;
    }

    let deposits: DepositDesk | null = null;
    if (dropbox) {
      deposits = new DepositDesk({
        dropbox,
        kiosk,
        timeZone,
        events: outbox,
        printer,
        log: log.child({ part: 'deposits' }),
        clock,
        ...(options.deposits?.dropTimeoutMs ? { dropTimeoutMs: options.deposits.dropTimeoutMs } : {}),
      }).start();
      const desk = deposits;
      life.onStop('deposit desk', () => desk.stop());
    }

    let paper: PaperWatch | null = null;
    if (printer && config.printer) {
      const watch = new PaperWatch({
        printer,
        rollLengthMm: config.printer.rollLengthMm,
        ticketLengthMm: config.printer.ticketLengthMm ?? null,
        defaultTicketLengthMm: typicalTicketLengthMm(printer.profile, printer.columns),
        timeZone,
        store: outbox,
        log: log.child({ part: 'paper' }),
      }).start();
      life.onStop('paper watch', () => watch.stop());
      paper = watch;
    }
    let collections: CollectionDesk | null = null;
    if (dropbox) {
      const desk = new CollectionDesk({
        box: dropbox.id,
        kioskId: kiosk.id,
        locale: kiosk.locale,
        timeZone,
        outbox,
        printer,
        log: log.child({ part: 'collection' }),
      }).start();
      life.onStop('collection desk', () => desk.stop());
      collections = desk;
    }

    const refusals = new RefusalEvents((e) => outbox.append([e]), log.child({ part: 'http' }));
    life.onStop('refusal events', () => refusals.flush());
    const http = new HttpServer({ host: config.http.host, port: config.http.port, log: log.child({ part: 'http' }), onRefused: refusals.note });
    registerTicketRoutes(http, tickets);
    registerKioskRoutes(http, { tickets, scanner, deposits });
    // Speech mode and the headset (CONTRACT §7): a device like the printer; its faults never stop the kiosk.
    const speech = await life.start('speech', () => startSpeech(config.accessibility, { log: log.child({ part: 'speech' }), record: (e) => outbox.append([e]) }));
    life.onStop('speech', () => speech.stop());
    registerHealthRoutes(http, { upstream, outbox, dropbox, printer, tickets, scanner, speech: speech.facade });
    // The touch UI takes tickets, check-ins and deposits through the routes above, over
    // loopback; it follows the deposit in flight in-process, as the deposit machine changes.
    let uiBaseUrl = '';
    const ui = new KioskUi({
      config: { kiosk, services: config.services, hours: config.hours },
      backend: { ...createHttpUiBackend(() => uiBaseUrl), watchDeposit: watchDeposits(deposits) },
      sources: kioskUiSources({ printer, dropbox, upstream }),
      scanner,
      log: log.child({ part: 'ui' }),
      ...(options.now ? { now: options.now } : {}),
      ...(options.uiTimings ? { timings: options.uiTimings } : {}),
      record: (e) => outbox.append([e]),
      volume: config.accessibility.volume,
    });
    const uiRoutes = registerUiRoutes(http, ui);
    life.onStop('touch UI stream', () => uiRoutes.stop());
    const outboxDiag = trackOutboxForDiagnostics(outbox);
    life.onStop('outbox diagnostics', () => outboxDiag.stop());
    const diag = registerDiagRoutes(http, {
      diagnostics: config.diagnostics,
      log: log.child({ part: 'diag' }),
      printer: printer ? () => printer.diagnostics() : null,
      dropbox: dropbox ? () => dropbox.status() : null,
      scanner: scanner ? () => ({ ...scanner.status() }) : null,
      upstream: () => upstream.status(),
      outbox: outboxDiag,
      logs,
      actions: {
        testPrint: printer && config.printer ? testPrint(printer, config.printer, kiosk, timeZone) : null,
        setSlotLight: dropbox ? (mode) => dropbox.setSlotLight(mode) : null,
        unlockDoor: dropbox ? (ms) => dropbox.unlock(ms) : null,
        rollChanged: paper ? () => paper.rollChanged('technician') : null,
      },
      paperForecast: paper ? () => paper.view() : null,
      collection: dropbox ? () => collectionStatus(dropbox.status(), collections?.view() ?? null) : null,
      defaultUnlockMs: config.dropbox?.unlockMs ?? 30_000,
      refused: refusals.note,
      record: (e) => {
        outbox.append([e]);
      },
    });
    // Records diag.logout for open sessions: stopped before the outbox closes.
    life.onStop('diagnostics sessions', () => diag.stop());
    registerDiagPageRoutes(http);
    const { url } = await life.start('HTTP server', () => listen(http, config.http));
    life.onStop('HTTP server', () => http.close().catch(() => undefined));
    // `kiosk diag` on the kiosk itself: a socket only the data folder's owner can reach, never locked out.
    await listenLocalDiag(http, config.dataDir, log.child({ part: 'diag' }));
    if (dropbox) life.onStop('key switch watch', endLockoutOnKeySwitch(dropbox, diag.auth));
    uiBaseUrl = url;
    ui.start();
    life.onStop('touch UI', () => ui.stop());
    const narrator = new Narrator({ ui, speech: speech.facade, log: log.child({ part: 'narrator' }) }).start();
    life.onStop('narrator', () => narrator.stop());
    const stopHeadset = speech.onHeadset((plugged) => ui.headset(plugged));
    life.onStop('headset', stopHeadset);
    log.info({ url, kiosk: kiosk.id, version: VERSION }, 'kiosk controller started');

    let stopping: Promise<void> | null = null;
    return {
      config,
      url,
      outbox,
      upstream,
      dropbox,
      printer,
      tickets,
      scanner,
      deposits,
      collections,
      paper,
      ui,
      log,
      logs,
      speech: speech.facade,
      stop(reason = 'stop') {
        stopping ??= (async () => {
          log.info({ reason }, 'kiosk controller stopping');
          await life.stopAll();
          log.info('kiosk controller stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    log.error({ err: (err as Error).message }, 'kiosk controller could not start; stopping what had started');
    await life.stopAll();
    throw err;
  }
}

/** Binds the HTTP port; a taken port or an unknown address is a clear KioskError. */
async function listen(http: HttpServer, where: KioskConfig['http']): Promise<{ url: string }> {
  try {
    return await http.listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is taken (EADDRINUSE: another controller or program uses it)' : code === 'EADDRNOTAVAIL' ? 'this machine has no such address' : (err as Error).message;
    throw new KioskError(ErrorCode.HttpListenFailed, `The HTTP API cannot listen on ${where.host}:${where.port}: ${why}. Set http.port (or http.host) in the config, or stop the other program.`, { host: where.host, port: where.port, code }, { cause: err });
  }
}

function testPrint(printer: Printer, printerConfig: NonNullable<KioskConfig['printer']>, kiosk: KioskConfig['kiosk'], timeZone: string) {
  return async (timeoutMs: number) => {
    const page: PrintDocument = { kind: 'testPage', locale: kiosk.locale, now: new Date(), timeZone, details: [kiosk.id, printerConfig.interface] };
    const r = await printer.print(page, { timeoutMs });
    return { printed: r.confirmed, detail: r.outcome === 'timeout' ? `no answer from the printer within ${timeoutMs / 1000} s` : r.reason };
  };
}
