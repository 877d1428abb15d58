/* global document, window, EventSource, fetch */
/*
 * The kiosk page: renders the view the controller pushes (GET /api/ui/stream) and sends
 * each tap as an event (POST /api/ui/events). It decides nothing: which screen, what a
 * tap does and when to go home are the controller's. Here are only the words, in both
 * languages, and the care a screen needs: focus on the new screen's title, focus kept on
 * the same button across updates, physical keys for typing a code.
 */
'use strict';

const T = {
  'pt-PT': {
    otherLanguage: 'English',
    otherLanguageLang: 'en',
    brand: 'Segurança Social',
    connecting: 'A ligar ao quiosque…',
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
  },
  en: {
    otherLanguage: 'Português',
    otherLanguageLang: 'pt-PT',
    brand: 'Social Security',
    connecting: 'Connecting to the kiosk…',
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
  },
};

let view = null;
let lastScreen = null;

// ------------------------------------------------------------------ building blocks

/** A DOM element; children are nodes or strings (never parsed as HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'event') el.dataset.event = JSON.stringify(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** A button that sends `event`; `key` keeps focus on it across re-renders. */
function button(cls, event, key, ...children) {
  return h('button', { type: 'button', class: cls, event, 'data-focus-key': key }, ...children);
}

function big(cls, event, key, title, sub, disabled) {
  return h(
    'button',
    { type: 'button', class: `big ${cls}`, event, 'data-focus-key': key, disabled: !!disabled },
    h('span', { class: 'title' }, title),
    sub ? h('span', { class: 'sub' }, sub) : null,
  );
}

function title(text) {
  return h('h1', { tabindex: '-1' }, text);
}

function homeButton(t, label) {
  return h('div', { class: 'actions' }, button('main-action', { type: 'HOME' }, 'home', label || t.done));
}

function alternatives(t, v) {
  return [
    h('h2', {}, t.altTitle),
    h('ul', {}, h('li', {}, t.altOnline(v.alternatives)), h('li', {}, t.altPhone(v.alternatives))),
  ];
}

function hours(t, v) {
  const lines = v.hours[v.language] || [];
  return [h('h2', {}, t.hoursTitle), h('ul', { class: 'hours' }, lines.map((l) => h('li', {}, l)))];
}

function serviceName(v, s) {
  return s.name[v.language] || s.name['pt-PT'];
}

function serviceButtons(t, v, priority) {
  return h(
    'div',
    { class: 'grid' },
    v.services.map((s) =>
      big(
        priority ? 'priority' : '',
        { type: 'ISSUE', service: s.id },
        `service-${s.id}`,
        serviceName(v, s),
        s.open ? `${t.ticketPrefix(s.prefix)} · ${t.waiting(s.waiting)}` : t.serviceClosed,
        !s.open,
      ),
    ),
  );
}

function ticketBox(t, label, number, service, extra) {
  return h(
    'div',
    { class: 'ticket', role: 'status' },
    h('p', { class: 'label' }, label),
    h('p', { class: 'number' }, number),
    h('p', { class: 'service' }, service),
    extra,
  );
}

function busy(text) {
  return [title(text), h('div', { class: 'spinner', 'aria-hidden': 'true' }), h('p', { class: 'sr-only', role: 'status' }, text)];
}

// ------------------------------------------------------------------ screens

