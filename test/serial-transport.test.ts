import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, isKioskError } from '../src/errors.js';
import { hangupAwareBinding, openSerialPort } from '../devices/serial/serialPortTransport.js';
import type { SerialCloseInfo, SerialTransport } from '../devices/serial/transport.js';
import { createPtyPair, type PtyPair } from '../sim/pty.js';
import { createMockSerialFactory } from '../sim/serial/mockTransport.js';
import { waitUntil } from './support/waitUntil.js';

/** Bounded wait for real I/O on a PTY (not a timeout under test). */
const IO_WAIT_MS = 3000;
const BAUD = 115200;


/** Runs every pending nextTick/microtask chain (the mock binding's I/O) without touching timers. */
async function settleMockIo(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function received(transport: SerialTransport): { text: () => string } {
  const chunks: Buffer[] = [];
  transport.onData((c) => chunks.push(c));
  return { text: () => Buffer.concat(chunks).toString('latin1') };
}

function closes(transport: SerialTransport): SerialCloseInfo[] {
  const infos: SerialCloseInfo[] = [];
  transport.onClose((info) => infos.push(info));
  return infos;
}

describe('the real serial port over a socat PTY', () => {
  let dir: string;
  let pair: PtyPair;
  const opened: SerialTransport[] = [];
  const open = async (path: string): Promise<SerialTransport> => {
    const t = await openSerialPort({ path, baudRate: BAUD });
    opened.push(t);
    return t;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiosk-serial-'));
    pair = await createPtyPair(dir);
  });
  afterEach(async () => {
    for (const t of opened.splice(0)) await t.close();
    await pair.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries bytes from the controller to the board and from the board to the controller', async () => {
    const controller = await open(pair.controllerPath);
    const board = await open(pair.boardPath);
    const atBoard = received(board);
    const atController = received(controller);

    await controller.write('status?\n');
    await board.write(Buffer.from([0x24, 0x30, 0x00, 0xff, 0x0a]));

    await waitUntil('the command at the board end', () => atBoard.text() === 'status?\n', { timeoutMs: IO_WAIT_MS, pollMs: 5 });
    await waitUntil('the raw bytes at the controller end', () => atController.text() === '$0\x00\xff\n', { timeoutMs: IO_WAIT_MS, pollMs: 5 });
  });

  it('reports an unplug (not our close) once when socat dies, and refuses writes afterwards', async () => {
    const controller = await open(pair.controllerPath);
    const infos = closes(controller);

    await pair.unplug();
    await waitUntil('the close report', () => infos.length > 0, { timeoutMs: IO_WAIT_MS, pollMs: 5 });

    expect(infos).toHaveLength(1);
    expect(infos[0]?.byUs).toBe(false);
    expect(infos[0]?.error).toBeInstanceOf(Error);
    await expect(controller.write('x')).rejects.toSatisfy((e) => isKioskError(e, ErrorCode.SerialWriteFailed));
    // Closing an unplugged port is harmless and does not report a second close.
    await controller.close();
    expect(infos).toHaveLength(1);
  });

  it('reports our own close as byUs, never as an unplug, and refuses writes afterwards', async () => {
    const controller = await open(pair.controllerPath);
    const infos = closes(controller);

    await controller.close();

    expect(infos).toEqual([{ byUs: true }]);
    await expect(controller.write('x')).rejects.toSatisfy((e) => isKioskError(e, ErrorCode.SerialWriteFailed));
    const lateListener = vi.fn();
    controller.onClose(lateListener);
    await Promise.resolve();
    expect(lateListener).toHaveBeenCalledWith({ byUs: true });
  });

  it('reports a port whose device hung up before the next read as gone, instead of reading nothing forever', async () => {
    const port = await hangupAwareBinding.open({ path: pair.controllerPath, baudRate: BAUD, lock: false });
    try {
      await pair.unplug();
      await expect(port.read(Buffer.alloc(64), 0, 64)).rejects.toThrow(/hung up|EIO|bad file descriptor/i);
    } finally {
      await port.close();
    }
  });

  it('opens the same path again after socat is restarted', async () => {
    const first = await open(pair.controllerPath);
    const infos = closes(first);
    await pair.unplug();
    await waitUntil('the unplug', () => infos.length > 0, { timeoutMs: IO_WAIT_MS, pollMs: 5 });
    await expect(openSerialPort({ path: pair.controllerPath, baudRate: BAUD })).rejects.toSatisfy((e) =>
      isKioskError(e, ErrorCode.SerialOpenFailed),
    );

    await pair.replug();
    const controller = await open(pair.controllerPath);
    const board = await open(pair.boardPath);
    const atBoard = received(board);
    await controller.write('again\n');
    await waitUntil('bytes after replug', () => atBoard.text() === 'again\n', { timeoutMs: IO_WAIT_MS, pollMs: 5 });
  });

  it('fails to open a missing port with SerialOpenFailed naming the path', async () => {
    const missing = join(dir, 'ttyACM9');
    const attempt = openSerialPort({ path: missing, baudRate: BAUD });
    await expect(attempt).rejects.toSatisfy((e) => isKioskError(e, ErrorCode.SerialOpenFailed));
    await expect(attempt).rejects.toThrow(`port ${missing} not found`);
  });
});

