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
  SerialClosed: 201,
  SerialWriteFailed: 202,
  BoardCommandRejected: 210,
  BoardCommandTimeout: 211,
  /** The caller asked the board protocol module for a frame, seq or limit protocol v1 cannot carry (a bug). */
  BoardProtocolMisuse: 212,
  // 3xx printer
  PrinterOffline: 300,
  PrinterNotReady: 301,
  PrinterJobUnconfirmed: 302,
  PrinterInterfaceInvalid: 303,
  PrinterConnectFailed: 304,
  PrinterWriteFailed: 305,
  // 4xx upstream (outbox, MQTT, central)
  OutboxFull: 400,
  OutboxWriteFailed: 401,
  /** The outbox database is not a readable SQLite file (or was written by a newer version): never reset silently. */
  OutboxUnreadable: 402,
  /** Another controller holds the data folder. */
  DataDirInUse: 403,
  /** The data folder cannot be created, written or locked. */
  DataDirUnusable: 404,
  UpstreamNotConnected: 410,
  CentralTimeout: 411,
  CentralRejected: 412,
  // 5xx local HTTP
  HttpBadRequest: 500,
  HttpUnauthorized: 501,
  /** `kiosk diag`: wrong PIN, lockout, diagnostics disabled, or the session refused. */
  DiagLoginRefused: 510,
  /** `kiosk diag`: nothing answers at --url. */
  DiagControllerUnreachable: 511,
  /** `kiosk diag`: the controller answered an error (message says which). */
  DiagRequestFailed: 512,
} as const;

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
