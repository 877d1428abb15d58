/**
 * The real serial port behind the transport seam (serialport 13). The adapter from a
 * SerialPortStream to a SerialTransport is shared with the mock port (sim/serial), so
 * unplug, close and write-failure handling is the same code in tests and in the field.
 */
import { read as fsRead } from 'node:fs';
import { promisify } from 'node:util';
import { SerialPort } from 'serialport';
import { SerialPortStream } from '@serialport/stream';
import { ErrorCode, KioskError } from '../../kernel/errors.js';
import type { SerialCloseInfo, SerialTransport, SerialTransportFactory } from './transport.js';

/** Opens the real port: 8N1, no flow control. */
export const openSerialPort: SerialTransportFactory = async ({ path, baudRate }) => {
  let port: SerialPortStream;
  try {
    port = new SerialPortStream({
      binding: hangupAwareBinding,
      path,
      baudRate,
      dataBits: 8,
      stopBits: 1,
      parity: 'none',
      rtscts: false,
      xon: false,
      xoff: false,
      // The controller reopens ports after an unplug; an exclusive lock left by a
      // half-closed descriptor would only make that reopen fail.
      lock: false,
      autoOpen: false,
    });
  } catch (e) {
    // The constructor throws only on invalid options (empty path, bad baud rate).
    throw openFailed(path, e);
  }
  return openSerialPortStream(port);
};

// ---------------------------------------------------------------------------------
// On Linux a tty whose device is gone (USB unplug, PTY master closed) is "hung up":
// read() returns 0 bytes forever. @serialport/bindings-cpp 13 retries a 0-byte read
// at once, so an unplug spins a thread-pool read loop and is never reported
// (serialport/bindings-cpp#162). Here a 0-byte read is the disconnect it means.

const platformBinding = SerialPort.binding;
const readAsync = promisify(fsRead);

/** The parts of the Linux/macOS port binding the read below needs. */
interface UnixPortBinding {
  readonly isOpen: boolean;
  fd: number | null;
  poller: { once(event: 'readable', cb: (err: Error | null) => void): unknown };
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
}

function isUnixPortBinding(port: object): port is UnixPortBinding {
  const p = port as Partial<UnixPortBinding>;
  return typeof p.fd === 'number' && typeof p.poller?.once === 'function';
}

/** Errors the stream treats as our own close rather than a disconnect. */
const canceled = (message: string): Error => Object.assign(new Error(message), { canceled: true });

async function readOrHangUp(port: UnixPortBinding, buffer: Buffer, offset: number, length: number) {
  for (;;) {
    if (!port.isOpen || port.fd === null) throw canceled('Port is not open');
    try {
      const { bytesRead } = await readAsync(port.fd, buffer, offset, length, null);
      if (bytesRead === 0) throw Object.assign(new Error('device hung up (0-byte read): it was unplugged'), { code: 'EIO' });
      return { buffer, bytesRead };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      if (!port.isOpen) throw canceled('Port is not open');
      await new Promise<void>((resolve, reject) => {
        port.poller.once('readable', (e) => (e ? reject(e) : resolve()));
      });
    }
  }
}

type PlatformOpenOptions = Parameters<typeof platformBinding.open>[0];
// The platform binding is a union of three bindings; at run time it is exactly one.
const openPlatformPort = platformBinding.open.bind(platformBinding) as (
  options: PlatformOpenOptions,
) => ReturnType<typeof platformBinding.open>;

/** The platform binding, with reads that report a hung-up tty as a disconnect. Exported for tests. */
export const hangupAwareBinding: typeof platformBinding = {
  list: () => platformBinding.list(),
  async open(options: PlatformOpenOptions) {
    const port = await openPlatformPort(options);
    if (isUnixPortBinding(port)) {
      const unixPort = port;
      unixPort.read = (buffer, offset, length) => readOrHangUp(unixPort, buffer, offset, length);
    }
    return port;
  },
} as typeof platformBinding;

/**
 * Paths of the serial ports the OS knows about, [] when they cannot be listed:
 * on Linux the listing spawns udevadm, which containers often lack.
 */
export async function listSerialPorts(): Promise<string[]> {
  try {
    const ports = await SerialPort.list();
    return ports.map((p) => p.path);
  } catch {
    return [];
  }
}

/** Opens a not-yet-open SerialPortStream (any binding) and wraps it as a SerialTransport. */
export async function openSerialPortStream(port: SerialPortStream): Promise<SerialTransport> {
  const transport = new SerialPortStreamTransport(port);
  await new Promise<void>((resolve, reject) => {
    port.open((err) => (err ? reject(openFailed(port.path, err)) : resolve()));
  });
  return transport;
}

