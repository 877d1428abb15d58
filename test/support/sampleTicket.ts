/** One queue ticket's content for layout and printer tests; each test overrides what it is about. */
import type { TicketContent } from '../../devices/printer/ticketLayout.js';

export const sampleTicket = (over: Partial<TicketContent> = {}): TicketContent => ({
  number: 'P042',
  serviceName: 'Prestações',
  office: 'Lisboa - Areeiro',
  issuedAt: new Date('2026-11-28T09:15:03Z'),
  timeZone: 'Europe/Lisbon',
  locale: 'pt-PT',
  peopleAhead: 3,
  waitMin: { low: 10, high: 20 },
  qrUrl: 'https://senhas.example.pt/t/lisboa-01/P042',
  contactLine: 'Linha Segurança Social 300 502 502',
  onlineHint: true,
  likelyNotServedBeforeClosing: false,
  offline: false,
  kind: 'ticket',
  ...over,
});
