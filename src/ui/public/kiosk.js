/* global document, window, EventSource, fetch */
/*
 * The kiosk page: renders the view the controller pushes (GET /api/ui/stream) and sends
 * each tap as an event (POST /api/ui/events) and each keypad key as a key (POST
 * /api/ui/keys). It decides nothing and has no words of its own: the screen's blocks and
 * choices come from the controller (src/ui/screenContent.ts), the same ones speech reads.
 * Here is only the care a screen needs: focus where the controller holds it (or on the new
 * screen's title), the same button kept focused across updates, the warning's countdown
 * and tone, large text and high contrast as the session says.
 */
'use strict';

let view = null;
let lastScreen = null;
let lastViewFocus = null;
let lastWarning = null;
let countdownTimer = null;

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

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The service symbols (screenContent's SERVICE_SYMBOLS): plain shapes, drawn in the text colour. */
const SYMBOLS = {
  circle: [['circle', { cx: 24, cy: 24, r: 18 }]],
  square: [['rect', { x: 7, y: 7, width: 34, height: 34 }]],
  triangle: [['polygon', { points: '24,5 44,42 4,42' }]],
  diamond: [['polygon', { points: '24,3 45,24 24,45 3,24' }]],
  hexagon: [['polygon', { points: '13,5 35,5 46,24 35,43 13,43 2,24' }]],
  star: [['polygon', { points: '24,3 30,18 46,18 33,28 38,44 24,34 10,44 15,28 2,18 18,18' }]],
};

function symbol(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 48 48');
  svg.setAttribute('class', `symbol symbol-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const [tag, attrs] of SYMBOLS[name] || SYMBOLS.circle) {
    const shape = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) shape.setAttribute(k, String(v));
    svg.append(shape);
  }
  return svg;
}

const BIG_STYLES = { service: 'big', 'priority-service': 'big priority', priority: 'big priority', appointment: 'big appointment', deposit: 'big deposit' };
const PLAIN_STYLES = { main: 'main-action', secondary: 'secondary', key: 'key', tool: 'tool', language: 'lang' };

function choiceButton(c) {
  const attrs = { type: 'button', event: c.event, 'data-focus-key': c.key, disabled: !!c.disabled };
  if (c.pressed !== undefined) attrs['aria-pressed'] = c.pressed ? 'true' : 'false';
  if (c.lang) attrs.lang = c.lang;
  if (c.key === 'language') attrs.id = 'language';
  if (BIG_STYLES[c.style]) {
    return h(
      'button',
      { ...attrs, class: BIG_STYLES[c.style] },
      h('span', { class: 'title' }, c.symbol ? symbol(c.symbol) : null, h('span', { class: 'name' }, c.label)),
      c.sub ? h('span', { class: 'sub' }, c.sub) : null,
    );
  }
  return h('button', { ...attrs, class: PLAIN_STYLES[c.style] || 'secondary' }, c.label);
}

const TONES = { plain: null, note: 'note', error: 'error', alert: 'error', status: null };
const ROLES = { alert: 'alert', status: 'status' };

function block(b) {
  switch (b.kind) {
    case 'title':
      return h('h1', { tabindex: '-1' }, b.text);
    case 'heading':
      return h('h2', {}, b.text);
    case 'text':
      return h('p', { class: TONES[b.tone], role: ROLES[b.tone] }, b.text);
    case 'list':
      return h(b.ordered ? 'ol' : 'ul', { class: b.variant === 'hours' ? 'hours' : null }, b.items.map((i) => h('li', {}, i)));
    case 'ticket':
      return h(
        'div',
        { class: 'ticket', role: 'status' },
        h('p', { class: 'label' }, b.label),
        h('p', { class: 'number' }, b.number),
        h('p', { class: 'service' }, b.service),
        b.lines.map((l) => h('p', {}, l)),
      );
    case 'receipt':
      return h('p', { class: 'ticket receipt' }, b.text);
    case 'code':
      return [h('p', { id: 'code-label' }, b.label), h('output', { class: 'code', 'aria-labelledby': 'code-label', 'aria-live': 'polite' }, b.value)];
    case 'busy':
      return [h('div', { class: 'spinner', 'aria-hidden': 'true' }), h('p', { class: 'sr-only', role: 'status' }, b.text)];
    case 'countdown':
      return h('p', { 'aria-live': 'off' }, b.text);
    case 'choices':
      return h('div', { class: b.layout === 'keypad' ? 'keypad' : b.layout === 'grid' ? 'grid' : 'actions' }, b.choices.map(choiceButton));
    default:
      return null;
  }
}

// ------------------------------------------------------------------ warning and tone

/** A short two-note tone: the warning is heard as well as seen (CONTRACT §7). */
function playTone() {
  document.body.dataset.tones = String(Number(document.body.dataset.tones || '0') + 1);
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const gain = ctx.createGain();
    gain.gain.value = 0.2;
    gain.connect(ctx.destination);
    [880, 660].forEach((f, i) => {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(ctx.currentTime + i * 0.25);
      osc.stop(ctx.currentTime + i * 0.25 + 0.2);
    });
    window.setTimeout(() => ctx.close(), 1000);
  } catch {
    // No audio device: the warning is still on screen (and spoken in speech mode).
  }
}

/**
 * `headset`: a headset is plugged in. Then the tone is not played by the page (its sound
 * would reach whatever output the browser has, maybe the loudspeaker); the warning is
 * spoken in the headset instead (speech mode is on while a headset is in).
 */
function renderWarning(w, headset) {
  const box = document.getElementById('warning');
  const key = w ? `${w.title}|${w.seconds}` : null;
  if (key === lastWarning) return;
  lastWarning = key;
  window.clearInterval(countdownTimer);
  if (!w) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  let left = w.seconds;
  const count = h('p', { class: 'countdown', 'aria-hidden': 'true' }, String(left));
  box.replaceChildren(h('p', { class: 'warning-title' }, w.title), h('p', {}, w.text), count);
  box.hidden = false;
  countdownTimer = window.setInterval(() => {
    left = Math.max(0, left - 1);
    count.textContent = String(left);
  }, 1000);
  if (!headset) playTone();
}

// ------------------------------------------------------------------ rendering

function render(next) {
  const c = next.content;
  const screenChanged = next.screen !== lastScreen;
  const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focusKey : undefined;
  view = next;
  const root = document.documentElement;
  root.lang = next.language;
  root.classList.toggle('large-text', next.a11y.largeText);
  root.classList.toggle('high-contrast', next.a11y.highContrast);
  document.title = `${c.brand} — ${next.kiosk.site}`;
  document.getElementById('brand').textContent = c.brand;

  const tools = document.getElementById('tools');
  tools.setAttribute('aria-label', c.toolbarLabel);
  const freshTools = c.toolbar.map(choiceButton);
  const oldTools = Array.from(tools.children);
  if (oldTools.length === freshTools.length) {
    freshTools.forEach((node, i) => {
      if (!oldTools[i].isEqualNode(node)) oldTools[i].replaceWith(node);
    });
  } else tools.replaceChildren(...freshTools);

  const main = document.getElementById('screen');
  const fresh = c.blocks.map(block).flat().filter(Boolean);
  const old = Array.from(main.children);
  if (!screenChanged && old.length === fresh.length) {
    // Same screen: replace only what changed, so focus and the screen reader's place stay put.
    fresh.forEach((node, i) => {
      if (!old[i].isEqualNode(node)) old[i].replaceWith(node);
    });
  } else main.replaceChildren(...fresh);
  main.dataset.screen = next.screen;
  document.body.dataset.screen = next.screen;
  document.body.dataset.speech = next.a11y.speech ? 'on' : 'off';
  document.body.dataset.focus = next.focus || '';
  lastScreen = next.screen;
  renderWarning(c.warning, next.a11y.headset);

  // The controller moved the focus (arrow keys): follow it.
  const controllerMoved = next.focus && next.focus !== lastViewFocus;
  lastViewFocus = next.focus;
  if (controllerMoved) {
    const el = document.querySelector(`[data-focus-key="${next.focus}"]`);
    if (el && el !== document.activeElement) el.focus();
    return;
  }
  // A new screen: its title takes focus, so a screen reader reads it and Tab starts there.
  // The same screen updated (a count, a key typed): focus stays on the same button.
  if (screenChanged) {
    main.querySelector('h1')?.focus({ preventScroll: true });
    return;
  }
  const keep = focusKey ? document.querySelector(`[data-focus-key="${focusKey}"]`) : null;
  if (keep && keep !== document.activeElement) keep.focus();
}

// Events and keys go one after the other, in the order they happened: parallel requests
// could reach the controller out of order (keys typed fast would come out shuffled).
let outbox = Promise.resolve();

function post(path, body) {
  outbox = outbox
    .then(() => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }))
    .catch(() => undefined); // the stream shows what happened, or that the kiosk is unreachable
}

function send(event) {
  if (!view) return;
  post('/api/ui/events', { ...event, screen: view.screen });
}

document.addEventListener('click', (e) => {
  const target = e.target instanceof window.Element ? e.target.closest('[data-event]') : null;
  if (!target || target.disabled) return;
  send(JSON.parse(target.dataset.event));
});

// A touch anywhere else still says the citizen is there: the screen's time starts again.
document.addEventListener('pointerdown', (e) => {
  const onControl = e.target instanceof window.Element && e.target.closest('[data-event]');
  if (!onControl) send({ type: 'TOUCH' });
});

// Tab, Shift+Tab or a touch moved the focus: the controller holds it, so speech follows.
document.addEventListener('focusin', (e) => {
  const key = e.target && e.target.dataset ? e.target.dataset.focusKey : undefined;
  if (!view || !key || key === view.focus) return;
  post('/api/ui/events', { type: 'FOCUS', key, screen: view.screen });
});

/** The keypad's keys (CONTRACT §7) go to the controller; the browser must not act on them too. */
const KEYPAD = /^(Arrow(Up|Down|Left|Right)|Enter|Escape|F1|F2|AudioVolume(Up|Down)|\+|-)$/;
const TYPING = /^([a-zA-Z0-9]|Backspace)$/;

document.addEventListener('keydown', (e) => {
  if (!view || e.ctrlKey || e.altKey || e.metaKey) return;
  if (KEYPAD.test(e.key)) {
    e.preventDefault(); // no native click on Enter, no scrolling on arrows, no browser help on F1
    post('/api/ui/keys', { key: e.key, screen: view.screen });
  } else if (TYPING.test(e.key) && view.screen === 'appointment') {
    post('/api/ui/keys', { key: e.key, screen: view.screen });
  }
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

/** Before the first view arrives the page has no words from the controller: both languages. */
const CONNECTING = 'A ligar ao quiosque… / Connecting to the kiosk…';

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
    banner.textContent = view ? view.content.lost : CONNECTING;
    banner.hidden = false;
  });
}

connect();
