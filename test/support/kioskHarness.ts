/**
 * The one integration harness: the real controller (`startController`) against the sim/
 * devices, as zwave-js's integrationTest runs the real driver against mock devices. A test
 * names the devices it wants (printer on TCP, board on MockBinding or on a PTY, scanner on
 * MockBinding, central on the broker), extra config and controller options; the harness
 * builds them in a fresh data folder, waits until the controller is ready, and stops it all
 * (newest first) in `stopKiosks()`, which each test file calls after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type KioskConfig } from '../../src/config/schema.js';
import { startController, type Controller, type ControllerOptions } from '../../src/main.js';
import { STATUS_POLL_MS } from '../../src/machines/printerDelays.js';
import { BoardSimulator, type BoardSimulatorOptions } from '../../sim/board/boardSimulator.js';
import { startPtyBoard, type PtyBoard } from '../../sim/board/ptyBoard.js';
import { startCentralSimulator, type CentralSimulator, type CentralSimulatorOptions } from '../../sim/central/centralSimulator.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../../sim/printer/simulatedPrinter.js';
import { createMockSerialFactory, type MockSerialFactory } from '../../sim/serial/mockTransport.js';
import { waitUntil } from './waitUntil.js';

export const MOCK_BOARD_PATH = '/dev/ttyACM0';
export const MOCK_SCANNER_PATH = '/dev/ttyACM1';
/** Long enough for the printer machine to read its status a few times. */
export const PRINTER_READY_MS = STATUS_POLL_MS * 3;

export interface KioskHarnessOptions {
  brokerUrl: string;
  kioskId?: string;
  site?: string;
  /** The simulated Epson printer on TCP (default true). */
  printer?: boolean;
  /** The simulated board: on a MockBinding port, or on a real PTY pair (socat). */
  board?: { on: 'mock'; attached?: boolean; sim?: BoardSimulatorOptions } | { on: 'pty'; sim?: BoardSimulatorOptions };
  /** A scanner on MockBinding at MOCK_SCANNER_PATH. */
  scanner?: boolean;
  /** The simulated central on the broker (services default to the config's). */
  central?: Partial<Omit<CentralSimulatorOptions, 'url' | 'prefix' | 'site'>>;
  /** Config keys over the harness's (kiosk, dataDir, http, printer, dropbox, scanner, upstream). */
  config?: Record<string, unknown>;
  options?: ControllerOptions;
  /** What to wait for before the test starts (default: printer ready, upstream connected, board online). */
  ready?: { printer?: boolean; upstream?: boolean; dropbox?: 'online' | 'port' | false };
}

export interface Kiosk {
  controller: Controller;
  config: KioskConfig;
  dataDir: string;
  /** The devices asked for; reading one that was not asked for throws. */
  readonly printer: SimulatedPrinter;
  readonly central: CentralSimulator;
  /** The board simulator, on MockBinding or behind the PTY. */
  readonly board: BoardSimulator;
  readonly pty: PtyBoard;
  serial: MockSerialFactory;
  /** A request to the controller's HTTP API; JSON bodies in and out. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  /** Stops the controller and starts it again on the same data folder and devices. */
  restart(): Promise<void>;
}

const running: Array<() => Promise<void> | void> = [];
let kioskNo = 0;

