/**
 * The drop-box boards side by side: the reference firmware on the emulated ATmega328P
 * (firmware/sim) and the TypeScript board simulator, each on its own pseudo-terminal,
 * each read by the controller's own path (port actor → drop-box machine → ledger →
 * outbox, fsync'd).
 *
 *  - frame → fsync: one envelope at a time; from the moment its DROP line is handed to
 *    the PTY (the harness stamps it with CLOCK_MONOTONIC; for the TypeScript board, the
 *    write of the line) to the `dropbox.deposit` committed.
 *  - frames/s: STATUS commands sent back to back, each answered with four frames; the
 *    frames received per second (the firmware's UART at 115200 baud is the limit).
 *  - envelopes/s: a run of envelopes down the chute as fast as the board counts them,
 *    until the last deposit is committed (the firmware saves each count in EEPROM first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor } from 'xstate';
import { createBoardPortLogic } from '../devices/board/boardPortActor.js';
import { LineFramer, encodeCommand } from '../devices/board/protocol.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import type { SerialTransport } from '../devices/serial/transport.js';
import { silentLogger } from '../src/log.js';
import { DropboxLedger } from '../src/machines/dropboxLedger.js';
import { createDropboxMachine } from '../src/machines/dropboxMachine.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { OutboxStore } from '../src/upstream/outbox.js';
import { startFirmwareBoard, type FirmwareBoard } from '../sim/firmware/firmwareBoard.js';
import { createPtyPair } from '../sim/pty.js';

const BAUD = 115200;
/** Between paced envelopes, so each latency is measured alone. */
const PACED_GAP_MS = 30;
/** How long STATUS commands are sent back to back for the frame rate. */
const FLOOD_MS = 3000;
/** STATUS commands unanswered at a time during the flood. */
const FLOOD_WINDOW = 4;
/** STATUS is answered with HB, DOOR, FILL and SLOT; the TypeScript board ACKs it first too. */
const FIRMWARE_FRAMES_PER_STATUS = 4;
const TS_BOARD_FRAMES_PER_STATUS = 5;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The controller's drop-box path on `path`; resolves counts as their deposits are committed. */
async function controllerOn(path: string, dir: string) {
  const outbox = OutboxStore.open({ file: join(dir, 'outbox.sqlite'), kiosk: 'bench', site: 'bench', maxBytes: 1 << 30, log: silentLogger() });
  const committed = new Map<number, number>();
  const waiters = new Map<number, (t: number) => void>();
  outbox.on('appended', (events: readonly EventEnvelope[]) => {
    const t = nowMs();
    for (const e of events) {
      if (e.type !== 'dropbox.deposit') continue;
      const n = (e.data as { count: number }).count;
      const w = waiters.get(n);
      if (w) {
        waiters.delete(n);
        w(t);
      } else committed.set(n, t);
    }
  });
  const ledger = new DropboxLedger(outbox, 'box-bench', silentLogger());
  const machine = createDropboxMachine({ ledger, log: silentLogger(), now: Date.now, boardPort: createBoardPortLogic(openSerialPort, { batch: (fn) => outbox.transaction(fn) }) });
  const actor = createActor(machine, { input: { box: 'box-bench', path, baudRate: BAUD } }).start();
  await new Promise<void>((resolve) => {
    const sub = actor.subscribe((s) => {
      if (s.context.portReady && s.context.lastFrameAt !== null) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
  return {
    committedAt(n: number): Promise<number> {
      const t = committed.get(n);
      if (t !== undefined) return Promise.resolve(t);
      return new Promise((resolve) => waiters.set(n, resolve));
    },
    deposits: () => actor.getSnapshot().context.dropCount,
    stop() {
      actor.stop();
      outbox.close();
    },
  };
}

/**
 * Frames per second a board answers STATUS with, read raw from `port`: at most
 * FLOOD_WINDOW commands unanswered at a time, so the rate is the board's sending, not
 * its receive buffer overflowing with commands it has no time to answer.
 */
async function statusFlood(port: SerialTransport, version: 1 | 2, framesPerStatus: number): Promise<number> {
  const framer = new LineFramer();
  let frames = 0;
  let wake: (() => void) | null = null;
  port.onData((chunk) => {
    for (const item of framer.push(chunk)) if (item.ok) frames++;
    wake?.();
  });
  await new Promise((r) => setTimeout(r, 1500)); // whatever the board had queued goes by
  let seq = 0;
  let sent = 0;
  const base = frames;
  const start = nowMs();
  while (nowMs() - start < FLOOD_MS) {
    while (sent - (frames - base) / framesPerStatus < FLOOD_WINDOW && nowMs() - start < FLOOD_MS) {
      await port.write(encodeCommand(seq++ % 65536, { type: 'STATUS' }, version));
      sent++;
    }
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 50);
    });
    wake = null;
  }
  return ((frames - base) / (nowMs() - start)) * 1000;
}

async function firmwareSide(paced: number, run: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-board-fw-'));
  let board: FirmwareBoard | null = null;
  try {
    board = await startFirmwareBoard(dir);
    const ctrl = await controllerOn(board.controllerPath, dir);
    const latencies: number[] = [];
    for (let n = 1; n <= paced; n++) {
      await board.queueSteps(1, [['drop', true, 5], ['drop', false, 5]]);
      const committed = await ctrl.committedAt(n);
      const state = await board.state();
      latencies.push(committed - state.lastDropLineAtMs);
      await new Promise((r) => setTimeout(r, PACED_GAP_MS));
    }
    // Envelopes as fast as the board counts them (5 ms in the beam, 5 ms out).
    const t0 = nowMs();
    await board.queueSteps(run, [['drop', true, 5], ['drop', false, 5]]);
    await ctrl.committedAt(paced + run);
    const envelopesPerSecond = (run / (nowMs() - t0)) * 1000;
    ctrl.stop();
    const raw = await openSerialPort({ path: board.controllerPath, baudRate: BAUD });
    const framesPerSecond = await statusFlood(raw, 2, FIRMWARE_FRAMES_PER_STATUS);
    await raw.close();
    const state = await board.state();
    latencies.sort((a, b) => a - b);
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), framesPerSecond, envelopesPerSecond, lost: state.lines.overruns, badLines: state.lines.bad_checksum + state.lines.bad_syntax + state.lines.too_long };
  } finally {
    await board?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function typescriptSide(paced: number, run: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-board-ts-'));
  const pty = await createPtyPair(dir);
  const boardEnd = await openSerialPort({ path: pty.boardPath, baudRate: BAUD });
  const { BoardSimulator } = await import('../sim/board/boardSimulator.js');
  const sim = new BoardSimulator({ protocolVersion: 2, heartbeatMs: 1000 });
  const writeTimes = new Map<number, number>();
  sim.attach({
    write: (data) => {
      const text = data.toString();
      const m = /,DROP,(\d+)\*/.exec(text);
      const p = boardEnd.write(data);
      if (m) writeTimes.set(Number(m[1]), nowMs());
      return p;
    },
    onData: (l) => boardEnd.onData(l),
  });
  sim.start();
  try {
    const ctrl = await controllerOn(pty.controllerPath, dir);
    const latencies: number[] = [];
    for (let n = 1; n <= paced; n++) {
      sim.drop(1);
      const committed = await ctrl.committedAt(n);
      latencies.push(committed - writeTimes.get(n)!);
      await new Promise((r) => setTimeout(r, PACED_GAP_MS));
    }
    const t0 = nowMs();
    for (let i = 0; i < run; i += 50) {
      sim.drop(Math.min(50, run - i));
      await new Promise((r) => setImmediate(r));
    }
    await ctrl.committedAt(paced + run);
    const envelopesPerSecond = (run / (nowMs() - t0)) * 1000;
    ctrl.stop();
    const raw = await openSerialPort({ path: pty.controllerPath, baudRate: BAUD });
    const framesPerSecond = await statusFlood(raw, 2, TS_BOARD_FRAMES_PER_STATUS);
    await raw.close();
    latencies.sort((a, b) => a - b);
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), framesPerSecond, envelopesPerSecond };
  } finally {
    sim.stop();
    await boardEnd.close();
    await pty.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchBoards(opts: { paced?: number; run?: number } = {}): Promise<Record<string, number>> {
  const paced = opts.paced ?? 200;
  const run = opts.run ?? 500;
  const ts = await typescriptSide(paced, run);
  const fw = await firmwareSide(paced, run);
  return {
    'firmware frame→fsync p50 ms': fw.p50,
    'firmware frame→fsync p99 ms': fw.p99,
    'typescript board frame→fsync p50 ms': ts.p50,
    'typescript board frame→fsync p99 ms': ts.p99,
    'p50 ratio firmware / typescript board': fw.p50 / ts.p50,
    'p99 ratio firmware / typescript board': fw.p99 / ts.p99,
    'firmware frames/s (STATUS flood)': fw.framesPerSecond,
    'typescript board frames/s (STATUS flood)': ts.framesPerSecond,
    'firmware envelopes/s counted and committed': fw.envelopesPerSecond,
    'typescript board envelopes/s counted and committed': ts.envelopesPerSecond,
    'firmware bytes lost to a full receive ring': fw.lost,
    'firmware lines refused (checksum, syntax, length)': fw.badLines,
    'paced envelopes per board': paced,
    'envelopes in the run': run,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchBoards();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(52)} ${Number.isInteger(v) ? v : v.toFixed(3)}`);
}
