import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BoardCommand, BoardFrame } from '../devices/board/frames.js';
import { LineFramer, checksum, encodeCommand, parseFrame } from '../devices/board/protocol.js';
import { openSerialPort } from '../devices/serial/serialPortTransport.js';
import type { SerialCloseInfo, SerialTransport } from '../devices/serial/transport.js';
import { BoardSimulator, type BoardSimulatorOptions } from '../sim/board/boardSimulator.js';
import { startPtyBoard, type PtyBoard } from '../sim/board/ptyBoard.js';
import { createMockSerialFactory, type MockSerialFactory } from '../sim/serial/mockTransport.js';

/** Bounded wait for real I/O on a PTY (not a timeout under test). */
const IO_WAIT_MS = 3000;

/** What the controller end of the cable sees, parsed with the real protocol. */
interface ControllerView {
  frames: BoardFrame[];
  lines: string[];
  malformed: string[];
  raw: () => Buffer;
}

function watchController(controller: SerialTransport): ControllerView {
  const framer = new LineFramer();
  const chunks: Buffer[] = [];
  const view: ControllerView = { frames: [], lines: [], malformed: [], raw: () => Buffer.concat(chunks) };
  controller.onData((chunk) => {
    chunks.push(chunk);
    for (const item of framer.push(chunk)) {
      if (!item.ok) {
        view.malformed.push('too_long');
        continue;
      }
      view.lines.push(item.line.toString('latin1'));
      const parsed = parseFrame(item.line);
      if (parsed.ok) view.frames.push(parsed.frame);
      else view.malformed.push(parsed.reason);
    }
  });
  return view;
}

/** Frames as compact text, to compare sequences readably: "3 DROP 6". */
function describeFrame(f: BoardFrame): string {
  const { seq, type, ...rest } = f;
  return [seq, type, ...Object.values(rest).map(String)].join(' ');
}

