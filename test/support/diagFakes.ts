/**
 * Fixed device views for the diagnostics tests (diag-api, diag-cli): what the routes
 * and the `kiosk diag` command show, without devices.
 */
import type { DropboxDiagnosticsView, PrinterDiagnosticsView } from '../../src/http/diagRoutes.js';
import type { UpstreamStatus } from '../../src/facades/upstream.js';

export function printerView(): PrinterDiagnosticsView {
  return {
    state: 'paper_near_end',
    ready: true,
    busy: false,
    paper: 'near_end',
    fault: null,
    jobsPrinted: 42,
    ticketsSinceRollChange: 40,
    model: 'epson',
    profile: 'tm-t20',
    columns: 48,
    rawStatus: ['16', '12', '12', '1e'],
    counters: { jobsPrinted: 42, jobsUnconfirmed: 1, jobsRefused: 0, cuts: 43, ticketsSinceRollChange: 40, statusReads: 900, invalidStatusReplies: 0, connectionsLost: 2 },
    lastPrint: null,
    lastError: null,
    queued: 0,
  };
}

export function dropboxView(): DropboxDiagnosticsView {
  return {
    state: 'online',
    port: { path: '/dev/ttyACM0', link: 'ready', lastError: null },
    board: { id: 'box-1', firmware: '1.4.2' },
    door: 'closed',
    fillPercent: 35,
    fillLevel: 'ok',
    slotOccupied: false,
    keySwitch: 'OFF',
    dropCount: 7,
    recordedCount: 7,
    pendingReset: null,
    lastFrameAt: '2026-11-28T09:00:00.000Z',
    lastSeq: 41,
    counters: {
      frames: 1200,
      malformed: { too_long: 0, not_ascii: 0, bad_syntax: 1, bad_checksum: 2, unknown_type: 0, bad_args: 0 },
      malformedTotal: 3,
      framesLost: 0,
      reopens: 1,
      commandsSent: 4,
      naks: 0,
      ackTimeouts: 0,
      boardErrors: 0,
      collections: 1,
      forcedOpenings: 0,
    },
    recentFrames: ['$1199,HB,3600,7*4A', '$1200,FILL,35*1B'],
    commands: { state: 'idle', inFlight: null, queued: 0 },
  };
}

export function upstreamStatus(): UpstreamStatus {
  return { connected: false, outboxDepth: 3, oldestEventAgeS: 95, lastAckSeq: 40, lastAckAt: '2026-11-28T08:58:00.000Z', reconnects: 2, lastError: 'ECONNREFUSED', outboxFull: false };
}
