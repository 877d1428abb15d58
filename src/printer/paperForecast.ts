/**
 * Paper forecast (issue #5): how much of the roll is left and, at the current issue
 * rate, around what time it runs out, so a technician can change it before the
 * near-end sensor trips (on most printers that leaves only a few metres).
 *
 * Pure: bytes and numbers in, numbers out; no clock, no I/O. `PaperWatch`
 * (paperWatch.ts) feeds it what the printer actually printed.
 *
 * Job length is an estimate from the encoded job, not a measurement: every line feed
 * advances the paper by the line pitch (1/6 inch, or the character height when the
 * characters are taller), a QR code by its module count × cell size, feeds by their
 * amount. The paper between the print head and the cutter does not add up per ticket:
 * it is a fixed offset, each cut leaves the next ticket's start behind the blade.
 * Estimates are within a centimetre or so of a ruler on a TM-T20III; a technician who
 * wants better sets `printer.ticketLengthMm` from a measured ticket.
 */
import { encodeTicket } from '../../devices/printer/ticketLayout.js';
import { printerProfile, type PrinterFamily, type PrinterProfile } from '../../devices/printer/models/index.js';
import { dateTimeFormat } from '../timeFormat.js';
import { qrModules } from '../../devices/printer/qrSymbol.js';

/** Quiet zone printed around a QR code (modules, both sides together). */
const QR_QUIET_MODULES = 2;

/** A standard 80 mm × 80 m roll. */
export const DEFAULT_ROLL_LENGTH_MM = 80_000;
/** Issue rate window: tickets printed over the last hour. */
export const FORECAST_RATE_WINDOW_MS = 60 * 60_000;
/** Below this much observation time the rate is not trusted (a burst at opening is not a rate). */
export const FORECAST_MIN_RATE_SPAN_MS = 10 * 60_000;
/** Fewer jobs than this in the window: no rate, no forecast. */
export const FORECAST_MIN_JOBS_FOR_RATE = 3;
/** `printer.paper_forecast` goes upstream when the roll is predicted empty within this. */
export const FORECAST_ANNOUNCE_HORIZON_MS = 2 * 60 * 60_000;
/** ...and not more often than this. */
export const FORECAST_ANNOUNCE_MIN_INTERVAL_MS = 60 * 60_000;

export { qrModules };

const ESC = 0x1b;
const GS = 0x1d;
const DLE = 0x10;
const LF = 0x0a;

/** A profile, or a family standing for its default model's profile. */
function profileOf(model: PrinterFamily | PrinterProfile): PrinterProfile {
  return typeof model === 'string' ? printerProfile(model) : model;
}

/**
 * Paper a job advances, in millimetres, estimated from its ESC/POS (Epson) or Star Line
 * Mode bytes as the layout module writes them, with the model's line pitch and dots per
 * millimetre. Unknown commands are skipped by their usual length; the estimate never throws.
 */
