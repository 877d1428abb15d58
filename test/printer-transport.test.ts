import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isKioskError, ErrorCode } from '../src/errors.js';
import {
  createPrinterTransportFactory,
  isSerialDevicePath,
  openDevicePrinter,
  openTcpPrinter,
  parsePrinterInterface,
  type PrinterCloseInfo,
  type PrinterTransport,
} from '../devices/printer/printerTransport.js';
import { PrinterDriver } from '../devices/printer/printerDriver.js';
import { classifyStatus } from '../devices/printer/statusProtocol.js';
import type { SerialOpenOptions, SerialTransport } from '../devices/serial/transport.js';

describe('printer interface from the config', () => {
  it('reads tcp://HOST:PORT and device paths', () => {
    expect(parsePrinterInterface('tcp://127.0.0.1:9100')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9100 });
    expect(parsePrinterInterface('tcp://printer.local:9100/')).toEqual({ kind: 'tcp', host: 'printer.local', port: 9100 });
    expect(parsePrinterInterface('/dev/usb/lp0')).toEqual({ kind: 'device', path: '/dev/usb/lp0' });
    expect(parsePrinterInterface('/dev/ttyUSB0')).toEqual({ kind: 'device', path: '/dev/ttyUSB0' });
  });

  for (const bad of ['tcp://host', 'tcp://host:0', 'tcp://host:70000', 'printer:EPSON', 'lp0', '']) {
    it(`rejects "${bad}" with a message naming the setting`, () => {
      try {
        parsePrinterInterface(bad);
        expect.unreachable();
      } catch (e) {
        expect(isKioskError(e, ErrorCode.PrinterInterfaceInvalid)).toBe(true);
        expect((e as Error).message).toContain('printer.interface');
      }
    });
  }

  it('opens serial device paths as serial ports with the configured baud rate', async () => {
    expect(isSerialDevicePath('/dev/ttyUSB0')).toBe(true);
    expect(isSerialDevicePath('/dev/ttyACM1')).toBe(true);
    expect(isSerialDevicePath('/dev/usb/lp0')).toBe(false);
    const opened: SerialOpenOptions[] = [];
    const factory = createPrinterTransportFactory(
      { interface: '/dev/ttyUSB0', baudRate: 19200 },
      { openSerial: async (o) => (opened.push(o), {} as SerialTransport) },
    );
    await factory();
    expect(opened).toEqual([{ path: '/dev/ttyUSB0', baudRate: 19200 }]);
  });
});

describe('TCP printer transport', () => {
  it('a refused connection is a PrinterConnectFailed error naming the address', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    await expect(openTcpPrinter('127.0.0.1', port)).rejects.toSatisfy(
      (e: unknown) => isKioskError(e, ErrorCode.PrinterConnectFailed) && (e as Error).message.includes(`tcp://127.0.0.1:${port}`),
    );
  });

  it('disables Nagle so a 3-byte status request leaves at once, and reports the peer closing', async () => {
    let serverSide: net.Socket | null = null;
    const server = net.createServer((s) => (serverSide = s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const t = await openTcpPrinter('127.0.0.1', (server.address() as net.AddressInfo).port);
    const closed: PrinterCloseInfo[] = [];
    t.onClose((i) => closed.push(i));
    await new Promise((r) => setImmediate(r));
    const got = new Promise<Buffer>((r) => serverSide!.once('data', r));
    await t.write(Buffer.from([0x10, 0x04, 0x01]));
    expect([...(await got)]).toEqual([0x10, 0x04, 0x01]);
    serverSide!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toEqual([expect.objectContaining({ byUs: false })]);
    await expect(t.write(Buffer.from([1]))).rejects.toSatisfy((e: unknown) => isKioskError(e, ErrorCode.PrinterWriteFailed));
    await new Promise<void>((r) => server.close(() => r()));
  });
});

describe('device file printer transport (/dev/usb/lp0), on a PTY pair', () => {
  let socat: ChildProcess | null = null;
  const opened: PrinterTransport[] = [];

  afterEach(async () => {
    for (const t of opened.splice(0)) await t.close();
    socat?.kill('SIGTERM');
    socat = null;
  });

  async function ptyPair(): Promise<[string, string]> {
    const base = `/tmp/printer-pty-${process.pid}-${Date.now()}`;
    const [a, b] = [`${base}-a`, `${base}-b`];
    socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
    const start = Date.now();
    while (!(existsSync(a) && existsSync(b))) {
      if (Date.now() - start > 5000) throw new Error('socat did not create the PTYs');
      await new Promise((r) => setTimeout(r, 20));
    }
    return [a, b];
  }

  it('writes status requests and reads the replies through the same file', async () => {
    const [printerSide, printerEnd] = await ptyPair();
    // The far end plays a printer answering every DLE EOT with "near end".
    const printer = await openDevicePrinter(printerEnd);
    opened.push(printer);
    printer.onData((c) => {
      for (let i = 0; i + 2 < c.length; i += 3) void printer.write(Buffer.from([c[i + 2] === 4 ? 0x1e : 0x12]));
    });
    const driver = new PrinterDriver({ type: 'epson', openTransport: () => openDevicePrinter(printerSide) });
    await driver.connect();
    const status = await driver.readStatus();
    expect(classifyStatus(status)).toBe('paperNearEnd');
    await driver.close();
  });

  it('a device that disappears is reported as lost, not as our own close', async () => {
    const [printerSide] = await ptyPair();
    const t = await openDevicePrinter(printerSide);
    opened.push(t);
    const closed = new Promise<PrinterCloseInfo>((r) => t.onClose(r));
    const exited = new Promise((r) => socat!.once('exit', r));
    socat!.kill('SIGKILL');
    await exited;
    // A hung-up device reads as "no data"; the next write (the driver polls) finds it gone.
    await expect(t.write(Buffer.from([0x10, 0x04, 0x01]))).rejects.toSatisfy((e: unknown) => isKioskError(e, ErrorCode.PrinterWriteFailed));
    const info = await closed;
    expect(info.byUs).toBe(false);
  });

  it('a missing device is a PrinterConnectFailed error that says to check the cable', async () => {
    await expect(openDevicePrinter('/dev/usb/lp-missing')).rejects.toSatisfy(
      (e: unknown) => isKioskError(e, ErrorCode.PrinterConnectFailed) && /cable/.test((e as Error).message),
    );
  });
});
