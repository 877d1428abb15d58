/**
 * The configuration file's schema (CONTRACT §2). Keys the contract fixes are honoured
 * exactly; every other key is the project's own, documented here and validated the
 * same way. Unknown keys are errors: a typo must not silently fall back to a default.
 */
import { z } from 'zod';
import { PRINTER_COLUMNS, PRINTER_FAMILIES, PRINTER_MODELS, PRINTER_MODEL_KEYS } from '../../devices/printer/models/index.js';
import { accessibilitySchema } from './accessibility.js';
import { isPinHash } from '../http/pin.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time "HH:MM" (00:00–24:00)');
const interval = z.tuple([hhmm, hhmm]).refine(([a, b]) => a < b, 'an interval must end after it starts');
const day = z.array(interval);
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date "YYYY-MM-DD"');

export const hoursSchema = z
  .object({
    timezone: z.string().default('Europe/Lisbon').refine(isTimeZone, 'an IANA time zone such as "Europe/Lisbon"'),
    weekly: z.partialRecord(weekday, day).default({}),
    closedDates: z.array(isoDate).default([]),
    /** Minutes before closing after which no ticket is issued (project key). */
    cutoffMinutes: z.number().int().min(0).max(240).default(0),
  })
  .strict();

const localized = z.record(z.string().min(2), z.string().min(1));

export const serviceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lowercase letters, digits, "-" or "_"'),
    prefix: z.string().regex(/^[A-Z]{1,2}$/, 'one or two capital letters'),
    name: localized,
    hours: hoursSchema.optional(),
    /** Can also be done online, on Segurança Social Direta (project key, printed on the ticket). */
    online: z.boolean().default(false),
  })
  .strict();

const serialPath = z.string().min(1);

export const configSchema = z
  .object({
    kiosk: z
      .object({
        id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "-" or "_" (it is an MQTT topic level)'),
        site: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "-" or "_" (it is an MQTT topic level)'),
        locale: z.enum(['pt-PT', 'en']).default('pt-PT'),
      })
      .strict(),
    dataDir: z.string().min(1).default('./var'),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    printer: z
      .object({
        type: z.enum(PRINTER_FAMILIES).default('epson'),
        /** The model within the type (project key, devices/printer/models/): its status, confirmation and paper width. */
        model: z.enum(PRINTER_MODEL_KEYS).optional(),
        /** Font A characters per line (CONTRACT §4): 32, 42 or 48; absent: the model's, or 48 without a model. */
        columns: z
          .union(PRINTER_COLUMNS.map((n) => z.literal(n)) as [z.ZodLiteral<32>, z.ZodLiteral<42>, z.ZodLiteral<48>], {
            error: `characters per line of font A: one of ${PRINTER_COLUMNS.join(', ')} (48 on 80 mm paper with a 576-dot head, 42 with a 512-dot head, 32 on 58 mm paper)`,
          })
          .optional(),
        interface: z
          .string()
          .regex(/^(tcp:\/\/[^:/\s]+:\d{1,5}|\/\S+)$/, '"tcp://HOST:PORT" or a device path such as /dev/usb/lp0'),
        /** Baud rate when `interface` is a serial device (project key). */
        baudRate: z.number().int().positive().default(9600),
        /** Paper on a new roll, in mm, for the paper forecast (project key; 80 m rolls). */
        rollLengthMm: z.number().int().min(1000).max(1_000_000).default(80_000),
        /** Length of one queue ticket in mm, measured with a ruler (project key); absent: estimated from the printed tickets. */
        ticketLengthMm: z.number().min(20).max(1000).optional(),
      })
      .strict()
      .refine((p) => p.model === undefined || PRINTER_MODELS[p.model].family === p.type, {
        path: ['model'],
        message: `the model must be one of printer.type's: ${PRINTER_MODEL_KEYS.map((k) => `"${k}" (${PRINTER_MODELS[k].family})`).join(', ')}`,
      })
      .optional(),
    dropbox: z
      .object({
        id: z.string().min(1).max(64),
        port: serialPath,
        baudRate: z.number().int().positive().default(115200),
        /** How long UNLOCK releases the door lock, in ms (project key). */
        unlockMs: z.number().int().min(1000).max(600_000).default(30_000),
        /** Envelopes the bin holds: a board count above it is never believed (CONTRACT §3). */
        capacity: z.number().int().min(1).max(100_000).default(1000),
      })
      .strict()
      .optional(),
    scanner: z
      .object({
        port: serialPath,
        baudRate: z.number().int().positive().default(9600),
        /** Line terminator the scanner sends (project key). */
        lineEnding: z.enum(['\r', '\n', '\r\n']).default('\r'),
      })
      .strict()
      .optional(),
    upstream: z
      .object({
        url: z.string().regex(/^mqtts?:\/\/\S+$/, '"mqtt://HOST:PORT" or "mqtts://HOST:PORT"'),
        prefix: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "-" or "_"'),
        username: z.string().nullable().default(null),
        password: z.string().nullable().default(null),
        requestTimeoutMs: z.number().int().min(50).max(60_000).default(1500),
        /** Disk the outbox may use before it stops taking events and raises an alarm (project key). */
        outboxMaxMb: z.number().positive().default(512),
        /** A file holding the password, instead of `password` (CONTRACT §8); relative to the config's folder. */
        passwordFile: z.string().min(1).optional(),
        /** PEM files for mqtts:// (CONTRACT §8): the broker's CA, the kiosk's certificate and key; relative to the config's folder. */
        tls: z
          .object({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
          .strict()
          .optional(),
      })
      .strict()
      .superRefine((u, ctx) => {
        if (u.passwordFile !== undefined && u.password !== null) ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either password or passwordFile, not both' });
        if (u.tls && !u.url.startsWith('mqtts://')) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'TLS files need an "mqtts://HOST:PORT" url' });
        if (u.tls && (u.tls.cert === undefined) !== (u.tls.key === undefined)) ctx.addIssue({ code: 'custom', path: ['tls', u.tls.cert === undefined ? 'cert' : 'key'], message: 'a client certificate needs its key and a key its certificate' });
      }),
    services: z.array(serviceSchema).default([]),
    hours: hoursSchema.optional(),
    diagnostics: z
      .object({
        pinHash: z.string().refine(isPinHash, 'the output of `kiosk pin-hash` ("scrypt$N$r$p$salt$hash"); a PIN itself is never stored'),
        /** Minutes of inactivity after which a diagnostics session ends (project key). */
        sessionIdleMinutes: z.number().int().min(1).max(120).default(5),
      })
      .strict()
      .optional(),
    accessibility: accessibilitySchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.services.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['services', i, 'id'], message: `duplicate service id "${s.id}"` });
      seen.set(s.id, i);
    });
    const prefixes = new Set<string>();
    c.services.forEach((s, i) => {
      if (prefixes.has(s.prefix)) ctx.addIssue({ code: 'custom', path: ['services', i, 'prefix'], message: `duplicate prefix "${s.prefix}"` });
      prefixes.add(s.prefix);
    });
  });

export type KioskConfig = z.output<typeof configSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type HoursConfig = z.output<typeof hoursSchema>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
