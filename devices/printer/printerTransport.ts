/**
 * The printer's transport seam: a byte stream to and from the printer, whatever the
 * cable. The driver never opens one itself; it is handed a `PrinterTransportFactory`
 * (main.ts wires the real ones from `printer.interface`, tests a socket or a PTY).
 */
import net from 'node:net';
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, KioskError } from '../../kernel/errors.js';
import { openSerialPort } from '../serial/serialPortTransport.js';
import type { SerialTransportFactory } from '../serial/transport.js';

export interface PrinterCloseInfo {
  /** True only when `close()` was called on this transport: not an unplug. */
  byUs: boolean;
  error?: Error;
}

export interface PrinterTransport {
  /** Resolves once the bytes are handed to the OS; rejects KioskError(PrinterWriteFailed). */
  write(bytes: Buffer): Promise<void>;
  /** Bytes as they arrive; chunks received before the first listener are kept for it. */
  onData(listener: (chunk: Buffer) => void): void;
  /** Fires exactly once: peer gone, error, or our own close. */
  onClose(listener: (info: PrinterCloseInfo) => void): void;
  close(): Promise<void>;
}

export type PrinterTransportFactory = () => Promise<PrinterTransport>;

export type PrinterInterface = { kind: 'tcp'; host: string; port: number } | { kind: 'device'; path: string };

/** A TCP connect that takes longer than this is a printer that is not there. */
export const TCP_CONNECT_TIMEOUT_MS = 3000;
/** Idle time before TCP keepalive probes start, so a printer whose cable is pulled is noticed. */
export const TCP_KEEPALIVE_MS = 5000;
/** After our own `end()`, how long the peer has to close before the socket is destroyed. */
export const TCP_CLOSE_GRACE_MS = 1000;
/** How often a device file (/dev/usb/lp0) is polled for status replies. */
export const DEVICE_READ_POLL_MS = 20;
/** Pause before retrying a write the device refused for now (its buffer is full). */
export const DEVICE_WRITE_RETRY_MS = 20;

/** `tcp://HOST:PORT` or an absolute device path (CONTRACT §2). */
export function parsePrinterInterface(s: string): PrinterInterface {
  const tcp = /^tcp:\/\/([^:/\s]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})\/?$/.exec(s.trim());
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw invalidInterface(s, 'the port must be 1-65535');
    return { kind: 'tcp', host: tcp[1]!.replace(/^\[|\]$/g, ''), port };
  }
  if (/^\/\S+$/.test(s.trim())) return { kind: 'device', path: s.trim() };
  throw invalidInterface(s, 'expected "tcp://HOST:PORT" or a device path such as /dev/usb/lp0');
}

function invalidInterface(s: string, why: string): KioskError {
  return new KioskError(ErrorCode.PrinterInterfaceInvalid, `printer.interface "${s}" is invalid: ${why}`, { interface: s });
}

/** Serial ports (USB-serial, CDC-ACM, on-board UARTs) need a baud rate; /dev/usb/lp* are plain files. */
export function isSerialDevicePath(path: string): boolean {
  return /^\/dev\/(tty(USB|ACM|S|AMA|XRUSB|THS)\d+|serial\/)/.test(path);
}

export interface PrinterTransportConfig {
  interface: string;
  /** For serial device paths only. */
  baudRate?: number;
}

/** The factory for a configured printer interface. */
export function createPrinterTransportFactory(
  config: PrinterTransportConfig,
  deps: { openSerial?: SerialTransportFactory } = {},
): PrinterTransportFactory {
  const where = parsePrinterInterface(config.interface);
  if (where.kind === 'tcp') return () => openTcpPrinter(where.host, where.port);
  if (isSerialDevicePath(where.path)) {
    const openSerial = deps.openSerial ?? openSerialPort;
    return () => openSerial({ path: where.path, baudRate: config.baudRate ?? 9600 });
  }
  return () => openDevicePrinter(where.path);
}

/** Shared bookkeeping: early-data buffering and exactly-once close reporting. */
abstract class StreamBase implements PrinterTransport {
  private readonly dataListeners: Array<(chunk: Buffer) => void> = [];
  private readonly closeListeners: Array<(info: PrinterCloseInfo) => void> = [];
  private early: Buffer[] = [];
  protected closeInfo: PrinterCloseInfo | null = null;
  protected closeRequested = false;

  abstract write(bytes: Buffer): Promise<void>;
  abstract close(): Promise<void>;

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    if (this.dataListeners.length === 1 && this.early.length > 0) {
      const early = this.early;
      this.early = [];
      for (const c of early) listener(c);
    }
  }

  onClose(listener: (info: PrinterCloseInfo) => void): void {
    if (this.closeInfo) {
      const info = this.closeInfo;
      queueMicrotask(() => listener(info));
      return;
    }
    this.closeListeners.push(listener);
  }

  protected deliver(chunk: Buffer): void {
    if (this.dataListeners.length === 0) {
      this.early.push(chunk);
      return;
    }
    for (const l of this.dataListeners) l(chunk);
  }

  protected finish(info: PrinterCloseInfo): void {
    if (this.closeInfo) return;
    this.closeInfo = info.error ? info : { byUs: info.byUs };
    for (const l of this.closeListeners.splice(0)) l(this.closeInfo);
  }

  protected closedError(what: string): KioskError {
    return new KioskError(ErrorCode.PrinterWriteFailed, `${what} is closed: cannot write to the printer`, {});
  }
}

