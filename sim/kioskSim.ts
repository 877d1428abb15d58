/**
 * `kiosk sim` / `npm start`: the whole kiosk on simulated hardware, no config needed.
 *
 *   embedded MQTT broker (aedes) ← controller → simulated central (numbers tickets, logs events)
 *   drop-box board simulator on a real pseudo-terminal pair (socat) ← controller's serialport
 *   Epson-like TCP printer simulator ← controller; every job rendered to text and PNG
 *
 * The controller is the real one (`startController`), on real serial and TCP seams.
 * A newcomer watches events arrive at central in the terminal and drives the devices
 * with one-letter commands (type `h` and Enter).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { SimCommandOptions } from '../src/cli/main.js';
import { SIM_ACCESSIBILITY_HELP } from '../src/cli/simHelp.js';
import { parseConfig } from '../src/config/load.js';
import type { KioskConfig } from '../src/config/schema.js';
import { startController, type Controller } from '../src/main.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { startPtyBoard, type PtyBoard } from './board/ptyBoard.js';
import { createSimHeadset, type SimHeadset } from './headset/simHeadset.js';
import { typescriptBoardOf, type BoardKind, type SimulatedBoard } from './board/simulatedBoard.js';
import { startFirmwareBoard, type FirmwareBoard } from './firmware/firmwareBoard.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { startCentralSimulator, type CentralSimulator } from './central/centralSimulator.js';
import { hashPin } from '../src/http/pin.js';
import { startSimulatedPrinter, type SimulatedPrinter } from './printer/simulatedPrinter.js';
import { startPtyScanner, type PtyScanner } from './scanner/scannerSimulator.js';

/**
 * Appointments the simulated central knows from the start, relative to the sim's start
 * (central accepts check-in from 30 min before to 15 min after): scan or type them.
 */
export const SIM_APPOINTMENTS = [
  { code: 'SIM-ON-TIME', service: 'prestacoes', offsetMin: 0, what: 'on time' },
  { code: 'SIM-EARLY', service: 'contribuicoes', offsetMin: 120, what: 'too early (in 2 h)' },
  { code: 'SIM-LATE', service: 'prestacoes', offsetMin: -120, what: 'too late (2 h ago)' },
] as const;

/** How often the demo drops an envelope on its own (0 turns it off with --no-auto). */
const AUTO_DROP_EVERY_MS = 15_000;
const LIVE_VIEW_POLL_MS = 200;

