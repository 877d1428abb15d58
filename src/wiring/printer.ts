/**
 * The printer, wired: its transport from `printer.interface` (or the test's), the
 * façade over driver and machine (src/facades/printer.ts), and its paper and fault
 * changes recorded upstream.
 */
import { createPrinterTransportFactory, parsePrinterInterface, type PrinterTransportFactory } from '../../devices/printer/printerTransport.js';
import { checkDevicePath } from '../../devices/serial/devicePath.js';
import type { SerialTransportFactory } from '../../devices/serial/transport.js';
import type { DeviceFaultCode } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/log.js';
import { startPrinter as startPrinterFacade, type Printer, type PrinterConfig } from '../facades/printer.js';
import { eventRecorder, faultEvent, recoveredEvent } from '../upstream/deviceFaults.js';
import type { EventLog } from '../upstream/events.js';

export type { PrinterConfig };

export interface PrinterDeps {
  events: Pick<EventLog, 'append'>;
  openSerial: SerialTransportFactory;
  /** The printer seam; built from `printer.interface` unless a test says otherwise. */
  openPrinter?: PrinterTransportFactory;
  log: Logger;
}

export function startPrinter(config: PrinterConfig, deps: PrinterDeps): { facade: Printer; stop: () => Promise<void> } {
  const { log } = deps;
  const where = parsePrinterInterface(config.interface);
  if (where.kind === 'device' && !deps.openPrinter) checkDevicePath(where.path, 'printer.interface');
  const openTransport = deps.openPrinter ?? createPrinterTransportFactory({ interface: config.interface, baudRate: config.baudRate }, { openSerial: deps.openSerial });
  const printer = startPrinterFacade(config, { openTransport, log });
  const record = eventRecorder(deps.events, log, 'printer events');
  // The machine's codes are PRINTER_FAULT_CODES, all in the kernel's DeviceFault (tested).
  printer.onEvent((e) => {
    if (e.type === 'paper') record([{ type: 'printer.paper', data: { state: e.state } }]);
    else if (e.type === 'fault') record([faultEvent(e.code as DeviceFaultCode, e.detail)]);
    else if (e.type === 'recovered') record([recoveredEvent(e.code as DeviceFaultCode)]);
  });
  return { facade: printer, stop: () => printer.stop() };
}
