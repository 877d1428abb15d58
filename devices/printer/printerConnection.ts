/**
 * The printer connection as the connection of the printer machine's reconnecting link
 * (devices/link/): connects the device and watches for its loss. A close the device
 * reports as ours (`byUs`) is never taken for an unplug. Closing is the printer
 * machine's own step (it answers waiting jobs first), so stopping this actor only stops
 * listening.
 */
import { fromCallback, type EventObject } from 'xstate';
import type { LinkConnectionEvent } from '../link/linkMachine.js';
import type { PrinterDevice } from './printerDriver.js';

export function createPrinterConnectionLogic(device: Pick<PrinterDevice, 'connect' | 'onDisconnect'>) {
  return fromCallback<EventObject, undefined>(({ sendBack }) => {
    let live = true;
    const send = (e: LinkConnectionEvent): void => {
      if (live) sendBack(e);
    };
    const off = device.onDisconnect((info) => {
      if (!info.byUs) send({ type: 'LINK.LOST', message: info.error?.message ?? 'connection closed by the printer' });
    });
    device.connect().then(
      () => send({ type: 'LINK.OPENED' }),
      (err: unknown) => send({ type: 'LINK.OPEN_FAILED', message: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
      off();
    };
  });
}
