/**
 * The headset jack (CONTRACT §7): the pure input_event parser, and the reader fed real
 * 24-byte records through a real FIFO — whole, split across writes, mixed with records
 * about other things, with jack values that mean nothing — plus a device that is missing,
 * appears later, or is not a character device or FIFO.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EV_SW, INPUT_EVENT_BYTES, SW_HEADPHONE_INSERT, encodeInputEvent, headsetReading, headsetRecords, parseInputEvents } from '../devices/headset/inputEvent.js';
import { HeadsetReader, type HeadsetState } from '../devices/headset/headsetReader.js';
import { silentLogger } from '../src/log.js';
import { createSimHeadset, type SimHeadset } from '../sim/headset/simHeadset.js';
import { waitFor } from './support/waitFor.js';

const EV_KEY = 1;
const SW_LID = 0;

describe('input_event records (pure)', () => {
  it('reads the x86-64 layout: 16 bytes of time, u16 type, u16 code, s32 value', () => {
    const at = new Date('2026-12-01T10:00:00.250Z');
    const { events, rest } = parseInputEvents(encodeInputEvent({ type: EV_SW, code: SW_HEADPHONE_INSERT, value: 1, at }));
    expect(rest.length).toBe(0);
    expect(events).toEqual([{ seconds: BigInt(at.getTime() / 1000 - 0.25), microseconds: 250_000n, type: 5, code: 2, value: 1 }]);
    expect(headsetReading(events[0]!)).toBe('plugged');
  });

  it('keeps a short record for the next read, and reads it whole once the rest arrives', () => {
    const bytes = headsetRecords(false);
    const first = parseInputEvents(bytes.subarray(0, 30));
    expect(first.events.map(headsetReading)).toEqual(['unplugged']);
    expect(first.rest.length).toBe(6);
    const second = parseInputEvents(bytes.subarray(30), first.rest);
    expect(second.events.map((e) => e.type)).toEqual([0]); // the EV_SYN report
    expect(second.rest.length).toBe(0);
  });

  it('tells other switches, keys and odd jack values apart from the headset', () => {
    const rec = (type: number, code: number, value: number) => parseInputEvents(encodeInputEvent({ type, code, value })).events[0]!;
    expect(headsetReading(rec(EV_SW, SW_LID, 1))).toBe('other');
    expect(headsetReading(rec(EV_KEY, SW_HEADPHONE_INSERT, 1))).toBe('other');
    expect(headsetReading(rec(EV_SW, SW_HEADPHONE_INSERT, 7))).toBe('unknown_value');
    expect(headsetReading(rec(EV_SW, SW_HEADPHONE_INSERT, -1))).toBe('unknown_value');
    expect(INPUT_EVENT_BYTES).toBe(24);
  });
});

describe('headset reader on a FIFO', () => {
  let dir: string;
  let reader: HeadsetReader | null = null;
  let jack: SimHeadset | null = null;
  const states: HeadsetState[] = [];
  const faults: string[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiosk-headset-'));
    states.length = 0;
    faults.length = 0;
  });
  afterEach(async () => {
    reader?.stop();
    reader = null;
    await jack?.close();
    jack = null;
    rmSync(dir, { recursive: true, force: true });
  });

  function read(path: string, reopenMs = 50): HeadsetReader {
    reader = new HeadsetReader({ path, log: silentLogger(), reopenMs });
    reader.on('change', ({ state }) => states.push(state));
    reader.on('fault', ({ code }) => faults.push(`fault ${code}`));
    reader.on('recovered', ({ code }) => faults.push(`recovered ${code}`));
    return reader.start();
  }

  it('plugged and unplugged records change the state, each once', async () => {
    jack = await createSimHeadset(join(dir, 'jack'));
    read(jack.path);
    await jack.plug();
    await waitFor(() => reader!.state() === 'plugged', 'plugged');
    await jack.plug(); // a repeat changes nothing
    await jack.unplug();
    await waitFor(() => reader!.state() === 'unplugged', 'unplugged');
    expect(states).toEqual(['plugged', 'unplugged']);
  });

  it('a record split across writes, other records and odd values in between: only the jack changes count', async () => {
    jack = await createSimHeadset(join(dir, 'jack'));
    read(jack.path);
    const plugged = headsetRecords(true);
    await jack.write(encodeInputEvent({ type: EV_KEY, code: 115, value: 1 })); // a key press on the same device
    await jack.write(encodeInputEvent({ type: EV_SW, code: SW_HEADPHONE_INSERT, value: 9 })); // nonsense value
    await jack.write(plugged.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(reader!.state()).toBe('unplugged');
    await jack.write(plugged.subarray(10));
    await waitFor(() => reader!.state() === 'plugged', 'plugged after the rest of the record');
    expect(states).toEqual(['plugged']);
    expect(reader!.counters().unknownRecords).toBeGreaterThanOrEqual(2);
  });

  it('a missing device is one fault; when the FIFO appears it is read, and the fault is recovered', async () => {
    const path = join(dir, 'later');
    read(path);
    await waitFor(() => faults.length > 0, 'missing fault');
    expect(reader!.state()).toBe('missing');
    await new Promise((r) => setTimeout(r, 200)); // several retries: still one fault
    expect(faults).toEqual(['fault headset.missing']);
    jack = await createSimHeadset(path);
    await waitFor(() => faults.includes('recovered headset.missing'), 'recovered');
    await jack.plug();
    await waitFor(() => reader!.state() === 'plugged', 'plugged');
  });

  it('a regular file is not an input device: a fault, and nothing is read from it', async () => {
    const path = join(dir, 'regular');
    writeFileSync(path, headsetRecords(true));
    read(path);
    await waitFor(() => faults.length > 0, 'fault');
    expect(faults).toEqual(['fault headset.not_input_device']);
    expect(reader!.state()).toBe('not_input_device');
  });

  it('a character device that is not an input device (/dev/null) is opened and simply says nothing', async () => {
    read('/dev/null');
    await new Promise((r) => setTimeout(r, 150));
    expect(faults.filter((f) => f.startsWith('fault'))).toEqual([]);
    expect(reader!.state()).toBe('unplugged');
  });

  it('a FIFO whose writer closes and comes back is still read (the reader holds it open)', async () => {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    read(path);
    await new Promise((r) => setTimeout(r, 50));
    // A writer in another process, as a kernel-side tool would be: write, close.
    execFileSync('sh', ['-c', `cat > ${path}`], { input: headsetRecords(true) });
    await waitFor(() => reader!.state() === 'plugged', 'plugged by the first writer');
    execFileSync('sh', ['-c', `cat > ${path}`], { input: headsetRecords(false) });
    await waitFor(() => reader!.state() === 'unplugged', 'unplugged by the second writer');
  });
});
