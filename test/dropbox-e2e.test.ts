/**
 * The drop box end to end: the real controller on a socat pseudo-terminal with the
 * simulated board, publishing to a real Mosquitto. What central receives must match
 * what the board counted, whatever happens on the wire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../src/log.js';
import type { Controller } from '../src/main.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { startPtyBoard, type PtyBoard } from '../sim/board/ptyBoard.js';
import { startKiosk, stopKiosks } from './support/kioskHarness.js';
import { collectEvents, startMosquitto, type EventCollector, type Mosquitto } from './support/mosquitto.js';

const KIOSK = 'lisboa-01-k1';
const SITE = 'lisboa-01';
const EVENTS_TOPIC = `siga/${SITE}/${KIOSK}/events`;
const WAIT_MS = 15_000;

function configFor(dir: string, boardPath: string, brokerUrl: string) {
  return {
    kiosk: { id: KIOSK, site: SITE },
    dataDir: join(dir, 'data'),
    http: { host: '127.0.0.1', port: 0 },
    dropbox: { id: 'box-1', port: boardPath, baudRate: 115200 },
    upstream: { url: brokerUrl, prefix: 'siga' },
  };
}

/** Events received, repeated ids dropped (consumers dedupe by id), in arrival order. */
function deduped(collector: EventCollector): EventEnvelope[] {
  const seen = new Set<string>();
  const out: EventEnvelope[] = [];
  for (const m of collector.messages) {
    const e = JSON.parse(m.payload) as EventEnvelope;
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e);
  }
  return out;
}

const depositsOf = (events: EventEnvelope[]) => events.filter((e) => e.type === 'dropbox.deposit').map((e) => e.data as { count: number; inferred: boolean });
const faultCodes = (events: EventEnvelope[]) => events.filter((e) => e.type === 'device.fault').map((e) => (e.data as { code: string }).code);

function expectSeqInOrder(events: EventEnvelope[]): void {
  const seqs = events.map((e) => e.seq);
  expect(seqs[0]).toBe(1);
  seqs.forEach((s, i) => expect(s).toBe(i + 1));
}

