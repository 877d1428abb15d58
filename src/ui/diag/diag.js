/* global document, window, fetch, setTimeout, clearTimeout */
/*
 * The technician's diagnostics page (/diag): PIN entry, then the state of every device,
 * refreshed every REFRESH_MS from /api/diag/*. The session is the HttpOnly cookie the
 * login sets (path /api/diag): this script never sees the token. Any 401 means the
 * session ended (idle, signed out elsewhere): back to the PIN, with the reason.
 * Everything shown comes from the controller and is written with textContent only.
 */
'use strict';

const REFRESH_MS = 1500;
/** A refresh that has not answered by then counts as "controller not answering". */
const REQUEST_TIMEOUT_MS = 5000;
/** Log lines shown in the Log tab. */
const LOG_LINES = 150;

const $ = (id) => document.getElementById(id);
let refreshTimer = null;
let lockoutTimer = null;
let signedIn = false;
let activeTab = 'printer';

// ---------------------------------------------------------------------------------------
// API

class SessionEnded extends Error {}

async function api(method, path, body) {
  const ctrl = new window.AbortController();
  const timer = setTimeout(() => ctrl.abort(), path === '/test-print' ? 45000 : REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(`/api/diag${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: ctrl.signal,
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.status === 401 && path !== '/login') throw new SessionEnded(json && json.error === 'session_expired' ? 'Your session ended after inactivity. Enter the PIN again.' : 'Signed out. Enter the PIN to continue.');
    return { status: res.status, body: json };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------
// Sign in and out

function showLogin(message) {
  signedIn = false;
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  $('console').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('updated').textContent = '';
  $('pin').value = '';
  $('login-message').textContent = message || '';
  $('pin').focus();
}

function showConsole() {
  signedIn = true;
  $('login').hidden = true;
  $('console').hidden = false;
  $('logout').hidden = false;
  $('login-message').textContent = '';
  selectTab(activeTab);
  void refresh();
}

function lockFor(seconds) {
  if (lockoutTimer) clearTimeout(lockoutTimer);
  const until = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      $('login-message').textContent = 'You can try again now.';
      $('login-submit').disabled = false;
      lockoutTimer = null;
      return;
    }
    $('login-message').textContent = `Too many wrong PINs. Try again in ${formatDuration(left)}.`;
    $('login-submit').disabled = true;
    lockoutTimer = setTimeout(tick, 1000);
  };
  tick();
}

async function login(event) {
  event.preventDefault();
  const pin = $('pin').value;
  if (!pin) return;
  $('login-submit').disabled = true;
  $('login-message').textContent = 'Checking…';
  try {
    const r = await api('POST', '/login', { pin });
    $('pin').value = '';
    if (r.status === 200) return showConsole();
    const b = r.body || {};
    if (r.status === 429) return lockFor(Number(b.retryAfterS) || 30);
    if (b.error === 'wrong_pin') {
      const left = Number(b.attemptsBeforeLockout);
      $('login-message').textContent = left > 0 ? `Wrong PIN. ${left} attempt(s) left before a lockout.` : 'Wrong PIN. Further attempts are delayed.';
    } else {
      $('login-message').textContent = b.message || `The controller refused the sign-in (${r.status}).`;
    }
  } catch {
    $('login-message').textContent = 'The controller is not answering.';
  } finally {
    if (!lockoutTimer) $('login-submit').disabled = false;
  }
}

async function logout() {
  try {
    await api('POST', '/logout', {});
  } catch {
    // Signed out either way.
  }
  showLogin('Signed out.');
}

// ---------------------------------------------------------------------------------------
// Rendering helpers

function formatDuration(s) {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${s % 60} s`;
}

function timeOf(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString('en-GB');
}

function ageOf(iso) {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${formatDuration(s)} ago`;
}

function text(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Fills a <dl> with [label, value, tone?] rows. */
function fillList(id, rows) {
  const dl = $(id);
  dl.replaceChildren();
  for (const [label, value, tone] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = text(value);
    if (tone) dd.className = tone;
    dl.append(dt, dd);
  }
}

function fillTable(id, head, rows) {
  const table = $(id);
  table.replaceChildren();
  const tr = document.createElement('tr');
  for (const h of head) {
    const th = document.createElement('th');
    th.textContent = h;
    tr.append(th);
  }
  table.append(tr);
  for (const row of rows) {
    const r = document.createElement('tr');
    row.forEach((cell, i) => {
      const td = document.createElement('td');
      td.textContent = text(cell);
      if (i === 0) td.className = 'raw';
      r.append(td);
    });
    table.append(r);
  }
}

const isPresent = (d) => d && d.state !== 'absent' && d.state !== 'unavailable';

// ---------------------------------------------------------------------------------------
// Printer

/** Epson DLE EOT n = 1, 2, 4 (CONTRACT §4): what each set bit means. */
const EPSON_BITS = [
  { n: 1, bits: [[3, 'offline']] },
  { n: 2, bits: [[2, 'cover open'], [5, 'stopped by paper end'], [6, 'error']] },
  { n: 4, bits: [[2, 'paper near end'], [3, 'paper near end'], [5, 'paper end'], [6, 'paper end']] },
];

function decodeStatusBytes(p) {
  const raw = (p.rawStatus || []).map((h) => parseInt(h, 16));
  if (p.model !== 'epson' || raw.length !== 3) return raw.map((b, i) => [`byte ${i + 1}`, hex(b), 'see the printer manual']);
  return EPSON_BITS.map(({ n, bits }, i) => {
    const b = raw[i];
    const fixedOk = (b & 0x93) === 0x12;
    const set = [...new Set(bits.filter(([bit]) => b & (1 << bit)).map(([, name]) => name))];
    const meaning = !fixedOk ? 'not a status byte (fixed bits wrong)' : set.length ? set.join(', ') : 'ok';
    return [`DLE EOT ${n}`, `${hex(b)} (${b.toString(2).padStart(8, '0')})`, meaning];
  });
}

const hex = (b) => `0x${b.toString(16).padStart(2, '0')}`;

function renderPrinter(p, forecast) {
  if (!isPresent(p)) {
    fillList('printer-state', [['state', p ? (p.state === 'absent' ? 'absent (not configured)' : `unavailable: ${p.error}`) : '—', 'bad']]);
    fillList('forecast', []);
    fillList('printer-counters', []);
    fillTable('printer-bytes', [], []);
    $('forecast-headline').textContent = '—';
    return;
  }
  const tone = p.ready ? 'good' : 'bad';
  fillList('printer-state', [
    ['state', p.state.replace(/_/g, ' '), tone],
    ['can print', p.ready, tone],
    ['paper', p.paper || 'unknown', p.paper === 'out' ? 'bad' : p.paper === 'near_end' ? 'warn' : 'good'],
    ['fault', p.fault || 'none', p.fault ? 'bad' : ''],
    ['model', p.profile ? `${p.profile} (${p.model}), ${p.columns} columns` : p.model],
    ['queued jobs', p.queued],
    ['last job', p.lastPrint ? `${p.lastPrint.outcome}${p.lastPrint.reason ? ` (${p.lastPrint.reason})` : ''}` : '—'],
    ['last error', p.lastError || '—'],
  ]);
  fillTable('printer-bytes', ['request', 'byte', 'meaning'], decodeStatusBytes(p));
  const c = p.counters || {};
  fillList('printer-counters', [
    ['tickets since roll change', c.ticketsSinceRollChange],
    ['jobs printed', c.jobsPrinted],
    ['cuts', c.cuts],
    ['jobs unconfirmed', c.jobsUnconfirmed, c.jobsUnconfirmed ? 'warn' : ''],
    ['jobs refused', c.jobsRefused, c.jobsRefused ? 'warn' : ''],
    ['status reads', c.statusReads],
    ['invalid status replies', c.invalidStatusReplies, c.invalidStatusReplies ? 'warn' : ''],
    ['connections lost', c.connectionsLost, c.connectionsLost ? 'warn' : ''],
  ]);
  if (!forecast) return;
  const soon = forecast.emptyAt !== null && Date.parse(forecast.emptyAtIso) - Date.now() < 2 * 3600 * 1000;
  $('forecast-headline').textContent =
    forecast.paper === 'out' ? 'Roll empty now' : forecast.emptyAround ? `Roll empty around ${forecast.emptyAround}` : 'Not enough tickets yet to forecast';
  $('forecast-headline').className = forecast.paper === 'out' || soon ? 'big warning' : 'big';
  fillList('forecast', [
    ['tickets left (about)', forecast.ticketsLeft, forecast.ticketsLeft < 50 ? 'warn' : ''],
    ['tickets per hour', forecast.ticketsPerHour === null ? 'not known yet' : forecast.ticketsPerHour],
    ['tickets since roll change', forecast.ticketsSinceRollChange],
    ['paper used / left', `${(forecast.usedMm / 1000).toFixed(1)} m / ${(forecast.remainingMm / 1000).toFixed(1)} m`],
    ['tickets per roll', forecast.ticketsPerRoll],
    ['ticket length', `${forecast.ticketLengthMm} mm (${forecast.ticketLengthSource})`],
    ['roll changed', timeOf(forecast.rollChangedAt)],
  ]);
}

// ---------------------------------------------------------------------------------------
// Board

/** `$seq,TYPE,args*CS` → a readable line (CONTRACT §3). */
function decodeFrame(raw) {
  const m = /^\$(\d+),([A-Z]+)((?:,[^*]*)?)\*([0-9A-F]{2})$/.exec(raw);
  if (!m) return 'not a frame';
  const args = m[3] ? m[3].slice(1).split(',') : [];
  const [a, b] = args;
  const what = {
    HELLO: () => `board booted: protocol ${a}, firmware ${b}, id ${args[2]}`,
    HB: () => `heartbeat: up ${a} s, count ${b}`,
    SLOT: () => (a === '1' ? 'something in the slot' : 'slot clear'),
    DROP: () => `envelope dropped: count ${a}`,
    DOOR: () => `door ${String(a).toLowerCase()}`,
    FILL: () => `bin ${a}% full`,
    TAMPER: () => `tamper: ${a}`,
    KEY: () => `key switch ${String(a).toLowerCase()}`,
    ACK: () => `acknowledged command ${a}`,
    NAK: () => `refused command ${a}: ${b}`,
    ERR: () => `board error ${a}${b ? `: ${b}` : ''}`,
  }[m[2]];
  return `#${m[1]} ${what ? what() : m[2]}`;
}

function renderBoard(d) {
  if (!isPresent(d)) {
    fillList('board-state', [['state', d ? (d.state === 'absent' ? 'absent (not configured)' : `unavailable: ${d.error}`) : '—', 'bad']]);
    fillList('board-counters', []);
    fillTable('board-frames', [], []);
    return;
  }
  const online = d.state === 'online';
  fillList('board-state', [
    ['link', online ? 'online' : d.state, online ? 'good' : 'bad'],
    ['port', `${d.port.path} (${d.port.link})`, d.port.link === 'ready' ? '' : 'bad'],
    ['port error', d.port.lastError || '—', d.port.lastError ? 'bad' : ''],
    ['board', d.board.id ? `${d.board.id}, firmware ${d.board.firmware}` : 'not introduced yet'],
    ['last frame', d.lastFrameAt ? `${timeOf(d.lastFrameAt)} (${ageOf(d.lastFrameAt)})` : 'none', online ? '' : 'bad'],
    ['door', doorText(d.door), d.door === 'forced' ? 'bad' : d.door === 'openedByUs' ? 'warn' : ''],
    ['fill', d.fillPercent === null ? '—' : `${d.fillPercent}% (${d.fillLevel})`, d.fillLevel === 'full' ? 'bad' : d.fillLevel === 'nearly_full' ? 'warn' : ''],
    ['slot', d.slotOccupied === null ? '—' : d.slotOccupied ? 'something in the slot' : 'clear'],
    ['key switch', d.keySwitch || '—'],
    ['board count (dropCount)', d.dropCount],
    ['recorded upstream', d.recordedCount],
    ['RESET not acknowledged', d.pendingReset === null ? 'no' : `yes, count ${d.pendingReset}`, d.pendingReset === null ? '' : 'bad'],
    ['command on the wire', d.commands.inFlight ? `${d.commands.inFlight.command.type} (attempt ${d.commands.inFlight.attempts})` : 'none'],
    ['commands queued', d.commands.queued],
  ]);
  const c = d.counters;
  const malformed = Object.entries(c.malformed || {})
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k.replace(/_/g, ' ')} ${n}`)
    .join(', ');
  fillList('board-counters', [
    ['frames', c.frames],
    ['malformed', malformed ? `${c.malformedTotal}: ${malformed}` : '0', c.malformedTotal ? 'warn' : ''],
    ['frames lost', c.framesLost, c.framesLost ? 'warn' : ''],
    ['port reopens', c.reopens, c.reopens ? 'warn' : ''],
    ['commands sent', c.commandsSent],
    ['NAKs', c.naks, c.naks ? 'warn' : ''],
    ['ACK timeouts', c.ackTimeouts, c.ackTimeouts ? 'warn' : ''],
    ['board errors', c.boardErrors, c.boardErrors ? 'bad' : ''],
    ['collections', c.collections],
    ['forced openings', c.forcedOpenings, c.forcedOpenings ? 'bad' : ''],
  ]);
  const frames = (d.recentFrames || []).slice().reverse();
  fillTable('board-frames', ['raw', 'meaning'], frames.map((f) => [f, decodeFrame(f)]));
}

function doorText(door) {
  return { closed: 'closed', openedByUs: 'open (unlocked by the controller)', forced: 'FORCED OPEN', unknown: 'unknown' }[door] || door;
}

// ---------------------------------------------------------------------------------------
// Collection

const PHASES = {
  idle: 'Door closed.',
  door_open: 'Door open: take the envelopes out, then close the door.',
  door_forced: 'The door was forced open: this is not a collection.',
  reset_pending: 'Collected. Waiting for the board to acknowledge the reset.',
};

function renderCollection(c) {
  if (!c) {
    $('collection-count').textContent = '—';
    $('collection-phase').textContent = 'This kiosk has no drop box.';
    $('collection-start').disabled = true;
    fillList('collection-receipts', []);
    fillList('collection-last', []);
    return;
  }
  $('collection-count').textContent = String(c.count);
  $('collection-phase').textContent = c.state !== 'online' ? `The board is ${c.state}.` : PHASES[c.phase] || c.phase;
  $('collection-start').disabled = c.state !== 'online' || c.phase === 'door_open';
  const reset = $('collection-reset');
  reset.hidden = c.pendingReset === null;
  reset.textContent =
    c.pendingReset === null
      ? ''
      : `The board has not acknowledged RESET,${c.pendingReset}${c.resetAttempts ? ` (attempt ${c.resetAttempts})` : ''}. The count is kept; the reset is tried again. Board count now: ${text(c.boardCount)}.`;
  const r = c.sinceLast;
  fillList('collection-receipts', [
    ['receipts', r.receipts],
    ['first', r.from || '—'],
    ['last', r.to || '—'],
  ]);
  const last = c.last;
  const pending = c.pendingSlip;
  const rows = [];
  if (pending) {
    rows.push(['slip', c.printing ? 'printing…' : 'waiting for the printer', 'warn']);
    rows.push(['envelopes', pending.count], ['collected', timeOf(pending.collectedAt)]);
    rows.push(['receipts', pending.range.from ? `${pending.range.from} … ${pending.range.to} (${pending.range.receipts})` : 'none']);
  } else if (last) {
    rows.push(['slip', last.printed ? `printed ${timeOf(last.printedAt)}` : 'NOT printed', last.printed ? 'good' : 'bad']);
    rows.push(['envelopes', last.count], ['collected', timeOf(last.collectedAt)]);
    rows.push(['receipts', last.range.from ? `${last.range.from} … ${last.range.to} (${last.range.receipts})` : 'none']);
  } else rows.push(['—', 'no collection yet']);
  fillList('collection-last', rows);
}

// ---------------------------------------------------------------------------------------
// Scanner, upstream, log

function renderScanner(s) {
  if (!isPresent(s)) {
    fillList('scanner-state', [['state', s && s.state === 'unavailable' ? `unavailable: ${s.error}` : 'absent', s && s.state === 'unavailable' ? 'bad' : '']]);
    return;
  }
  const rows = [['state', s.state, s.state === 'ready' ? 'good' : 'bad']];
  for (const [k, v] of Object.entries(s)) {
    if (k === 'state') continue;
    if (k === 'counters' && v && typeof v === 'object') {
      for (const [ck, cv] of Object.entries(v)) rows.push([ck, cv && typeof cv === 'object' ? Object.entries(cv).map(([a, n]) => `${a} ${n}`).join(', ') || '0' : cv]);
    } else if (Array.isArray(v)) {
      // Recent scans come masked from the controller (never the full code).
      rows.push([k, v.length ? v.map((x) => (typeof x === 'object' ? Object.values(x).join(' ') : x)).join(' | ') : 'none']);
    } else rows.push([k.replace(/([A-Z])/g, ' $1').toLowerCase(), k.endsWith('At') && v ? `${timeOf(v)} (${ageOf(v)})` : v]);
  }
  fillList('scanner-state', rows);
}

function renderUpstream(u, outbox) {
  fillList('upstream-state', [
    ['broker', u.connected ? 'connected' : 'NOT connected', u.connected ? 'good' : 'bad'],
    ['last error', u.lastError || '—', u.lastError && !u.connected ? 'bad' : ''],
    ['events waiting (outbox)', u.outboxDepth, u.outboxDepth > 50 ? 'warn' : ''],
    ['oldest waiting', u.oldestEvent ? `#${u.oldestEvent.seq}, ${ageOf(u.oldestEvent.ts)}` : 'none', u.oldestEventAgeS > 60 ? 'bad' : ''],
    ['last acknowledged', u.lastAckSeq === null ? 'none yet' : `#${u.lastAckSeq} at ${timeOf(u.lastAckAt)}`],
    ['reconnects', u.reconnects],
    ['outbox full', u.outboxFull, u.outboxFull ? 'bad' : ''],
  ]);
  if (outbox) fillTable('outbox-recent', ['seq', 'event', 'time'], outbox.recent.slice().reverse().map((e) => [e.seq, e.type, timeOf(e.ts)]));
}

