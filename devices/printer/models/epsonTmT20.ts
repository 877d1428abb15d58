/** Epson TM-T20 class (TM-T20II/III, TM-m30): 203 dpi, 576 dots on 80 mm, 48 columns. */
import { epsonProfile } from './epsonEscPos.js';

export const EPSON_TM_T20 = epsonProfile({
  key: 'tm-t20',
  description: 'Epson TM-T20 class (TM-T20II, TM-T20III, TM-m30): 576-dot head, 48 columns',
  headDots: 576,
  dotsPerMm: 8,
  columns: 48,
  // 1/6 inch at 203 dpi.
  lineSpacingDots: 34,
  fontHeightDots: 24,
});
