/**
 * Every word the citizen's screen shows and speech says, in both languages: one source of
 * truth per screen and language (screenContent builds the page's blocks from these, and
 * speech reads the same blocks). Moved here from the page so the controller can speak them.
 */
import type { Language } from '../machines/kioskUiMachine.js';

export interface Alternatives {
  online: string;
  onlineAddress: string;
  phoneLine: string;
  phone: string;
}

type Count = (n: number | null) => string;

export interface ScreenTexts {
  otherLanguage: string;
  otherLanguageLang: Language;
  brand: string;
  lost: string;
  homeTitle: string;
  ticketPrefix: (prefix: string) => string;
  waiting: Count;
  serviceClosed: string;
  otherOptions: string;
  priority: string;
  prioritySub: string;
  appointment: string;
  appointmentSub: string;
  deposit: string;
  depositSub: string;
  depositOff: string;
  priorityTitle: string;
  priorityIntro: string;
  priorityWho: string[];
  priorityProof: string;
  priorityChoose: string;
  back: string;
  done: string;
  issuing: string;
  ticketTitle: string;
  ticketLabel: string;
  priorityTicket: string;
  ahead: Count;
  offline: string;
  appointmentTitle: string;
  appointmentHelp: string;
  codeLabel: string;
  codeEmpty: string;
  erase: string;
  submit: string;
  entryErrors: Record<'invalid_code' | 'unknown_appointment' | 'already_checked_in' | 'bad_scan', string>;
  checkingIn: string;
  checkedInTitle: string;
  provisional: string;
  earlyTitle: string;
  earlyText: (t: string | null) => string;
  lateTitle: string;
  lateText: string;
  takeNormal: string;
  depositTitle: string;
  depositSteps: string[];
  printReceipt: string;
  depositStarting: string;
  depositWaitingTitle: string;
  receipt: (r: string) => string;
  secondsLeft: (s: number | null) => string;
  cancel: string;
  cancelling: string;
  thanksTitle: string;
  thanksText: (r: string) => string;
  voidedTitle: string;
  voidedText: (r: string) => string;
  fullTitle: string;
  fullText: string;
  notices: Record<'printer' | 'busy' | 'closed' | 'central' | 'dropbox' | 'unavailable', string>;
  noticeTitle: string;
  closedTitle: string;
  nextOpening: (t: string) => string;
  hoursTitle: string;
  startingTitle: string;
  startingText: string;
  outTitle: string;
  outText: string;
  altTitle: string;
  altOnline: (a: Alternatives) => string;
  altPhone: (a: Alternatives) => string;
  help: string;
  largeText: string;
  highContrast: string;
  on: string;
  off: string;
  toolbar: string;
  warningTitle: string;
  warningText: (seconds: number) => string;
  helpCalled: string;
  keysHelp: string;
  choicesHint: string;
  disabled: string;
  codeSpoken: (code: string) => string;
  volume: (step: number, steps: number) => string;
  speechHint: string;
  priorityWords: string;
  /** The range printed on the ticket (ticketContent.waitRange), in words. */
  estimatedWait: (range: { low: number; high: number } | null) => string;
  servicesLabel: string;
}