describe('the socat PTY helper', () => {
  it('says how to install socat when it is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiosk-nosocat-'));
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'empty-bin');
    try {
      await expect(createPtyPair(dir)).rejects.toThrow('socat not found: run scripts/install-system-deps.sh');
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the mock serial port factory', () => {
  let n = 0;
  const freshPath = (): string => `/dev/mock-transport-${++n}`;

  it('delivers bytes emitted by the device and records what the controller wrote', async () => {
    const mock = createMockSerialFactory();
    const path = freshPath();
    const controller = await mock({ path, baudRate: BAUD });
    const atController = received(controller);

    mock.emitData(path, 'heartbeat\n');
    await controller.write('status?\n');
    await controller.write(Buffer.from('led on\n'));
    await settleMockIo();

    expect(atController.text()).toBe('heartbeat\n');
    expect(mock.written(path).map((c) => c.toString())).toEqual(['status?\n', 'led on\n']);
    await expect(mock.expectWritten(path, (c) => c.includes('led'))).resolves.toEqual(Buffer.from('led on\n'));
    await controller.close();
  });

  it('keeps bytes that arrive before anyone listens for the first listener', async () => {
    const mock = createMockSerialFactory();
    const path = freshPath();
    const controller = await mock({ path, baudRate: BAUD });

    mock.emitData(path, 'early\n');
    await settleMockIo();
    const atController = received(controller);

    expect(atController.text()).toBe('early\n');
    await controller.close();
  });

  it('waits for a write that is still to come, and says what was written when it never comes', async () => {
    const mock = createMockSerialFactory();
    const path = freshPath();
    const controller = await mock({ path, baudRate: BAUD });

    const later = mock.expectWritten(path, (c) => c.toString() === 'later\n');
    await controller.write('sooner\n');
    await controller.write('later\n');
    await expect(later).resolves.toEqual(Buffer.from('later\n'));

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const never = mock.expectWritten(path, (c) => c.includes('NEVER'), 500);
      vi.advanceTimersByTime(500);
      await expect(never).rejects.toThrow(/within 500 ms; written: "sooner\\n", "later\\n"/);
    } finally {
      vi.useRealTimers();
    }
    await controller.close();
  });

  it('unplug closes the open port with an error, opens fail until replug, then it works again', async () => {
    const mock = createMockSerialFactory();
    const path = freshPath();
    const first = await mock({ path, baudRate: BAUD });
    const infos = closes(first);

    mock.unplug(path);
    await settleMockIo();

    expect(infos).toHaveLength(1);
    expect(infos[0]?.byUs).toBe(false);
    expect(infos[0]?.error?.message).toContain('disconnected');
    expect(mock.isOpen(path)).toBe(false);
    expect(() => mock.emitData(path, 'x')).toThrow(/not open/);
    await expect(mock({ path, baudRate: BAUD })).rejects.toThrow(`port ${path} not found`);

    mock.replug(path);
    const second = await mock({ path, baudRate: BAUD });
    const atController = received(second);
    mock.emitData(path, 'back\n');
    await settleMockIo();
    expect(atController.text()).toBe('back\n');
    expect(mock.openCount(path)).toBe(2);
    await second.close();
  });

  it('a port already open is busy, like a locked tty', async () => {
    const mock = createMockSerialFactory();
    const path = freshPath();
    const first = await mock({ path, baudRate: BAUD });
    await expect(mock({ path, baudRate: BAUD })).rejects.toSatisfy((e) => isKioskError(e, ErrorCode.SerialOpenFailed));
    await first.close();
    const again = await mock({ path, baudRate: BAUD });
    await again.close();
  });

  it('with a list of ports, only those paths exist', async () => {
    const known = freshPath();
    const unknown = freshPath();
    const mock = createMockSerialFactory({ ports: [known] });
    const t = await mock({ path: known, baudRate: BAUD });
    await expect(mock({ path: unknown, baudRate: BAUD })).rejects.toThrow(`port ${unknown} not found`);
    await t.close();
  });
});
