/**
 * What the controller knows about one family of printer models: its status requests and
 * how to read their answers, how a job is confirmed, and the paper geometry (print head
 * width, font A columns, line pitch). One file per family in this folder, gathered in
 * the registry (index.ts); the config's `printer.type` and `printer.model` come from it.
 */
import type { PrinterStatus } from '../statusProtocol.js';

/** The command set: `printer.type` in the config (CONTRACT §2). */
export type PrinterFamily = 'epson' | 'star';
export const PRINTER_FAMILIES = ['epson', 'star'] as const satisfies readonly PrinterFamily[];

/** Characters of font A per line that CONTRACT §4 allows for `printer.columns`. */
export type PrinterColumns = 32 | 42 | 48;
export const PRINTER_COLUMNS = [32, 42, 48] as const satisfies readonly PrinterColumns[];
/** CONTRACT §4: `printer.columns` absent means 48. */
export const DEFAULT_COLUMNS: PrinterColumns = 48;

/** One real-time status request and the length of its answer. */
export interface StatusRequest {
  bytes: Buffer;
  /**
   * The answer's total length from its first byte; null when that byte cannot start an
   * answer (garbage: what arrived is decoded as it is, and comes out invalid).
   */
  replyLength(firstByte: number): number | null;
}

/**
 * How the controller learns that a job has printed (CONTRACT §4 `printed: true`):
 * - `completionRequest`: Epson `GS ( H` fn 48 after the job, answered once it has printed;
 * - `statusAfterJob`: the model has no such request: the status is read `settleBaseMs`
 *   (plus the transfer time) after the job is sent, and no fault counts as printed.
 */
export type ConfirmationStrategy = { kind: 'completionRequest' } | { kind: 'statusAfterJob'; settleBaseMs: number };

export interface PrinterProfile {
  /** The registry key, `printer.model` in the config. */
  key: string;
  family: PrinterFamily;
  /** The models it stands for, for people. */
  description: string;
  /** Printable dots across the head with 80 mm paper. */
  headDots: number;
  dotsPerMm: number;
  /** Font A characters per line with 80 mm paper (the default for `printer.columns`). */
  columns: PrinterColumns;
  /** Default line pitch (1/6 inch) in dots: the paper one line feed advances. */
  lineSpacingDots: number;
  /** Font A cell height at size 1, in dots. */
  fontHeightDots: number;
  /** Requests sent one at a time, in order, for one status read. */
  statusRequests: readonly StatusRequest[];
  /** The answers to `statusRequests`, in the same order, as the controller's status. */
  decodeStatus(replies: readonly Buffer[]): PrinterStatus;
  confirmation: ConfirmationStrategy;
}
