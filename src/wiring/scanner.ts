/**
 * The barcode scanner, wired: the driver on the serial seam, appointment codes validated
 * and masked, its scans and faults recorded upstream.
 */
import { ScannerDriver } from '../../devices/scanner/scannerDriver.js';
import { checkDevicePath } from '../../devices/serial/devicePath.js';
import type { SerialTransportFactory } from '../../devices/serial/transport.js';
import type { Logger } from '../../kernel/log.js';
import type { KioskConfig } from '../config/schema.js';
import { codeHint, isAppointmentCode, normalizeAppointmentCode } from '../tickets/appointments.js';
import { recordScannerEvents } from '../tickets/scanFeed.js';
import type { EventLog } from '../upstream/events.js';

export type ScannerConfig = NonNullable<KioskConfig['scanner']>;

export interface ScannerDeps {
  events: Pick<EventLog, 'append'>;
  openSerial: SerialTransportFactory;
  log: Logger;
  /** Reopen backoff (tests shorten it). */
  backoff?: { initialMs: number; maxMs: number };
}

export function startScanner(config: ScannerConfig, deps: ScannerDeps): { facade: ScannerDriver; stop: () => Promise<void> } {
  checkDevicePath(config.port, 'scanner.port');
  const scanner = new ScannerDriver({
    path: config.port,
    baudRate: config.baudRate,
    lineEnding: config.lineEnding,
    openSerial: deps.openSerial,
    validate: (code) => isAppointmentCode(normalizeAppointmentCode(code)),
    mask: codeHint,
    log: deps.log,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
  });
  const stopEvents = recordScannerEvents(scanner, deps.events, deps.log);
  scanner.start();
  return {
    facade: scanner,
    async stop() {
      stopEvents();
      await scanner.stop();
    },
  };
}
