/**
 * The one reconnecting link every vanishing device uses (devices/link/): its backoff as a
 * pure function, and the machine on XState's simulated clock with a connection the test
 * drives — every transition, growth and cap of the waits, jitter bounds, our own close
 * versus an unplug, and a repeated error logged once.
 */
import { describe, expect, it } from 'vitest';
import { getShortestPaths } from 'xstate/graph';
import { SimulatedClock, createActor, fromCallback, sendTo, setup, type AnyEventObject } from 'xstate';
import { backoffCeilingMs, backoffDelayMs, backoffFloorMs, type BackoffPolicy } from '../devices/link/backoff.js';
import { createLinkMachine, linkStateOf, type LinkEmitted, type LinkLogger } from '../devices/link/linkMachine.js';

const POLICY: BackoffPolicy = { initialMs: 100, maxMs: 1_000, jitter: 0.5 };

describe('the reconnect backoff', () => {
  it('waits the initial time after the first failure and doubles per failure up to the cap', () => {
    const noJitter = { ...POLICY, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelayMs(noJitter, n, () => 0.7))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect([1, 2, 3, 4, 5].map((n) => backoffCeilingMs(POLICY, n))).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('counts attempts from 1: attempt 0 (or less) is the first wait, never a shorter one', () => {
    expect(backoffCeilingMs(POLICY, 0)).toBe(100);
    expect(backoffCeilingMs(POLICY, -3)).toBe(100);
  });

  it('keeps every jittered wait between the floor and the ceiling, reaching both ends', () => {
    for (let n = 1; n <= 8; n++) {
      const ceiling = backoffCeilingMs(POLICY, n);
      const floor = backoffFloorMs(POLICY, n);
      expect(floor).toBe(Math.ceil(ceiling * 0.5));
      expect(backoffDelayMs(POLICY, n, () => 0)).toBe(ceiling);
      expect(backoffDelayMs(POLICY, n, () => 0.999999)).toBe(floor);
      let seed = n * 7919;
      const seeded = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(POLICY, n, seeded);
        expect(d).toBeGreaterThanOrEqual(floor);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('full jitter may go down to zero; a random source out of range cannot push a wait past its bounds', () => {
    const full = { ...POLICY, jitter: 1 };
    expect(backoffDelayMs(full, 3, () => 0.999999)).toBe(0);
    expect(backoffDelayMs(POLICY, 2, () => 5)).toBe(backoffFloorMs(POLICY, 2));
    expect(backoffDelayMs(POLICY, 2, () => -1)).toBe(backoffCeilingMs(POLICY, 2));
  });
});

/** A connection the test opens, fails and unplugs by hand; it records what happened to it. */
function scriptedConnection() {
  const h = {
    starts: 0,
    stops: 0,
    commands: [] as AnyEventObject[],
    send: null as ((e: AnyEventObject) => void) | null,
    opened: () => h.send?.({ type: 'LINK.OPENED' }),
    failed: (message = 'ENOENT') => h.send?.({ type: 'LINK.OPEN_FAILED', message }),
    lost: (message = 'unplugged') => h.send?.({ type: 'LINK.LOST', message }),
    data: (e: AnyEventObject) => h.send?.(e),
    logic: fromCallback<AnyEventObject, { path: string }>(({ sendBack, receive }) => {
      h.starts++;
      let live = true;
      h.send = (e) => {
        if (live) sendBack(e);
      };
      receive((e) => h.commands.push(e));
      return () => {
        live = false;
        h.stops++;
      };
    }),
  };
  return h;
}

function recordingLog() {
  const lines: Array<{ level: string; msg: string; obj: Record<string, unknown> }> = [];
  const log: LinkLogger = {
    info: (obj, msg) => lines.push({ level: 'info', msg, obj: obj as Record<string, unknown> }),
    warn: (obj, msg) => lines.push({ level: 'warn', msg, obj: obj as Record<string, unknown> }),
  };
  return { log, lines };
}

function startLink(opts: { open?: boolean; random?: () => number } = {}) {
  const conn = scriptedConnection();
  const clock = new SimulatedClock();
  const { log, lines } = recordingLog();
  const machine = createLinkMachine({ name: 'test device', policy: POLICY, connection: conn.logic, log, random: opts.random ?? (() => 0) });
  const actor = createActor(machine, { clock, input: { connection: { path: '/dev/ttyTEST' }, ...(opts.open === undefined ? {} : { open: opts.open }) } });
  const emitted: LinkEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  return { conn, clock, actor, emitted, lines, state: () => linkStateOf(actor.getSnapshot()) };
}

describe('the reconnecting link machine', () => {
  it('goes disconnected → connecting → ready, and tells it once', () => {
    const t = startLink({ open: false });
    expect(t.state()).toBe('disconnected');
    expect(t.conn.starts).toBe(0);
    t.actor.send({ type: 'LINK.OPEN' });
    expect(t.state()).toBe('connecting');
    expect(t.conn.starts).toBe(1);
    t.conn.opened();
    expect(t.state()).toBe('ready');
    expect(t.emitted).toEqual([{ type: 'ready', opens: 1 }]);
  });

  it('opens at once by default', () => {
    const t = startLink();
    expect(t.state()).toBe('connecting');
    expect(t.conn.starts).toBe(1);
  });

  it('retries a failed open after the backoff, and the wait grows per failure up to the cap', () => {
    const t = startLink();
    const waits: number[] = [];
    for (let n = 1; n <= 6; n++) {
      t.conn.failed();
      expect(t.state()).toBe('reconnecting');
      expect(t.conn.stops).toBe(n); // the failed connection is stopped before the wait
      const ceiling = backoffCeilingMs(POLICY, n);
      t.clock.increment(ceiling - 1);
      expect(t.conn.starts, `attempt ${n} not yet`).toBe(n);
      t.clock.increment(1);
      expect(t.state()).toBe('connecting');
      expect(t.conn.starts).toBe(n + 1);
      waits.push(ceiling);
    }
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(t.emitted.map((e) => e.type === 'down' && [e.failures, e.lost])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, false],
      [5, false],
      [6, false],
    ]);
    t.conn.opened();
    expect(t.actor.getSnapshot().context.failures).toBe(0); // the next outage starts from the first wait again
  });

  it('waits no less than the jitter floor', () => {
    const t = startLink({ random: () => 0.999999 });
    t.conn.failed();
    t.clock.increment(backoffFloorMs(POLICY, 1) - 1);
    expect(t.state()).toBe('reconnecting');
    t.clock.increment(1);
    expect(t.state()).toBe('connecting');
  });

  it('takes an unplug while ready to reconnecting, reports it as lost, and reopens after the first wait', () => {
    const t = startLink();
    t.conn.opened();
    t.conn.lost('device hung up');
    expect(t.state()).toBe('reconnecting');
    expect(t.emitted.at(-1)).toEqual({ type: 'down', message: 'device hung up', failures: 1, lost: true });
    expect(t.actor.getSnapshot().context.losses).toBe(1);
    t.clock.increment(POLICY.initialMs);
    expect(t.state()).toBe('connecting');
    t.conn.opened();
    expect(t.emitted.at(-1)).toEqual({ type: 'ready', opens: 2 });
  });

  it('treats a connection actor that throws as a failed open', () => {
    const clock = new SimulatedClock();
    const machine = createLinkMachine({
      name: 'broken',
      policy: POLICY,
      connection: fromCallback(() => {
        throw new Error('cannot create the client');
      }),
      random: () => 0,
    });
    const actor = createActor(machine, { clock, input: { connection: {} } }).start();
    expect(linkStateOf(actor.getSnapshot())).toBe('reconnecting');
    expect(actor.getSnapshot().context.lastError).toBe('cannot create the client');
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('our own close, from any state, is not an unplug: no "down", no retry, the connection stopped', () => {
    for (const before of ['connecting', 'ready', 'reconnecting'] as const) {
      const t = startLink();
      if (before !== 'connecting') t.conn.opened();
      if (before === 'reconnecting') t.conn.lost();
      const downs = t.emitted.filter((e) => e.type === 'down').length;
      t.actor.send({ type: 'LINK.CLOSE' });
      expect(t.state(), before).toBe('disconnected');
      expect(t.conn.stops, before).toBe(1);
      expect(t.emitted.at(-1)).toEqual({ type: 'closed' });
      t.conn.lost(); // a late word from the stopped connection changes nothing
      t.clock.increment(60_000);
      expect(t.state(), before).toBe('disconnected');
      expect(t.emitted.filter((e) => e.type === 'down').length, before).toBe(downs);
      expect(t.conn.starts, before).toBe(1);
      t.actor.send({ type: 'LINK.OPEN' });
      expect(t.state()).toBe('connecting');
    }
  });

  it('logs a repeated error once, and how often it came when the link is back', () => {
    const t = startLink();
    for (let n = 1; n <= 5; n++) {
      t.conn.failed('ENOENT');
      t.clock.increment(backoffCeilingMs(POLICY, n));
    }
    t.conn.failed('EACCES');
    t.clock.increment(backoffCeilingMs(POLICY, 6));
    t.conn.opened();
    expect(t.lines.map((l) => [l.level, l.obj.message ?? null])).toEqual([
      ['warn', 'ENOENT'],
      ['warn', 'EACCES'],
      ['info', null],
    ]);
    expect(t.lines[2]!.obj).toMatchObject({ link: 'test device', failedAttempts: 6 });
    t.conn.lost('ENOENT');
    t.clock.increment(POLICY.initialMs);
    t.conn.failed('ENOENT');
    t.clock.increment(backoffCeilingMs(POLICY, 2));
    t.conn.opened();
    expect(t.lines.slice(3).map((l) => [l.level, l.obj.message ?? null])).toEqual([
      ['warn', 'ENOENT'],
      ['info', null],
    ]);
    expect(t.lines.at(-1)!.obj).toMatchObject({ failedAttempts: 2, lastErrorRepeats: 1 });
  });

  it('on every path of its events, a connection runs exactly while connecting or ready, and every state is reached', () => {
    const machine = createLinkMachine({ name: 'model', policy: POLICY, connection: fromCallback(() => () => undefined), random: () => 0 });
    const events: AnyEventObject[] = [
      { type: 'LINK.OPEN' },
      { type: 'LINK.CLOSE' },
      { type: 'LINK.OPENED' },
      { type: 'LINK.OPEN_FAILED', message: 'ENOENT' },
      { type: 'LINK.LOST', message: 'EIO' },
      { type: 'xstate.after.reconnectBackoff.link.reconnecting' },
    ];
    const paths = getShortestPaths(machine, {
      input: { connection: {}, open: false },
      events: events as never,
      serializeState: (s) => JSON.stringify([s.value, Math.min((s.context as { failures: number }).failures, 2)]),
    });
    const reached = new Set(paths.map((p) => linkStateOf(p.state)));
    expect([...reached].sort()).toEqual(['connecting', 'disconnected', 'ready', 'reconnecting']);
    for (const path of paths) {
      const actor = createActor(machine, { clock: new SimulatedClock(), input: { connection: {}, open: false } }).start();
      for (const step of path.steps) {
        if (step.event.type === 'xstate.init') continue;
        actor.send(step.event as AnyEventObject);
        const snap = actor.getSnapshot();
        const running = snap.children.connection !== undefined;
        expect(running, `${JSON.stringify(snap.value)} after ${path.steps.map((s) => s.event.type).join(' → ')}`).toBe(snap.value === 'connecting' || snap.value === 'ready');
      }
      actor.stop();
    }
  });

  it('passes commands to the connection while ready, and the connection news to its parent', () => {
    const conn = scriptedConnection();
    const clock = new SimulatedClock();
    const link = createLinkMachine({ name: 'child', policy: POLICY, connection: conn.logic, random: () => 0 });
    const heard: string[] = [];
    const parent = setup({ actors: { link } }).createMachine({
      invoke: { id: 'link', src: 'link', input: { connection: { path: '/dev/x' } } },
      on: {
        '*': { actions: ({ event }) => heard.push(event.type) },
        SEND: { actions: sendTo('link', { type: 'LINK.SEND', command: { type: 'WRITE', bytes: 'STATUS' } }) },
      },
    });
    const actor = createActor(parent, { clock }).start();
    conn.data({ type: 'FRAME', n: 0 }); // before it said it is open
    conn.opened();
    conn.data({ type: 'FRAME', n: 1 });
    actor.send({ type: 'SEND' });
    expect(conn.commands).toEqual([{ type: 'WRITE', bytes: 'STATUS' }]);
    conn.lost();
    expect(heard).toEqual(['FRAME', 'LINK.READY', 'FRAME', 'LINK.DOWN']);
  });
});
