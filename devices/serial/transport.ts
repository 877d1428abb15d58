/**
 * The one serial transport seam. Drivers never open ports themselves: they take a
 * `SerialTransportFactory`, which `main.ts` wires to the real port
 * (serialPortTransport.ts) and tests and the simulator wire to a mock or a PTY.
 */

/** An open serial port as a byte stream. */
export interface SerialTransport {
  readonly path: string;
  /** Resolves once the bytes are handed to the OS; rejects KioskError(SerialWriteFailed). */
  write(data: Buffer | string): Promise<void>;
  /** Our own close: reported to onClose with `byUs: true`, never as an unplug. */
  close(): Promise<void>;
  /** Bytes as they arrive; chunks received before the first listener are kept for it. */
  onData(listener: (chunk: Buffer) => void): void;
  /** Fires exactly once per open port: unplug, error, or our own close. */
  onClose(listener: (info: SerialCloseInfo) => void): void;
}

export interface SerialCloseInfo {
  /** True only when `close()` was called on this transport. */
  byUs: boolean;
  error?: Error;
}

export interface SerialOpenOptions {
  path: string;
  baudRate: number;
}

/** Opens a port; rejects KioskError(SerialOpenFailed) with a message naming the path. */
export type SerialTransportFactory = (opts: SerialOpenOptions) => Promise<SerialTransport>;