function renderLog(lines) {
  const ol = $('log-lines');
  const atBottom = ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 20;
  ol.replaceChildren();
  if (lines.length === 0) {
    const li = document.createElement('li');
    li.textContent = 'No log lines kept yet.';
    ol.append(li);
  }
  for (const line of lines) {
    const li = document.createElement('li');
    let level = '';
    try {
      const j = JSON.parse(line);
      const names = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
      level = names[j.level] || String(j.level);
      const rest = Object.fromEntries(Object.entries(j).filter(([k]) => !['level', 'time', 'msg', 'pid', 'hostname'].includes(k)));
      li.textContent = `${new Date(j.time).toLocaleTimeString('en-GB')} ${level.toUpperCase()} ${j.msg || ''} ${Object.keys(rest).length ? JSON.stringify(rest) : ''}`;
    } catch {
      li.textContent = line;
    }
    li.className = level;
    ol.append(li);
  }
  if (atBottom) ol.scrollTop = ol.scrollHeight;
}

/** One line per thing that is wrong now, on every tab. */
function renderProblems(status, collection) {
  const out = [];
  const p = status.printer;
  if (p && p.state === 'unavailable') out.push(`Printer: unavailable (${p.error})`);
  else if (isPresent(p)) {
    if (!p.ready) out.push(`Printer: ${p.state.replace(/_/g, ' ')}${p.fault ? ` (${p.fault})` : ''}`);
    else if (p.paper === 'near_end') out.push('Printer: paper near end');
  }
  const d = status.dropbox;
  if (isPresent(d)) {
    if (d.state !== 'online') out.push(`Drop-box board: ${d.state}${d.port.lastError ? ` (port: ${d.port.lastError})` : ''}`);
    if (d.door === 'forced') out.push('Drop box: door forced open');
    if (d.pendingReset !== null) out.push(`Drop box: board has not acknowledged RESET,${d.pendingReset}`);
    if (d.fillLevel === 'full') out.push('Drop box: bin full');
  }
  const s = status.scanner;
  if (isPresent(s) && s.state !== 'ready') out.push(`Scanner: ${s.state}`);
  const u = status.upstream;
  if (!u.connected) out.push(`Upstream: not connected to the broker — ${u.outboxDepth} event(s) waiting${u.lastError ? ` (${u.lastError})` : ''}`);
  if (u.outboxFull) out.push('Upstream: outbox full, events refused');
  if (collection && collection.pendingSlip && !collection.printing) out.push('Collection slip waiting for the printer');
  const ul = $('problems');
  ul.replaceChildren();
  for (const line of out.length ? out : ['All devices OK']) {
    const li = document.createElement('li');
    li.textContent = line;
    if (!out.length) li.className = 'ok';
    ul.append(li);
  }
}

