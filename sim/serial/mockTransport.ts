/**
 * A mock serial port factory for tests: the real SerialPortStream and the same
 * transport adapter as production, over @serialport/binding-mock. Tests play the
 * device with `emitData`, read what the controller wrote, and pull the cable with
 * `unplug`.
 */
import { SerialPortMock } from 'serialport';
import { SerialPortStream } from '@serialport/stream';
import { openSerialPortStream } from '../../devices/serial/serialPortTransport.js';
import type { SerialTransport, SerialTransportFactory } from '../../devices/serial/transport.js';

/** How long `expectWritten` waits by default. */
export const EXPECT_WRITTEN_TIMEOUT_MS = 1000;

export interface MockSerialHelpers {
  /** Makes `path` exist (needed only when the factory was created with a `ports` list). */
  addPort(path: string): void;
  /** Board → controller: bytes arrive on the open port at `path`. Throws if it is not open. */
  emitData(path: string, bytes: Buffer | string): void;
  /** Controller → board: every chunk the controller wrote to `path`, oldest first, across reopens. */
  written(path: string): Buffer[];
  /** Forgets what was written to `path`. */
  clearWritten(path: string): void;
  /** The first written chunk (already written or still to come) that matches; rejects after `timeoutMs`. */
  expectWritten(path: string, predicate: (chunk: Buffer) => boolean, timeoutMs?: number): Promise<Buffer>;
  /** Pulls the cable: the open port closes with an error, and opens fail until `replug`. */
  unplug(path: string): void;
  /** Plugs the cable back: `path` can be opened again. */
  replug(path: string): void;
  /**
   * The device's end of the cable at `path`, for a simulated device (e.g. BoardSimulator):
   * its writes arrive at the controller (throwing while the port is not open), and it
   * hears every chunk the controller writes.
   */
  deviceEnd(path: string): MockDeviceEnd;
  /** Whether the controller has `path` open right now. */
  isOpen(path: string): boolean;
  /** How many times `path` was opened successfully. */
  openCount(path: string): number;
}

// @serialport/binding-mock through serialport's own re-export: its package exports carry
// no ESM types, and importing it directly would load a second copy with its own ports.
const MockBinding = SerialPortMock.binding;
type MockPortBinding = Awaited<ReturnType<typeof MockBinding.open>>;

export interface MockDeviceEnd {
  write(data: Buffer | string): void;
  onData(listener: (chunk: Buffer) => void): void;
}

export type MockSerialFactory = SerialTransportFactory & MockSerialHelpers;

export interface MockSerialOptions {
  /** The only paths that exist. When absent, any path exists on first open. */
  ports?: string[];
}

interface MockPortState {
  present: boolean;
  stream: SerialPortStream | null;
  written: Buffer[];
  writeListeners: Set<(chunk: Buffer) => void>;
  opens: number;
}

export function createMockSerialFactory(options: MockSerialOptions = {}): MockSerialFactory {
  const anyPathExists = options.ports === undefined;
  const ports = new Map<string, MockPortState>();

  const stateOf = (path: string): MockPortState => {
    let state = ports.get(path);
    if (!state) {
      state = { present: anyPathExists, stream: null, written: [], writeListeners: new Set(), opens: 0 };
      ports.set(path, state);
      if (anyPathExists) MockBinding.createPort(path, { record: false });
    }
    return state;
  };
  const addPort = (path: string): void => {
    const state = stateOf(path);
    if (!state.present) {
      state.present = true;
      MockBinding.createPort(path, { record: false });
    }
  };
  for (const path of options.ports ?? []) addPort(path);

  const openBinding = (path: string): MockPortBinding => {
    const binding = ports.get(path)?.stream?.port as MockPortBinding | undefined;
    if (!binding || !binding.isOpen) throw new Error(`mock serial port ${path} is not open`);
    return binding;
  };

  const open: SerialTransportFactory = async ({ path, baudRate }) => {
    const state = stateOf(path);
    // Same message as the Linux binding, so the real error mapping is exercised.
    const binding = state.present ? MockBinding : { ...MockBinding, open: missingPortOpen };
    const stream = new SerialPortStream({ binding, path, baudRate, autoOpen: false });
    const inner = await openSerialPortStream(stream);
    state.stream = stream;
    state.opens++;
    inner.onClose(() => {
      if (state.stream === stream) state.stream = null;
    });
    const transport: SerialTransport = {
      path,
      async write(data) {
        await inner.write(data);
        const chunk = Buffer.from(data);
        state.written.push(chunk);
        for (const listener of [...state.writeListeners]) listener(chunk);
      },
      close: () => inner.close(),
      onData: (listener) => inner.onData(listener),
      onClose: (listener) => inner.onClose(listener),
    };
    return transport;
  };

  const helpers: MockSerialHelpers = {
    addPort,
    emitData(path, bytes) {
      openBinding(path).emitData(bytes);
    },
    written: (path) => [...stateOf(path).written],
    clearWritten(path) {
      stateOf(path).written.length = 0;
    },
    expectWritten(path, predicate, timeoutMs = EXPECT_WRITTEN_TIMEOUT_MS) {
      const state = stateOf(path);
      const already = state.written.find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise<Buffer>((resolve, reject) => {
        const listener = (chunk: Buffer): void => {
          if (!predicate(chunk)) return;
          clearTimeout(timer);
          state.writeListeners.delete(listener);
          resolve(chunk);
        };
        const timer = setTimeout(() => {
          state.writeListeners.delete(listener);
          const seen = state.written.map((c) => JSON.stringify(c.toString('latin1'))).join(', ') || 'nothing';
          reject(new Error(`nothing matching was written to ${path} within ${timeoutMs} ms; written: ${seen}`));
        }, timeoutMs);
        state.writeListeners.add(listener);
      });
    },
    deviceEnd(path) {
      const state = stateOf(path);
      return {
        write: (data) => openBinding(path).emitData(data),
        onData: (listener) => {
          state.writeListeners.add(listener);
        },
      };
    },
    unplug(path) {
      const state = stateOf(path);
      state.present = false;
      // What the stream itself does when a read or write fails on a vanished device.
      if (state.stream?.isOpen) state.stream._disconnected(new Error(`device ${path} disconnected`));
    },
    replug(path) {
      addPort(path);
    },
    isOpen: (path) => ports.get(path)?.stream?.isOpen ?? false,
    openCount: (path) => ports.get(path)?.opens ?? 0,
  };

  return Object.assign(open, helpers);
}

async function missingPortOpen(options: { path: string }): Promise<never> {
  await Promise.resolve();
  throw new Error(`Error: No such file or directory, cannot open ${options.path}`);
}