describe('the board simulator on a mock serial port', () => {
  let n = 0;
  let mock: MockSerialFactory;
  let path: string;
  let controller: SerialTransport;
  let view: ControllerView;
  let sim: BoardSimulator;

  /** Runs the mock binding's I/O (nextTick and promise chains); timers stay frozen. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const send = async (seq: number, command: BoardCommand): Promise<void> => {
    await controller.write(encodeCommand(seq, command));
    await settle();
  };
  const framesSince = (from: number): string[] => view.frames.slice(from).map(describeFrame);

  const powerOn = async (options: BoardSimulatorOptions = {}): Promise<void> => {
    sim = new BoardSimulator({ boardId: 'BOX1', firmware: '1.4.2', ...options });
    sim.attach(mock.deviceEnd(path));
    sim.start();
    await settle();
  };

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    mock = createMockSerialFactory();
    path = `/dev/mock-board-${++n}`;
    controller = await mock({ path, baudRate: 115200 });
    view = watchController(controller);
  });
  afterEach(async () => {
    sim.stop();
    vi.useRealTimers();
    await controller.close();
  });

  it('says HELLO with seq 0 on power-on, then sends a heartbeat every second', async () => {
    await powerOn({ initialDropCount: 4 });
    expect(view.frames).toEqual([{ seq: 0, type: 'HELLO', version: 1, firmware: '1.4.2', boardId: 'BOX1' }]);

    vi.advanceTimersByTime(3000);
    await settle();

    expect(framesSince(1)).toEqual(['1 HB 1 4', '2 HB 2 4', '3 HB 3 4']);
  });

  it('reports each envelope as SLOT,1 then SLOT,0 then DROP with the new count, in checksummed frames', async () => {
    await powerOn({ initialDropCount: 5 });

    sim.drop(2);
    await settle();

    expect(framesSince(1)).toEqual(['1 SLOT true', '2 SLOT false', '3 DROP 6', '4 SLOT true', '5 SLOT false', '6 DROP 7']);
    expect(view.malformed).toEqual([]);
    expect(view.lines.at(-1)).toBe(`$6,DROP,7*${checksum('6,DROP,7')}`);
    expect(sim.state.dropCount).toBe(7);
  });

  it('acknowledges UNLOCK with the command seq, lets the door open, and locks again when the time is up', async () => {
    await powerOn();
    expect(sim.openDoor()).toBe(false);

    await send(42, { type: 'UNLOCK', ms: 5000 });
    expect(framesSince(1)).toEqual(['1 ACK 42']);
    expect(sim.state.locked).toBe(false);

    expect(sim.openDoor()).toBe(true);
    sim.closeDoor();
    await settle();
    expect(framesSince(2)).toEqual(['2 DOOR OPEN', '3 DOOR CLOSED']);

    vi.advanceTimersByTime(5000);
    expect(sim.state.locked).toBe(true);
    expect(sim.openDoor()).toBe(false);
  });

  it('opens a locked door only when it is forced', async () => {
    await powerOn();

    expect(sim.openDoor()).toBe(false);
    await settle();
    expect(view.frames).toHaveLength(1);

    sim.forceDoor();
    await settle();
    expect(framesSince(1)).toEqual(['1 DOOR OPEN']);
    expect(sim.state.door).toBe('OPEN');
  });

  it('zeroes its count on RESET and acknowledges it, so the next envelope is number 1', async () => {
    await powerOn({ initialDropCount: 12 });

    await send(7, { type: 'RESET', dropCount: 12 });
    sim.drop();
    await settle();

    expect(framesSince(1)).toEqual(['1 ACK 7', '2 SLOT true', '3 SLOT false', '4 DROP 1']);
    expect(sim.commandsReceived).toEqual([{ seq: 7, command: { type: 'RESET', dropCount: 12 }, answer: 'ack' }]);
  });

  it('answers STATUS with an ACK, then HB, DOOR, FILL and SLOT', async () => {
    await powerOn({ initialDropCount: 3, initialFill: 40 });
    vi.advanceTimersByTime(2500);
    await settle();
    const before = view.frames.length;

    await send(9, { type: 'STATUS' });

    expect(framesSince(before)).toEqual(['3 ACK 9', '4 HB 2 3', '5 DOOR CLOSED', '6 FILL 40', '7 SLOT false']);
  });

  it('records the slot light mode from LED', async () => {
    await powerOn();
    await send(1, { type: 'LED', mode: 'BLINK' });
    expect(sim.state.led).toBe('BLINK');
    expect(framesSince(1)).toEqual(['1 ACK 1']);
  });

  it('reports fill, tamper, key and board errors', async () => {
    await powerOn();
    sim.fill(85);
    sim.tamper('TILT');
    sim.key(true);
    sim.error('E42', 'motor stalled');
    await settle();
    expect(framesSince(1)).toEqual(['1 FILL 85', '2 TAMPER TILT', '3 KEY ON', '4 ERR E42 motor stalled']);
  });

  it('leaves a gap in seq for frames lost on the wire', async () => {
    await powerOn();

    sim.loseNextFrames(2);
    sim.fill(10);
    sim.fill(20);
    sim.fill(30);
    await settle();

    expect(framesSince(1)).toEqual(['3 FILL 30']);
    expect(sim.framesLost).toBe(2);
    expect(sim.state.fill).toBe(30);
  });

  it('restarts seq at 0 with a new HELLO on reboot and keeps its drop count', async () => {
    await powerOn();
    sim.drop(3);
    vi.advanceTimersByTime(1000);
    await settle();
    const before = view.frames.length;

    sim.reboot();
    vi.advanceTimersByTime(1000);
    await settle();

    expect(framesSince(before)).toEqual(['0 HELLO 1 1.4.2 BOX1', '1 HB 1 3']);
  });

  it('sends garbage exactly as given, without using a seq', async () => {
    await powerOn();
    const garbage = Buffer.from([0x00, 0xff, 0x24, 0x31, 0x2c, 0x48, 0x42, 0x2a, 0x30, 0x30, 0x0a]);

    sim.sendRaw(garbage);
    sim.fill(5);
    await settle();

    const hello = Buffer.from(`${view.lines[0]}\n`, 'latin1');
    const fill = Buffer.from(`$1,FILL,5*${checksum('1,FILL,5')}\n`, 'latin1');
    expect(view.raw()).toEqual(Buffer.concat([hello, garbage, fill]));
    expect(view.malformed).toEqual(['not_ascii']);
    expect(framesSince(1)).toEqual(['1 FILL 5']);
  });

  it('sends nothing at all while silent, heartbeats included, and carries on in sequence after', async () => {
    await powerOn();

    sim.silence(true);
    vi.advanceTimersByTime(5000);
    sim.drop();
    await settle();
    expect(view.frames).toHaveLength(1);

    sim.silence(false);
    vi.advanceTimersByTime(1000);
    await settle();
    expect(framesSince(1)).toEqual(['1 HB 6 1']);
  });

  it('answers NAK with the reason when told to, without carrying the command out', async () => {
    await powerOn();
    sim.nakNext('BUSY');

    await send(3, { type: 'UNLOCK', ms: 5000 });
    await send(4, { type: 'LED', mode: 'ON' });

    expect(framesSince(1)).toEqual(['1 NAK 3 BUSY', '2 ACK 4']);
    expect(sim.state.locked).toBe(true);
    expect(sim.state.led).toBe('ON');
  });

  it('never answers while ignoring commands, but still records them', async () => {
    await powerOn();
    sim.ignoreCommands(true);

    await send(3, { type: 'UNLOCK', ms: 5000 });
    await send(3, { type: 'UNLOCK', ms: 5000 });

    expect(view.frames).toHaveLength(1);
    expect(sim.commandsReceived.map((r) => r.answer)).toEqual(['ignored', 'ignored']);
    expect(sim.state.locked).toBe(true);
  });

  it('counts and ignores malformed commands from the controller', async () => {
    await powerOn();

    await controller.write('$1,UNLOCK,5000*00\n');
    await controller.write('hello board\n');
    await controller.write(`$2,OPEN*${checksum('2,OPEN')}\n`);
    await controller.write(`${'A'.repeat(200)}\n`);
    await settle();

    expect(sim.malformedCommands).toEqual({ bad_checksum: 1, bad_syntax: 1, unknown_type: 1, too_long: 1 });
    expect(sim.malformedCommandCount).toBe(4);
    expect(sim.commandsReceived).toEqual([]);
    expect(view.frames).toHaveLength(1);
    expect(sim.state.locked).toBe(true);
  });

  it('lets a test wait for a command the controller sends', async () => {
    await powerOn();
    const unlock = sim.waitForCommand((c) => c.type === 'UNLOCK');
    await send(11, { type: 'LED', mode: 'ON' });
    await send(12, { type: 'UNLOCK', ms: 1000 });
    await expect(unlock).resolves.toEqual({ seq: 12, command: { type: 'UNLOCK', ms: 1000 }, answer: 'ack' });
  });

  it('keeps counting while its cable is unplugged; the heartbeat after replug carries the count', async () => {
    await powerOn();
    const closed: SerialCloseInfo[] = [];
    controller.onClose((info) => closed.push(info));

    mock.unplug(path);
    await settle();
    sim.drop(2);
    expect(closed).toEqual([expect.objectContaining({ byUs: false })]);
    expect(sim.state.dropCount).toBe(2);
    expect(sim.writeFailures).toBe(6);

    mock.replug(path);
    controller = await mock({ path, baudRate: 115200 });
    view = watchController(controller);
    vi.advanceTimersByTime(1000);
    await settle();
    expect(view.frames.map(describeFrame)).toEqual(['7 HB 1 2']);
  });
});

describe('the board simulator behind a real PTY', () => {
  let dir: string;
  let board: PtyBoard;
  let controller: SerialTransport | null = null;

  const waitFor = async (condition: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + IO_WAIT_MS;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiosk-ptyboard-'));
    board = await startPtyBoard(dir, { boardId: 'PTY1', firmware: '2.0.0', heartbeatMs: 100 });
  });
  afterEach(async () => {
    await controller?.close();
    controller = null;
    await board.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('talks protocol v1 through the PTY: HELLO, heartbeats, drops, and answers to commands', async () => {
    controller = await openSerialPort({ path: board.controllerPath, baudRate: 115200 });
    const view = watchController(controller);
    board.sim.reboot();

    await waitFor(() => view.frames.some((f) => f.type === 'HELLO' && f.seq === 0 && f.boardId === 'PTY1'), 'HELLO');
    await waitFor(() => view.frames.some((f) => f.type === 'HB'), 'a heartbeat');
    board.sim.drop();
    await waitFor(() => view.frames.some((f) => f.type === 'DROP' && f.dropCount === 1), 'DROP,1');
    await controller.write(encodeCommand(5, { type: 'UNLOCK', ms: 10_000 }));
    await waitFor(() => view.frames.some((f) => f.type === 'ACK' && f.cmdSeq === 5), 'ACK,5');

    expect(board.sim.state.locked).toBe(false);
    expect(view.malformed).toEqual([]);
  });

  it('vanishes from the controller when unplugged, keeps counting, and reports the count after replug', async () => {
    controller = await openSerialPort({ path: board.controllerPath, baudRate: 115200 });
    const closed: SerialCloseInfo[] = [];
    controller.onClose((info) => closed.push(info));

    await board.unplug();
    await waitFor(() => closed.length > 0, 'the unplug');
    expect(closed[0]?.byUs).toBe(false);
    board.sim.drop(3);
    expect(board.sim.state.dropCount).toBe(3);

    await board.replug();
    controller = await openSerialPort({ path: board.controllerPath, baudRate: 115200 });
    const view = watchController(controller);
    await waitFor(() => view.frames.some((f) => f.type === 'HB' && f.dropCount === 3), 'a heartbeat with count 3');
    expect(view.frames.some((f) => f.type === 'DROP')).toBe(false);
  });
});
