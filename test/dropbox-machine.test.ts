/**
 * The drop-box machine on a mock serial port (MockBinding) with a real outbox on disk
 * and XState's simulated clock for every timeout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock, createActor, type Actor } from 'xstate';
import { createBoardPortLogic } from '../devices/board/boardPortActor.js';
import type { BoardFrame } from '../devices/board/frames.js';
import { encodeBoardFrame, formatFrame, parseCommand } from '../devices/board/protocol.js';
import { silentLogger } from '../src/log.js';
import {
  BOARD_COMMAND_ACK_MS,
  BOARD_COMMAND_MAX_ATTEMPTS,
  BOARD_RESET_RETRY_MS,
  BOARD_SILENCE_MS,
  DOOR_UNLOCK_AUTHORISES_MS,
} from '../src/machines/delays.js';
import { DropboxLedger } from '../src/machines/dropboxLedger.js';
import { createDropboxMachine, dropboxStatusView, type DropboxMachine } from '../src/machines/dropboxMachine.js';
import type { EventEnvelope, EventLog, NewEvent } from '../src/upstream/events.js';
import { OutboxStore } from '../src/upstream/outbox.js';
import { createMockSerialFactory, type MockSerialFactory } from '../sim/serial/mockTransport.js';

const PORT = '/dev/ttyMOCKBOX';
const BOX = 'box-1';

type FrameBody = BoardFrame extends infer F ? (F extends BoardFrame ? Omit<F, 'seq'> : never) : never;

/** An EventLog in front of the real outbox that can be told to refuse, like a full disk. */
class RefusableLog implements EventLog {
  refuse = false;
  constructor(readonly inner: OutboxStore) {}
  append(events: readonly NewEvent[], state?: Readonly<Record<string, string | null>>): EventEnvelope[] {
    if (this.refuse && events.length > 0) throw new Error('disk full (test)');
    return this.inner.append(events, state);
  }
  getState(key: string): string | null {
    return this.inner.getState(key);
  }
}

