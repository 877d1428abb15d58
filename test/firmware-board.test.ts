/**
 * The reference firmware on an emulated ATmega328P: what only a real board can get
 * wrong. The controller against it through power cuts, a hung main loop and a long
 * run of envelopes; and bad input written straight to the board's serial line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BoardFrame } from '../devices/board/frames.js';
import { LineFramer, encodeCommand, parseFrame } from '../devices/board/protocol.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import type { SerialTransport } from '../devices/serial/transport.js';
import { startFirmwareBoard, type FirmwareBoard } from '../sim/firmware/firmwareBoard.js';
import { depositsOf, startDropboxRig, type DropboxRig } from './support/dropboxRig.js';

const SCENARIO_MS = 120_000;
const IO_WAIT_MS = 10_000;
const ENVELOPES_IN_A_ROW = 1000;

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = IO_WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the firmware board with the real controller', () => {
  let rig: DropboxRig | null = null;
  const firmware = () => rig!.board as FirmwareBoard;
  afterEach(async () => {
    await rig?.stop();
    rig = null;
  });

  it(
    'counts an envelope caught in the chute beam by a power cut exactly once, after the reboot',
    async () => {
      rig = await startDropboxRig('firmware');
      await firmware().drop(1);
      await rig.waitForEvents('the first deposit', (e) => depositsOf(e).length === 1);

      await firmware().setInput('drop', true); // the envelope is falling...
      await new Promise((r) => setTimeout(r, 50));
      await firmware().powerOff(); // ...when the power goes
      await rig.waitForEvents('the board offline', (e) => e.some((x) => x.type === 'device.fault' && (x.data as { code: string }).code === 'dropbox.offline'));
      await firmware().powerOn();
      await new Promise((r) => setTimeout(r, 100));
      await firmware().setInput('drop', false); // it falls through after the reboot
      await rig.waitForEvents('the second deposit', (e) => depositsOf(e).length === 2);

      await firmware().powerOff();
      await firmware().powerOn();
      await firmware().drop(1);
      await rig.waitForEvents('the third deposit', (e) => depositsOf(e).length === 3);
      await new Promise((r) => setTimeout(r, 1500));
      expect(depositsOf(rig.events()).map((d) => d.count)).toEqual([1, 2, 3]);
    },
    SCENARIO_MS,
  );

  it(
    `counts ${ENVELOPES_IN_A_ROW} envelopes in a row, each once, none inferred`,
    async () => {
      rig = await startDropboxRig('firmware');
      await rig.waitForEvents('the board online', () => rig!.controller.dropbox!.status().lastFrameAt !== null);
      await firmware().drop(ENVELOPES_IN_A_ROW, { throughSlot: false });
      const events = await rig.waitForEvents(`${ENVELOPES_IN_A_ROW} deposits`, (e) => depositsOf(e).length >= ENVELOPES_IN_A_ROW, 60_000);
      const deposits = depositsOf(events);
      expect(deposits.map((d) => d.count)).toEqual(Array.from({ length: ENVELOPES_IN_A_ROW }, (_, i) => i + 1));
      expect(deposits.filter((d) => d.inferred)).toEqual([]);
      expect(rig.controller.dropbox!.status().counters.framesLost).toBe(0);
    },
    SCENARIO_MS,
  );

  it(
    'restarts on its watchdog when its main loop hangs, and carries on counting',
    async () => {
      rig = await startDropboxRig('firmware');
      await firmware().drop(2);
      await rig.waitForEvents('2 deposits', (e) => depositsOf(e).length === 2);
      const seqBefore = rig.controller.dropbox!.status().lastSeq ?? 0;
      expect(seqBefore).toBeGreaterThan(5);
      await firmware().hang();
      // The watchdog's reset shows as the board's seq starting again from 0 with a HELLO.
      await until('the board rebooted', () => {
        const c = rig!.controller.dropbox!.status();
        return c.lastSeq !== null && c.lastSeq < seqBefore && c.board.id === 'DBX-0001';
      });
      await firmware().drop(1);
      const events = await rig.waitForEvents('the third deposit', (e) => depositsOf(e).length === 3);
      expect(depositsOf(events).map((d) => d.count)).toEqual([1, 2, 3]);
    },
    SCENARIO_MS,
  );

  it(
    'speaks protocol version 1 when built with PROTOCOL=1, and the controller follows',
    async () => {
      rig = await startDropboxRig('firmware', { firmware: { variant: 'v1' } });
      await firmware().drop(2);
      const events = await rig.waitForEvents('2 deposits', (e) => depositsOf(e).length === 2);
      expect(depositsOf(events).map((d) => d.count)).toEqual([1, 2]);
      expect(rig.controller.dropbox!.status().counters.malformed.bad_checksum).toBe(0);
    },
    SCENARIO_MS,
  );
});

describe('bad input on the firmware board serial line', () => {
  let dir: string;
  let board: FirmwareBoard;
  let port: SerialTransport;
  let frames: BoardFrame[];
  let seq = 100;

  const start = async (variant: 'v2' | 'test' = 'v2') => {
    dir = mkdtempSync(join(tmpdir(), 'firmware-input-'));
    board = await startFirmwareBoard(dir, { variant });
    port = await openSerialPort({ path: board.controllerPath, baudRate: 115200 });
    frames = [];
    const framer = new LineFramer();
    port.onData((chunk) => {
      for (const item of framer.push(chunk)) {
        if (!item.ok) continue;
        const parsed = parseFrame(item.line, 2);
        if (parsed.ok) frames.push(parsed.frame);
      }
    });
  };
  const command = async (c: Parameters<typeof encodeCommand>[1]) => {
    const s = seq++;
    await port.write(encodeCommand(s, c, 2));
    return s;
  };
  const answerTo = async (s: number) => {
    await until(`an answer to command ${s}`, () => frames.some((f) => (f.type === 'ACK' || f.type === 'NAK') && f.cmdSeq === s));
    return frames.find((f) => (f.type === 'ACK' || f.type === 'NAK') && f.cmdSeq === s)!;
  };
  const lastCount = () => [...frames].reverse().find((f): f is Extract<BoardFrame, { type: 'HB' | 'DROP' }> => f.type === 'HB' || f.type === 'DROP')?.dropCount;

  afterEach(async () => {
    await port?.close().catch(() => undefined);
    await board?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'counts garbage, over-long lines, wrong checksums and unknown commands, NAKs what it can, and keeps answering',
    async () => {
      await start();
      await port.write(Buffer.from('\x00\xff\xfe garbage\n'));
      await port.write(Buffer.from(`${'Z'.repeat(500)}\n`));
      await port.write(encodeCommand(1, { type: 'STATUS' }, 1)); // version 1 to a version 2 board
      await port.write('$2,STATUS*0000\n');
      await port.write(Buffer.from(`$3,DANCE*${'0000'}\n`));
      await new Promise((r) => setTimeout(r, 200));
      const unknown = seq++;
      const body = `${unknown},DANCE`;
      const { checksum } = await import('../devices/board/protocol.js');
      await port.write(`$${body}*${checksum(body, 2)}\n`);
      expect(await answerTo(unknown)).toMatchObject({ type: 'NAK', reason: 'UNKNOWN_COMMAND' });
      const badArgs = seq++;
      await port.write(`$${badArgs},LED,PURPLE*${checksum(`${badArgs},LED,PURPLE`, 2)}\n`);
      expect(await answerTo(badArgs)).toMatchObject({ type: 'NAK', reason: 'BAD_ARGS' });

      // A flood of garbage without a line end, then one: one too_long, nothing stuck.
      await port.write(Buffer.alloc(3000, 0x41));
      await port.write('\n');
      const led = await command({ type: 'LED', mode: 'ON' });
      expect(await answerTo(led)).toMatchObject({ type: 'ACK' });
      await until('the LED on', async () => (await board.state()).led);
      const state = await board.state();
      expect(state.lines).toMatchObject({ too_long: 2, not_ascii: 1, bad_syntax: 0, bad_checksum: 3, unknown_type: 1, bad_args: 1, naks: 2, overruns: 0 });
      const hbs = frames.filter((f) => f.type === 'HB').length;
      await until('heartbeats going on', () => frames.filter((f) => f.type === 'HB').length > hbs);
    },
    SCENARIO_MS,
  );

  it(
    'never zeroes its count on a RESET with the wrong count, and does on the right one, once',
    async () => {
      await start();
      await board.drop(3);
      await until('DROP,3', () => lastCount() === 3);
      const wrong = await command({ type: 'RESET', dropCount: 2 });
      expect(await answerTo(wrong)).toMatchObject({ type: 'NAK', reason: 'COUNT_MISMATCH' });
      const huge = await command({ type: 'RESET', dropCount: 4294967295 });
      expect(await answerTo(huge)).toMatchObject({ type: 'NAK', reason: 'COUNT_MISMATCH' });
      const status = await command({ type: 'STATUS' });
      void status;
      await until('a heartbeat after the refused RESETs', () => frames.filter((f) => f.type === 'HB').length > 0 && lastCount() === 3);

      const right = await command({ type: 'RESET', dropCount: 3 });
      expect(await answerTo(right)).toMatchObject({ type: 'ACK' });
      // The same RESET again (its ACK lost on the way): acknowledged again, not refused.
      await port.write(encodeCommand(right, { type: 'RESET', dropCount: 3 }, 2));
      await until('the repeated ACK', () => frames.filter((f) => f.type === 'ACK' && f.cmdSeq === right).length === 2);
      await board.drop(1);
      await until('DROP,1 after the reset', () => frames.some((f) => f.type === 'DROP' && f.dropCount === 1));
    },
    SCENARIO_MS,
  );

  it(
    'carries a resent command out once, but a new one reusing its seq after a STATUS (a restarted controller) again',
    async () => {
      await start();
      const line = encodeCommand(7, { type: 'UNLOCK', ms: 200 }, 2);
      await port.write(line);
      await until('the first ACK', () => frames.filter((f) => f.type === 'ACK' && f.cmdSeq === 7).length === 1);
      await until('the relay on and off', async () => {
        const s = await board.state();
        return s.relayActivations === 1 && !s.relay;
      });
      await port.write(line); // the ACK was lost: the controller resends
      await until('the second ACK', () => frames.filter((f) => f.type === 'ACK' && f.cmdSeq === 7).length === 2);
      await new Promise((r) => setTimeout(r, 100));
      expect((await board.state()).relayActivations).toBe(1); // not released a second time

      await port.write(encodeCommand(0, { type: 'STATUS' }, 2));
      await port.write(line);
      await until('the third ACK', () => frames.filter((f) => f.type === 'ACK' && f.cmdSeq === 7).length === 3);
      await until('the relay on and off again', async () => {
        const s = await board.state();
        return s.relayActivations === 2 && !s.relay;
      });
    },
    SCENARIO_MS,
  );

  it(
    'caps an absurd UNLOCK at its compiled maximum (1.5 s in the test build)',
    async () => {
      await start('test');
      const unlock = await command({ type: 'UNLOCK', ms: 4294967295 });
      expect(await answerTo(unlock)).toMatchObject({ type: 'ACK' });
      await until('the relay on', async () => (await board.state()).relay);
      await until('the relay off again', async () => !(await board.state()).relay, 5000);
      const state = await board.state();
      expect(state.relayActivations).toBe(1);
      expect(state.relayLastOnMs).toBeGreaterThanOrEqual(1490);
      expect(state.relayLastOnMs).toBeLessThanOrEqual(1510);
    },
    SCENARIO_MS,
  );
});
