/**
 * Every fixed text printed on a ticket or slip, in the two kiosk locales. Only characters
 * that exist in code page PC860 are used (no en dash, no euro sign), so they print as written.
 */
export type TicketLocale = 'pt-PT' | 'en';

export type TicketKind = 'ticket' | 'appointment' | 'deposit_receipt' | 'test' | 'collection_slip';

export interface TicketTexts {
  title: Record<TicketKind, string>;
  service: string;
  office: string;
  issuedAt: string;
  peopleAhead: string;
  estimatedWait: string;
  unknown: string;
  minutes: string;
  followOnline: string;
  /** Caption of a deposit receipt's QR. */
  receiptOnline: string;
  onlineHint: string;
  likelyNotServedBeforeClosing: string;
  offlineMark: string;
  /** Under the title of a priority ticket (CONTRACT §4: "prioritária" / "priority"). */
  priorityMark: string;
  offlineExplanation: string;
  testPageBody: string;
  characterCheck: string;
}

export const DEFAULT_CONTACT_LINE = 'Linha Segurança Social 300 502 502';

export const TICKET_TEXTS: Record<TicketLocale, TicketTexts> = {
  'pt-PT': {
    title: {
      ticket: 'Senha de atendimento',
      appointment: 'Atendimento por marcação',
      deposit_receipt: 'Comprovativo de entrega',
      test: 'Página de teste',
      collection_slip: 'Recolha de documentos',
    },
    service: 'Serviço',
    office: 'Balcão',
    issuedAt: 'Emitida em',
    peopleAhead: 'Pessoas à sua frente',
    estimatedWait: 'Tempo de espera estimado',
    unknown: 'desconhecido',
    minutes: 'min',
    followOnline: 'Acompanhe a sua vez:',
    receiptOnline: 'Consulte a sua entrega:',
    onlineHint: 'Evite deslocações: muitos serviços estão disponíveis na Segurança Social Direta.',
    likelyNotServedBeforeClosing: 'Atenção: é provável que não seja atendido antes da hora de fecho.',
    offlineMark: '*** SEM LIGAÇÃO (OFFLINE) ***',
    priorityMark: 'Esta é uma senha prioritária',
    offlineExplanation: 'Senha emitida sem ligação ao sistema central.',
    testPageBody: 'A impressora está a funcionar.',
    characterCheck: 'Acentos: ç ã õ á é ê í ó ú À Ç É Ó',
  },
  en: {
    title: {
      ticket: 'Queue ticket',
      appointment: 'Appointment',
      deposit_receipt: 'Deposit receipt',
      test: 'Test page',
      collection_slip: 'Document collection',
    },
    service: 'Service',
    office: 'Office',
    issuedAt: 'Issued',
    peopleAhead: 'People ahead of you',
    estimatedWait: 'Estimated wait',
    unknown: 'unknown',
    minutes: 'min',
    followOnline: 'Follow your turn:',
    receiptOnline: 'Check your delivery:',
    onlineHint: 'Save a trip: many services are available on Segurança Social Direta.',
    likelyNotServedBeforeClosing: 'Note: you will probably not be served before closing time.',
    offlineMark: '*** OFFLINE ***',
    priorityMark: 'This is a priority ticket',
    offlineExplanation: 'Ticket issued without a connection to the central system.',
    testPageBody: 'The printer is working.',
    characterCheck: 'Accents: ç ã õ á é ê í ó ú À Ç É Ó',
  },
};
