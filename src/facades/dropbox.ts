/**
 * The drop box as the rest of the controller sees it: a plain status object, change
 * notifications, deposits as they are recorded, and the few things one may ask of it.
 * Nothing outside src/wiring/dropbox.ts sees the machine, its snapshot or the ledger.
 */
import type { PendingReceipt, RecordedDeposit } from '../machines/dropboxLedger.js';
import type { dropboxStatusView } from '../machines/dropboxMachine.js';

export type DropboxStatus = ReturnType<typeof dropboxStatusView>;
export type SlotLightMode = 'OFF' | 'ON' | 'BLINK';

export interface Dropbox {
  /** The configured `dropbox.id`, the `box` of every drop-box event. */
  readonly id: string;
  status(): DropboxStatus;
  /** Called after every change of the drop box's state; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Called once per deposit after its transaction committed; returns the unsubscribe function. */
  onDeposit(listener: (deposit: RecordedDeposit) => void): () => void;
  setSlotLight(mode: SlotLightMode): void;
  /** Releases the collection door lock for `ms` (an authorised collection follows). */
  unlock(ms: number): void;
  /** The next envelope seen as a DROP carries this receipt (null withdraws it). */
  linkNextDrop(link: PendingReceipt | null): void;
}
