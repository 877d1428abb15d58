/**
 * DROP frame written on a real PTY → `dropbox.deposit` fsync'd in the outbox.
 *
 * Measured: per-frame latency (p50/p99) at a paced rate, and sustained frames/s with
 * every envelope accounted for, beside a floor measured in the same run: a bare
 * serialport + ReadlineParser reading its own PTY and inserting each line into
 * better-sqlite3 with synchronous=FULL (one fsync'd insert per frame). The paced frames
 * go to the controller and the floor in alternating blocks, so drift hits both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ReadlineParser } from '@serialport/parser-readline';
import { SerialPort } from 'serialport';
import { createActor } from 'xstate';
import { createBoardPortLogic } from '../devices/board/boardPortActor.js';
import { encodeBoardFrame } from '../devices/board/protocol.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import { silentLogger } from '../src/log.js';
import { DropboxLedger } from '../src/machines/dropboxLedger.js';
import { createDropboxMachine } from '../src/machines/dropboxMachine.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { OutboxStore } from '../src/upstream/outbox.js';
import { createPtyPair, type PtyPair } from '../sim/pty.js';

const BAUD = 115200;
/** Paced run: one frame every this many ms, so each latency is measured alone. */
const PACED_INTERVAL_MS = 2;
/** Paced frames sent to one side before switching to the other. */
const PACED_BLOCK = 100;
const WARMUP_FRAMES = 50;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Sink {
  /** Resolves with the time (hrtime ms) at which count `n` was durably recorded. */
  recordedAt(n: number): Promise<number>;
  close(): Promise<void>;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** When each count was recorded, for whoever asks before or after it happened. */
function recordings() {
  const waiters = new Map<number, (t: number) => void>();
  const done = new Map<number, number>();
  return {
    recorded(n: number, t: number): void {
      const w = waiters.get(n);
      if (w) {
        waiters.delete(n);
        w(t);
      } else done.set(n, t);
    },
    recordedAt(n: number): Promise<number> {
      const t = done.get(n);
      if (t !== undefined) {
        done.delete(n);
        return Promise.resolve(t);
      }
      return new Promise((resolve) => waiters.set(n, resolve));
    },
  };
}

/** The controller's path: port actor → drop-box machine → ledger → outbox (fsync). */
async function controllerSink(pty: PtyPair, dir: string): Promise<Sink> {
  const outbox = OutboxStore.open({ file: join(dir, 'outbox.sqlite'), kiosk: 'bench', site: 'bench', maxBytes: 1 << 30, log: silentLogger() });
  const rec = recordings();
  outbox.on('appended', (events: readonly EventEnvelope[]) => {
    const t = nowMs();
    for (const e of events) if (e.type === 'dropbox.deposit') rec.recorded((e.data as { count: number }).count, t);
  });
  const ledger = new DropboxLedger(outbox, 'box-bench', silentLogger());
  const machine = createDropboxMachine({ ledger, log: silentLogger(), now: Date.now, boardPort: createBoardPortLogic(openSerialPort, { batch: (fn) => outbox.transaction(fn) }) });
  const actor = createActor(machine, { input: { box: 'box-bench', path: pty.controllerPath, baudRate: BAUD } }).start();
  await new Promise<void>((resolve) => {
    const sub = actor.subscribe((s) => {
      if (s.context.portReady) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
  return {
    recordedAt: rec.recordedAt,
    async close() {
      actor.stop();
      outbox.close();
    },
  };
}

/** The floor: bare serialport + ReadlineParser, one fsync'd insert per line. */
async function floorSink(pty: PtyPair, dir: string): Promise<Sink> {
  const db = new Database(join(dir, 'floor.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO events (payload) VALUES (?)');
  const port = new SerialPort({ path: pty.controllerPath, baudRate: BAUD, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const parser = port.pipe(new ReadlineParser({ delimiter: '\n' }));
  const rec = recordings();
  parser.on('data', (line: string) => {
    const n = Number(line.split(',')[2]?.split('*')[0]);
    insert.run(JSON.stringify({ type: 'dropbox.deposit', data: { count: n } }));
    rec.recorded(n, nowMs());
  });
  return {
    recordedAt: rec.recordedAt,
    async close() {
      await new Promise<void>((resolve) => port.close(() => resolve()));
      db.close();
    },
  };
}

/** One side of the measurement: a simulated board on its own PTY, feeding a sink. */
interface Rig {
  /** Sends the next DROP frame and resolves with its latency until durably recorded (ms). */
  dropOne(): Promise<number>;
  /** Sends `frames` DROP frames as fast as the PTY takes them; frames/s until the last is durable. */
  burst(frames: number): Promise<number>;
  close(): Promise<void>;
}

async function openRig(kind: 'controller' | 'floor'): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), `bench-frames-${kind}-`));
  const pty = await createPtyPair(dir);
  const boardEnd = await openSerialPort({ path: pty.boardPath, baudRate: BAUD });
  const sink = kind === 'controller' ? await controllerSink(pty, dir) : await floorSink(pty, dir);
  let seq = 0;
  let count = 0;
  const frame = () => encodeBoardFrame({ seq: seq++ % 65536, type: 'DROP', dropCount: ++count });
  return {
    async dropOne() {
      const line = frame();
      const recorded = sink.recordedAt(count);
      const t0 = nowMs();
      await boardEnd.write(line);
      return (await recorded) - t0;
    },
    async burst(frames) {
      const lines: string[] = [];
      for (let i = 0; i < frames; i++) lines.push(frame());
      const lastRecorded = sink.recordedAt(count);
      const t0 = nowMs();
      for (let i = 0; i < lines.length; i += 64) await boardEnd.write(lines.slice(i, i + 64).join(''));
      return (frames / ((await lastRecorded) - t0)) * 1000;
    },
    async close() {
      await sink.close();
      await boardEnd.close();
      await pty.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function measure(opts: { paced: number; burst: number }) {
  const floor = await openRig('floor');
  const controller = await openRig('controller');
  try {
    for (let i = 0; i < WARMUP_FRAMES; i++) {
      await floor.dropOne();
      await controller.dropOne();
    }
    // Paced latency, in alternating blocks.
    const latencies = { floor: [] as number[], controller: [] as number[] };
    for (let done = 0; done < opts.paced; done += PACED_BLOCK) {
      for (const [rig, into] of [
        [floor, latencies.floor],
        [controller, latencies.controller],
      ] as const) {
        for (let i = 0; i < Math.min(PACED_BLOCK, opts.paced - done); i++) {
          into.push(await rig.dropOne());
          await new Promise((r) => setTimeout(r, PACED_INTERVAL_MS));
        }
      }
    }
    latencies.floor.sort((a, b) => a - b);
    latencies.controller.sort((a, b) => a - b);
    // Sustained: one side at a time, so they do not share the disk.
    const floorRate = await floor.burst(opts.burst);
    const controllerRate = await controller.burst(opts.burst);
    return {
      floor: { p50: percentile(latencies.floor, 50), p99: percentile(latencies.floor, 99), framesPerSecond: floorRate },
      ctrl: { p50: percentile(latencies.controller, 50), p99: percentile(latencies.controller, 99), framesPerSecond: controllerRate },
    };
  } finally {
    await controller.close();
    await floor.close();
  }
}

/** Counts deposits recorded by the controller for a burst, to prove none was lost. */
async function verifyNoneLost(burst: number): Promise<{ recorded: number; inferred: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-frames-verify-'));
  const pty = await createPtyPair(dir);
  const boardEnd = await openSerialPort({ path: pty.boardPath, baudRate: BAUD });
  const sink = await controllerSink(pty, dir);
  const lines: string[] = [];
  for (let i = 0; i < burst; i++) lines.push(encodeBoardFrame({ seq: i % 65536, type: 'DROP', dropCount: i + 1 }));
  const lastRecorded = sink.recordedAt(burst);
  for (let i = 0; i < lines.length; i += 64) await boardEnd.write(lines.slice(i, i + 64).join(''));
  await lastRecorded;
  await sink.close();
  const outbox = OutboxStore.open({ file: join(dir, 'outbox.sqlite'), kiosk: 'bench', site: 'bench', maxBytes: 1 << 30, log: silentLogger() });
  const deposits = outbox.peek(0, burst + 100).map((r) => JSON.parse(r.payload) as EventEnvelope).filter((e) => e.type === 'dropbox.deposit');
  const inferred = deposits.filter((e) => (e.data as { inferred: boolean }).inferred).length;
  outbox.close();
  await boardEnd.close();
  await pty.close();
  rmSync(dir, { recursive: true, force: true });
  return { recorded: deposits.length, inferred };
}

export async function benchFrameLatency(opts: { paced?: number; burst?: number } = {}): Promise<Record<string, number>> {
  const paced = opts.paced ?? 2000;
  const burst = opts.burst ?? 20_000;
  const { floor, ctrl } = await measure({ paced, burst });
  const verify = await verifyNoneLost(burst);
  return {
    'controller p50 ms': ctrl.p50,
    'controller p99 ms': ctrl.p99,
    'floor p50 ms': floor.p50,
    'floor p99 ms': floor.p99,
    'p50 ratio to floor': ctrl.p50 / floor.p50,
    'p99 ratio to floor': ctrl.p99 / floor.p99,
    'controller sustained frames/s': ctrl.framesPerSecond,
    'floor sustained frames/s': floor.framesPerSecond,
    'burst frames': burst,
    'burst deposits recorded': verify.recorded,
    'burst deposits inferred (frames not seen)': verify.inferred,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchFrameLatency();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(44)} ${Number.isInteger(v) ? v : v.toFixed(3)}`);
}
