/**
 * The board simulator's behaviours: how a test changes one thing about the board
 * (newest behaviour first), and the simulator speaking protocol version 2.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BoardCommand, BoardFrame } from '../devices/board/frames.js';
import { LineFramer, encodeCommand, parseFrame } from '../devices/board/protocol.js';
import type { SerialTransport } from '../devices/serial/transport.js';
import { resetOnlyWithHeldCount, type BoardBehaviour } from '../sim/board/behaviours.js';
import { BoardSimulator, type BoardSimulatorOptions } from '../sim/board/boardSimulator.js';
import { createMockSerialFactory } from '../sim/serial/mockTransport.js';

describe('the board simulator built from behaviours', () => {
  let n = 0;
  let controller: SerialTransport;
  let sim: BoardSimulator;
  let frames: BoardFrame[];
  let malformed: string[];

  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const powerOn = async (options: BoardSimulatorOptions = {}, accept: 1 | 2 = options.protocolVersion ?? 1): Promise<void> => {
    const mock = createMockSerialFactory();
    const path = `/dev/mock-behaviours-${++n}`;
    controller = await mock({ path, baudRate: 115200 });
    frames = [];
    malformed = [];
    const framer = new LineFramer();
    controller.onData((chunk) => {
      for (const item of framer.push(chunk)) {
        if (!item.ok) continue;
        const parsed = parseFrame(item.line, accept);
        if (parsed.ok) frames.push(parsed.frame);
        else malformed.push(parsed.reason);
      }
    });
    sim = new BoardSimulator({ boardId: 'BEH1', ...options });
    sim.attach(mock.deviceEnd(path));
    sim.start();
    await settle();
  };
  const send = async (seq: number, command: BoardCommand, version: 1 | 2 = 1) => {
    await controller.write(encodeCommand(seq, command, version));
    await settle();
  };

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(async () => {
    sim.stop();
    vi.useRealTimers();
    await controller.close();
  });

  it('asks the newest behaviour first, and falls back to carrying the command out', async () => {
    await powerOn();
    const refuseUnlock: BoardBehaviour = {
      name: 'refuse UNLOCK while the door is jammed',
      onCommand: (_board, { command }) => (command.type === 'UNLOCK' ? { answer: 'nak', reason: 'JAMMED' } : undefined),
    };
    sim.defineBehaviour(refuseUnlock);
    await send(1, { type: 'UNLOCK', ms: 1000 });
    await send(2, { type: 'LED', mode: 'ON' });
    expect(frames.slice(1).map((f) => f.type)).toEqual(['NAK', 'ACK']);
    expect(sim.state.locked).toBe(true);
    expect(sim.state.led).toBe('ON');

    sim.nakNext('BUSY'); // newer than refuseUnlock: it answers first, once
    await send(3, { type: 'UNLOCK', ms: 1000 });
    await send(4, { type: 'UNLOCK', ms: 1000 });
    expect(frames.slice(3)).toMatchObject([{ type: 'NAK', reason: 'BUSY' }, { type: 'NAK', reason: 'JAMMED' }]);

    sim.removeBehaviour(refuseUnlock);
    await send(5, { type: 'UNLOCK', ms: 1000 });
    expect(frames.at(-1)).toMatchObject({ type: 'ACK', cmdSeq: 5 });
    expect(sim.state.locked).toBe(false);
  });

  it('can refuse a RESET with another count than the one it holds, as the firmware does', async () => {
    await powerOn({ initialDropCount: 3 });
    sim.defineBehaviour(resetOnlyWithHeldCount(() => sim.state.dropCount));
    await send(1, { type: 'RESET', dropCount: 2 });
    expect(frames.at(-1)).toMatchObject({ type: 'NAK', cmdSeq: 1, reason: 'COUNT_MISMATCH' });
    expect(sim.state.dropCount).toBe(3);
    await send(2, { type: 'RESET', dropCount: 3 });
    expect(frames.at(-1)).toMatchObject({ type: 'ACK', cmdSeq: 2 });
    expect(sim.state.dropCount).toBe(0);
  });

  it('lets a test expect what the controller wrote', async () => {
    await powerOn();
    const led = sim.expectWritten((c) => c.type === 'LED', 500);
    await send(7, { type: 'LED', mode: 'BLINK' });
    await expect(led).resolves.toMatchObject({ seq: 7, answer: 'ack' });
    const never = sim.expectWritten((c) => c.type === 'RESET', 500);
    vi.advanceTimersByTime(500);
    await expect(never).rejects.toThrow(/no matching command within 500 ms; received: LED/);
  });

  it('speaks version 2 when asked: HELLO,2, CRC frames, and only CRC commands', async () => {
    await powerOn({ protocolVersion: 2 }, 2);
    expect(frames[0]).toMatchObject({ seq: 0, type: 'HELLO', version: 2 });
    sim.drop(1);
    await settle();
    expect(malformed).toEqual([]);
    expect(frames.at(-1)).toMatchObject({ type: 'DROP', dropCount: 1 });

    await send(1, { type: 'UNLOCK', ms: 1000 }, 1);
    expect(sim.malformedCommands).toEqual({ bad_checksum: 1 });
    expect(sim.state.locked).toBe(true);
    await send(2, { type: 'UNLOCK', ms: 1000 }, 2);
    expect(sim.state.locked).toBe(false);
    expect(frames.at(-1)).toMatchObject({ type: 'ACK', cmdSeq: 2 });
    expect(malformed).toEqual([]);
  });
});