// ---------------------------------------------------------------------------------------
// Refresh loop

async function refresh() {
  if (!signedIn) return;
  try {
    const [status, forecast, collection, outbox, logs] = await Promise.all([
      api('GET', '/status'),
      api('GET', '/forecast'),
      api('GET', '/collection'),
      activeTab === 'upstream' ? api('GET', '/outbox') : Promise.resolve(null),
      activeTab === 'log' ? api('GET', `/logs?limit=${LOG_LINES}`) : Promise.resolve(null),
    ]);
    if (!signedIn) return;
    if (status.status !== 200) throw new Error(`status ${status.status}`);
    const s = status.body;
    const f = forecast.status === 200 ? forecast.body : null;
    const c = collection.status === 200 ? collection.body : null;
    renderProblems(s, c);
    renderPrinter(s.printer, f);
    renderBoard(s.dropbox);
    renderCollection(c);
    renderScanner(s.scanner);
    renderUpstream(s.upstream, outbox && outbox.status === 200 ? outbox.body : null);
    if (logs && logs.status === 200) renderLog(logs.body.lines);
    $('updated').textContent = `Updated ${new Date(s.at).toLocaleTimeString('en-GB')}`;
    $('updated').className = 'updated';
  } catch (err) {
    if (err instanceof SessionEnded) return showLogin(err.message);
    $('updated').textContent = 'The controller is not answering';
    $('updated').className = 'updated stale';
  }
  if (signedIn) refreshTimer = setTimeout(() => void refresh(), REFRESH_MS);
}