describe('drop-box machine', () => {
  let dir: string;
  let outbox: OutboxStore;
  let eventLog: RefusableLog;
  let serial: MockSerialFactory;
  let clock: SimulatedClock;
  let actor: Actor<DropboxMachine>;
  let ledger: DropboxLedger;
  let boardSeq: number;

  const events = (type?: string) =>
    outbox
      .peek(0, 100_000)
      .map((r) => JSON.parse(r.payload) as EventEnvelope)
      .filter((e) => type === undefined || e.type === type);
  const deposits = () => events('dropbox.deposit').map((e) => e.data as { count: number; inferred: boolean });
  const faults = () => events('device.fault').map((e) => (e.data as { code: string }).code);

  function start(): void {
    ledger = new DropboxLedger(eventLog, BOX, silentLogger());
    const machine = createDropboxMachine({ ledger, log: silentLogger(), now: () => clock.now(), boardPort: createBoardPortLogic(serial) });
    actor = createActor(machine, { clock, input: { box: BOX, path: PORT, baudRate: 115200 } });
    actor.start();
  }

  async function portOpen(): Promise<void> {
    await vi.waitFor(() => expect(serial.isOpen(PORT) && actor.getSnapshot().context.portReady).toBe(true));
  }

  /** The board sends a frame; resolves once the machine has seen it. */
  async function board(body: FrameBody, opts: { seq?: number } = {}): Promise<void> {
    const seq = opts.seq ?? boardSeq;
    boardSeq = (seq + 1) % 65536;
    const before = actor.getSnapshot().context.counters.frames;
    serial.emitData(PORT, encodeBoardFrame({ ...body, seq } as BoardFrame));
    await vi.waitFor(() => expect(actor.getSnapshot().context.counters.frames).toBe(before + 1));
  }

  /** The board answers the STATUS the controller sends on open (HB first, as a real board does). */
  async function boardAnswersStatus(): Promise<void> {
    await expectCommand('STATUS');
    await board({ type: 'HB', uptimeS: 1, dropCount: 0 });
    await vi.waitFor(() => expect(actor.getSnapshot().context.inFlight).toBeNull());
  }

  async function rawLine(bytes: Buffer | string): Promise<void> {
    const before = actor.getSnapshot().context.counters.malformed;
    const total = Object.values(before).reduce((a, b) => a + b, 0);
    serial.emitData(PORT, bytes);
    await vi.waitFor(() => expect(Object.values(actor.getSnapshot().context.counters.malformed).reduce((a, b) => a + b, 0)).toBeGreaterThan(total));
  }

  const writtenCommands = () =>
    serial
      .written(PORT)
      .flatMap((chunk) => chunk.toString('latin1').split('\n').filter(Boolean))
      .map((line) => parseCommand(line))
      .flatMap((r) => (r.ok ? [{ seq: r.seq, command: r.command }] : []));

  async function expectCommand(type: string): Promise<{ seq: number; command: { type: string } }> {
    let found: { seq: number; command: { type: string } } | undefined;
    await vi.waitFor(() => {
      found = writtenCommands().filter((c) => c.command.type === type).at(-1);
      expect(found).toBeDefined();
    });
    return found!;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dropbox-machine-'));
    outbox = OutboxStore.open({ file: join(dir, 'outbox.sqlite'), kiosk: 'k1', site: 's1', maxBytes: 64 * 1024 * 1024, log: silentLogger() });
    eventLog = new RefusableLog(outbox);
    serial = createMockSerialFactory();
    clock = new SimulatedClock();
    boardSeq = 0;
    start();
    await portOpen();
  });

  afterEach(() => {
    actor.stop();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records one deposit per envelope, marks the ones it did not see as DROP inferred, and ignores repeats', async () => {
    await board({ type: 'HELLO', version: 1, firmware: 'fw1', boardId: 'B1' });
    await board({ type: 'HB', uptimeS: 1, dropCount: 0 });
    await board({ type: 'DROP', dropCount: 1 });
    await board({ type: 'DROP', dropCount: 1 }); // repeated count (board resent)
    await board({ type: 'HB', uptimeS: 2, dropCount: 1 });
    expect(deposits()).toEqual([{ box: BOX, count: 1, inferred: false }]);

    // Frames lost: the board counted 2 and 3 while we heard nothing, then DROP 4.
    await board({ type: 'DROP', dropCount: 4 }, { seq: boardSeq + 2 });
    expect(deposits()).toHaveLength(1); // a jump is believed once a second frame agrees
    await board({ type: 'HB', uptimeS: 3, dropCount: 4 });
    expect(deposits().map((d) => [d.count, d.inferred])).toEqual([
      [1, false],
      [2, true],
      [3, true],
      [4, false],
    ]);
    expect(faults()).toContain('dropbox.frames_lost');
  });

  it('turns envelopes counted before the controller first saw the board into inferred deposits', async () => {
    await board({ type: 'HELLO', version: 1, firmware: 'fw1', boardId: 'B1' });
    await board({ type: 'HB', uptimeS: 100, dropCount: 3 });
    expect(deposits()).toEqual([]);
    await board({ type: 'HB', uptimeS: 101, dropCount: 3 });
    expect(deposits().map((d) => [d.count, d.inferred])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
  });

  it('after a controller restart records only the envelopes dropped while it was down', async () => {
    await board({ type: 'DROP', dropCount: 5 });
    await board({ type: 'HB', uptimeS: 8, dropCount: 5 });
    expect(deposits()).toHaveLength(5);
    actor.stop();
    await vi.waitFor(() => expect(serial.isOpen(PORT)).toBe(false));
    start(); // same outbox: the recorded count survived
    await portOpen();
    await board({ type: 'HB', uptimeS: 9, dropCount: 8 }, { seq: 40 });
    await board({ type: 'HB', uptimeS: 10, dropCount: 8 });
    expect(deposits().map((d) => d.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(deposits().slice(5).every((d) => d.inferred)).toBe(true);
  });

  it('counts malformed lines, records nothing for them, and keeps working', async () => {
    await rawLine('$0,DROP,1*00\n'); // bad checksum
    await rawLine('hello world\n');
    await rawLine(Buffer.from([0x24, 0xff, 0xfe, 0x0a]));
    await rawLine(`${'A'.repeat(500)}\n`);
    await rawLine(formatFrame(1, ['FLY', '1']));
    expect(events()).toHaveLength(0);
    const m = actor.getSnapshot().context.counters.malformed;
    expect(m.bad_checksum).toBe(1);
    expect(m.too_long).toBe(1);
    expect(m.not_ascii).toBe(1);
    expect(m.unknown_type).toBe(1);
    await board({ type: 'DROP', dropCount: 1 });
    expect(deposits()).toHaveLength(1);
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('reports the board offline after 3 s without a frame and recovered on the next frame', async () => {
    await board({ type: 'HB', uptimeS: 1, dropCount: 0 });
    clock.increment(BOARD_SILENCE_MS - 1);
    expect(faults()).not.toContain('dropbox.offline');
    clock.increment(1);
    expect(faults()).toEqual(['dropbox.offline']);
    expect(dropboxStatusView(actor.getSnapshot(), ledger).state).toBe('offline');
    await board({ type: 'HB', uptimeS: 5, dropCount: 0 });
    const recovered = events('device.recovered').map((e) => e.data);
    expect(recovered).toEqual([{ device: 'dropbox', code: 'dropbox.offline' }]);
    expect(dropboxStatusView(actor.getSnapshot(), ledger).state).toBe('online');
  });

  it('treats a board that never speaks after start as offline', async () => {
    clock.increment(BOARD_SILENCE_MS);
    expect(faults()).toEqual(['dropbox.offline']);
  });

  it('flags a door opened without an UNLOCK as FORCED_DOOR and does not treat its closing as a collection', async () => {
    await board({ type: 'DOOR', state: 'CLOSED' });
    await board({ type: 'DROP', dropCount: 2 });
    await board({ type: 'DOOR', state: 'OPEN' });
    expect(events('dropbox.tamper').map((e) => e.data)).toEqual([{ box: BOX, code: 'FORCED_DOOR' }]);
    await board({ type: 'DOOR', state: 'CLOSED' });
    expect(events('dropbox.collected')).toHaveLength(0);
    expect(events('dropbox.door').map((e) => (e.data as { state: string }).state)).toEqual(['open', 'closed']);
    expect(writtenCommands().some((c) => c.command.type === 'RESET')).toBe(false);
  });

  it('STATUS waits for no ACK: an UNLOCK asked for right after the port opens goes out at once', async () => {
    await expectCommand('STATUS');
    actor.send({ type: 'DROPBOX.UNLOCK', ms: 20_000 });
    const unlock = await expectCommand('UNLOCK'); // no clock advanced, no frame from the board
    expect(unlock.command).toEqual({ type: 'UNLOCK', ms: 20_000 });
    expect(faults()).toEqual([]);
  });

  it('an UNLOCK older than 60 s does not authorise the door', async () => {
    await boardAnswersStatus();
    await board({ type: 'DOOR', state: 'CLOSED' });
    actor.send({ type: 'DROPBOX.UNLOCK', ms: 30_000 });
    const unlock = await expectCommand('UNLOCK');
    await board({ type: 'ACK', cmdSeq: unlock.seq });
    clock.increment(DOOR_UNLOCK_AUTHORISES_MS + 1);
    await board({ type: 'DOOR', state: 'OPEN' });
    expect(events('dropbox.tamper').map((e) => (e.data as { code: string }).code)).toEqual(['FORCED_DOOR']);
  });

  it('an authorised collection records the count, sends RESET with it, and starts again from zero once ACKed', async () => {
    await boardAnswersStatus();
    await board({ type: 'DOOR', state: 'CLOSED' });
    for (const n of [1, 2, 3]) await board({ type: 'DROP', dropCount: n });
    actor.send({ type: 'DROPBOX.UNLOCK', ms: 30_000 });
    const unlock = await expectCommand('UNLOCK');
    expect(unlock.command).toEqual({ type: 'UNLOCK', ms: 30_000 });
    await board({ type: 'ACK', cmdSeq: unlock.seq });
    await board({ type: 'DOOR', state: 'OPEN' });
    expect(events('dropbox.tamper')).toHaveLength(0);
    await board({ type: 'DOOR', state: 'CLOSED' });
    expect(events('dropbox.collected').map((e) => e.data)).toEqual([{ box: BOX, count: 3 }]);
    const reset = await expectCommand('RESET');
    expect(reset.command).toEqual({ type: 'RESET', dropCount: 3 });
    expect(ledger.pendingReset).toBe(3);
    await board({ type: 'ACK', cmdSeq: reset.seq });
    expect(ledger.pendingReset).toBeNull();
    expect(ledger.recordedCount).toBe(0);
    await board({ type: 'HB', uptimeS: 10, dropCount: 0 });
    await board({ type: 'DROP', dropCount: 1 });
    expect(deposits().map((d) => d.count)).toEqual([1, 2, 3, 1]);
    expect(faults()).toEqual([]);
  });

  it('resends an unacknowledged RESET, reports it after the last attempt, and tries again later', async () => {
    await boardAnswersStatus();
    await board({ type: 'DOOR', state: 'CLOSED' });
    for (const n of [1, 2]) await board({ type: 'DROP', dropCount: n });
    actor.send({ type: 'DROPBOX.UNLOCK', ms: 30_000 });
    await board({ type: 'ACK', cmdSeq: (await expectCommand('UNLOCK')).seq });
    await board({ type: 'DOOR', state: 'OPEN' });
    await board({ type: 'DOOR', state: 'CLOSED' });
    const first = await expectCommand('RESET');
    await board({ type: 'NAK', cmdSeq: first.seq, reason: 'BUSY' });
    for (let i = 0; i < BOARD_COMMAND_MAX_ATTEMPTS; i++) {
      await vi.waitFor(() => expect(actor.getSnapshot().context.inFlight?.attempts ?? BOARD_COMMAND_MAX_ATTEMPTS).toBeGreaterThan(0));
      clock.increment(BOARD_COMMAND_ACK_MS);
      await board({ type: 'HB', uptimeS: 20 + i, dropCount: 2 }); // keep the board online
    }
    expect(faults()).toContain('dropbox.command_unacked');
    expect(ledger.pendingReset).toBe(2);
    const sentBefore = writtenCommands().filter((c) => c.command.type === 'RESET').length;
    expect(sentBefore).toBe(BOARD_COMMAND_MAX_ATTEMPTS);
    clock.increment(BOARD_RESET_RETRY_MS);
    await vi.waitFor(() => expect(writtenCommands().filter((c) => c.command.type === 'RESET').length).toBe(sentBefore + 1));
    const retry = writtenCommands().filter((c) => c.command.type === 'RESET').at(-1)!;
    await board({ type: 'ACK', cmdSeq: retry.seq });
    expect(ledger.pendingReset).toBeNull();
  });

  it('takes a lost RESET ACK as done when the board reports a zeroed count', async () => {
    await boardAnswersStatus();
    await board({ type: 'DOOR', state: 'CLOSED' });
    for (const n of [1, 2, 3, 4]) await board({ type: 'DROP', dropCount: n });
    actor.send({ type: 'DROPBOX.UNLOCK', ms: 30_000 });
    await board({ type: 'ACK', cmdSeq: (await expectCommand('UNLOCK')).seq });
    await board({ type: 'DOOR', state: 'OPEN' });
    await board({ type: 'DOOR', state: 'CLOSED' });
    await expectCommand('RESET');
    await board({ type: 'HB', uptimeS: 30, dropCount: 1 }, { seq: boardSeq + 1 }); // ACK lost, one new envelope
    expect(ledger.pendingReset).toBe(4); // one frame is not enough
    await board({ type: 'HB', uptimeS: 31, dropCount: 1 });
    expect(ledger.pendingReset).toBeNull();
    expect(deposits().map((d) => d.count)).toEqual([1, 2, 3, 4, 1]);
    expect(faults()).not.toContain('dropbox.count_regressed');
  });

  it('reports a count that goes backwards without a collection and follows the board from there', async () => {
    for (const n of [1, 2, 3, 4, 5, 6]) await board({ type: 'DROP', dropCount: n });
    await board({ type: 'HB', uptimeS: 3, dropCount: 2 });
    expect(faults()).not.toContain('dropbox.count_regressed'); // one frame is not believed
    await board({ type: 'HB', uptimeS: 4, dropCount: 2 });
    expect(faults()).toContain('dropbox.count_regressed');
    expect(ledger.recordedCount).toBe(2);
    await board({ type: 'DROP', dropCount: 3 });
    expect(deposits().map((d) => d.count)).toEqual([1, 2, 3, 4, 5, 6, 3]);
  });

  it('while the outbox refuses events, deposits wait on the board count and are recorded once there is room', async () => {
    eventLog.refuse = true;
    await board({ type: 'DROP', dropCount: 1 });
    await board({ type: 'DROP', dropCount: 2 });
    expect(deposits()).toHaveLength(0);
    expect(ledger.recordedCount).toBe(0);
    eventLog.refuse = false;
    await board({ type: 'HB', uptimeS: 5, dropCount: 2 });
    // The board told us about both as DROP frames, so neither is inferred.
    expect(deposits().map((d) => [d.count, d.inferred])).toEqual([
      [1, false],
      [2, false],
    ]);
  });

  it('records fill changes with their level, tamper, key switch and board errors', async () => {
    await board({ type: 'FILL', percent: 85 });
    await board({ type: 'FILL', percent: 85 });
    await board({ type: 'FILL', percent: 90 });
    await board({ type: 'FILL', percent: 100 });
    expect(events('dropbox.fill').map((e) => e.data)).toEqual([
      { box: BOX, percent: 85, level: 'ok' },
      { box: BOX, percent: 90, level: 'nearly_full' },
      { box: BOX, percent: 100, level: 'full' },
    ]);
    await board({ type: 'TAMPER', code: 'TILT' });
    await board({ type: 'KEY', state: 'ON' });
    await board({ type: 'ERR', code: 'E12', text: 'lock motor stalled' });
    expect(events('dropbox.tamper').map((e) => e.data)).toEqual([{ box: BOX, code: 'TILT' }]);
    expect(events('dropbox.key').map((e) => e.data)).toEqual([{ box: BOX, state: 'on' }]);
    expect(events('device.fault').map((e) => e.data)).toEqual([{ device: 'dropbox', code: 'dropbox.board_error', detail: 'E12: lock motor stalled' }]);
  });

  it('reopens a vanished port with backoff, without a restart, and carries on counting', async () => {
    await board({ type: 'DROP', dropCount: 1 });
    serial.unplug(PORT);
    await vi.waitFor(() => expect(actor.getSnapshot().value).toMatchObject({ link: 'reconnecting' }));
    // Still unplugged: the reopen fails and the backoff grows.
    clock.increment(10_000);
    await vi.waitFor(() => expect(actor.getSnapshot().context.reopenFailures).toBeGreaterThanOrEqual(2));
    serial.replug(PORT);
    clock.increment(10_000);
    await portOpen();
    expect(serial.openCount(PORT)).toBeGreaterThanOrEqual(2);
    await board({ type: 'HB', uptimeS: 50, dropCount: 3 }, { seq: 30 });
    await board({ type: 'HB', uptimeS: 51, dropCount: 3 });
    expect(deposits().map((d) => d.count)).toEqual([1, 2, 3]);
    // On reopen it asks the board for its state.
    await expectCommand('STATUS');
  });
  describe('plausible counts (CONTRACT §3): one corrupted or forged frame neither invents nor repeats deposits', () => {
    /** A frame with a valid v1 checksum, as a forger or a lucky corruption would send it. */
    const forged = (seq: number, ...fields: string[]) => formatFrame(seq, fields) + '\n';
    async function rawFrame(line: string): Promise<void> {
      const before = actor.getSnapshot().context.counters.frames;
      serial.emitData(PORT, line);
      await vi.waitFor(() => expect(actor.getSnapshot().context.counters.frames).toBe(before + 1));
      boardSeq = (actor.getSnapshot().context.lastSeq! + 1) % 65536;
    }
    async function boardAt(count: number): Promise<void> {
      for (let n = 1; n <= count; n++) await board({ type: 'DROP', dropCount: n });
    }

    it('DROP,4294967296 with a valid checksum records nothing but one count_implausible fault', async () => {
      await boardAt(2);
      await rawFrame(forged(boardSeq, 'DROP', '4294967296'));
      await rawFrame(forged(boardSeq, 'HB', '9', '4294967296'));
      await rawFrame(forged(boardSeq, 'HB', '10', '9007199254740991'));
      expect(deposits()).toHaveLength(2);
      expect(faults()).toEqual(['dropbox.count_implausible']);
      expect(ledger.recordedCount).toBe(2);
      await board({ type: 'DROP', dropCount: 3 });
      expect(deposits().map((d) => d.count)).toEqual([1, 2, 3]);
    });

    it('a count above dropbox.capacity is never believed, even when every frame agrees', async () => {
      actor.stop();
      ledger = new DropboxLedger(eventLog, BOX, silentLogger(), { capacity: 10 });
      const machine = createDropboxMachine({ ledger, log: silentLogger(), now: () => clock.now(), boardPort: createBoardPortLogic(serial) });
      actor = createActor(machine, { clock, input: { box: BOX, path: PORT, baudRate: 115200 } });
      actor.start();
      await portOpen();
      for (let i = 0; i < 5; i++) await board({ type: 'HB', uptimeS: i, dropCount: 11 });
      expect(deposits()).toEqual([]);
      expect(faults()).toEqual(['dropbox.count_implausible']);
      await board({ type: 'HB', uptimeS: 9, dropCount: 10 });
      await board({ type: 'HB', uptimeS: 10, dropCount: 10 });
      expect(deposits()).toHaveLength(10);
    });

    it('one DROP,3 with the board at 11 changes nothing; the next true heartbeat records nothing again', async () => {
      await boardAt(11);
      await rawFrame(forged(boardSeq, 'DROP', '3'));
      await board({ type: 'HB', uptimeS: 20, dropCount: 11 });
      await board({ type: 'HB', uptimeS: 21, dropCount: 11 });
      expect(deposits().map((d) => d.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(faults()).toEqual([]);
      expect(ledger.recordedCount).toBe(11);
    });

    it('HB,7,11 corrupted into HB,6,10 (same v1 XOR checksum) does not yield a second deposit 11', async () => {
      await boardAt(11);
      const truth = forged(boardSeq, 'HB', '7', '11');
      const corrupted = forged(boardSeq, 'HB', '6', '10');
      expect(corrupted.slice(corrupted.indexOf('*'))).toBe(truth.slice(truth.indexOf('*')));
      await rawFrame(corrupted);
      await board({ type: 'HB', uptimeS: 8, dropCount: 11 });
      await board({ type: 'DROP', dropCount: 12 });
      expect(deposits().map((d) => d.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect(faults()).not.toContain('dropbox.count_regressed');
    });
  });
});