export function estimateJobLengthMm(job: Buffer, printer: PrinterFamily | PrinterProfile): number {
  const profile = profileOf(printer);
  const model = profile.family;
  const lineSpacing = profile.lineSpacingDots;
  const fontHeight = profile.fontHeightDots;
  let dots = 0;
  let spacing = lineSpacing;
  let size = 1; // current character height multiplier
  let lineSize = 1; // tallest character on the line being built
  let qrCell = 3;
  let qrLevel: 'L' | 'M' | 'Q' | 'H' = 'L';
  let qrBytes = 0;
  const pitch = (h: number): number => Math.max(spacing, fontHeight * h);
  const printQr = (): void => {
    dots += (qrModules(qrBytes, qrLevel) + QR_QUIET_MODULES) * qrCell;
  };
  const setSize = (h: number): void => {
    size = Math.max(1, Math.min(8, h));
    lineSize = Math.max(lineSize, size);
  };
  const at = (i: number): number => job[i] ?? 0;

  let i = 0;
  while (i < job.length) {
    const b = at(i);
    if (b === LF) {
      dots += pitch(lineSize);
      lineSize = size;
      i += 1;
    } else if (b === ESC) {
      const c = at(i + 1);
      if (model === 'star' && c === GS) {
        // ESC GS a n (align), ESC GS t n (code page), ESC GS y ... (QR).
        const d = at(i + 2);
        if (d === 0x79) {
          const sub = at(i + 3);
          if (sub === 0x53) {
            const which = at(i + 4);
            if (which === 0x31) qrLevel = (['L', 'M', 'Q', 'H'] as const)[at(i + 5)] ?? 'M';
            if (which === 0x32) qrCell = at(i + 5) || qrCell;
            i += 6;
          } else if (sub === 0x44) {
            qrBytes = at(i + 6) + at(i + 7) * 256;
            i += 8 + qrBytes;
          } else if (sub === 0x50) {
            printQr();
            i += 4;
          } else i += 4;
        } else i += 4;
      } else if (c === 0x40) {
        spacing = lineSpacing;
        setSize(1);
        lineSize = 1;
        i += 2;
      } else if (c === 0x64) {
        // Epson ESC d n: print and feed n lines. Star ESC d n: cut (feeds to the cutter).
        if (model === 'epson') dots += at(i + 2) * pitch(size);
        i += 3;
      } else if (c === 0x4a) {
        dots += at(i + 2); // ESC J n: feed n dots
        i += 3;
      } else if (c === 0x32) {
        spacing = lineSpacing;
        i += 2;
      } else if (c === 0x33) {
        spacing = at(i + 2);
        i += 3;
      } else if (c === 0x21) {
        setSize(at(i + 2) & 0x10 ? 2 : 1); // ESC ! n: bit 4 double height
        i += 3;
      } else if (model === 'star' && c === 0x69) {
        setSize(at(i + 2) + 1); // Star ESC i n1 n2: n1 = height - 1
        i += 4;
      } else if (model === 'star' && (c === 0x45 || c === 0x46)) {
        i += 2; // Star bold on/off
      } else if (model === 'epson' && (c === 0x69 || c === 0x6d)) {
        i += 2; // Epson partial cut
      } else {
        i += 3; // ESC x n: most one-argument commands (align, bold, code page, underline)
      }
    } else if (b === GS) {
      const c = at(i + 1);
      if (c === 0x21) {
        setSize((at(i + 2) & 0x0f) + 1);
        i += 3;
      } else if (c === 0x56) {
        i += at(i + 2) >= 65 ? 4 : 3; // GS V m [n]
      } else if (c === 0x28) {
        const len = at(i + 3) + at(i + 4) * 256;
        if (at(i + 2) === 0x6b) {
          const fn = at(i + 6);
          if (fn === 0x43) qrCell = at(i + 7) || qrCell;
          else if (fn === 0x45) qrLevel = (['L', 'M', 'Q', 'H'] as const)[at(i + 7) - 0x30] ?? 'M';
          else if (fn === 0x50) qrBytes = Math.max(0, len - 3);
          else if (fn === 0x51) printQr();
        }
        i += 5 + len;
      } else if (c === 0x76 && at(i + 2) === 0x30) {
        // GS v 0 m xL xH yL yH: raster image, yL + yH×256 dots tall.
        const widthBytes = at(i + 4) + at(i + 5) * 256;
        const height = at(i + 6) + at(i + 7) * 256;
        dots += height;
        i += 8 + widthBytes * height;
      } else {
        i += 3;
      }
    } else if (b === DLE) {
      i += at(i + 1) === 0x14 ? 5 : 3;
    } else {
      i += 1; // text or a one-byte control
    }
  }
  return dots / profile.dotsPerMm;
}

/** One printed job, as the forecast sees it. */
export interface PrintedLength {
  at: number;
  mm: number;
}

export interface PaperForecastInput {
  now: number;
  rollLengthMm: number;
  /** Configured, or the average estimate of the tickets printed. */
  ticketLengthMm: number;
  /** Paper used since the roll was changed (every job: tickets, receipts, slips). */
  usedMm: number;
  ticketsSinceRollChange: number;
  /** Jobs printed recently (older ones are ignored). */
  recent: readonly PrintedLength[];
  /** Since when jobs were observed (start of the controller or the roll change): the rate's span starts there at the earliest. */
  observedSince: number;
  paper: 'ok' | 'near_end' | 'out' | null;
  windowMs?: number;
}

