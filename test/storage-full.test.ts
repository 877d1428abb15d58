/**
 * A full disk (CONTRACT §6), on a real small filesystem (tmpfs) filled to the brim: the
 * health report and /api/diag/status say outboxFull, one alarm when it fills and one
 * when it is freed, POST /api/tickets answers 503 storage_unavailable and prints
 * nothing; the ticket printed just as the disk filled is answered 201 and its
 * ticket.issued recorded once there is room — also across a restart.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { hashPin } from '../src/http/pin.js';
import { startController, type Controller } from '../src/main.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import { startSimulatedPrinter, type SimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { mountSmallDisk, type SmallDisk } from './support/smallDisk.js';

const PIN = '918273';
const DISK_MB = 24;

describe('the data folder on a small disk, filled to the brim and freed', () => {
  let disk: SmallDisk;
  let printer: SimulatedPrinter;
  let controller: Controller | null = null;
  let pinHash: string;

  beforeEach(async () => {
    disk = mountSmallDisk(DISK_MB);
    printer = await startSimulatedPrinter({ port: 0 });
    pinHash ??= await hashPin(PIN);
  });
  afterEach(async () => {
    disk.free();
    await controller?.stop().catch(() => undefined);
    controller = null;
    await printer.close();
    disk.unmount();
  });

  async function start(): Promise<Controller> {
    const config = parseConfig(
      {
        kiosk: { id: 'lisboa-01-k1', site: 'lisboa-01' },
        dataDir: join(disk.path, 'data'),
        http: { host: '127.0.0.1', port: 0 },
        printer: { type: 'epson', interface: `tcp://127.0.0.1:${printer.port}` },
        // Nobody there: every ticket is numbered offline, every event stays in the outbox.
        upstream: { url: 'mqtt://127.0.0.1:9', prefix: 'siga', requestTimeoutMs: 200 },
        services: [{ id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' } }],
        diagnostics: { pinHash },
      },
      join(disk.path, 'kiosk.json'),
    );
    controller = await startController(config, { logTo: null, upstreamBackoff: { initialMs: 5000, maxMs: 5000 } });
    await vi.waitFor(async () => expect((await health()).devices.printer.ready).toBe(true), { timeout: 10_000 });
    return controller;
  }
  const events = (type: string) =>
    controller!.outbox
      .peek(0, 100_000)
      .map((r) => JSON.parse(r.payload) as EventEnvelope)
      .filter((e) => e.type === type);
  const alarms = () => events('device.fault').concat(events('device.recovered')).filter((e) => (e.data as { code: string }).code === 'outbox.full').sort((a, b) => a.seq - b.seq).map((e) => e.type);
  const health = async () => (await (await fetch(`${controller!.url}/api/health`)).json()) as { devices: { printer: { ready: boolean } }; upstream: { outboxFull: boolean } };
  const ticket = () => fetch(`${controller!.url}/api/tickets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"service":"prestacoes","priority":false}' });
  async function diagStatus(): Promise<{ upstream: { outboxFull: boolean } }> {
    const login = (await (await fetch(`${controller!.url}/api/diag/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: PIN }) })).json()) as { token: string };
    return (await (await fetch(`${controller!.url}/api/diag/status`, { headers: { authorization: `Bearer ${login.token}` } })).json()) as { upstream: { outboxFull: boolean } };
  }

  it('says outboxFull, refuses tickets with 503 storage_unavailable and prints nothing; one alarm each way, no flapping', async () => {
    await start();
    expect((await ticket()).status).toBe(201);
    const fullSignals: unknown[] = [];
    const roomSignals: unknown[] = [];
    controller!.outbox.on('full', (i) => fullSignals.push(i));
    controller!.outbox.on('space', (i) => roomSignals.push(i));
    const status = await diagStatus(); // signed in while there is room
    expect(status.upstream.outboxFull).toBe(false);

    disk.fill();
    await vi.waitFor(async () => expect((await health()).upstream.outboxFull).toBe(true), { timeout: 5_000 });
    const jobs = printer.jobs.length;
    const refused = await ticket();
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toBe('storage_unavailable');
    // Twenty health samples over 2 s: full in every one, and nothing flips.
    for (let i = 0; i < 20; i++) {
      expect((await health()).upstream.outboxFull).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(printer.jobs.length).toBe(jobs);
    expect((await diagStatus()).upstream.outboxFull).toBe(true);
    expect(fullSignals).toHaveLength(1);
    expect(roomSignals).toHaveLength(0);

    disk.free();
    await vi.waitFor(async () => expect((await health()).upstream.outboxFull).toBe(false), { timeout: 5_000 });
    expect((await diagStatus()).upstream.outboxFull).toBe(false);
    expect(roomSignals).toHaveLength(1);
    await vi.waitFor(() => expect(alarms()).toEqual(['device.fault', 'device.recovered']), { timeout: 5_000 });
    expect((await ticket()).status).toBe(201);
    expect(events('ticket.issued')).toHaveLength(2);
  }, 60_000);

  it('a ticket printed as the disk fills is answered 201; its ticket.issued is recorded once there is room', async () => {
    await start();
    printer.once('job', () => disk.fill()); // after the cut, before the print-completion answer
    const res = await ticket();
    expect(res.status).toBe(201);
    const body = (await res.json()) as { ticket: string; printed: boolean };
    expect(body.printed).toBe(true);
    expect(events('ticket.issued')).toHaveLength(0);
    expect((await health()).upstream.outboxFull).toBe(true);

    disk.free();
    await vi.waitFor(() => expect(events('ticket.issued').map((e) => (e.data as { ticket: string }).ticket)).toEqual([body.ticket]), { timeout: 10_000 });
    expect(printer.jobs).toHaveLength(1); // never reprinted
  }, 60_000);

  it('… and after a restart on the full disk, from the held record once there is room, without a reprint', async () => {
    await start();
    printer.once('job', () => disk.fill());
    const res = await ticket();
    expect(res.status).toBe(201);
    const { ticket: number } = (await res.json()) as { ticket: string };
    await controller!.stop();
    controller = null;
    await start(); // still full: it starts all the same
    expect((await health()).upstream.outboxFull).toBe(true);
    expect(events('ticket.issued')).toEqual([]);
    disk.free();
    await vi.waitFor(() => expect(events('ticket.issued').map((e) => (e.data as { ticket: string }).ticket)).toEqual([number]), { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(printer.jobs).toHaveLength(1);
    expect(events('ticket.print_failed')).toEqual([]);
    // The start on the full disk is recorded too, once there was room.
    await vi.waitFor(() => expect(events('kiosk.started')).toHaveLength(2), { timeout: 5_000 });
  }, 60_000);
});
