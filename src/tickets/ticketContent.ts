/**
 * What goes on a queue ticket (CONTRACT §4, issue #3): from a held ticket and the
 * configuration to the layout's TicketContent. Pure.
 */
import type { TicketContent } from '../../devices/printer/ticketLayout.js';
import { DEFAULT_CONTACT_LINE, type TicketLocale } from '../../devices/printer/ticketTexts.js';
import type { ServiceConfig } from '../config/schema.js';
import type { HeldTicket } from './ticketLedger.js';

/** Where the QR on a ticket leads: `<base>/<site>/<ticket>` (the ticket URL-encoded). */
export const DEFAULT_FOLLOW_URL_BASE = 'https://siga.seg-social.pt/t';
/** The printed wait range is the estimate minus/plus this share, in 5-minute steps. */
export const WAIT_RANGE_SPREAD = 0.25;
const WAIT_STEP_MIN = 5;
const MS_PER_MINUTE = 60_000;

export interface TicketContentSettings {
  site: string;
  locale: TicketLocale;
  timeZone: string;
  followUrlBase?: string;
  contactLine?: string;
}

/** The service's name in `locale`, else Portuguese, else any, else its id. */
export function serviceName(service: ServiceConfig, locale: string): string {
  return service.name[locale] ?? service.name['pt-PT'] ?? Object.values(service.name)[0] ?? service.id;
}

/** 20 min → 15–25; 0 → 0–5; null → null (printed "unknown"). */
export function waitRange(estimatedWaitMin: number | null): { low: number; high: number } | null {
  if (estimatedWaitMin === null || !Number.isFinite(estimatedWaitMin) || estimatedWaitMin < 0) return null;
  const low = Math.floor((estimatedWaitMin * (1 - WAIT_RANGE_SPREAD)) / WAIT_STEP_MIN) * WAIT_STEP_MIN;
  const high = Math.max(low + WAIT_STEP_MIN, Math.ceil((estimatedWaitMin * (1 + WAIT_RANGE_SPREAD)) / WAIT_STEP_MIN) * WAIT_STEP_MIN);
  return { low, high };
}

export function followUrl(base: string, site: string, ticket: string): string {
  return `${base.replace(/\/+$/, '')}/${encodeURIComponent(site)}/${encodeURIComponent(ticket)}`;
}

/** The estimate ends after closing time: the citizen is told before waiting in vain. */
export function likelyNotServedBeforeClosing(held: Pick<HeldTicket, 'issuedAt' | 'closesAt' | 'estimatedWaitMin'>): boolean {
  if (held.closesAt === null || held.estimatedWaitMin === null) return false;
  return held.issuedAt + held.estimatedWaitMin * MS_PER_MINUTE > held.closesAt;
}

export function ticketContent(held: HeldTicket, service: ServiceConfig, s: TicketContentSettings): TicketContent {
  return {
    number: held.ticket,
    serviceName: serviceName(service, s.locale),
    office: s.site,
    issuedAt: new Date(held.issuedAt),
    timeZone: s.timeZone,
    locale: s.locale,
    peopleAhead: held.peopleAhead,
    waitMin: waitRange(held.estimatedWaitMin),
    qrUrl: followUrl(s.followUrlBase ?? DEFAULT_FOLLOW_URL_BASE, s.site, held.ticket),
    contactLine: s.contactLine ?? DEFAULT_CONTACT_LINE,
    onlineHint: service.online,
    likelyNotServedBeforeClosing: likelyNotServedBeforeClosing(held),
    offline: held.offline,
    kind: 'ticket',
    priority: held.priority,
  };
}
