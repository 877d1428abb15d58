/**
 * The composition root: the only place real devices, the outbox and the upstream link
 * are built and wired together. `kiosk run` and `kiosk sim` both start the controller
 * through `startController`; tests do too, with the devices they simulate.
 */
import { join } from 'node:path';
import { createActor, type Actor } from 'xstate';
import { createBoardPortLogic } from '../devices/board/boardPortActor.js';
import { PrinterDriver } from '../devices/printer/printerDriver.js';
import { createPrinterTransportFactory, type PrinterTransportFactory } from '../devices/printer/printerTransport.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import { ScannerDriver } from '../devices/scanner/scannerDriver.js';
import type { SerialTransportFactory } from '../devices/serial/transport.js';
import type { KioskConfig } from './config/schema.js';
import { HttpServer } from './http/server.js';
import { registerHealthRoutes } from './http/healthRoutes.js';
import { registerTicketRoutes } from './http/ticketRoutes.js';
import { registerKioskRoutes } from './http/kioskRoutes.js';
import { registerUiRoutes } from './http/uiRoutes.js';
import type { UiTimings } from './machines/kioskUiMachine.js';
import { createHttpUiBackend } from './ui/httpBackend.js';
import { KioskUi, kioskUiSources } from './ui/kioskUi.js';
import { DepositDesk, type DepositClock } from './dropbox/depositDesk.js';
import { codeHint, isAppointmentCode, normalizeAppointmentCode } from './tickets/appointments.js';
import { recordScannerEvents } from './tickets/scanFeed.js';
import { registerDiagRoutes, trackOutboxForDiagnostics } from './http/diagRoutes.js';
import { registerDiagPageRoutes } from './http/diagPageRoutes.js';
import { CollectionDesk, collectionStatus } from './dropbox/collectionSlip.js';
import { PaperWatch } from './printer/paperWatch.js';
import { typicalTicketLengthMm } from './printer/paperForecast.js';
import { createLogRing } from './http/logRing.js';
import { encodeTestPage } from '../devices/printer/ticketLayout.js';
import { lockDataDir } from './dataDirLock.js';
import { RefusalEvents } from './http/refusalEvents.js';
import { endLockoutOnKeySwitch, listenLocalDiag } from './http/localDiag.js';
import { createLogger, type Logger } from './log.js';
import { DropboxLedger } from './machines/dropboxLedger.js';
import { createDropboxMachine, dropboxStatusView, type DropboxMachine } from './machines/dropboxMachine.js';
import { createPrinterMachine, printerDiagnostics, requestPrint, type PrinterActor } from './machines/printerMachine.js';
import { TicketDesk, type TicketDeskTimings } from './tickets/ticketDesk.js';
import type { NewEvent } from './upstream/events.js';
import { OutboxStore } from './upstream/outbox.js';
import { UpstreamLink } from './upstream/upstreamLink.js';
import { VERSION } from './version.js';

export interface ControllerOptions {
  log?: Logger;
  /** The serial seam; the real serialport unless a test or the simulator says otherwise. */
  openSerial?: SerialTransportFactory;
  /** Upstream reconnect backoff (tests shorten it). */
  upstreamBackoff?: { initialMs: number; maxMs: number };
  /** The printer seam; built from `printer.interface` unless a test says otherwise. */
  openPrinter?: PrinterTransportFactory;
  /** The clock for opening hours and printed times (tests pin it). */
  now?: () => Date;
  /** Reprint sweep and window (tests shorten them). */
  ticketTimings?: TicketDeskTimings;
  /** The deposit desk's clock and drop timeout (tests drive them). */
  deposits?: { clock?: DepositClock; dropTimeoutMs?: number };
  /** Scanner reopen backoff (tests shorten it). */
  scannerBackoff?: { initialMs: number; maxMs: number };
  /** The touch UI's idle and result delays (tests shorten them). */
  uiTimings?: Partial<UiTimings>;
}

