/**
 * The touch UI follows the deposit in flight in-process: the deposit desk's machine
 * pushes each change (and a countdown tick each second while the slot is lit), so the
 * screen neither polls nor runs a timer of its own.
 */
import type { DepositDesk, DepositView } from '../dropbox/depositDesk.js';
import type { DepositState } from '../machines/kioskUiMachine.js';

export function depositStateForUi(view: DepositView): DepositState {
  // 'printing' is the receipt still coming out: for the citizen, the slot is about to open.
  const state = view.state === 'printing' ? 'awaiting_drop' : view.state;
  return { state, receipt: view.receipt, secondsLeft: view.secondsLeft };
}

/** The UI backend's `watchDeposit` on `desk` (none: the state stays idle). */
export function watchDeposits(desk: DepositDesk | null): (listener: (state: DepositState) => void) => () => void {
  return (listener) => (desk ? desk.watch((view) => listener(depositStateForUi(view))) : () => undefined);
}
