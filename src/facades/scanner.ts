/**
 * The scanner as the rest of the controller sees it: a plain status, `onChange`, every
 * scanned code (`onScan`), the port's loss and return (`onFault`), and `stop`. The
 * machine and its actor stay inside.
 */
import { createActor, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { BackoffPolicy } from '../../devices/link/backoff.js';
import type { ScanLineEnding } from '../../devices/scanner/protocol.js';
import { createScannerPortLogic } from '../../devices/scanner/scannerPortActor.js';
import type { SerialTransportFactory } from '../../devices/serial/transport.js';
import type { Logger } from '../log.js';
import { SCANNER_LINK_POLICY, createScannerMachine, scannerStatusView, type Scan, type ScannerFaultEvent, type ScannerStatus } from '../machines/scannerMachine.js';

export type { Scan, ScannerFaultEvent, ScannerStatus } from '../machines/scannerMachine.js';

export interface Scanner {
  status(): ScannerStatus;
  /** Called after every change of the status; returns the unsubscribe function. */
  onChange(listener: (status: ScannerStatus) => void): () => void;
  /** Every code scanned from now on. */
  onScan(listener: (scan: Scan) => void): () => void;
  /** The port lost for the first time in a row (fault) and opened again (recovered). */
  onFault(listener: (e: ScannerFaultEvent) => void): () => void;
  /** Closes the port as ours (never reported as a fault); resolves once it is released. */
  stop(): Promise<void>;
}

export interface ScannerOptions {
  path: string;
  baudRate: number;
  lineEnding?: ScanLineEnding;
  openSerial: SerialTransportFactory;
  /** Decides `valid` for each code. */
  validate: (code: string) => boolean;
  /** How a code is shown in log lines (e.g. masked): never in full. */
  mask: (code: string) => string;
  log: Logger;
  /** The reopen backoff (tests shorten it); SCANNER_LINK_POLICY by default. */
  backoff?: Partial<BackoffPolicy>;
  /** XState's clock (a SimulatedClock in tests). */
  clock?: ActorOptions<AnyActorLogic>['clock'];
  /** Wall clock in ms for scan times; the simulated clock's in tests. */
  now?: () => number;
}

export function startScanner(opts: ScannerOptions): Scanner {
  const now = opts.now ?? Date.now;
  const port = createScannerPortLogic(opts.openSerial, { ...(opts.lineEnding ? { lineEnding: opts.lineEnding } : {}), now });
  const machine = createScannerMachine({
    port,
    validate: opts.validate,
    mask: opts.mask,
    log: opts.log,
    policy: { ...SCANNER_LINK_POLICY, ...opts.backoff },
    now,
  });
  const actor = createActor(machine, { input: { path: opts.path, baudRate: opts.baudRate }, ...(opts.clock ? { clock: opts.clock } : {}) });
  actor.subscribe({ error: (err) => opts.log.fatal({ err: (err as Error).message }, 'scanner machine stopped on an error') });
  actor.start();

  const safely =
    <T>(what: string, listener: (arg: T) => void) =>
    (arg: T): void => {
      try {
        listener(arg);
      } catch (err) {
        // A listener's failure must not stop the scanner.
        opts.log.warn({ err: (err as Error).message }, `${what} listener threw`);
      }
    };

  return {
    status: () => scannerStatusView(actor.getSnapshot()),
    onChange(listener) {
      const tell = (): void => safely('scanner status', listener)(scannerStatusView(actor.getSnapshot()));
      // The link's own steps (a reopen attempt) change the status too.
      const subs = [actor.subscribe(tell), actor.getSnapshot().children.link?.subscribe(tell)];
      return () => subs.forEach((sub) => sub?.unsubscribe());
    },
    onScan(listener) {
      const sub = actor.on('scan', (e) => safely('scan', listener)(e.scan));
      return () => sub.unsubscribe();
    },
    onFault(listener) {
      const sub = actor.on('fault', (e) => {
        const { type: _type, ...fault } = e;
        safely('scanner fault', listener)(fault as ScannerFaultEvent);
      });
      return () => sub.unsubscribe();
    },
    async stop() {
      if (actor.getSnapshot().status !== 'active') return;
      // The link stops its port actor, which closes the port as ours.
      actor.send({ type: 'STOP' });
      actor.stop();
      await port.released();
    },
  };
}