function selectTab(name) {
  activeTab = name;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(on));
    $(tab.getAttribute('aria-controls')).hidden = !on;
  }
}

// ---------------------------------------------------------------------------------------
// Actions

async function action(messageId, method, path, body, describe) {
  const el = $(messageId);
  el.textContent = 'Working…';
  el.className = 'message';
  try {
    const r = await api(method, path, body);
    const ok = r.status >= 200 && r.status < 300;
    el.textContent = ok ? describe(r.body) : (r.body && r.body.message) || `Refused (${r.status}).`;
    el.className = ok ? 'message good' : 'message bad';
    if (ok && refreshTimer) {
      clearTimeout(refreshTimer);
      void refresh();
    }
  } catch (err) {
    if (err instanceof SessionEnded) return showLogin(err.message);
    el.textContent = 'The controller is not answering.';
    el.className = 'message bad';
  }
}

function wire() {
  $('login-form').addEventListener('submit', login);
  $('keypad').addEventListener('click', (e) => {
    const key = e.target.closest('button[data-key]');
    if (!key) return;
    const pin = $('pin');
    pin.value = key.dataset.key === 'erase' ? pin.value.slice(0, -1) : (pin.value + key.dataset.key).slice(0, 64);
  });
  $('logout').addEventListener('click', () => void logout());
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => {
      selectTab(tab.id.slice('tab-'.length));
      if (refreshTimer) clearTimeout(refreshTimer);
      void refresh();
    });
  }
  $('roll-changed').addEventListener('click', () => void action('roll-message', 'POST', '/printer/roll-changed', {}, () => 'Paper count started again for the new roll.'));
  $('collection-start').addEventListener('click', () =>
    void action('collection-message', 'POST', '/collection/start', {}, (b) => `Door unlocked for ${Math.round(b.ms / 1000)} s: open it, take the ${b.collection.count} envelope(s), close it. The slip prints on closing.`),
  );
  $('test-print').addEventListener('click', () => void action('selftest-message', 'POST', '/test-print', {}, () => 'Test ticket printed.'));
  for (const b of document.querySelectorAll('[data-led]')) {
    b.addEventListener('click', () => void action('selftest-message', 'POST', '/dropbox/led', { mode: b.dataset.led }, (r) => `Slot light: ${r.mode.toLowerCase()}.`));
  }
  $('door-unlock').addEventListener('click', () => void action('selftest-message', 'POST', '/dropbox/unlock', {}, (r) => `Door unlocked for ${Math.round(r.ms / 1000)} s.`));
}

async function boot() {
  wire();
  try {
    const r = await api('GET', '/session');
    if (r.status === 200) return showConsole();
    showLogin('');
  } catch (err) {
    showLogin(err instanceof SessionEnded ? '' : 'The controller is not answering.');
  }
}

document.addEventListener('DOMContentLoaded', () => void boot());

// Nobody at the PIN screen for a while (a citizen who found it, a technician who left):
// back to the citizen screen. Signed-in sessions end on the controller's own idle timer.
const LOGIN_IDLE_RETURN_MS = 60_000;
let loginIdleTimer = null;
function armLoginIdleReturn() {
  window.clearTimeout(loginIdleTimer);
  loginIdleTimer = window.setTimeout(() => {
    const login = document.getElementById('login');
    if (login && !login.hidden) window.location.assign('/');
  }, LOGIN_IDLE_RETURN_MS);
}
for (const type of ['pointerdown', 'keydown']) document.addEventListener(type, armLoginIdleReturn);
armLoginIdleReturn();
