/**
 * Code page PC860 (Portuguese), the page every ticket is printed in (CONTRACT §4).
 *
 * node-thermal-printer encodes text with iconv, but when a character is missing from the
 * active page it silently switches the printer to another page (and stays there, for the
 * rest of the job and the next one). So text is first reduced to what PC860 can print:
 * then the library never switches, and names from config or central cannot smuggle
 * control bytes (ESC, GS, ...) into the job.
 */

/** PC860 bytes 0x80..0xFF, in order. */
export const PC860_HIGH_HALF =
  'ÇüéâãàÁçêÊèÍÔìÃÂÉÀÈôõòÚùÌÕÜ¢£Ù₧Ó' +
  'áíóúñÑªº¿Ò¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

const HIGH = new Map<string, number>([...PC860_HIGH_HALF].map((ch, i) => [ch, 0x80 + i]));

/** Common typography that has a plain equivalent. */
const REPLACEMENTS: Record<string, string> = {
  '\u2013': '-', // en dash
  '\u2014': '-', // em dash
  '\u2010': '-',
  '\u2011': '-',
  '\u2212': '-',
  '\u2018': "'",
  '\u2019': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u2026': '...',
  '\u20ac': 'EUR',
  '\u00a0': ' ',
  '\u202f': ' ',
  '\t': ' ',
};

/** The PC860 byte for one character, or null when the page has no such character. */
export function pc860Byte(ch: string): number | null {
  const cp = ch.codePointAt(0);
  if (cp === undefined || [...ch].length !== 1) return null;
  if (cp >= 0x20 && cp < 0x7f) return cp;
  return HIGH.get(ch) ?? null;
}

/**
 * Text reduced to printable PC860: control characters removed, typography replaced,
 * accents PC860 lacks dropped (ő → o), anything else '?'.
 */
export function toPc860Text(text: string): string {
  let out = '';
  for (const ch of text.normalize('NFC')) {
    const replacement = REPLACEMENTS[ch];
    if (replacement !== undefined) {
      out += replacement;
      continue;
    }
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) continue; // control bytes never reach the printer
    if (pc860Byte(ch) !== null) {
      out += ch;
      continue;
    }
    const base = ch.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
    out += base.length > 0 && [...base].every((c) => pc860Byte(c) !== null) ? base : '?';
  }
  return out;
}

/** Encodes printable PC860 text to bytes (used by tests and the Star path's own commands). */
export function encodePc860(text: string): Buffer {
  return Buffer.from([...toPc860Text(text)].map((c) => pc860Byte(c) ?? 0x3f));
}