const SCREENS = {
  home(t, v) {
    return [
      title(t.homeTitle),
      serviceButtons(t, v, false),
      h('h2', {}, t.otherOptions),
      h(
        'div',
        { class: 'grid' },
        big('priority', { type: 'PRIORITY' }, 'priority', t.priority, t.prioritySub),
        big('appointment', { type: 'APPOINTMENT' }, 'appointment', t.appointment, t.appointmentSub),
        big('deposit', { type: 'DEPOSIT' }, 'deposit', t.deposit, v.status.deposits ? t.depositSub : t.depositOff, !v.status.deposits),
      ),
    ];
  },
  priority(t, v) {
    return [
      title(t.priorityTitle),
      h('p', {}, t.priorityIntro),
      h('ul', {}, t.priorityWho.map((w) => h('li', {}, w))),
      h('p', { class: 'note' }, t.priorityProof),
      h('h2', {}, t.priorityChoose),
      serviceButtons(t, v, true),
      h('div', { class: 'actions' }, button('secondary', { type: 'BACK' }, 'back', t.back)),
    ];
  },
  issuing: (t) => busy(t.issuing),
  ticket(t, v) {
    const k = v.ticket;
    return [
      title(t.ticketTitle),
      ticketBox(t, k.priority ? t.priorityTicket : t.ticketLabel, k.ticket, k.serviceName[v.language], h('p', {}, t.ahead(k.peopleAhead))),
      k.offline ? h('p', { class: 'note' }, t.offline) : null,
      homeButton(t),
    ];
  },
  appointment(t, v) {
    const keys = '1234567890QWERTYUIOPASDFGHJKL-ZXCVBNM'.split('');
    return [
      title(t.appointmentTitle),
      h('p', {}, t.appointmentHelp),
      v.entry.error ? h('p', { class: 'error', role: 'alert' }, t.entryErrors[v.entry.error]) : null,
      h('p', { id: 'code-label' }, t.codeLabel),
      h('output', { class: 'code', 'aria-labelledby': 'code-label', 'aria-live': 'polite' }, v.entry.code || t.codeEmpty),
      h('div', { class: 'keypad' }, keys.map((k) => button('key', { type: 'KEY', key: k }, `key-${k}`, k))),
      h(
        'div',
        { class: 'actions' },
        button('main-action', { type: 'SUBMIT' }, 'submit', t.submit),
        button('secondary', { type: 'ERASE' }, 'erase', t.erase),
        button('secondary', { type: 'BACK' }, 'back', t.back),
      ),
    ];
  },
  checkingIn: (t) => busy(t.checkingIn),
  appointmentDone(t, v) {
    const c = v.checkedIn;
    return [
      title(t.checkedInTitle),
      ticketBox(t, t.ticketLabel, c.ticket, c.serviceName[v.language] || t.appointmentTitle, h('p', {}, t.ahead(c.peopleAhead))),
      c.provisional || c.offline ? h('p', { class: 'note' }, t.provisional) : null,
      homeButton(t),
    ];
  },
  appointmentEarly(t, v) {
    return [title(t.earlyTitle), h('p', { role: 'status' }, t.earlyText(v.comeBackAt ? v.comeBackAt[v.language] : null)), homeButton(t)];
  },
  appointmentLate(t) {
    return [title(t.lateTitle), h('p', { role: 'status' }, t.lateText), homeButton(t, t.takeNormal)];
  },
  deposit(t) {
    return [
      title(t.depositTitle),
      h('ol', {}, t.depositSteps.map((s) => h('li', {}, s))),
      h(
        'div',
        { class: 'actions' },
        button('main-action', { type: 'CONFIRM' }, 'confirm', t.printReceipt),
        button('secondary', { type: 'BACK' }, 'back', t.back),
      ),
    ];
  },
  depositStarting: (t) => busy(t.depositStarting),
  depositWaiting(t, v) {
    const d = v.deposit;
    return [
      title(t.depositWaitingTitle),
      h('p', { class: 'ticket' }, t.receipt(d.receipt)),
      h('p', { 'aria-live': 'off' }, t.secondsLeft(d.secondsLeft)),
      h('div', { class: 'actions' }, button('secondary', { type: 'CANCEL' }, 'cancel', t.cancel)),
    ];
  },
  depositCancelling: (t) => busy(t.cancelling),
  depositAbandoned: (t) => busy(t.cancelling),
  depositThanks(t, v) {
    return [title(t.thanksTitle), h('p', { role: 'status' }, t.thanksText(v.deposit ? v.deposit.receipt : '')), homeButton(t)];
  },
  depositVoided(t, v) {
    return [title(t.voidedTitle), h('p', { role: 'status' }, t.voidedText(v.deposit ? v.deposit.receipt : '')), homeButton(t)];
  },
  depositFull(t, v) {
    return [title(t.fullTitle), h('p', { role: 'alert' }, t.fullText), ...alternatives(t, v), homeButton(t)];
  },
  notice(t, v) {
    return [title(t.noticeTitle), h('p', { class: 'error', role: 'alert' }, t.notices[v.notice] || t.notices.unavailable), homeButton(t)];
  },
  closed(t, v) {
    return [
      title(t.closedTitle),
      v.nextOpening ? h('p', { role: 'status' }, t.nextOpening(v.nextOpening[v.language])) : null,
      ...hours(t, v),
      ...alternatives(t, v),
    ];
  },
  outOfService(t, v) {
    if (v.status.printer === 'starting') return [title(t.startingTitle), h('p', { role: 'status' }, t.startingText)];
    return [title(t.outTitle), h('p', { role: 'alert' }, t.outText), ...hours(t, v), ...alternatives(t, v)];
  },
};