export const SIM_SERVICES = [
  { id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' }, online: true },
  { id: 'contribuicoes', prefix: 'C', name: { 'pt-PT': 'Contribuições', en: 'Contributions' }, online: true },
  { id: 'atendimento-geral', prefix: 'G', name: { 'pt-PT': 'Atendimento geral', en: 'General enquiries' } },
];

/** The simulator's diagnostics PIN, printed at start (a demo kiosk, not a secret). */
export const SIM_DIAG_PIN = '1234';

export interface KioskSim {
  controller: Controller;
  /** The TypeScript board simulator (protocol v2) on its PTY. */
  board: PtyBoard;
  /** The same board through the interface every board has. */
  device: SimulatedBoard;
  scanner: PtyScanner;
  printer: SimulatedPrinter;
  central: CentralSimulator;
  broker: EmbeddedBroker;
  dataDir: string;
  /** The headset jack, a FIFO of evdev records read by the controller's headset reader. */
  headset: SimHeadset;
  /** Where each utterance is written (NNNNNN.wav + NNNNNN.json, CONTRACT §7). */
  speechDir: string;
  stop(): Promise<void>;
}

/** `kiosk sim --board firmware`: the reference firmware on the emulator instead. */
export type FirmwareKioskSim = Omit<KioskSim, 'board'> & { board: FirmwareBoard };

export interface StartKioskSimOptions {
  /** Which board the drop box has (default: the TypeScript simulator). */
  board?: BoardKind;
  httpPort?: number;
  httpHost?: string;
  dataDir?: string;
  /** Log level of the controller; 'warn' keeps the terminal readable. */
  logLevel?: string;
}

export function startKioskSim(opts: StartKioskSimOptions & { board: 'firmware' }): Promise<FirmwareKioskSim>;
export function startKioskSim(opts?: StartKioskSimOptions & { board?: 'typescript' }): Promise<KioskSim>;
export function startKioskSim(opts?: StartKioskSimOptions): Promise<KioskSim | FirmwareKioskSim>;
export async function startKioskSim(opts: StartKioskSimOptions = {}): Promise<KioskSim | FirmwareKioskSim> {
  const dataDir = resolve(opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kiosk-sim-')));
  mkdirSync(dataDir, { recursive: true });
  const devDir = join(dataDir, 'devices');
  mkdirSync(devDir, { recursive: true });
  const ticketsDir = join(dataDir, 'printed');

  const stops: Array<() => Promise<void>> = [];
  try {
    const broker = await startEmbeddedBroker({ port: 0 });
    stops.push(() => broker.close());
    const central = await startCentralSimulator({ url: broker.url, prefix: 'siga', site: 'lisboa-01', services: SIM_SERVICES, servedPerMinute: 1 });
    stops.push(() => central.close());
    const board: PtyBoard | FirmwareBoard =
      opts.board === 'firmware'
        ? await startFirmwareBoard(devDir, { eepromFile: join(dataDir, 'board-eeprom.bin') })
        : await startPtyBoard(devDir, { boardId: 'SIM-BOX-1', firmware: 'sim-1.0.0', protocolVersion: 2 });
    stops.push(() => board.stop());
    const device: SimulatedBoard = 'sim' in board ? typescriptBoardOf(board) : board;
    const scanner = await startPtyScanner(devDir);
    stops.push(() => scanner.stop());
    const startedAt = Date.now();
    for (const a of SIM_APPOINTMENTS) central.addAppointment({ code: a.code, service: a.service, at: new Date(startedAt + a.offsetMin * 60_000) });
    const printer = await startSimulatedPrinter({ port: 0, outDir: ticketsDir });
    stops.push(() => printer.close());
    const headset = await createSimHeadset(join(devDir, 'headset'));
    stops.push(() => headset.close());
    const speechDir = join(dataDir, 'speech');

    const config: KioskConfig = parseConfig(
      {
        kiosk: { id: 'lisboa-01-k1', site: 'lisboa-01', locale: 'pt-PT' },
        dataDir,
        http: { host: opts.httpHost ?? '127.0.0.1', port: opts.httpPort ?? 8080 },
        printer: { type: 'epson', interface: `tcp://127.0.0.1:${printer.port}` },
        dropbox: { id: 'box-1', port: board.controllerPath, baudRate: 115200 },
        scanner: { port: scanner.controllerPath, baudRate: 9600 },
        upstream: { url: broker.url, prefix: 'siga', requestTimeoutMs: 1500 },
        services: SIM_SERVICES,
        accessibility: { speech: `dir:${speechDir}`, headset: headset.path, volume: 60 },
        diagnostics: { pinHash: await hashPin(SIM_DIAG_PIN) },
      },
      join(dataDir, 'sim-config.json'),
    );
    const controller = await startController(config, {
      logLevel: opts.logLevel ?? process.env.KIOSK_LOG_LEVEL ?? 'warn',
    });
    stops.push(() => controller.stop('sim stopped'));

    return {
      controller,
      board,
      device,
      scanner,
      printer,
      central,
      broker,
      dataDir,
      headset,
      speechDir,
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    } as KioskSim | FirmwareKioskSim;
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

/** One readable line per event central receives. */
export function describeEvent(e: EventEnvelope): string {
  const d = e.data as Record<string, unknown>;
  const time = e.ts.slice(11, 19);
  switch (e.type) {
    case 'dropbox.deposit':
      return `${time} #${e.seq} envelope ${String(d.count)} in ${String(d.box)}${d.inferred ? ' (inferred: frame not seen)' : ''}${d.receipt ? ` for receipt ${String(d.receipt)}` : ''}`;
    case 'dropbox.collected':
      return `${time} #${e.seq} ${String(d.box)} collected: ${String(d.count)} envelopes`;
    case 'ticket.issued':
      return `${time} #${e.seq} ticket ${String(d.ticket)} (${String(d.service)})${d.offline ? ' OFFLINE' : ''}, ${String(d.peopleAhead ?? '?')} ahead`;
    case 'device.fault':
      return `${time} #${e.seq} FAULT ${String(d.device)}: ${String(d.code)} — ${String(d.detail)}`;
    case 'device.recovered':
      return `${time} #${e.seq} recovered ${String(d.device)}: ${String(d.code)}`;
    case 'kiosk.help_requested':
      return `${time} #${e.seq} HELP asked on screen ${String(d.screen)} (${String(d.language)}): staff, please go to the kiosk`;
    default:
      return `${time} #${e.seq} ${e.type} ${JSON.stringify(d)}`;
  }
}

const HELP = `commands (type a letter and Enter):
  d [n]   drop n envelopes            o   door opened by force
  u       unlock + open + close door (a collection)
  f <p>   fill level p %              t   tamper (shock)
  k       key switch on/off           g   garbage on the serial line
  l <n>   lose the next n frames      p   pull the board cable / plug it back
  r       power-cycle the board       s   silence the board / let it speak
  P       printer paper out / refill  c   printer cover open / closed
  x       central silent / answering  q   quit
  a <code>  scan a code (default SIM-ON-TIME)   A   pull the scanner cable / plug it back
  e       plug the headset in / unplug it (speech mode: what is said is shown below as "said")`;

/** Reads the utterances written since `after` (their JSON, written once the WAV is complete). */
export function readUtterances(dir: string, after = 0): Array<{ n: number; text: string; lang: string; screen: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => /^(\d{6})\.json$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) > after)
    .map((m) => ({ n: Number(m[1]), ...(JSON.parse(readFileSync(join(dir, m[0]), 'utf8')) as { text: string; lang: string; screen: string }) }))
    .sort((a, b) => a.n - b.n);
}

export async function runKioskSim(opts: SimCommandOptions): Promise<void> {
  const sim = await startKioskSim({ httpPort: opts.port, httpHost: opts.host, board: opts.board ?? 'typescript', ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
  const { device, scanner, printer, central, controller } = sim;
  // Faults on the wire only the TypeScript board can make (the firmware is a real board).
  const tsBoard = 'sim' in sim.board ? sim.board.sim : null;
  const onlyTs = (what: string, act: (b: NonNullable<typeof tsBoard>) => void) => {
    if (tsBoard) act(tsBoard);
    else console.log(`${what}: only the TypeScript board can do that (kiosk sim --board typescript)`);
  };
  const report = (p: Promise<unknown>) => void p.catch((e: Error) => console.error(e.message));
  console.log(`kiosk simulator running
  drop-box board     ${device.kind === 'firmware' ? 'reference firmware on an emulated ATmega328P (simavr)' : 'TypeScript board simulator'}, protocol v2
  touch UI and API   ${controller.url}/   (health: ${controller.url}/api/health)
  diagnostics        ${controller.url}/diag   demo PIN ${SIM_DIAG_PIN}  (kiosk diag status --url ${controller.url})
  printed tickets    ${join(sim.dataDir, 'printed')}  (job-NNNN.txt and .png)
  MQTT broker        ${sim.broker.url}  (topics siga/lisboa-01/#)
  board serial port  ${device.controllerPath}
  scanner port       ${scanner.controllerPath}  (type a <code> to scan)
  appointments       ${SIM_APPOINTMENTS.map((a) => `${a.code} (${a.what})`).join(', ')}
  data               ${sim.dataDir}
  headset (FIFO)     ${sim.headset.path}  (type e to plug in / unplug)
  speech             ${sim.speechDir}  (NNNNNN.wav + NNNNNN.json)
${SIM_ACCESSIBILITY_HELP}
Events below are what central receives. An envelope drops every ${AUTO_DROP_EVERY_MS / 1000} s; type h for commands.`);

  let shown = 0;
  let spoken = readUtterances(sim.speechDir).at(-1)?.n ?? 0;
  const live = setInterval(() => {
    const events = central.events();
    for (; shown < events.length; shown++) console.log(describeEvent(events[shown]!));
    for (const u of readUtterances(sim.speechDir, spoken)) {
      spoken = u.n;
      console.log(`said [${u.lang} ${u.screen}] ${u.text}`);
    }
  }, LIVE_VIEW_POLL_MS);
  const auto = setInterval(() => report(device.drop(1)), AUTO_DROP_EVERY_MS);

  let unplugged = false;
  let silent = false;
  let paperOut = false;
  let coverOpen = false;
  let centralSilent = false;
  let scannerUnplugged = false;
  let keyOn = false;
  const rl = process.stdin.isTTY || process.env.KIOSK_SIM_COMMANDS ? createInterface({ input: process.stdin }) : null;
  const done = new Promise<void>((resolveDone) => {
    const finish = () => resolveDone();
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    rl?.on('line', (line) => {
      const [cmd, arg] = line.trim().split(/\s+/);
      const n = Number(arg ?? '1');
      switch (cmd) {
        case 'd':
          report(device.drop(Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : 1));
          break;
        case 'o':
          report(device.forceDoor());
          setTimeout(() => report(device.closeDoor()), 2000);
          break;
        case 'u':
          controller.dropbox?.unlock(30_000);
          setTimeout(() => report(device.openDoor()), 500);
          setTimeout(() => report(device.closeDoor()), 3000);
          break;
        case 'f':
          report(device.fill(Math.max(0, Math.min(100, Number.isFinite(n) ? n : 50))));
          break;
        case 't':
          report(device.tamper('SHOCK'));
          break;
        case 'k':
          keyOn = !keyOn;
          report(device.key(keyOn));
          break;
        case 'g':
          onlyTs('garbage', (b) => b.sendRaw(Buffer.from('\x00\xff$12,DROP,1*00\nnoise without end')));
          break;
        case 'l':
          onlyTs('lost frames', (b) => b.loseNextFrames(Number.isInteger(n) && n > 0 ? n : 3));
          break;
        case 'p':
          unplugged = !unplugged;
          report(unplugged ? device.unplug() : device.replug());
          console.log(unplugged ? 'board cable pulled' : 'board cable plugged back');
          break;
        case 'r':
          report(device.powerCycle());
          break;
        case 's':
          silent = !silent;
          onlyTs('silence', (b) => b.silence(silent));
          break;
        case 'P':
          paperOut = !paperOut;
          if (paperOut) printer.setStatus({ paper: 'out' });
          else printer.refill();
          console.log(paperOut ? 'printer: paper out' : 'printer: refilled');
          break;
        case 'c':
          coverOpen = !coverOpen;
          printer.setStatus({ coverOpen });
          break;
        case 'x':
          centralSilent = !centralSilent;
          central.silent(centralSilent);
          console.log(centralSilent ? 'central silent' : 'central answering');
          break;
        case 'a':
          void scanner.scan(arg ?? SIM_APPOINTMENTS[0].code).catch((e: Error) => console.error(e.message));
          break;
        case 'A':
          scannerUnplugged = !scannerUnplugged;
          void (scannerUnplugged ? scanner.unplug() : scanner.replug()).catch((e: Error) => console.error(e.message));
          console.log(scannerUnplugged ? 'scanner cable pulled' : 'scanner cable plugged back');
          break;
        case 'e':
          void (sim.headset.plugged() ? sim.headset.unplug() : sim.headset.plug())
            .then(() => console.log(sim.headset.plugged() ? 'headset plugged in: speech mode' : 'headset unplugged'))
            .catch((e: Error) => console.error(e.message));
          break;
        case 'q':
          finish();
          break;
        case 'h':
        case '':
        case undefined:
          console.log(HELP);
          break;
        default:
          console.log(`unknown command "${cmd}"; type h for help`);
      }
    });
  });
  await done;
  clearInterval(live);
  clearInterval(auto);
  rl?.close();
  await sim.stop();
  console.log('kiosk simulator stopped');
}
