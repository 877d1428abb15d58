/**
 * The barcode scanner, wired: the scanner façade on the serial seam, appointment codes
 * validated and masked, its scans and faults recorded upstream.
 */
import { checkDevicePath } from '../../devices/serial/devicePath.js';
import type { SerialTransportFactory } from '../../devices/serial/transport.js';
import type { Logger } from '../../kernel/log.js';
import type { KioskConfig } from '../config/schema.js';
import { startScanner as startScannerFacade, type Scanner } from '../facades/scanner.js';
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

export function startScanner(config: ScannerConfig, deps: ScannerDeps): { facade: Scanner; stop: () => Promise<void> } {
  checkDevicePath(config.port, 'scanner.port');
  const scanner = startScannerFacade({
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
  return {
    facade: scanner,
    async stop() {
      stopEvents();
      await scanner.stop();
    },
  };
}
