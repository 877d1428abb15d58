/**
 * The fault matrix, short form (the long one is `npm run soak`): the real controller as
 * a child process, the simulated board on a PTY, the printer and central simulators and
 * a real Mosquitto behind a TCP proxy. Whatever is done to it, central receives every
 * envelope once, never one more, seq without a gap, and every ticket answered 201
 * exactly once. Figures: docs/reliability.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultRig, sleep } from './support/faultRig.js';

const KILL_CYCLES = 20;

describe('the fault matrix against the real controller', () => {
  let dir: string;
  let rig: FaultRig;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fault-matrix-'));
    rig = await FaultRig.start(dir);
  }, 60_000);
  afterAll(async () => {
    await rig?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${KILL_CYCLES} kill -9 at random moments with envelopes and tickets in flight: nothing lost, nothing invented, no number twice`, async () => {
    for (let cycle = 0; cycle < KILL_CYCLES; cycle++) {
      await rig.startController();
      const tickets = Array.from({ length: 1 + (cycle % 2) }, () => rig.requestTicket());
      for (let i = 0; i < 3; i++) {
        rig.board.sim.drop(1);
        await sleep(Math.random() * 150);
      }
      await sleep(Math.random() * 600);
      await rig.killController();
      await Promise.all(tickets);
      if (cycle % 4 === 0) rig.board.sim.drop(2); // counted while the controller is dead
    }
    await rig.settle(60_000);
    const { problems, figures } = rig.verify();
    expect(problems).toEqual([]);
    expect(figures.kills).toBe(KILL_CYCLES);
    expect(figures.deposits).toBe(figures.envelopes);
  }, 240_000);

  it('broker kill -9 and restart while envelopes are counted: all arrive, in seq order', async () => {
    await rig.startController();
    for (let i = 0; i < 2; i++) {
      rig.board.sim.drop(3);
      await sleep(300);
      await rig.killBroker();
      rig.board.sim.drop(2);
    }
    await rig.settle(60_000);
    expect(rig.verify().problems).toEqual([]);
  }, 120_000);

  it('a half-open broker link (proxy stops forwarding, no FIN): noticed, reconnected, drained in order', async () => {
    await rig.startController();
    const before = rig.proxy.accepted;
    rig.proxy.halfOpenExisting();
    const t0 = Date.now();
    rig.board.sim.drop(4); // published into the void: must be resent on the new connection
    while (rig.proxy.accepted === before && Date.now() - t0 < 60_000) await sleep(100);
    const noticedMs = Date.now() - t0;
    expect(rig.proxy.accepted).toBeGreaterThan(before);
    expect(noticedMs).toBeLessThan(40_000);
    await rig.settle(60_000);
    expect(rig.verify().problems).toEqual([]);
  }, 120_000);

  it('counts that jump, regress and overflow, garbage and 10,000 fuzzed frames: no deposit invented or repeated', async () => {
    await rig.startController();
    for (let i = 0; i < 20; i++) {
      rig.fuzzBoard(500);
      if (i % 5 === 0) rig.board.sim.drop(1);
      await sleep(50);
    }
    await rig.settle(60_000);
    expect(rig.verify().problems).toEqual([]);
  }, 120_000);

  it('2,000 fuzzed HTTP requests: no 5xx; 200 slowloris sockets do not stop the kiosk answering', async () => {
    await rig.startController();
    const fuzz = await rig.fuzzHttp(2000);
    expect(fuzz.serverErrors).toBe(0);
    const stopSlow = rig.slowloris(200);
    try {
      await sleep(1500);
      const t0 = Date.now();
      const res = await fetch(`${rig.url}/api/health`);
      expect(res.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect((await rig.requestTicket()) ?? 0).toBe(201);
    } finally {
      stopSlow();
    }
    await rig.settle(60_000);
    expect(rig.verify().problems).toEqual([]);
  }, 180_000);
});
