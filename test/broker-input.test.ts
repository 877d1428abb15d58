/**
 * What the broker sends is bounded (CONTRACT §5): a message over 256 KiB is dropped
 * unread with a log line — never handed to mqtt.js's parser, which buffers packets whole —
 * and retained queue state is parsed with a bound on services and fields. The real link
 * on a real Mosquitto; the big message comes from another process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, silentLogger } from '../src/log.js';
import { GuardedMqttStream, InboundFramer, MAX_INBOUND_MESSAGE_BYTES } from '../src/upstream/inboundSizeGuard.js';
import { OutboxStore } from '../src/upstream/outbox.js';
import { MAX_QUEUE_SERVICES, queueStateSchema } from '../src/upstream/queueState.js';
import { Upstream as UpstreamLink } from '../src/facades/upstream.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';

const QUEUES = 'siga/lisboa-01/queues';

/** Publishes a retained message from a separate Node process (its buffers are not ours). */
function publishFromAnotherProcess(url: string, topic: string, bytes: number, retain: boolean): Promise<void> {
  const script = `
    const mqtt = require('mqtt');
    const c = mqtt.connect(${JSON.stringify(url)}, { protocolVersion: 4 });
    c.on('connect', () => c.publish(${JSON.stringify(topic)}, Buffer.alloc(${bytes}, 0x20), { qos: 1, retain: ${retain} }, (err) => { if (err) process.exit(2); c.end(false, () => process.exit(0)); }));
    c.on('error', () => process.exit(3));`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: 'ignore' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited ${code}`))));
  });
}

function queueState(waiting: number): string {
  return JSON.stringify({ v: 1, ts: new Date().toISOString(), services: { prestacoes: { waiting, estimatedWaitMin: 5, extra: 'x'.repeat(100) } } });
}

describe('messages from the broker over 256 KiB', () => {
  let broker: Mosquitto;
  let dir: string;
  let outbox: OutboxStore;
  let link: UpstreamLink | null = null;
  const logLines: string[] = [];

  beforeEach(async () => {
    broker = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'broker-input-'));
    outbox = OutboxStore.open({ file: join(dir, 'outbox.sqlite'), kiosk: 'lisboa-01-k1', site: 'lisboa-01', maxBytes: 64 * 1024 * 1024, log: silentLogger() });
    logLines.length = 0;
  });
  afterEach(async () => {
    await link?.stop();
    link = null;
    outbox.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function startLink(): UpstreamLink {
    const destination = new Writable({ write: (c: Buffer, _e, done) => (logLines.push(c.toString()), done()) });
    link = new UpstreamLink({
      url: broker.url,
      prefix: 'siga',
      site: 'lisboa-01',
      kiosk: 'lisboa-01-k1',
      username: null,
      password: null,
      outbox,
      log: createLogger({ level: 'warn', destination }),
      version: 'test',
      backoff: { initialMs: 50, maxMs: 200 },
    });
    link.start();
    return link;
  }

  it('a 15 MB retained queue message is dropped unread (never handed to the parser), logged, and the next good one is taken', async () => {
    await publishFromAnotherProcess(broker.url, QUEUES, 15 * 1024 * 1024, true);
    // What mqtt.js's parser is handed (it buffers each packet whole before parsing it).
    let toParser = 0;
    const push = vi.spyOn(GuardedMqttStream.prototype, 'push').mockImplementation(function (this: GuardedMqttStream, chunk: unknown) {
      if (Buffer.isBuffer(chunk)) toParser += chunk.length;
      return Readable.prototype.push.call(this, chunk);
    });
    startLink();
    await vi.waitFor(() => expect(logLines.join('')).toContain('over 256 KiB dropped unread'), { timeout: 15_000 });
    push.mockRestore();
    expect(link!.queues()).toBeNull();
    // The 15 MB went past the parser: it saw the CONNACK, SUBACK and the like only.
    expect(toParser).toBeLessThan(1024);
    const line = JSON.parse(logLines.find((l) => l.includes('dropped unread'))!) as { topic: string; bytes: number };
    expect(line.topic).toBe(QUEUES);
    expect(line.bytes).toBeGreaterThan(15 * 1024 * 1024);

    // The stream is still in step: a good retained state after it is taken.
    const pub = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    await pub.publishAsync(QUEUES, queueState(7), { qos: 1, retain: true });
    await vi.waitFor(() => expect(link!.queues()?.services.prestacoes?.waiting).toBe(7), { timeout: 5_000 });
    // Unknown fields are not kept.
    expect(link!.queues()?.services.prestacoes).toEqual({ waiting: 7, estimatedWaitMin: 5 });
    await pub.endAsync();
  }, 60_000);

  it('a message of exactly 256 KiB passes; one byte more does not', async () => {
    startLink();
    await vi.waitFor(() => expect(link!.status().connected).toBe(true), { timeout: 10_000 });
    const pub = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    // A valid queue state padded to the size (the padding is an unknown key).
    const padded = (total: number) => {
      const base = JSON.stringify({ v: 1, ts: 't', services: { prestacoes: { waiting: 3 } }, pad: '' });
      const topicAndLen = 2 + Buffer.byteLength(QUEUES) + 2; // variable header of a QoS 1 PUBLISH
      return base.replace('"pad":""', `"pad":"${'p'.repeat(total - topicAndLen - Buffer.byteLength(base))}"`);
    };
    await pub.publishAsync(QUEUES, padded(MAX_INBOUND_MESSAGE_BYTES + 1), { qos: 1, retain: true });
    await vi.waitFor(() => expect(logLines.join('')).toContain('dropped unread'), { timeout: 5_000 });
    expect(link!.queues()).toBeNull();
    await pub.publishAsync(QUEUES, padded(MAX_INBOUND_MESSAGE_BYTES), { qos: 1, retain: true });
    await vi.waitFor(() => expect(link!.queues()?.services.prestacoes?.waiting).toBe(3), { timeout: 5_000 });
    await pub.endAsync();
  }, 60_000);
});

describe('the inbound framer', () => {
  /** An MQTT PUBLISH packet (QoS 1 with id) of `payload` bytes on `topic`. */
  function publishPacket(topic: string, payload: number, id: number): Buffer {
    const t = Buffer.from(topic);
    const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, Buffer.from([id >> 8, id & 0xff]), Buffer.alloc(payload, 0x61)]);
    const len: number[] = [];
    let n = body.length;
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      len.push(b);
    } while (n > 0);
    return Buffer.concat([Buffer.from([0x32, ...len]), body]);
  }

  it('however the bytes are split: small packets pass unchanged, oversized PUBLISHes are dropped with their PUBACK', () => {
    const limit = 1000;
    fc.assert(
      fc.property(fc.array(fc.record({ size: fc.oneof(fc.nat(limit - 20), fc.integer({ min: limit, max: 5000 })), id: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), (packets, cuts) => {
        const stream = Buffer.concat([...packets.map((p) => publishPacket('a/b', p.size, p.id)), Buffer.from([0xd0, 0x00])]);
        const framer = new InboundFramer(limit);
        const passed: Buffer[] = [];
        const dropped: { id: number; bytes: number }[] = [];
        for (let at = 0, k = 0; at < stream.length; k++) {
          const n = cuts[k % cuts.length]!;
          for (const o of framer.feed(stream.subarray(at, at + n))) {
            if (o.kind === 'pass') passed.push(o.bytes);
            else if (o.kind === 'dropped') dropped.push({ id: o.puback!.readUInt16BE(2), bytes: o.message.bytes });
            else throw new Error(o.detail);
          }
          at += n;
        }
        const expectedPassed = Buffer.concat([...packets.filter((p) => p.size + 7 <= limit).map((p) => publishPacket('a/b', p.size, p.id)), Buffer.from([0xd0, 0x00])]);
        expect(Buffer.concat(passed).equals(expectedPassed)).toBe(true);
        expect(dropped.map((d) => d.id)).toEqual(packets.filter((p) => p.size + 7 > limit).map((p) => p.id));
      }),
      { numRuns: 300 },
    );
  });

  it('queue state: at most MAX_QUEUE_SERVICES services, bounded ids, only the two fields kept', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_QUEUE_SERVICES + 1 }, (_, i) => [`s${i}`, { waiting: 1 }]));
    expect(queueStateSchema.safeParse({ v: 1, ts: 't', services: many }).success).toBe(false);
    expect(queueStateSchema.safeParse({ v: 1, ts: 't', services: { ['x'.repeat(65)]: { waiting: 1 } } }).success).toBe(false);
    const ok = queueStateSchema.parse({ v: 1, ts: 't', services: { p: { waiting: 2, estimatedWaitMin: null, notes: 'y'.repeat(1000) } }, other: [1, 2, 3] });
    expect(ok).toEqual({ v: 1, ts: 't', services: { p: { waiting: 2, estimatedWaitMin: null } } });
  });
});
