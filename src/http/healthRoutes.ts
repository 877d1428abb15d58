/** GET /api/health: the state of each device and of the upstream link (CONTRACT §6). */
import type { Dropbox } from '../facades/dropbox.js';
import type { Printer } from '../facades/printer.js';
import type { Scanner } from '../facades/scanner.js';
import type { Speech } from '../facades/speech.js';
import type { TicketDesk } from '../tickets/ticketDesk.js';
import type { OutboxStore } from '../upstream/outbox.js';
import type { Upstream } from '../facades/upstream.js';
import type { HttpServer } from './server.js';

export interface HealthSources {
  upstream: Upstream;
  outbox: OutboxStore;
  dropbox: Dropbox | null;
  /** Absent or null: the kiosk has no printer configured. */
  printer?: Printer | null;
  tickets?: TicketDesk | null;
  /** Absent or null: the kiosk has no scanner configured. */
  scanner?: Pick<Scanner, 'status'> | null;
  /** Speech output and the headset (CONTRACT §7); absent: not reported. */
  speech?: Pick<Speech, 'status'> | null;
}

export function healthReport(src: HealthSources) {
  const up = src.upstream.status();
  const box = src.dropbox ? src.dropbox.status() : null;
  const printer = src.printer ? src.printer.status() : null;
  const scanner = src.scanner ? src.scanner.status() : null;
  const speech = src.speech ? src.speech.status() : null;
  const devices = {
    printer: printer
      ? { state: printer.state, ready: printer.ready, paper: printer.paper, fault: printer.fault, pendingReprints: src.tickets?.status().pendingReprints ?? 0 }
      : { state: 'absent' },
    dropbox: box ? { state: box.state, door: box.door, fillPercent: box.fillPercent, fillLevel: box.fillLevel, dropCount: box.dropCount, link: box.port.link } : { state: 'absent' },
    scanner: scanner ? { state: scanner.state, lastError: scanner.lastError } : { state: 'absent' },
    speech: speech ? { state: speech.state, output: speech.output, headset: speech.headset, faults: speech.faults } : { state: 'absent' },
  };
  const upstream = { connected: up.connected, outboxDepth: up.outboxDepth, oldestEventAgeS: up.oldestEventAgeS, lastAckAt: up.lastAckAt, outboxFull: src.outbox.isFull() };
  // Speech off is as configured; a speech fault degrades (touch still serves, staff should know).
  const ok = up.connected && (!box || box.state === 'online') && (!printer || printer.ready) && (!scanner || scanner.state === 'ready') && (!speech || speech.state !== 'fault');
  return { status: ok ? 'ok' : 'degraded', devices, upstream };
}

export function registerHealthRoutes(http: HttpServer, src: HealthSources): void {
  http.route('GET', '/api/health', () => ({ status: 200, body: healthReport(src) }));
}