export interface PaperForecast {
  rollLengthMm: number;
  ticketLengthMm: number;
  ticketsPerRoll: number;
  ticketsSinceRollChange: number;
  usedMm: number;
  remainingMm: number;
  /** Tickets the rest of the roll holds (0 when the printer reports paper out). */
  ticketsLeft: number;
  /** Paper use over the window, as tickets per hour; null while too little is known. */
  ticketsPerHour: number | null;
  /** When the roll is expected to run out (ms); null without a rate. */
  emptyAt: number | null;
}

export function forecastPaper(input: PaperForecastInput): PaperForecast {
  const windowMs = input.windowMs ?? FORECAST_RATE_WINDOW_MS;
  const ticketLengthMm = Math.max(1, input.ticketLengthMm);
  const rollLengthMm = Math.max(0, input.rollLengthMm);
  const remainingMm = input.paper === 'out' ? 0 : Math.max(0, rollLengthMm - input.usedMm);
  const from = Math.max(input.now - windowMs, input.observedSince);
  const span = input.now - from;
  const inWindow = input.recent.filter((j) => j.at > from && j.at <= input.now);
  let ticketsPerHour: number | null = null;
  let emptyAt: number | null = null;
  if (span >= FORECAST_MIN_RATE_SPAN_MS && inWindow.length >= FORECAST_MIN_JOBS_FOR_RATE) {
    const mmPerMs = inWindow.reduce((n, j) => n + j.mm, 0) / span;
    ticketsPerHour = (mmPerMs * 3_600_000) / ticketLengthMm;
    if (mmPerMs > 0) emptyAt = input.now + Math.round(remainingMm / mmPerMs);
  }
  return {
    rollLengthMm,
    ticketLengthMm,
    ticketsPerRoll: Math.floor(rollLengthMm / ticketLengthMm),
    ticketsSinceRollChange: input.ticketsSinceRollChange,
    usedMm: input.usedMm,
    remainingMm,
    ticketsLeft: Math.floor(remainingMm / ticketLengthMm),
    ticketsPerHour,
    emptyAt,
  };
}

/**
 * Whether to send `printer.paper_forecast` now: the roll is predicted empty within the
 * horizon, the printer still has paper, and the last one went out at least an hour ago.
 */
export function shouldAnnounceForecast(forecast: PaperForecast, now: number, lastAnnouncedAt: number | null): boolean {
  if (forecast.emptyAt === null || forecast.remainingMm <= 0) return false;
  if (forecast.emptyAt - now > FORECAST_ANNOUNCE_HORIZON_MS) return false;
  return lastAnnouncedAt === null || now - lastAnnouncedAt >= FORECAST_ANNOUNCE_MIN_INTERVAL_MS;
}

/** "14:35" in `timeZone`; "29/11 09:10" when not on the same local day as `now`. */
export function formatEmptyAround(emptyAt: number, now: number, timeZone: string): string {
  const fmt = (t: number) =>
    Object.fromEntries(
      dateTimeFormat('en-GB', { timeZone, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
        .formatToParts(t)
        .map((p) => [p.type, p.value]),
    ) as Record<string, string>;
  const e = fmt(emptyAt);
  const n = fmt(now);
  const time = `${e.hour}:${e.minute}`;
  return e.day === n.day && e.month === n.month ? time : `${e.day}/${e.month} ${time}`;
}

/**
 * The estimated length of a typical queue ticket (service name, QR, contact lines), the
 * forecast's ticket length until real tickets have been measured.
 */
export function typicalTicketLengthMm(printer: PrinterFamily | PrinterProfile, columns?: number): number {
  const profile = profileOf(printer);
  const job = encodeTicket(
    {
      number: 'P042',
      serviceName: 'Prestações',
      office: 'Lisboa',
      issuedAt: new Date(0),
      timeZone: 'UTC',
      locale: 'pt-PT',
      peopleAhead: 3,
      waitMin: { low: 10, high: 20 },
      qrUrl: 'https://siga.seg-social.pt/t/lisboa-01/P042?d=2026-11-28',
      contactLine: '',
      onlineHint: true,
      likelyNotServedBeforeClosing: false,
      offline: false,
      kind: 'ticket',
    },
    { type: profile.family, columns: columns ?? profile.columns },
  );
  return estimateJobLengthMm(job, profile);
}
