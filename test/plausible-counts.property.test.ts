/**
 * Plausible counts, as properties: a true board counts envelopes and sends DROP and HB
 * frames; the wire loses, repeats and corrupts them, and a forger slips in frames with
 * valid checksums and any count (one at a time: a forged frame is followed by a true
 * one; never the one frame the contract believes alone, a DROP with the recorded
 * count + 1). Whatever the sequence, the ledger never records more deposits than envelopes
 * the board counted, never a count twice, and once the wire is clean again it catches
 * up with the board.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeCount, INITIAL_PLAUSIBILITY, DEFAULT_DROPBOX_CAPACITY } from '../devices/board/countPlausibility.js';
import { parseFrame, formatFrame, nextSeq } from '../devices/board/protocol.js';
import { silentLogger } from '../src/log.js';
import { DropboxLedger } from '../src/machines/dropboxLedger.js';
import { MemoryEventLog } from './support/memoryEventLog.js';

type WireOp =
  | { op: 'deliver' }
  | { op: 'lose' }
  | { op: 'repeat' }
  | { op: 'forge'; sameSeq: boolean; seq: number; count: number; asDrop: boolean };

const countArb = fc.oneof(fc.nat(30), fc.nat(DEFAULT_DROPBOX_CAPACITY + 5), fc.constantFrom(4294967296, 2 ** 53 - 1, 999_999_999_999));
const wireOpArb: fc.Arbitrary<WireOp> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ op: 'deliver' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'lose' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'repeat' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('forge' as const), sameSeq: fc.boolean(), seq: fc.nat(65535), count: countArb, asDrop: fc.boolean() }) },
);
/** What the true board does each step: an envelope falls in (DROP), or a heartbeat. */
const boardStepArb = fc.record({ drop: fc.boolean(), wire: wireOpArb });

interface Frame {
  seq: number;
  count: number;
  asDrop: boolean;
}

/** Through the real v1 codec, so forged frames are exactly what the controller would parse. */
function onTheWire(f: Frame): Frame {
  const line = formatFrame(f.seq, f.asDrop ? ['DROP', f.count] : ['HB', 7, f.count]);
  const parsed = parseFrame(line);
  if (!parsed.ok || (parsed.frame.type !== 'DROP' && parsed.frame.type !== 'HB')) throw new Error(`codec refused ${line}`);
  return { seq: parsed.frame.seq, count: parsed.frame.dropCount, asDrop: parsed.frame.type === 'DROP' };
}

function run(steps: Array<{ drop: boolean; wire: WireOp }>, startCount: number) {
  const log = new MemoryEventLog();
  const ledger = new DropboxLedger(log, 'box-1', silentLogger());
  let trueCount = startCount;
  let seq = 0;
  let last: Frame | null = null;
  let previousForged = false;
  const deliver = (f: Frame) => {
    const w = onTheWire(f);
    ledger.observeCount(w.count, w.asDrop, w.seq);
  };
  for (const step of steps) {
    if (step.drop && trueCount < DEFAULT_DROPBOX_CAPACITY) trueCount++;
    const truth: Frame = { seq, count: trueCount, asDrop: step.drop };
    seq = nextSeq(seq);
    // One forged frame at a time: the frame after a forged one is delivered as sent.
    const wire: WireOp = previousForged ? { op: 'deliver' } : step.wire;
    previousForged = wire.op === 'forge';
    if (wire.op === 'deliver') deliver(truth);
    else if (wire.op === 'repeat') {
      deliver(truth);
      deliver(truth);
    } else if (wire.op === 'forge') {
      // The one frame the contract believes alone is a DROP with the recorded count + 1
      // (the common case, kept fast); a forgery of exactly that is left to version 2's CRC.
      const believedAlone = wire.asDrop && wire.count === ledger.recordedCount + 1;
      deliver({ seq: wire.sameSeq ? truth.seq : wire.seq, count: wire.count, asDrop: wire.asDrop && !believedAlone });
    }
    if (wire.op !== 'lose' && wire.op !== 'forge') last = truth;
  }
  const deposits = log.events.filter((e) => e.type === 'dropbox.deposit').map((e) => (e.data as { count: number }).count);
  return { deposits, trueCount, ledger, log, seq, last };
}

describe('plausible counts', () => {
  it('no sequence of frames yields more deposits than envelopes counted, or a count twice; a clean wire catches up', () => {
    fc.assert(
      fc.property(fc.array(boardStepArb, { maxLength: 120 }), fc.nat(5), (steps, startCount) => {
        const r = run(steps, startCount);
        expect(r.deposits.length).toBeLessThanOrEqual(r.trueCount);
        expect(new Set(r.deposits).size).toBe(r.deposits.length);
        expect(r.deposits.every((c) => c >= 1 && c <= r.trueCount)).toBe(true);
        // Two clean heartbeats in a row: every envelope is recorded, exactly once.
        r.ledger.observeCount(r.trueCount, false, r.seq);
        r.ledger.observeCount(r.trueCount, false, nextSeq(r.seq));
        const after = r.log.events.filter((e) => e.type === 'dropbox.deposit').map((e) => (e.data as { count: number }).count);
        expect([...after].sort((a, b) => a - b)).toEqual(Array.from({ length: r.trueCount }, (_, i) => i + 1));
      }),
      { numRuns: 2000 },
    );
  });

  it('judgeCount: a DROP with the recorded count + 1 is believed at once, any other count needs two consecutive frames', () => {
    const ctx = { recorded: 5, capacity: 1000, resetPending: false };
    expect(judgeCount(INITIAL_PLAUSIBILITY, { seq: 1, count: 6, asDrop: true }, ctx).verdict).toEqual({ kind: 'advance', count: 6 });
    expect(judgeCount(INITIAL_PLAUSIBILITY, { seq: 1, count: 6, asDrop: false }, ctx).verdict).toEqual({ kind: 'unconfirmed' });
    const first = judgeCount(INITIAL_PLAUSIBILITY, { seq: 65535, count: 8, asDrop: false }, ctx);
    expect(judgeCount(first.state, { seq: 0, count: 8, asDrop: false }, ctx).verdict).toEqual({ kind: 'advance', count: 8 }); // seq wraps
    expect(judgeCount(first.state, { seq: 1, count: 8, asDrop: false }, ctx).verdict).toEqual({ kind: 'unconfirmed' }); // not consecutive
    expect(judgeCount(first.state, { seq: 65535, count: 8, asDrop: false }, ctx).verdict).toEqual({ kind: 'unconfirmed' }); // a repeat is not a second frame
    const low = judgeCount(INITIAL_PLAUSIBILITY, { seq: 3, count: 2, asDrop: true }, ctx);
    expect(judgeCount(low.state, { seq: 4, count: 2, asDrop: false }, ctx).verdict).toEqual({ kind: 'below', count: 2 });
    const over = judgeCount(INITIAL_PLAUSIBILITY, { seq: 3, count: 1001, asDrop: true }, ctx);
    expect(over.verdict).toEqual({ kind: 'implausible', count: 1001, report: true });
    expect(judgeCount(over.state, { seq: 4, count: 1001, asDrop: true }, ctx).verdict).toEqual({ kind: 'implausible', count: 1001, report: false });
    // After a RESET that was not acknowledged, the board counting from zero again.
    expect(judgeCount(INITIAL_PLAUSIBILITY, { seq: 9, count: 1, asDrop: true }, { ...ctx, resetPending: true }).verdict).toEqual({ kind: 'below', count: 1 });
  });
});