// ------------------------------------------------------------------ rendering

function render(next) {
  const t = T[next.language] || T['pt-PT'];
  const screenChanged = next.screen !== lastScreen;
  const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : undefined;
  view = next;
  document.documentElement.lang = next.language;
  document.title = `${t.brand} — ${next.kiosk.site}`;
  document.getElementById('brand').textContent = t.brand;
  const lang = document.getElementById('language');
  lang.textContent = t.otherLanguage;
  lang.setAttribute('lang', t.otherLanguageLang);
  lang.dataset.event = JSON.stringify({ type: 'LANGUAGE', language: next.language === 'en' ? 'pt-PT' : 'en' });

  const main = document.getElementById('screen');
  const build = SCREENS[next.screen] || SCREENS.home;
  const fresh = build(t, next).flat().filter(Boolean);
  const old = Array.from(main.children);
  if (!screenChanged && old.length === fresh.length) {
    // Same screen: replace only what changed, so focus and the screen reader's place stay put.
    fresh.forEach((node, i) => {
      if (!old[i].isEqualNode(node)) old[i].replaceWith(node);
    });
  } else main.replaceChildren(...fresh);
  main.dataset.screen = next.screen;
  document.body.dataset.screen = next.screen;
  lastScreen = next.screen;

  // A new screen: its title takes focus, so a screen reader reads it and Tab starts there.
  // The same screen updated (a count, a key typed): focus stays on the same button.
  if (screenChanged) {
    main.querySelector('h1')?.focus({ preventScroll: true });
    return;
  }
  const keep = focusKey ? document.querySelector(`[data-focus-key="${focusKey}"]`) : null;
  if (keep && keep !== document.activeElement) keep.focus();
}

// Events go one after the other, in the order of the taps: parallel requests could reach
// the controller out of order (keys typed fast would come out shuffled).
let outbox = Promise.resolve();

function send(event) {
  if (!view) return;
  const body = JSON.stringify({ ...event, screen: view.screen });
  outbox = outbox
    .then(() => fetch('/api/ui/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body }))
    .catch(() => undefined); // the stream shows what happened, or that the kiosk is unreachable
}

document.addEventListener('click', (e) => {
  const target = e.target instanceof window.Element ? e.target.closest('[data-event]') : null;
  if (!target || target.disabled) return;
  send(JSON.parse(target.dataset.event));
});

// A physical keyboard on the appointment screen types like the keypad.
document.addEventListener('keydown', (e) => {
  if (!view || view.screen !== 'appointment' || e.ctrlKey || e.altKey || e.metaKey) return;
  if (/^[a-zA-Z0-9-]$/.test(e.key)) send({ type: 'KEY', key: e.key.toUpperCase() });
  else if (e.key === 'Backspace') send({ type: 'ERASE' });
  else if (e.key === 'Enter' && (!document.activeElement || !document.activeElement.dataset.event)) send({ type: 'SUBMIT' });
});

// Technicians reach the diagnostics (which ask for the PIN) by turning the board's key
// switch, or by five quick taps on the title bar — nothing a citizen would do by chance.
const TECHNICIAN_TAPS = 5;
const TECHNICIAN_TAPS_WITHIN_MS = 3000;
let brandTaps = [];
document.getElementById('brand').addEventListener('click', () => {
  const now = Date.now();
  brandTaps = [...brandTaps.filter((t) => now - t < TECHNICIAN_TAPS_WITHIN_MS), now];
  if (brandTaps.length >= TECHNICIAN_TAPS) window.location.assign('/diag');
});

// A long press must not open a context menu on a kiosk.
document.addEventListener('contextmenu', (e) => e.preventDefault());

function connect() {
  const banner = document.getElementById('connection');
  const stream = new EventSource('/api/ui/stream');
  stream.addEventListener('view', (e) => {
    banner.hidden = true;
    const next = JSON.parse(e.data);
    if (next.technicianKey && !(view && view.technicianKey)) {
      window.location.assign('/diag');
      return;
    }
    render(next);
  });
  stream.addEventListener('error', () => {
    const t = T[view ? view.language : 'pt-PT'];
    banner.textContent = view ? t.lost : t.connecting;
    banner.hidden = false;
  });
}

connect();
