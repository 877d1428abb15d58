/**
 * The real controller against a simulated board of either kind (the TypeScript board
 * on a socat PTY, or the reference firmware on simavr), publishing to a real
 * Mosquitto: what central receives, deduplicated by id, in arrival order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { startController, type Controller } from '../../src/main.js';
import type { EventEnvelope } from '../../src/upstream/events.js';
import type { FirmwareBoardOptions } from '../../sim/firmware/firmwareBoard.js';
import type { BoardSimulatorOptions } from '../../sim/board/boardSimulator.js';
import type { BoardKind, SimulatedBoard } from '../../sim/board/simulatedBoard.js';
import { startBoard } from '../../sim/board/startBoard.js';
import { collectEvents, startMosquitto, type EventCollector, type Mosquitto } from './mosquitto.js';

const KIOSK = 'lisboa-01-k1';
const SITE = 'lisboa-01';
export const RIG_WAIT_MS = 20_000;

export interface DropboxRig {
  dir: string;
  board: SimulatedBoard;
  broker: Mosquitto;
  collector: EventCollector;
  controller: Controller;
  events(): EventEnvelope[];
  waitForEvents(what: string, pred: (events: EventEnvelope[]) => boolean, timeoutMs?: number): Promise<EventEnvelope[]>;
  stop(): Promise<void>;
}

export const depositsOf = (events: EventEnvelope[]) => events.filter((e) => e.type === 'dropbox.deposit').map((e) => e.data as { count: number; inferred: boolean });
export const faultCodes = (events: EventEnvelope[]) => events.filter((e) => e.type === 'device.fault').map((e) => (e.data as { code: string }).code);
export const ofType = (events: EventEnvelope[], type: string) => events.filter((e) => e.type === type).map((e) => e.data as Record<string, unknown>);

export async function startDropboxRig(
  kind: BoardKind,
  options: { typescript?: BoardSimulatorOptions; firmware?: FirmwareBoardOptions } = {},
): Promise<DropboxRig> {
  const dir = mkdtempSync(join(tmpdir(), `dropbox-rig-${kind}-`));
  const stops: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    const broker = await startMosquitto();
    stops.push(() => broker.stop());
    const board = await startBoard(kind, dir, options);
    stops.push(() => board.stop());
    const collector = await collectEvents(broker.url, `siga/${SITE}/${KIOSK}/events`);
    stops.push(() => collector.stop());
    await collector.subscribed();
    const config = parseConfig(
      {
        kiosk: { id: KIOSK, site: SITE },
        dataDir: join(dir, 'data'),
        http: { host: '127.0.0.1', port: 0 },
        dropbox: { id: 'box-1', port: board.controllerPath, baudRate: 115200 },
        upstream: { url: broker.url, prefix: 'siga' },
      },
      join(dir, 'kiosk.json'),
    );
    const controller = await startController(config, { logTo: null, upstreamBackoff: { initialMs: 50, maxMs: 500 } });
    stops.push(() => controller.stop());
    const events = (): EventEnvelope[] => {
      const seen = new Set<string>();
      const out: EventEnvelope[] = [];
      for (const m of collector.messages) {
        const e = JSON.parse(m.payload) as EventEnvelope;
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        out.push(e);
      }
      return out;
    };
    const waitForEvents = async (what: string, pred: (events: EventEnvelope[]) => boolean, timeoutMs = RIG_WAIT_MS) => {
      try {
        await collector.waitFor(() => pred(events()), timeoutMs);
      } catch {
        const seen = events().map((e) => `${e.type}${e.type === 'dropbox.deposit' ? `#${String((e.data as { count: number }).count)}` : ''}`);
        throw new Error(`timed out waiting for ${what}; central has: ${seen.slice(-30).join(', ')}`);
      }
      return events();
    };
    return { dir, board, broker, collector, controller, events, waitForEvents, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
