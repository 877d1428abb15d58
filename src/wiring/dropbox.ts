/**
 * The drop box, wired: its board port on the serial seam, the machine, the ledger on the
 * outbox, and the façade the rest of the controller uses. A chunk of serial bytes is
 * handled inside one outbox transaction, so its deposits and their count commit together.
 */
import { createActor } from 'xstate';
import { createBoardPortLogic } from '../../devices/board/boardPortActor.js';
import { checkDevicePath } from '../../devices/serial/devicePath.js';
import type { SerialTransportFactory } from '../../devices/serial/transport.js';
import type { Clock } from '../../kernel/clock.js';
import type { Logger } from '../../kernel/log.js';
import type { KioskConfig } from '../config/schema.js';
import type { Dropbox } from '../facades/dropbox.js';
import { DropboxLedger } from '../machines/dropboxLedger.js';
import { createDropboxMachine, dropboxStatusView } from '../machines/dropboxMachine.js';
import type { OutboxStore } from '../upstream/outbox.js';

export type DropboxConfig = NonNullable<KioskConfig['dropbox']>;

export interface DropboxDeps {
  outbox: OutboxStore;
  openSerial: SerialTransportFactory;
  clock: Clock;
  log: Logger;
}

export function startDropbox(config: DropboxConfig, deps: DropboxDeps): { facade: Dropbox; stop: () => void } {
  checkDevicePath(config.port, 'dropbox.port');
  const { log, outbox } = deps;
  const ledger = new DropboxLedger(outbox, config.id, log, { capacity: config.capacity });
  const machine = createDropboxMachine({
    ledger,
    log,
    now: () => deps.clock.now(),
    boardPort: createBoardPortLogic(deps.openSerial, { batch: (fn) => outbox.transaction(fn), now: () => deps.clock.now() }),
  });
  const actor = createActor(machine, { clock: deps.clock, input: { box: config.id, path: config.port, baudRate: config.baudRate } });
  actor.subscribe({ error: (err) => log.fatal({ err: (err as Error).message }, 'drop-box machine stopped on an error') });
  actor.start();

  const facade: Dropbox = {
    id: config.id,
    status: () => dropboxStatusView(actor.getSnapshot(), ledger),
    onChange(listener) {
      const sub = actor.subscribe(() => listener());
      return () => sub.unsubscribe();
    },
    onDeposit: (listener) => ledger.onDeposit(listener),
    setSlotLight: (mode) => actor.send({ type: 'DROPBOX.LED', mode }),
    unlock: (ms) => actor.send({ type: 'DROPBOX.UNLOCK', ms }),
    linkNextDrop: (link) => ledger.setPendingReceipt(link),
  };
  return { facade, stop: () => actor.stop() };
}
