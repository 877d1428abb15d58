/**
 * Nobody can keep the technician out (CONTRACT §6): after a lockout, the board's key
 * switch turned on ends it and the next right PIN opens a session; `kiosk diag` on the
 * kiosk itself, over the data folder's socket (mode 0600), is never locked out. Every
 * refusal leaves an event. The real controller on a simulated board behind a PTY.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runDiag, type DiagIo } from '../src/cli/diag.js';
import { parseConfig } from '../src/config/load.js';
import { LOCKOUT_AFTER_FAILURES } from '../src/http/diagAuth.js';
import { diagSocketPath } from '../src/http/localDiag.js';
import { hashPin } from '../src/http/pin.js';
import { startController, type Controller } from '../src/main.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { startPtyBoard, type PtyBoard } from '../sim/board/ptyBoard.js';

const PIN = '730264';

describe('lockout, key switch and the local diagnostics socket', () => {
  let dir: string;
  let board: PtyBoard;
  let controller: Controller;

  const events = (type: string) =>
    controller.outbox
      .peek(0, 100_000)
      .map((r) => JSON.parse(r.payload) as EventEnvelope)
      .filter((e) => e.type === type);
  const login = (pin: string) => fetch(`${controller.url}/api/diag/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin }) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lockout-'));
    board = await startPtyBoard(dir, { boardId: 'KEY-1' });
    const config = parseConfig(
      {
        kiosk: { id: 'lisboa-01-k1', site: 'lisboa-01' },
        dataDir: join(dir, 'data'),
        http: { host: '127.0.0.1', port: 0 },
        dropbox: { id: 'box-1', port: board.controllerPath, baudRate: 115200 },
        upstream: { url: 'mqtt://127.0.0.1:9', prefix: 'siga' },
        diagnostics: { pinHash: await hashPin(PIN) },
      },
      join(dir, 'kiosk.json'),
    );
    controller = await startController(config, { logTo: null, upstreamBackoff: { initialMs: 1000, maxMs: 5000 } });
    await vi.waitFor(() => expect(controller.dropbox!.status().lastFrameAt).not.toBeNull(), { timeout: 10_000 });
  }, 30_000);

  afterAll(async () => {
    await controller?.stop();
    await board?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('locked out over HTTP (even the right PIN meets 429); the local socket still works; KEY,ON ends the lockout', async () => {
    for (let i = 0; i < LOCKOUT_AFTER_FAILURES; i++) expect((await login('000000')).status).toBe(401);
    expect((await login('000000')).status).toBe(429);
    expect((await login(PIN)).status).toBe(429);
    expect(events('diag.locked_out')).toHaveLength(1);
    await vi.waitFor(() => expect(events('http.request_refused').map((e) => (e.data as { status: number }).status)).toContain(429));

    // On the kiosk itself: the socket in the data folder, for the kiosk's account only.
    const socket = diagSocketPath(join(dir, 'data'));
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const out: string[] = [];
    const io: DiagIo = { env: { KIOSK_DIAG_PIN: PIN }, stdin: process.stdin, out: (l) => out.push(l), err: () => undefined };
    await runDiag('status', undefined, { url: 'http://unused.invalid', socket, json: true }, io);
    expect(JSON.parse(out.join('\n'))).toHaveProperty('dropbox');
    // A wrong PIN there is refused, but feeds no lockout.
    await expect(runDiag('status', undefined, { url: 'http://unused.invalid', socket, json: true }, { ...io, env: { KIOSK_DIAG_PIN: '111111' } })).rejects.toThrow(/Wrong PIN/);
    expect((await login(PIN)).status).toBe(429); // still locked over HTTP

    board.sim.key(true);
    await vi.waitFor(() => expect(events('diag.lockout_ended')).toHaveLength(1), { timeout: 5_000 });
    const res = await login(PIN);
    expect(res.status).toBe(200);
    expect(events('diag.login').length).toBeGreaterThanOrEqual(2); // the socket's and this one
  }, 60_000);
});