/** Turns the binding's open error (only a message on Linux) into an actionable one. */
function openFailed(path: string, cause: unknown): KioskError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  let message: string;
  if (/no such file|ENOENT|does not exist/i.test(detail)) {
    message = `serial port ${path} not found: check the cable and the configured port path`;
  } else if (/permission denied|EACCES/i.test(detail)) {
    message = `no permission to open serial port ${path}: run the controller as a user in the dialout group`;
  } else if (/lock|busy|EBUSY|temporarily unavailable/i.test(detail)) {
    message = `serial port ${path} is busy: another program has it open`;
  } else {
    message = `could not open serial port ${path}: ${detail}`;
  }
  return new KioskError(ErrorCode.SerialOpenFailed, message, { path, detail }, { cause });
}

class SerialPortStreamTransport implements SerialTransport {
  readonly path: string;
  private readonly dataListeners: Array<(chunk: Buffer) => void> = [];
  private readonly closeListeners: Array<(info: SerialCloseInfo) => void> = [];
  /** Bytes that arrived before anyone listened: a board may talk the instant the port opens. */
  private earlyChunks: Buffer[] = [];
  /** Rejections of writes still in flight, so none hangs once the port is gone. */
  private readonly pendingWrites = new Set<(err: Error) => void>();
  private closeInfo: SerialCloseInfo | null = null;
  private closeRequested = false;
  private lastError: Error | undefined;

  constructor(private readonly port: SerialPortStream) {
    this.path = port.path;
    port.on('data', (chunk: Buffer) => this.deliver(chunk));
    // 'close' carries a DisconnectedError on unplug (read/write failed), null on our close.
    // A destroyed stream also emits a bare 'close'; whichever comes first wins.
    port.on('close', (err: Error | null | undefined) => {
      this.finish({ byUs: this.closeRequested, error: err ?? this.lastError });
    });
    // Errors after open must never become unhandled 'error' events.
    port.on('error', (err: Error) => {
      this.lastError = err;
      if (!this.port.isOpen && !this.port.closing) {
        this.finish({ byUs: this.closeRequested, error: err });
      }
    });
  }

  write(data: Buffer | string): Promise<void> {
    if (this.closeInfo || this.closeRequested || !this.port.isOpen) {
      return Promise.reject(
        new KioskError(ErrorCode.SerialWriteFailed, `serial port ${this.path} is closed: cannot write`, { path: this.path }),
      );
    }
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        this.pendingWrites.delete(fail);
        reject(
          new KioskError(ErrorCode.SerialWriteFailed, `write to serial port ${this.path} failed: ${err.message}`, { path: this.path }, { cause: err }),
        );
      };
      this.pendingWrites.add(fail);
      this.port.write(bytes, (err) => {
        if (!this.pendingWrites.has(fail)) return;
        if (err) {
          fail(err);
        } else {
          this.pendingWrites.delete(fail);
          resolve();
        }
      });
    });
  }

  close(): Promise<void> {
    if (this.closeInfo) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.closeListeners.push(() => resolve());
      if (this.closeRequested) return;
      this.closeRequested = true;
      if (this.port.isOpen) {
        this.port.close((err) => {
          // A failed close still leaves the port unusable to us: report it closed.
          if (err) this.finish({ byUs: true, error: err });
        });
      } else if (!this.port.closing) {
        this.finish({ byUs: true });
      }
      // else: an unplug is closing the port right now; its 'close' event finishes us.
    });
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    if (this.dataListeners.length === 1 && this.earlyChunks.length > 0) {
      const early = this.earlyChunks;
      this.earlyChunks = [];
      for (const chunk of early) listener(chunk);
    }
  }

  onClose(listener: (info: SerialCloseInfo) => void): void {
    if (this.closeInfo) {
      const info = this.closeInfo;
      queueMicrotask(() => listener(info));
      return;
    }
    this.closeListeners.push(listener);
  }

  private deliver(chunk: Buffer): void {
    if (this.dataListeners.length === 0) {
      this.earlyChunks.push(chunk);
      return;
    }
    for (const listener of this.dataListeners) listener(chunk);
  }

  private finish(info: SerialCloseInfo): void {
    if (this.closeInfo) return;
    const closed: SerialCloseInfo = info.error ? info : { byUs: info.byUs };
    this.closeInfo = closed;
    const err = new Error(`serial port ${this.path} closed`);
    for (const fail of [...this.pendingWrites]) fail(err);
    const listeners = this.closeListeners.splice(0);
    for (const listener of listeners) listener(closed);
  }
}