export async function startKiosk(opts: KioskHarnessOptions): Promise<Kiosk> {
  kioskNo++;
  const site = opts.site ?? `site-${process.pid}-${kioskNo}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'kiosk-it-'));
  running.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const serial = createMockSerialFactory();

  let printer: SimulatedPrinter | null = null;
  if (opts.printer !== false) {
    const p = await startSimulatedPrinter();
    running.push(() => p.close());
    printer = p;
  }
  let board: BoardSimulator | null = null;
  let pty: PtyBoard | null = null;
  let boardPath: string | null = null;
  if (opts.board?.on === 'mock') {
    const sim = new BoardSimulator({ boardId: 'IT-1', heartbeatMs: 200, ...opts.board.sim });
    if (opts.board.attached !== false) sim.attach(serial.deviceEnd(MOCK_BOARD_PATH));
    sim.start();
    running.push(() => sim.stop());
    board = sim;
    boardPath = MOCK_BOARD_PATH;
  } else if (opts.board?.on === 'pty') {
    const b = await startPtyBoard(dataDir, { boardId: 'IT-1', ...opts.board.sim });
    running.push(() => b.stop());
    pty = b;
    board = b.sim;
    boardPath = b.controllerPath;
  }

  const config = configSchema.parse({
    kiosk: { id: opts.kioskId ?? `k${kioskNo}-k1`, site, locale: 'pt-PT' },
    dataDir: join(dataDir, 'data'),
    http: { host: '127.0.0.1', port: 0 },
    ...(printer ? { printer: { type: 'epson', interface: `tcp://127.0.0.1:${printer.port}` } } : {}),
    ...(boardPath ? { dropbox: { id: 'box-1', port: boardPath, baudRate: 115200 } } : {}),
    ...(opts.scanner ? { scanner: { port: MOCK_SCANNER_PATH, baudRate: 9600 } } : {}),
    upstream: { url: opts.brokerUrl, prefix: 'siga', requestTimeoutMs: 300 },
    ...opts.config,
  });

  let central: CentralSimulator | null = null;
  if (opts.central) {
    const c = await startCentralSimulator({ services: config.services, ...opts.central, url: opts.brokerUrl, prefix: 'siga', site: config.kiosk.site });
    running.push(() => c.close());
    central = c;
  }

  // A board on a PTY is opened through the real serialport, as on a kiosk; else MockBinding.
  const seam = opts.board?.on === 'pty' ? {} : { openSerial: serial };
  const options: ControllerOptions = { logTo: null, ...seam, upstreamBackoff: { initialMs: 20, maxMs: 100 }, ...opts.options };
  const ready = async (c: Controller): Promise<void> => {
    const want = { printer: true, upstream: true, dropbox: 'online' as const, ...opts.ready };
    if (want.printer && c.printer) await waitUntil('printer ready', () => c.printer!.status().ready, { timeoutMs: PRINTER_READY_MS });
    if (want.upstream) await waitUntil('upstream connected', () => c.upstream.status().connected);
    const attached = opts.board?.on === 'pty' || (opts.board?.on === 'mock' && opts.board.attached !== false);
    if (c.dropbox && attached && want.dropbox === 'online') await waitUntil('drop box online', () => c.dropbox!.status().state === 'online', { timeoutMs: 15_000 });
    if (c.dropbox && attached && want.dropbox === 'port') await waitUntil('drop-box port open', () => c.dropbox!.status().port.link === 'ready', { timeoutMs: 15_000 });
  };

  const kiosk: Kiosk = {
    controller: await startController(config, options),
    config,
    dataDir: config.dataDir,
    get printer() {
      return present(printer, 'a simulated printer');
    },
    get central() {
      return present(central, 'a simulated central');
    },
    get board() {
      return present(board, 'a simulated board');
    },
    get pty() {
      return present(pty, 'a board on a PTY');
    },
    serial,
    async request(method, path, body, headers) {
      const res = await fetch(`${kiosk.controller.url}${path}`, {
        method,
        headers: headers ?? (body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown>, headers: res.headers };
    },
    async restart() {
      await kiosk.controller.stop('test restart');
      kiosk.controller = await startController(config, options);
      await ready(kiosk.controller);
    },
  };
  running.push(() => kiosk.controller.stop('test end'));
  await ready(kiosk.controller);
  return kiosk;
}

function present<T>(device: T | null, what: string): T {
  if (device === null) throw new Error(`this kiosk was started without ${what}`);
  return device;
}

/** Stops every kiosk the harness started, and its devices, newest first. Call in afterEach/afterAll. */
export async function stopKiosks(): Promise<void> {
  for (let stop = running.pop(); stop; stop = running.pop()) await stop();
}
