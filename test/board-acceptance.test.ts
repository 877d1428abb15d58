/**
 * The drop-box acceptance scenarios, run on both boards: the TypeScript board
 * simulator (protocol v2) and the reference firmware on an emulated ATmega328P. The
 * controller is the real one on a real pseudo-terminal; what counts is what central
 * receives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checksum, formatFrame, parseFrame } from '../devices/board/protocol.js';
import type { TypescriptBoard } from '../sim/board/simulatedBoard.js';
import { BOARD_KINDS } from '../sim/board/startBoard.js';
import { RIG_WAIT_MS, depositsOf, faultCodes, ofType, startDropboxRig, type DropboxRig } from './support/dropboxRig.js';

const SCENARIO_MS = 90_000;

describe.each(BOARD_KINDS)('the drop box with the %s board', (kind) => {
  let rig: DropboxRig | null = null;
  const start = async () => {
    rig = await startDropboxRig(kind, { typescript: { protocolVersion: 2, boardId: 'TS-1' } });
    await rig.waitForEvents('the board online', () => rig!.controller.dropbox!.status().lastFrameAt !== null);
    return rig;
  };
  afterEach(async () => {
    await rig?.stop();
    rig = null;
  });

  it(
    'counts every envelope exactly once, also those dropped while the cable was out',
    async () => {
      const r = await start();
      await r.board.drop(2);
      await r.waitForEvents('2 deposits', (e) => depositsOf(e).length === 2);

      await r.board.unplug();
      await r.board.drop(3);
      await r.waitForEvents('the board offline', (e) => faultCodes(e).includes('dropbox.offline'));
      await r.board.replug();
      const events = await r.waitForEvents('5 deposits and the recovery', (e) => depositsOf(e).length === 5 && e.some((x) => x.type === 'device.recovered'));

      expect(depositsOf(events).map((d) => d.count)).toEqual([1, 2, 3, 4, 5]);
      expect(depositsOf(events).map((d) => d.inferred)).toEqual([false, false, true, true, true]);
      expect(r.controller.dropbox!.status().counters.malformed.bad_checksum).toBe(0);
    },
    SCENARIO_MS,
  );

  it(
    'reports a forced door, then an authorised collection: UNLOCK, door open and closed, RESET acknowledged',
    async () => {
      const r = await start();
      await r.board.drop(3);
      await r.waitForEvents('3 deposits', (e) => depositsOf(e).length === 3);

      await r.board.forceDoor();
      await r.waitForEvents('FORCED_DOOR', (e) => ofType(e, 'dropbox.tamper').some((d) => d.code === 'FORCED_DOOR'));
      await r.board.closeDoor();
      await r.waitForEvents('the door closed', (e) => ofType(e, 'dropbox.door').length === 2);
      expect(ofType(r.events(), 'dropbox.collected')).toEqual([]);

      r.controller.dropbox!.unlock(10_000);
      const deadline = Date.now() + RIG_WAIT_MS;
      while (!(await r.board.openDoor())) {
        if (Date.now() > deadline) throw new Error('the lock was never released');
        await new Promise((res) => setTimeout(res, 50));
      }
      await r.waitForEvents('the door opened', (e) => ofType(e, 'dropbox.door').length === 3);
      await r.board.closeDoor();
      await r.waitForEvents('the collection', (e) => e.some((x) => x.type === 'dropbox.collected'));
      const resetDeadline = Date.now() + RIG_WAIT_MS;
      while (r.controller.dropbox!.status().pendingReset !== null) {
        if (Date.now() > resetDeadline) throw new Error('the RESET was never acknowledged');
        await new Promise((res) => setTimeout(res, 50));
      }

      await r.board.drop(1);
      const events = await r.waitForEvents('the first deposit after the collection', (e) => depositsOf(e).length === 4);
      expect(ofType(events, 'dropbox.collected')).toEqual([{ box: 'box-1', count: 3 }]);
      expect(ofType(events, 'dropbox.tamper')).toHaveLength(1);
      expect(depositsOf(events).map((d) => d.count)).toEqual([1, 2, 3, 1]);
      expect(r.controller.dropbox!.status().counters.naks).toBe(0);
    },
    SCENARIO_MS,
  );

  it(
    'reports the bin filling up in 5-point steps, tamper sensors and the key switch',
    async () => {
      const r = await start();
      for (const percent of [20, 45, 80]) {
        await r.board.fill(percent);
        await r.waitForEvents(`fill ${percent}`, (e) => ofType(e, 'dropbox.fill').some((d) => d.percent === percent));
      }
      for (const code of ['SHOCK', 'TILT', 'CASE'] as const) await r.board.tamper(code);
      await r.board.key(true);
      const events = await r.waitForEvents('three tampers and the key', (e) => ofType(e, 'dropbox.tamper').length === 3 && ofType(e, 'dropbox.key').length === 1);

      // 0 first: the board's answer to the STATUS the controller sends when it opens the port.
      expect(ofType(events, 'dropbox.fill').map((d) => d.percent)).toEqual([0, 20, 45, 80]);
      expect(ofType(events, 'dropbox.tamper').map((d) => d.code)).toEqual(['SHOCK', 'TILT', 'CASE']);
      expect(ofType(events, 'dropbox.key')).toEqual([{ box: 'box-1', state: 'on' }]);
    },
    SCENARIO_MS,
  );

  it(
    'keeps its count across a power cycle: no deposit lost or repeated',
    async () => {
      const r = await start();
      await r.board.drop(2);
      await r.waitForEvents('2 deposits', (e) => depositsOf(e).length === 2);
      const helloBefore = r.controller.dropbox!.status().counters.frames;
      await r.board.powerCycle();
      await r.board.drop(1);
      const events = await r.waitForEvents('the third deposit', (e) => depositsOf(e).length === 3);
      await new Promise((res) => setTimeout(res, 1500)); // a heartbeat or so more: nothing new may come
      expect(depositsOf(r.events()).map((d) => d.count)).toEqual([1, 2, 3]);
      expect(depositsOf(events).every((d) => !d.inferred)).toBe(true);
      expect(r.controller.dropbox!.status().counters.frames).toBeGreaterThan(helloBefore);
      expect(faultCodes(r.events())).not.toContain('dropbox.protocol_version');
    },
    SCENARIO_MS,
  );
});

describe('a corrupted frame that XOR cannot catch, against a version 2 board', () => {
  let rig: DropboxRig | null = null;
  afterEach(async () => {
    await rig?.stop();
    rig = null;
  });

  it(
    'is refused as a bad checksum: no count regressed, no deposit repeated',
    async () => {
      rig = await startDropboxRig('typescript', { typescript: { protocolVersion: 2, boardId: 'TS-XOR' } });
      const board = rig.board as TypescriptBoard;
      board.pty.sim.reboot(); // HELLO,2: from now on the controller takes only CRC frames
      await rig.waitForEvents('the board online', () => rig!.controller.dropbox!.status().board.id === 'TS-XOR');
      await board.drop(11);
      await rig.waitForEvents('11 deposits', (e) => depositsOf(e).length === 11);

      // HB,7,11 with its version 1 checksum, two bits flipped in one position: HB,6,10.
      const seq = board.pty.sim.seq;
      const forged = formatFrame(seq, ['HB', 7, 11], 1).replace('HB,7,11', 'HB,6,10');
      expect(parseFrame(forged, 1).ok).toBe(true); // what a version 1 controller would have believed
      board.pty.sim.sendRaw(forged);
      board.pty.sim.sendRaw(forged.replace(`$${seq},`, `$${seq + 1},`).replace(/\*..\n$/, `*${checksum(`${seq + 1},HB,6,10`, 1)}\n`));
      await new Promise((r) => setTimeout(r, 1500)); // and a true heartbeat after them
      await board.drop(1);
      const events = await rig.waitForEvents('the 12th deposit', (e) => depositsOf(e).length === 12);

      expect(depositsOf(events).map((d) => d.count)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(faultCodes(events)).not.toContain('dropbox.count_regressed');
      expect(rig.controller.dropbox!.status().counters.malformed.bad_checksum).toBe(2);
    },
    SCENARIO_MS,
  );
});