describe('drop box end to end over a PTY and Mosquitto', () => {
  let dir: string;
  let broker: Mosquitto;
  let board: PtyBoard;
  let collector: EventCollector;
  let controller: Controller | null = null;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dropbox-e2e-'));
    broker = await startMosquitto();
    collector = await collectEvents(broker.url, EVENTS_TOPIC);
    await collector.subscribed();
  });

  afterEach(async () => {
    await stopKiosks();
    controller = null;
    await collector.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The real controller on the harness's PTY board (no printer), once its port is open. */
  async function start(): Promise<Controller> {
    const kiosk = await startKiosk({
      brokerUrl: broker.url,
      kioskId: KIOSK,
      site: SITE,
      printer: false,
      board: { on: 'pty', sim: { boardId: 'E2E-1' } },
      config: { upstream: { url: broker.url, prefix: 'siga' } },
      options: { upstreamBackoff: { initialMs: 50, maxMs: 500 } },
      ready: { upstream: false, dropbox: 'port' },
    });
    board = kiosk.pty;
    controller = kiosk.controller;
    return controller;
  }

  const waitForEvents = (pred: (events: EventEnvelope[]) => boolean) => collector.waitFor(() => pred(deduped(collector)), WAIT_MS);

  it('garbage, lost frames and a pulled cable: every envelope arrives once, in seq order', async () => {
    await start();
    board.sim.drop(2);
    await waitForEvents((e) => depositsOf(e).length === 2);

    board.sim.sendRaw(Buffer.from('\x00\xff\xfe garbage $9,DROP,9*00\n$1,DROP,3*7F\n' + 'Z'.repeat(300) + '\n'));
    board.sim.loseNextFrames(6); // every frame of the next two drops
    board.sim.drop(1); // SLOT,1 / SLOT,0 / DROP,3 lost: known from the next heartbeat
    board.sim.drop(1);
    await waitForEvents((e) => depositsOf(e).length === 4);

    await board.unplug();
    board.sim.drop(3); // counted by the board while the cable is out
    await waitForEvents((e) => faultCodes(e).includes('dropbox.offline'));
    await board.replug();
    await waitForEvents((e) => depositsOf(e).length === 7 && e.some((x) => x.type === 'device.recovered'));

    const events = deduped(collector);
    expect(depositsOf(events).map((d) => d.count)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(depositsOf(events).map((d) => d.inferred)).toEqual([false, false, true, true, true, true, true]);
    expect(faultCodes(events)).toContain('dropbox.frames_lost');
    const malformed = controller!.dropbox!.status().counters.malformed;
    expect(malformed.bad_checksum + malformed.not_ascii + malformed.too_long).toBeGreaterThanOrEqual(3);
    expectSeqInOrder(events);
  });

  it('a door forced open is reported as FORCED_DOOR; a collection records the count and resets the board', async () => {
    await start();
    board.sim.drop(3);
    await waitForEvents((e) => depositsOf(e).length === 3);

    board.sim.forceDoor();
    await waitForEvents((e) => e.some((x) => x.type === 'dropbox.tamper' && (x.data as { code: string }).code === 'FORCED_DOOR'));
    board.sim.closeDoor();
    await waitForEvents((e) => e.filter((x) => x.type === 'dropbox.door').length === 2);
    expect(board.sim.state.dropCount).toBe(3);

    controller!.dropbox!.unlock(10_000);
    await board.sim.waitForCommand((c) => c.type === 'UNLOCK', WAIT_MS);
    await vi.waitFor(() => expect(board.sim.openDoor()).toBe(true), { timeout: WAIT_MS });
    await waitForEvents((e) => e.filter((x) => x.type === 'dropbox.door').length === 3);
    board.sim.closeDoor();
    await waitForEvents((e) => e.some((x) => x.type === 'dropbox.collected'));
    await board.sim.waitForCommand((c) => c.type === 'RESET', WAIT_MS);
    await vi.waitFor(() => expect(controller!.dropbox!.status().pendingReset).toBeNull(), { timeout: WAIT_MS });
    expect(board.sim.state.dropCount).toBe(0);

    board.sim.drop(1);
    await waitForEvents((e) => depositsOf(e).length === 4);
    const events = deduped(collector);
    expect(events.filter((x) => x.type === 'dropbox.collected').map((x) => x.data)).toEqual([{ box: 'box-1', count: 3 }]);
    expect(events.filter((x) => x.type === 'dropbox.tamper')).toHaveLength(1);
    expect(depositsOf(events).map((d) => d.count)).toEqual([1, 2, 3, 1]);
    expectSeqInOrder(events);
  });

  it('survives kill -9 while the broker is down: after both restart, every deposit arrives once, in seq order', async () => {
    // `kiosk run` in a child process, not the in-process harness: it is the process that is killed.
    board = await startPtyBoard(dir, { boardId: 'E2E-1' });
    const configFile = join(dir, 'kiosk.json');
    writeFileSync(configFile, JSON.stringify(configFor(dir, board.controllerPath, broker.url)));
    await broker.stop();

    const spawnController = (): ChildProcess => spawn(process.execPath, ['bin/kiosk.js', 'run', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KIOSK_LOG_LEVEL: 'warn' } });
    const outboxDepth = async (): Promise<number> => {
      const { OutboxStore } = await import('../src/upstream/outbox.js');
      // A second reader on the WAL database sees what the controller committed.
      const peek = OutboxStore.open({ file: join(dir, 'data', 'outbox.sqlite'), kiosk: KIOSK, site: SITE, maxBytes: 1 << 30, log: silentLogger() });
      try {
        return peek.depth();
      } finally {
        peek.close();
      }
    };

    let child = spawnController();
    try {
      board.sim.reboot();
      board.sim.drop(5);
      // kiosk.started + 5 deposits are on disk (fsync'd) before we pull the plug.
      await vi.waitFor(async () => expect(await outboxDepth()).toBeGreaterThanOrEqual(6), { timeout: WAIT_MS, interval: 100 });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      board.sim.drop(2); // counted while the controller is dead

      await broker.restart();
      await collector.subscribed(2);
      child = spawnController();
      await collector.waitFor(() => depositsOf(deduped(collector)).length >= 7, WAIT_MS * 2);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
    await board.stop();
    const events = deduped(collector);
    expect(depositsOf(events).map((d) => d.count)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(depositsOf(events).slice(5).every((d) => d.inferred)).toBe(true);
    expect(events.filter((e) => e.type === 'kiosk.started')).toHaveLength(2);
    expectSeqInOrder(events);
  });
});
