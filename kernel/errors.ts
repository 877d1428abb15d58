/**
 * The one error type of the controller. Every failure has a stable numeric code,
 * grouped by area, so logs, health output and tests can name it without parsing
 * messages. Messages say what happened and what to do.
 */
export const ErrorCode = {
  // 1xx configuration
  ConfigMissing: 100,
  ConfigInvalidJson: 101,
  ConfigInvalid: 102,
  // 2xx serial ports and the drop-box board
  SerialOpenFailed: 200,
  SerialWriteFailed: 202,
  /** A configured device path exists but is not a device (e.g. a directory). */
  DevicePathInvalid: 203,
  /** The caller asked the board protocol module for a frame, seq or limit protocol v1 cannot carry (a bug). */
  BoardProtocolMisuse: 212,
  // 3xx printer
  PrinterInterfaceInvalid: 303,
  PrinterConnectFailed: 304,
  PrinterWriteFailed: 305,
  // 4xx upstream (outbox, MQTT, central) and the data folder
  OutboxFull: 400,
  OutboxWriteFailed: 401,
  /** The outbox database is not a readable SQLite file (or was written by a newer version): never reset silently. */
  OutboxUnreadable: 402,
  /** Another controller holds the data folder. */
  DataDirInUse: 403,
  /** The data folder cannot be created, written or locked. */
  DataDirUnusable: 404,
  // 5xx local HTTP
  HttpBadRequest: 500,
  /** The HTTP port is taken, or the address cannot be bound. */
  HttpListenFailed: 502,
  /** `kiosk diag`: wrong PIN, lockout, diagnostics disabled, or the session refused. */
  DiagLoginRefused: 510,
  /** `kiosk diag`: nothing answers at --url. */
  DiagControllerUnreachable: 511,
  /** `kiosk diag`: the controller answered an error (message says which). */
  DiagRequestFailed: 512,
  // 6xx a part of the controller failed to start (the message names it)
  StartFailed: 600,
} as const;

/**
 * Device faults, as `device.fault {device, code}` carries them (CONTRACT §5): the wire code
 * and its number, grouped by device in the same areas as ErrorCode (22x drop-box board,
 * 26x scanner, 32x printer, 42x upstream). The device is the code's prefix.
 */
export const DeviceFault = {
  'dropbox.offline': 220,
  'dropbox.frames_lost': 221,
  'dropbox.count_regressed': 222,
  'dropbox.protocol_version': 223,
  'dropbox.board_error': 224,
  'dropbox.command_unacked': 225,
  'scanner.disconnected': 260,
  'printer.disconnected': 320,
  'printer.offline': 321,
  'printer.error': 322,
  'printer.cover_open': 323,
  'printer.paper_out': 324,
  'upstream.disconnected': 420,
  'upstream.connect_refused': 421,
  'upstream.tls_failed': 422,
  'upstream.credentials_unreadable': 423,
  'upstream.subscribe_refused': 424,
  'upstream.connection_dropped': 425,
  'upstream.certificate_expiring': 426,
} as const;

export type DeviceFaultCode = keyof typeof DeviceFault;
/** The devices `device.fault` names (CONTRACT §5). */
export type FaultDevice = 'printer' | 'dropbox' | 'scanner' | 'upstream' | 'speech';

/** The device a fault code belongs to: its prefix. */
export function faultDevice(code: DeviceFaultCode): FaultDevice {
  return code.slice(0, code.indexOf('.')) as FaultDevice;
}

export function isDeviceFaultCode(code: string): code is DeviceFaultCode {
  return Object.hasOwn(DeviceFault, code);
}

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

export class KioskError extends Error {
  override readonly name = 'KioskError';
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
    readonly context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The symbolic name of `code`, e.g. "OutboxFull". */
  get codeName(): ErrorCodeName {
    const entry = Object.entries(ErrorCode).find(([, v]) => v === this.code);
    return (entry?.[0] ?? 'ConfigInvalid') as ErrorCodeName;
  }
}

export function isKioskError(e: unknown, code?: ErrorCodeValue): e is KioskError {
  return e instanceof KioskError && (code === undefined || e.code === code);
}