// ---------------------------------------------------------------- TCP (port 9100)

class TcpPrinterTransport extends StreamBase {
  constructor(
    private readonly socket: net.Socket,
    private readonly label: string,
  ) {
    super();
    socket.on('data', (c: Buffer) => this.deliver(c));
    let lastError: Error | undefined;
    socket.on('error', (e) => {
      lastError = e;
    });
    socket.on('close', () => this.finish({ byUs: this.closeRequested, error: lastError }));
  }

  write(bytes: Buffer): Promise<void> {
    if (this.closeInfo || this.closeRequested || this.socket.destroyed) return Promise.reject(this.closedError(this.label));
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) => {
        if (err) {
          reject(new KioskError(ErrorCode.PrinterWriteFailed, `write to printer ${this.label} failed: ${err.message}`, {}, { cause: err }));
        } else resolve();
      });
    });
  }

  close(): Promise<void> {
    if (this.closeInfo) return Promise.resolve();
    return new Promise((resolve) => {
      this.onClose(() => resolve());
      if (this.closeRequested) return;
      this.closeRequested = true;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), TCP_CLOSE_GRACE_MS).unref();
    });
  }
}

export function openTcpPrinter(host: string, port: number): Promise<PrinterTransport> {
  const label = `tcp://${host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new KioskError(ErrorCode.PrinterConnectFailed, `printer ${label} did not accept a connection within ${TCP_CONNECT_TIMEOUT_MS} ms: check that it is on and its address`, { host, port }),
      );
    }, TCP_CONNECT_TIMEOUT_MS);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new KioskError(ErrorCode.PrinterConnectFailed, `could not connect to printer ${label}: ${err.message}`, { host, port }, { cause: err }));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // Status requests are 3 bytes: Nagle would hold them back and eat the 1 s budget.
      socket.setNoDelay(true);
      socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      resolve(new TcpPrinterTransport(socket, label));
    });
  });
}

// ---------------------------------------------------------------- device file (/dev/usb/lp0)

class DevicePrinterTransport extends StreamBase {
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly readBuf = Buffer.alloc(256);
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
  ) {
    super();
    this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.closeInfo) return;
    this.pollTimer = setTimeout(() => void this.poll(), DEVICE_READ_POLL_MS);
  }

  private async poll(): Promise<void> {
    this.pollTimer = null;
    if (this.closeInfo || this.closeRequested) return;
    try {
      for (;;) {
        const { bytesRead } = await this.handle.read(this.readBuf, 0, this.readBuf.length, null);
        // 0 is "nothing now": usblp can return empty reads from a live printer, and a
        // vanished device is caught by the next write (the machine polls every few seconds).
        if (bytesRead <= 0) break;
        this.deliver(Buffer.from(this.readBuf.subarray(0, bytesRead)));
      }
    } catch (e) {
      if (!isWouldBlock(e)) {
        await this.lost(e as Error);
        return;
      }
    }
    this.schedulePoll();
  }

  private async lost(error: Error): Promise<void> {
    if (this.closeInfo) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.handle.close().catch(() => undefined);
    this.finish({ byUs: this.closeRequested, error });
  }

  write(bytes: Buffer): Promise<void> {
    if (this.closeInfo || this.closeRequested) return Promise.reject(this.closedError(this.path));
    // Writes are chained so two jobs never interleave their bytes.
    const next = this.writing.then(() => this.writeAll(bytes));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async writeAll(bytes: Buffer): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.closeInfo) throw this.closedError(this.path);
      try {
        const { bytesWritten } = await this.handle.write(bytes, offset, bytes.length - offset, null);
        offset += bytesWritten;
      } catch (e) {
        if (isWouldBlock(e)) {
          await new Promise((r) => setTimeout(r, DEVICE_WRITE_RETRY_MS));
          continue;
        }
        const err = e as Error;
        void this.lost(err);
        throw new KioskError(ErrorCode.PrinterWriteFailed, `write to printer ${this.path} failed: ${err.message}`, { path: this.path }, { cause: err });
      }
    }
  }

  async close(): Promise<void> {
    if (this.closeInfo) return;
    this.closeRequested = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.writing;
    await this.handle.close().catch(() => undefined);
    this.finish({ byUs: true });
  }
}

function isWouldBlock(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

/**
 * Opens a printer device file read-write and non-blocking: a USB printer class device
 * (usblp) answers status requests on the same file, and a blocking read would hold a
 * libuv thread for as long as the printer stays silent.
 */
export async function openDevicePrinter(path: string): Promise<PrinterTransport> {
  const { O_RDWR, O_NONBLOCK, O_NOCTTY } = fs.constants;
  try {
    const handle = await fs.promises.open(path, O_RDWR | O_NONBLOCK | O_NOCTTY);
    return new DevicePrinterTransport(handle, path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint =
      err.code === 'ENOENT' ? 'check the USB cable and the configured path' : err.code === 'EACCES' ? 'run the controller as a user in the lp group' : err.message;
    throw new KioskError(ErrorCode.PrinterConnectFailed, `could not open printer ${path}: ${hint}`, { path, code: err.code }, { cause: e });
  }
}
