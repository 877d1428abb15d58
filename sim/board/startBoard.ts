/** Starts a board of either kind, for tests, benchmarks and `kiosk sim --board`. */
import { startFirmwareBoard, type FirmwareBoardOptions } from '../firmware/firmwareBoard.js';
import type { BoardSimulatorOptions } from './boardSimulator.js';
import { startTypescriptBoard, type BoardKind, type SimulatedBoard } from './simulatedBoard.js';

export const BOARD_KINDS: readonly BoardKind[] = ['typescript', 'firmware'];

export function startBoard(kind: BoardKind, dir: string, options: { typescript?: BoardSimulatorOptions; firmware?: FirmwareBoardOptions } = {}): Promise<SimulatedBoard> {
  return kind === 'firmware' ? startFirmwareBoard(dir, options.firmware) : startTypescriptBoard(dir, options.typescript);
}
