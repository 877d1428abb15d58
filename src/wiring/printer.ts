/**
 * The printer, wired: its transport from `printer.interface` (or the test's), the driver,
 * the machine, and its paper and fault changes recorded upstream.
 */
import { createActor } from 'xstate';
import { PrinterDriver } from '../../devices/printer/printerDriver.js';
import { createPrinterTransportFactory, parsePrinterInterface, type PrinterTransportFactory } from '../../devices/printer/printerTransport.js';
import { checkDevicePath } from '../../devices/serial/devicePath.js';
import type { SerialTransportFactory } from '../../devices/serial/transport.js';
import type { DeviceFaultCode } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/log.js';
import type { KioskConfig } from '../config/schema.js';
import { createPrinterMachine, type PrinterActor } from '../machines/printerMachine.js';
import { eventRecorder, faultEvent, recoveredEvent } from '../upstream/deviceFaults.js';
import type { EventLog } from '../upstream/events.js';

export type PrinterConfig = NonNullable<KioskConfig['printer']>;

export interface PrinterDeps {
  events: Pick<EventLog, 'append'>;
  openSerial: SerialTransportFactory;
  /** The printer seam; built from `printer.interface` unless a test says otherwise. */
  openPrinter?: PrinterTransportFactory;
  log: Logger;
}

/** How long the printer connection may take to close on shutdown. */
export const PRINTER_CLOSE_TIMEOUT_MS = 2_000;

export function startPrinter(config: PrinterConfig, deps: PrinterDeps): { facade: PrinterActor; stop: () => Promise<void> } {
  const { log } = deps;
  const where = parsePrinterInterface(config.interface);
  if (where.kind === 'device' && !deps.openPrinter) checkDevicePath(where.path, 'printer.interface');
  const openPrinter = deps.openPrinter ?? createPrinterTransportFactory({ interface: config.interface, baudRate: config.baudRate }, { openSerial: deps.openSerial });
  const driver = new PrinterDriver({ type: config.type, openTransport: openPrinter, log });
  const actor = createActor(createPrinterMachine(driver), { input: { model: config.type } });
  const record = eventRecorder(deps.events, log, 'printer events');
  // The machine's codes are PRINTER_FAULT_CODES, all in the kernel's DeviceFault (tested).
  actor.on('paper', (e) => record([{ type: 'printer.paper', data: { state: e.state } }]));
  actor.on('fault', (e) => record([faultEvent(e.code as DeviceFaultCode, e.detail)]));
  actor.on('recovered', (e) => record([recoveredEvent(e.code as DeviceFaultCode)]));
  actor.subscribe({ error: (err) => log.fatal({ err: (err as Error).message }, 'printer machine stopped on an error') });
  actor.start();
  return { facade: actor, stop: () => closePrinter(actor) };
}

async function closePrinter(printer: PrinterActor): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, PRINTER_CLOSE_TIMEOUT_MS);
    const sub = printer.subscribe((s) => {
      if (s.matches('disconnected')) done();
    });
    function done(): void {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve();
    }
    printer.send({ type: 'CLOSE' });
  });
  printer.stop();
}