export const SCREEN_TEXTS: Record<Language, ScreenTexts> = {
  'pt-PT': {
    otherLanguage: 'English',
    otherLanguageLang: 'en',
    brand: 'Segurança Social',
    lost: 'Sem ligação ao quiosque. A tentar de novo…',
    homeTitle: 'Bem-vindo. Escolha o assunto para retirar uma senha.',
    ticketPrefix: (p) => `Senha ${p}`,
    waiting: (n) => (n === null ? 'Pessoas à espera: sem informação' : n === 1 ? '1 pessoa à espera' : `${n} pessoas à espera`),
    serviceClosed: 'Já não emite senhas hoje',
    otherOptions: 'Outras opções',
    priority: 'Atendimento prioritário',
    prioritySub: '65 anos ou mais, grávidas, pessoas com deficiência, com criança de colo',
    appointment: 'Tenho marcação',
    appointmentSub: 'Ler ou escrever o código da marcação',
    deposit: 'Entregar documentos',
    depositSub: 'Deixar um envelope na caixa de entrega',
    depositOff: 'Caixa de entrega indisponível',
    priorityTitle: 'Atendimento prioritário',
    priorityIntro: 'Tem direito a ser atendido primeiro se:',
    priorityWho: [
      'tem 65 anos ou mais;',
      'está grávida;',
      'tem uma deficiência ou incapacidade (atestado de 60% ou mais);',
      'está acompanhado de uma criança até 2 anos de idade.',
    ],
    priorityProof: 'No balcão pode ser-lhe pedido um comprovativo. Se não for o seu caso, volte atrás e retire uma senha normal.',
    priorityChoose: 'Escolha o assunto:',
    back: 'Voltar',
    done: 'Concluir',
    issuing: 'A imprimir a sua senha…',
    ticketTitle: 'Retire a sua senha',
    ticketLabel: 'A sua senha',
    priorityTicket: 'Senha prioritária',
    ahead: (n) => (n === null ? 'Pessoas à sua frente: sem informação' : n === 0 ? 'Não há ninguém à sua frente.' : n === 1 ? '1 pessoa à sua frente' : `${n} pessoas à sua frente`),
    offline: 'Sem ligação ao sistema central: a senha foi emitida pelo quiosque e é válida. Aguarde a chamada.',
    appointmentTitle: 'Atendimento com marcação',
    appointmentHelp: 'Aproxime do leitor o código da sua marcação (na carta, no SMS ou no email), ou escreva-o aqui.',
    codeLabel: 'Código da marcação',
    codeEmpty: '—',
    erase: 'Apagar',
    submit: 'Confirmar',
    entryErrors: {
      invalid_code: 'Este código não é válido. Confirme-o e escreva de novo.',
      unknown_appointment: 'Não encontrámos uma marcação com este código.',
      already_checked_in: 'Esta marcação já foi confirmada.',
      bad_scan: 'Não foi possível ler o código. Tente de novo ou escreva-o.',
    },
    checkingIn: 'A confirmar a sua marcação…',
    checkedInTitle: 'Marcação confirmada',
    provisional: 'Sem ligação ao sistema central: a senha é provisória e válida. Mostre-a no balcão quando for chamado.',
    earlyTitle: 'Chegou cedo',
    // "a partir das 14:30" on the same day; "a partir de domingo, 29 de novembro às 09:00" on another.
    earlyText: (t) =>
      t
        ? `Pode confirmar a sua marcação a partir ${/^\d{2}:\d{2}$/.test(t) ? 'das' : 'de'} ${t}.`
        : 'Ainda não pode confirmar a sua marcação. Tente mais perto da hora.',
    lateTitle: 'Já passou a hora da sua marcação',
    lateText: 'Já não é possível confirmar esta marcação. Retire uma senha normal para ser atendido.',
    takeNormal: 'Retirar senha normal',
    depositTitle: 'Entregar documentos',
    depositSteps: [
      'Vai ser impresso um talão com um número. Guarde-o: é o comprovativo da entrega.',
      'Depois, coloque o envelope fechado na ranhura iluminada.',
    ],
    printReceipt: 'Imprimir talão',
    depositStarting: 'A imprimir o talão…',
    depositWaitingTitle: 'Coloque o envelope na ranhura iluminada',
    receipt: (r) => `Talão n.º ${r}`,
    secondsLeft: (s) => (s === null ? '' : `Tempo restante: ${s} segundos`),
    cancel: 'Cancelar entrega',
    cancelling: 'A cancelar…',
    thanksTitle: 'Documentos recebidos. Obrigado.',
    thanksText: (r) => `Guarde o talão ${r}: é o comprovativo da sua entrega.`,
    voidedTitle: 'Entrega não concluída',
    voidedText: (r) => `Não foi recebido nenhum envelope. O talão ${r} foi anulado.`,
    fullTitle: 'A caixa de entrega está cheia',
    fullText: 'De momento não é possível receber envelopes. Pode entregar os documentos no balcão.',
    notices: {
      printer: 'A impressora não está a funcionar. Por favor, dirija-se ao balcão.',
      busy: 'O quiosque está a imprimir. Aguarde um momento e tente de novo.',
      closed: 'Este serviço já não emite senhas neste momento.',
      central: 'O sistema central não aceitou o pedido. Por favor, dirija-se ao balcão.',
      dropbox: 'A caixa de entrega não está a funcionar. Pode entregar os documentos no balcão.',
      unavailable: 'Esta função não está disponível agora. Por favor, dirija-se ao balcão.',
    },
    noticeTitle: 'Não foi possível',
    closedTitle: 'Estamos encerrados',
    nextOpening: (t) => `Abrimos ${t}.`,
    hoursTitle: 'Horário',
    startingTitle: 'O quiosque está a iniciar',
    startingText: 'Aguarde um momento.',
    outTitle: 'Quiosque temporariamente fora de serviço',
    outText: 'Não é possível retirar senhas neste quiosque agora. Por favor, dirija-se ao balcão.',
    altTitle: 'Também pode tratar do seu assunto:',
    altOnline: (a) => `na ${a.online}, em ${a.onlineAddress};`,
    altPhone: (a) => `pela ${a.phoneLine}: ${a.phone}.`,
    // Accessibility (CONTRACT §7): controls on every screen, the warning before an idle return home, speech.
    help: 'Ajuda',
    largeText: 'Letra grande',
    highContrast: 'Alto contraste',
    on: 'ligado',
    off: 'desligado',
    toolbar: 'Acessibilidade e ajuda',
    warningTitle: 'Ainda está aí?',
    warningText: (s) => `O ecrã volta ao início dentro de ${s} segundos. Toque no ecrã ou carregue numa tecla para ter mais tempo.`,
    helpCalled: 'Pedimos a um funcionário que venha ajudá-lo.',
    keysHelp:
      'Use as setas para cima e para baixo para mudar de opção. Enter escolhe. Escape volta atrás. F1 pede ajuda. F2 repete. As teclas de volume, ou mais e menos, mudam o volume.',
    choicesHint: 'Use as setas para ouvir as opções.',
    disabled: 'indisponível',
    codeSpoken: (c) => `Código da marcação: ${c ? c.split('').join(' ') : 'vazio'}`,
    volume: (step, steps) => `Volume ${step + 1} de ${steps}`,
    speechHint: 'Modo de voz ligado.',
    priorityWords: 'prioritária',
    estimatedWait: (r) => (r === null ? 'Tempo de espera estimado: desconhecido' : `Tempo de espera estimado: ${r.low} a ${r.high} minutos`),
    servicesLabel: 'Assuntos',
  },
  en: {
    otherLanguage: 'Português',
    otherLanguageLang: 'pt-PT',
    brand: 'Social Security',
    lost: 'No connection to the kiosk. Trying again…',
    homeTitle: 'Welcome. Choose a subject to take a ticket.',
    ticketPrefix: (p) => `Ticket ${p}`,
    waiting: (n) => (n === null ? 'People waiting: unknown' : n === 1 ? '1 person waiting' : `${n} people waiting`),
    serviceClosed: 'No more tickets today',
    otherOptions: 'Other options',
    priority: 'Priority service',
    prioritySub: '65 or over, pregnant, disability, with a baby or toddler',
    appointment: 'I have an appointment',
    appointmentSub: 'Scan or type the appointment code',
    deposit: 'Hand in documents',
    depositSub: 'Leave an envelope in the drop box',
    depositOff: 'Drop box unavailable',
    priorityTitle: 'Priority service',
    priorityIntro: 'You may be served first if you:',
    priorityWho: [
      'are 65 or older;',
      'are pregnant;',
      'have a disability (certified at 60% or more);',
      'are with a child up to 2 years old.',
    ],
    priorityProof: 'You may be asked for proof at the counter. If none of these applies to you, go back and take a normal ticket.',
    priorityChoose: 'Choose the subject:',
    back: 'Back',
    done: 'Done',
    issuing: 'Printing your ticket…',
    ticketTitle: 'Take your ticket',
    ticketLabel: 'Your ticket',
    priorityTicket: 'Priority ticket',
    ahead: (n) => (n === null ? 'People ahead of you: unknown' : n === 0 ? 'Nobody is ahead of you.' : n === 1 ? '1 person ahead of you' : `${n} people ahead of you`),
    offline: 'No connection to the central system: the kiosk issued this ticket and it is valid. Wait to be called.',
    appointmentTitle: 'Appointment',
    appointmentHelp: 'Hold the appointment code (letter, SMS or email) to the reader, or type it here.',
    codeLabel: 'Appointment code',
    codeEmpty: '—',
    erase: 'Delete',
    submit: 'Confirm',
    entryErrors: {
      invalid_code: 'This code is not valid. Check it and type it again.',
      unknown_appointment: 'We found no appointment with this code.',
      already_checked_in: 'This appointment has already been checked in.',
      bad_scan: 'The code could not be read. Try again or type it.',
    },
    checkingIn: 'Checking your appointment…',
    checkedInTitle: 'Appointment confirmed',
    provisional: 'No connection to the central system: this ticket is provisional and valid. Show it at the counter when called.',
    earlyTitle: 'You are early',
    earlyText: (t) => (t ? `You can check in from ${t}.` : 'You cannot check in yet. Try closer to your appointment time.'),
    lateTitle: 'Your appointment time has passed',
    lateText: 'This appointment can no longer be checked in. Take a normal ticket to be served.',
    takeNormal: 'Take a normal ticket',
    depositTitle: 'Hand in documents',
    depositSteps: [
      'A receipt with a number will be printed. Keep it: it is your proof of delivery.',
      'Then put the sealed envelope into the lit slot.',
    ],
    printReceipt: 'Print receipt',
    depositStarting: 'Printing your receipt…',
    depositWaitingTitle: 'Put the envelope into the lit slot',
    receipt: (r) => `Receipt no. ${r}`,
    secondsLeft: (s) => (s === null ? '' : `Time left: ${s} seconds`),
    cancel: 'Cancel',
    cancelling: 'Cancelling…',
    thanksTitle: 'Documents received. Thank you.',
    thanksText: (r) => `Keep receipt ${r}: it is your proof of delivery.`,
    voidedTitle: 'Nothing was handed in',
    voidedText: (r) => `No envelope was received. Receipt ${r} is void.`,
    fullTitle: 'The drop box is full',
    fullText: 'Envelopes cannot be received right now. You can hand in your documents at the counter.',
    notices: {
      printer: 'The printer is not working. Please go to the counter.',
      busy: 'The kiosk is printing. Wait a moment and try again.',
      closed: 'This service is not issuing tickets right now.',
      central: 'The central system did not accept the request. Please go to the counter.',
      dropbox: 'The drop box is not working. You can hand in your documents at the counter.',
      unavailable: 'This is not available right now. Please go to the counter.',
    },
    noticeTitle: 'That did not work',
    closedTitle: 'We are closed',
    nextOpening: (t) => `We open ${t}.`,
    hoursTitle: 'Opening hours',
    startingTitle: 'The kiosk is starting',
    startingText: 'Please wait a moment.',
    outTitle: 'Kiosk temporarily out of service',
    outText: 'Tickets cannot be taken at this kiosk right now. Please go to the counter.',
    altTitle: 'You can also:',
    altOnline: (a) => `use ${a.online} at ${a.onlineAddress};`,
    altPhone: (a) => `call the ${a.phoneLine === 'Linha Segurança Social' ? 'Social Security line' : a.phoneLine}: ${a.phone}.`,
    help: 'Help',
    largeText: 'Large text',
    highContrast: 'High contrast',
    on: 'on',
    off: 'off',
    toolbar: 'Accessibility and help',
    warningTitle: 'Are you still there?',
    warningText: (s) => `The screen goes back to the start in ${s} seconds. Touch the screen or press any key for more time.`,
    helpCalled: 'A member of staff has been asked to come and help you.',
    keysHelp:
      'Use the up and down arrows to move between choices. Enter chooses. Escape goes back. F1 asks for help. F2 repeats. The volume keys, or plus and minus, change the volume.',
    choicesHint: 'Use the arrows to hear the choices.',
    disabled: 'unavailable',
    codeSpoken: (c) => `Appointment code: ${c ? c.split('').join(' ') : 'empty'}`,
    volume: (step, steps) => `Volume ${step + 1} of ${steps}`,
    speechHint: 'Speech mode on.',
    priorityWords: 'priority',
    estimatedWait: (r) => (r === null ? 'Estimated wait: unknown' : `Estimated wait: ${r.low} to ${r.high} minutes`),
    servicesLabel: 'Subjects',
  },
};

