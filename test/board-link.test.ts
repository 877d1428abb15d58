/**
 * The drop-box board port on the shared reconnecting link (MockBinding, simulated clock):
 * a chunk's frames still reach the machine inside one batch (one fsync for all the
 * deposits they cause), the backoff between reopens is the board's link policy, and our
 * own stop closes the port without a fault.
 */
import { describe, expect, it, vi } from 'vitest';
import { SimulatedClock, createActor } from 'xstate';
import { createBoardPortLogic } from '../devices/board/boardPortActor.js';
import type { BoardFrame } from '../devices/board/frames.js';
import { encodeBoardFrame } from '../devices/board/protocol.js';
import { backoffCeilingMs, backoffFloorMs } from '../devices/link/backoff.js';
import { silentLogger } from '../src/log.js';
import { BOARD_LINK_POLICY } from '../src/machines/delays.js';
import { DropboxLedger } from '../src/machines/dropboxLedger.js';
import { createDropboxMachine } from '../src/machines/dropboxMachine.js';
import { createMockSerialFactory } from '../sim/serial/mockTransport.js';
import { MemoryEventLog } from './support/memoryEventLog.js';

const PORT = '/dev/ttyMOCKBOX';

function startBox() {
  const serial = createMockSerialFactory();
  const clock = new SimulatedClock();
  const log = new MemoryEventLog();
  const batches: Array<{ eventsBefore: number; eventsAfter: number }> = [];
  const batch = <T>(fn: () => T): T => {
    const eventsBefore = log.events.length;
    const r = fn();
    batches.push({ eventsBefore, eventsAfter: log.events.length });
    return r;
  };
  const ledger = new DropboxLedger(log, 'box-1', silentLogger());
  const machine = createDropboxMachine({ ledger, log: silentLogger(), now: () => clock.now(), boardPort: createBoardPortLogic(serial, { batch }) });
  const actor = createActor(machine, { clock, input: { box: 'box-1', path: PORT, baudRate: 115200 } }).start();
  return { serial, clock, log, batches, actor };
}

const frame = (f: Omit<BoardFrame, 'seq'> & Record<string, unknown>, seq: number) => encodeBoardFrame({ ...f, seq } as BoardFrame);

describe('the drop-box board on the reconnecting link', () => {
  it('hands all frames of one chunk to the machine inside one batch', async () => {
    const b = startBox();
    await vi.waitFor(() => expect(b.actor.getSnapshot().context.portReady).toBe(true));
    const chunk = [frame({ type: 'DROP', dropCount: 1 }, 0), frame({ type: 'DROP', dropCount: 2 }, 1), frame({ type: 'DROP', dropCount: 3 }, 2)].join('');
    b.serial.emitData(PORT, chunk);
    await vi.waitFor(() => expect(b.actor.getSnapshot().context.counters.frames).toBe(3));
    const deposits = b.log.events.filter((e) => e.type === 'dropbox.deposit');
    expect(deposits).toHaveLength(3);
    expect(b.batches).toHaveLength(1); // one chunk, one batch…
    expect(b.batches[0]!.eventsAfter - b.batches[0]!.eventsBefore).toBeGreaterThanOrEqual(3); // …with every deposit in it
    b.actor.stop();
  });

  it('reopens a vanished port after the board link backoff, not before its floor', async () => {
    const b = startBox();
    await vi.waitFor(() => expect(b.actor.getSnapshot().context.portReady).toBe(true));
    b.serial.unplug(PORT);
    await vi.waitFor(() => expect(b.actor.getSnapshot().value).toMatchObject({ link: 'reconnecting' }));
    b.serial.replug(PORT);
    b.clock.increment(backoffFloorMs(BOARD_LINK_POLICY, 1) - 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(b.serial.openCount(PORT)).toBe(1);
    b.clock.increment(backoffCeilingMs(BOARD_LINK_POLICY, 1));
    await vi.waitFor(() => expect(b.actor.getSnapshot().value).toMatchObject({ link: 'ready' }));
    expect(b.serial.openCount(PORT)).toBe(2);
    expect(b.actor.getSnapshot().context).toMatchObject({ reopenFailures: 0, lastPortError: null });
    b.actor.stop();
  });

  it('closes the port as ours when the machine stops: no fault, no reopen', async () => {
    const b = startBox();
    await vi.waitFor(() => expect(b.actor.getSnapshot().context.portReady).toBe(true));
    b.actor.stop();
    await vi.waitFor(() => expect(b.serial.isOpen(PORT)).toBe(false));
    b.clock.increment(60_000);
    await new Promise((r) => setTimeout(r, 30));
    expect(b.serial.openCount(PORT)).toBe(1);
    expect(b.log.events.filter((e) => e.type === 'device.fault')).toEqual([]);
  });
});
