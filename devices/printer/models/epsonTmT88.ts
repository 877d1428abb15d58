/** Epson TM-T88 class (TM-T88V/VI/VII): 180 dpi, 512 dots on 80 mm, 42 columns. */
import { epsonProfile } from './epsonEscPos.js';

export const EPSON_TM_T88 = epsonProfile({
  key: 'tm-t88',
  description: 'Epson TM-T88 class (TM-T88V, TM-T88VI, TM-T88VII): 512-dot head, 42 columns',
  headDots: 512,
  dotsPerMm: 180 / 25.4,
  columns: 42,
  // 1/6 inch at 180 dpi.
  lineSpacingDots: 30,
  fontHeightDots: 24,
});