export interface Controller {
  readonly config: KioskConfig;
  readonly url: string;
  readonly outbox: OutboxStore;
  readonly upstream: UpstreamLink;
  readonly dropbox: { actor: Actor<DropboxMachine>; ledger: DropboxLedger } | null;
  readonly printer: PrinterActor | null;
  readonly tickets: TicketDesk | null;
  /** The serial scanner, when configured: `onScan` offers each code to the UI. */
  readonly scanner: ScannerDriver | null;
  /** The deposit flow, when the kiosk has a drop box. */
  readonly deposits: DepositDesk | null;
  /** Collection slips, when the kiosk has a drop box (issue #5). */
  readonly collections: CollectionDesk | null;
  /** Paper use and the roll forecast, when the kiosk has a printer (issue #5). */
  readonly paper: PaperWatch | null;
  /** The citizen touch UI's flow (its page is served at `/`). */
  readonly ui: KioskUi;
  stop(reason?: string): Promise<void>;
}

export const OUTBOX_FILE = 'outbox.sqlite';
/** Log lines kept for GET /api/diag/logs. */
const LOG_RING_LINES = 500;

export async function startController(config: KioskConfig, options: ControllerOptions = {}): Promise<Controller> {
  // The last log lines, already redacted, for the technician's diagnostics screen.
  const logRing = createLogRing(LOG_RING_LINES, { forwardTo: process.stdout });
  const log = options.log ?? createLogger({ destination: logRing });
  const openSerial = options.openSerial ?? openSerialPort;

  // One controller per data folder: a second one would reuse seq and ticket numbers.
  const dataDirLock = lockDataDir(config.dataDir);
  let outbox: OutboxStore;
  try {
    outbox = OutboxStore.open({
      file: join(config.dataDir, OUTBOX_FILE),
      kiosk: config.kiosk.id,
      site: config.kiosk.site,
      maxBytes: Math.round(config.upstream.outboxMaxMb * 1024 * 1024),
      log: log.child({ part: 'outbox' }),
    });
  } catch (e) {
    dataDirLock.release();
    throw e;
  }
  // A full disk must not keep the kiosk from starting: recorded once there is room.
  outbox.appendSoon([{ type: 'kiosk.started', data: { version: VERSION } }]);

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
    const ledger = new DropboxLedger(outbox, config.dropbox.id, boxLog, { capacity: config.dropbox.capacity });
    const machine = createDropboxMachine({ ledger, log: boxLog, now: Date.now, boardPort: createBoardPortLogic(openSerial, { batch: (fn) => outbox.transaction(fn) }) });
    const actor = createActor(machine, { input: { box: config.dropbox.id, path: config.dropbox.port, baudRate: config.dropbox.baudRate } });
    actor.subscribe({ error: (err) => boxLog.fatal({ err: (err as Error).message }, 'drop-box machine stopped on an error') });
    actor.start();
    dropbox = { actor, ledger };
  }

  let printer: PrinterActor | null = null;
  if (config.printer) {
    const printerLog = log.child({ part: 'printer' });
    const openPrinter = options.openPrinter ?? createPrinterTransportFactory({ interface: config.printer.interface, baudRate: config.printer.baudRate }, { openSerial });
    const driver = new PrinterDriver({ type: config.printer.type, openTransport: openPrinter, log: printerLog });
    const actor = createActor(createPrinterMachine(driver), { input: { model: config.printer.type } });
    const record = (event: NewEvent): void => {
      try {
        outbox.append([event]);
      } catch (err) {
        printerLog.error({ err: (err as Error).message, event: event.type }, 'printer event could not be stored in the outbox');
      }
    };
    actor.on('paper', (e) => record({ type: 'printer.paper', data: { state: e.state } }));
    actor.on('fault', (e) => record({ type: 'device.fault', data: { device: 'printer', code: e.code, detail: e.detail } }));
    actor.on('recovered', (e) => record({ type: 'device.recovered', data: { device: 'printer', code: e.code } }));
    actor.subscribe({ error: (err) => printerLog.fatal({ err: (err as Error).message }, 'printer machine stopped on an error') });
    actor.start();
    printer = actor;
  }
  const tickets = new TicketDesk({
    config,
    events: outbox,
    central: upstream,
    printer,
    log: log.child({ part: 'tickets' }),
    dataDir: config.dataDir,
    storageFull: () => outbox.isFull(),
    ...(options.now ? { now: options.now } : {}),
    ...(options.ticketTimings ? { timings: options.ticketTimings } : {}),
  }).start();
  outbox.on('space', () => tickets.roomAgain());

  let scanner: ScannerDriver | null = null;
  let stopScannerEvents = (): void => undefined;
  if (config.scanner) {
    const scanLog = log.child({ part: 'scanner' });
    scanner = new ScannerDriver({
      path: config.scanner.port,
      baudRate: config.scanner.baudRate,
      lineEnding: config.scanner.lineEnding,
      openSerial,
      validate: (code) => isAppointmentCode(normalizeAppointmentCode(code)),
      mask: codeHint,
      log: scanLog,
      ...(options.scannerBackoff ? { backoff: options.scannerBackoff } : {}),
    });
    stopScannerEvents = recordScannerEvents(scanner, (e) => outbox.append([e]), scanLog);
    scanner.start();
  }

  let deposits: DepositDesk | null = null;
  if (dropbox) {
    const box = dropbox;
    deposits = new DepositDesk({
      box: box.ledger.box,
      kioskId: config.kiosk.id,
      site: config.kiosk.site,
      locale: config.kiosk.locale,
      timeZone: config.hours?.timezone ?? 'Europe/Lisbon',
      events: outbox,
      ledger: box.ledger,
      dropbox: () => dropboxStatusView(box.actor.getSnapshot(), box.ledger),
      setSlotLight: (mode) => box.actor.send({ type: 'DROPBOX.LED', mode }),
      printer,
      printerType: config.printer?.type ?? null,
      log: log.child({ part: 'deposits' }),
      ...(options.deposits?.clock ? { clock: options.deposits.clock } : {}),
      ...(options.deposits?.dropTimeoutMs ? { dropTimeoutMs: options.deposits.dropTimeoutMs } : {}),
    }).start();
  }

  const timeZone = config.hours?.timezone ?? 'Europe/Lisbon';
  let paper: PaperWatch | null = null;
  if (printer && config.printer) {
    paper = new PaperWatch({
      printer,
      model: config.printer.type,
      rollLengthMm: config.printer.rollLengthMm,
      ticketLengthMm: config.printer.ticketLengthMm ?? null,
      defaultTicketLengthMm: typicalTicketLengthMm(config.printer.type),
      timeZone,
      store: outbox,
      log: log.child({ part: 'paper' }),
    }).start();
  }
  let collections: CollectionDesk | null = null;
  if (dropbox) {
    collections = new CollectionDesk({
      box: dropbox.ledger.box,
      kioskId: config.kiosk.id,
      locale: config.kiosk.locale,
      timeZone,
      outbox,
      printer,
      printerType: config.printer?.type ?? null,
      log: log.child({ part: 'collection' }),
    }).start();
  }

  const refusals = new RefusalEvents((e) => outbox.append([e]), log.child({ part: 'http' }));
  const http = new HttpServer({ host: config.http.host, port: config.http.port, log: log.child({ part: 'http' }), onRefused: refusals.note });
  registerHealthRoutes(http, { upstream, outbox, dropbox, printer, tickets });
  registerTicketRoutes(http, tickets);
  registerKioskRoutes(http, { tickets, scanner, deposits });
  // The touch UI takes tickets, check-ins and deposits through the routes above, over loopback.
  let uiBaseUrl = '';
  const ui = new KioskUi({
    config,
    backend: createHttpUiBackend(() => uiBaseUrl),
    sources: kioskUiSources({ printer, dropbox, upstream }),
    scanner,
    log: log.child({ part: 'ui' }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.uiTimings ? { timings: options.uiTimings } : {}),
  });
  const uiRoutes = registerUiRoutes(http, ui);
  const outboxDiag = trackOutboxForDiagnostics(outbox);
  const diag = registerDiagRoutes(http, {
    diagnostics: config.diagnostics,
    log: log.child({ part: 'diag' }),
    printer: printer ? () => printerDiagnostics(printer.getSnapshot()) : null,
    dropbox: dropbox ? () => dropboxStatusView(dropbox.actor.getSnapshot(), dropbox.ledger) : null,
    scanner: scanner ? () => ({ ...scanner!.status() }) : null,
    upstream: () => upstream.status(),
    outbox: outboxDiag,
    logs: logRing,
    actions: {
      testPrint: printer
        ? async () => {
            const job = encodeTestPage({ type: config.printer!.type, locale: config.kiosk.locale, now: new Date(), timeZone: config.hours?.timezone ?? 'Europe/Lisbon', details: [config.kiosk.id, config.printer!.interface] });
            const r = await requestPrint(printer, job, { isTicket: false });
            return { printed: r.outcome === 'confirmed', detail: r.reason };
          }
        : null,
      setSlotLight: dropbox ? (mode) => dropbox.actor.send({ type: 'DROPBOX.LED', mode }) : null,
      unlockDoor: dropbox ? (ms) => dropbox.actor.send({ type: 'DROPBOX.UNLOCK', ms }) : null,
      rollChanged: paper ? () => paper!.rollChanged('technician') : null,
    },
    paperForecast: paper ? () => paper!.view() : null,
    collection: dropbox ? () => collectionStatus(dropboxStatusView(dropbox.actor.getSnapshot(), dropbox.ledger), collections?.view() ?? null) : null,
    defaultUnlockMs: config.dropbox?.unlockMs ?? 30_000,
    refused: refusals.note,
    record: (e) => {
      outbox.append([e]);
    },
  });
  registerDiagPageRoutes(http);
  const { url } = await http.listen();
  await listenLocalDiag(http, config.dataDir, log.child({ part: 'diag' }));
  const stopKeySwitchWatch = dropbox ? endLockoutOnKeySwitch(dropbox.actor, diag.auth) : () => undefined;
  uiBaseUrl = url;
  ui.start();
  log.info({ url, kiosk: config.kiosk.id, version: VERSION }, 'kiosk controller started');

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
    stop(reason = 'stop') {
      stopping ??= (async () => {
        log.info({ reason }, 'kiosk controller stopping');
        try {
          uiRoutes.stop();
          ui.stop();
          await http.close().catch(() => undefined);
          stopKeySwitchWatch();
          diag.stop(); // records diag.logout for open sessions: before the outbox closes
          refusals.flush();
          outboxDiag.stop();
          deposits?.stop();
          collections?.stop();
          paper?.stop();
          stopScannerEvents();
          await scanner?.stop();
          dropbox?.actor.stop();
          tickets?.stop();
          if (printer) await closePrinter(printer);
          await upstream.stop();
        } finally {
          // Whatever failed above, the data folder is given up, its outbox closed first.
          try {
            outbox.close();
          } finally {
            dataDirLock.release();
          }
        }
        log.info('kiosk controller stopped');
      })();
      return stopping;
    },
  };
}

/** How long the printer connection may take to close on shutdown. */
const PRINTER_CLOSE_TIMEOUT_MS = 2_000;

async function closePrinter(printer: PrinterActor): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, PRINTER_CLOSE_TIMEOUT_MS);
    const sub = printer.subscribe((s) => {
      if (s.matches('disconnected')) done();
    });
    function done(): void {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve();
    }
    printer.send({ type: 'CLOSE' });
  });
  printer.stop();
}
