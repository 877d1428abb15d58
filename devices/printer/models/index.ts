/**
 * The printer model registry: every profile, by key. The config's `printer.model` enum
 * is `PRINTER_MODEL_KEYS`; `printer.type` (CONTRACT §2: "epson" or "star") picks the
 * family's default model when no model is given.
 */
import { EPSON_TM_T20 } from './epsonTmT20.js';
import { EPSON_TM_T88 } from './epsonTmT88.js';
import { DEFAULT_COLUMNS, type PrinterColumns, type PrinterFamily, type PrinterProfile } from './profile.js';
import { STAR_TSP100 } from './starTsp100.js';

export * from './profile.js';

export const PRINTER_MODELS = {
  'tm-t20': EPSON_TM_T20,
  'tm-t88': EPSON_TM_T88,
  tsp100: STAR_TSP100,
} as const satisfies Record<string, PrinterProfile>;

export type PrinterModelKey = keyof typeof PRINTER_MODELS;
export const PRINTER_MODEL_KEYS = Object.keys(PRINTER_MODELS) as [PrinterModelKey, ...PrinterModelKey[]];

/** The model assumed for a `printer.type` without `printer.model`: both print 48 columns. */
export const DEFAULT_MODEL_FOR_FAMILY: Record<PrinterFamily, PrinterModelKey> = { epson: 'tm-t20', star: 'tsp100' };

/** The profile for a configured type and optional model (the model must be of that family). */
export function printerProfile(family: PrinterFamily, model?: PrinterModelKey): PrinterProfile {
  const profile = PRINTER_MODELS[model ?? DEFAULT_MODEL_FOR_FAMILY[family]];
  if (profile.family !== family) throw new RangeError(`printer model "${profile.key}" is not a ${family} printer`);
  return profile;
}

/**
 * Columns printed per line: `printer.columns` when set, else the model's own when a model
 * is named, else 48 (CONTRACT §4's default).
 */
export function printerColumns(opts: { columns?: PrinterColumns | undefined; model?: PrinterModelKey | undefined }): PrinterColumns {
  if (opts.columns !== undefined) return opts.columns;
  return opts.model !== undefined ? PRINTER_MODELS[opts.model].columns : DEFAULT_COLUMNS;
}
