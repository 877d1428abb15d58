/**
 * Messages from the broker larger than 256 KiB are dropped unread (CONTRACT §5).
 *
 * mqtt.js (mqtt-packet's parser) keeps a whole packet in memory before it says how big
 * it was, and MQTT 3.1.1 — which the controller speaks, as aedes does — has no Maximum
 * Packet Size to ask the broker for. So the guard sits between the socket and mqtt.js:
 * it reads each packet's fixed header (type and Remaining Length, both at the start)
 * and forwards packets up to the limit as they arrive; an oversized PUBLISH is skipped
 * byte by byte as it arrives, never buffered — only its topic and packet id are kept
 * (to log it and to PUBACK it, so a QoS 1 message is not redelivered forever). What
 * bounds the memory: the limit for a packet that passes, the topic (at most 64 KiB by
 * the protocol) for one that does not. Any other packet over the limit is a broken
 * broker: the connection is closed.
 */
import { Duplex } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export const MAX_INBOUND_MESSAGE_BYTES = 256 * 1024;

const PUBLISH = 3;
/** Longest Remaining Length encoding (MQTT: 4 bytes). */
const MAX_LENGTH_BYTES = 4;

export interface DroppedMessage {
  topic: string;
  bytes: number;
  qos: number;
}

export type FramerOutput = { kind: 'pass'; bytes: Buffer } | { kind: 'dropped'; message: DroppedMessage; puback: Buffer | null } | { kind: 'violation'; detail: string };

/**
 * Pure byte framer: feed it what the socket gave, get back what to hand to mqtt.js,
 * which messages were dropped (and the PUBACK owed for each), or a protocol violation.
 */
export class InboundFramer {
  private header: number[] = [];
  /** Bytes of the current packet still to pass or skip after its fixed header. */
  private remaining = 0;
  private mode: 'header' | 'pass' | 'skip' = 'header';
  /** For a skipped PUBLISH: its first bytes until topic and packet id are known. */
  private skipped: { first: number; length: number; start: number[]; need: number; done: boolean } | null = null;

  constructor(private readonly limit = MAX_INBOUND_MESSAGE_BYTES) {}

  feed(chunk: Buffer): FramerOutput[] {
    const out: FramerOutput[] = [];
    let passFrom = -1;
    const flushPass = (end: number) => {
      if (passFrom >= 0 && end > passFrom) out.push({ kind: 'pass', bytes: chunk.subarray(passFrom, end) });
      passFrom = -1;
    };
    let i = 0;
    while (i < chunk.length) {
      if (this.mode === 'header') {
        const start = i;
        this.header.push(chunk[i]!);
        i++;
        const parsed = this.parseHeader();
        if (parsed === 'violation') return [...out, { kind: 'violation', detail: 'malformed Remaining Length' }];
        if (parsed === null) {
          // Header still incomplete: these bytes are held back until it is.
          continue;
        }
        const headerBytes = Buffer.from(this.header);
        this.header = [];
        const type = headerBytes[0]! >> 4;
        if (parsed.length > this.limit) {
          if (type !== PUBLISH) return [...out, { kind: 'violation', detail: `packet of type ${type} with ${parsed.length} bytes` }];
          this.mode = 'skip';
          this.remaining = parsed.length;
          this.skipped = { first: headerBytes[0]!, length: parsed.length, start: [], need: 2, done: false };
        } else {
          flushPass(start);
          out.push({ kind: 'pass', bytes: headerBytes });
          this.remaining = parsed.length;
          this.mode = this.remaining > 0 ? 'pass' : 'header';
        }
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - i);
      if (this.mode === 'pass') {
        if (passFrom < 0) passFrom = i;
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          flushPass(i);
          this.mode = 'header';
        }
        continue;
      }
      // skip
      const s = this.skipped!;
      // Keep the topic and packet id (the first bytes), skip the rest.
      for (let k = 0; !s.done && k < take; k++) {
        s.start.push(chunk[i + k]!);
        if (s.start.length === 2) s.need = 2 + ((s.start[0]! << 8) | s.start[1]!) + (((s.first >> 1) & 0x03) > 0 ? 2 : 0);
        if (s.start.length >= s.need) s.done = true;
      }
      i += take;
      this.remaining -= take;
      if (this.remaining === 0) {
        out.push(this.droppedOutput(s));
        this.skipped = null;
        this.mode = 'header';
      }
    }
    if (this.mode === 'pass') flushPass(chunk.length);
    return out;
  }

  private droppedOutput(s: { first: number; length: number; start: number[] }): FramerOutput {
    const qos = (s.first >> 1) & 0x03;
    const topicLength = s.start.length >= 2 ? (s.start[0]! << 8) | s.start[1]! : 0;
    const topic = Buffer.from(s.start.slice(2, 2 + topicLength)).toString('utf8');
    const idAt = 2 + topicLength;
    const id = qos > 0 && s.start.length >= idAt + 2 ? [s.start[idAt]!, s.start[idAt + 1]!] : null;
    // QoS 1 → PUBACK; QoS 2 is never asked for (subscriptions are QoS 1), so never owed.
    const puback = qos === 1 && id ? Buffer.from([0x40, 0x02, id[0]!, id[1]!]) : null;
    return { kind: 'dropped', message: { topic, bytes: s.length, qos }, puback };
  }

  /** The fixed header so far: null while incomplete. */
  private parseHeader(): { length: number } | null | 'violation' {
    if (this.header.length < 2) return null;
    let length = 0;
    let multiplier = 1;
    for (let k = 1; k < this.header.length; k++) {
      const b = this.header[k]!;
      length += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) return { length };
      multiplier *= 128;
      if (k >= MAX_LENGTH_BYTES) return 'violation';
    }
    return null;
  }
}

/** What a socket must offer to be guarded: any Duplex (net.Socket, TLSSocket). */
type Inner = Duplex & { setNoDelay?: (noDelay?: boolean) => unknown };

/**
 * The socket as mqtt.js sees it, with oversized messages taken out. Writes go straight
 * through; close and errors of either side end both.
 */
export class GuardedMqttStream extends Duplex {
  private readonly framer: InboundFramer;

  constructor(
    private readonly inner: Inner,
    private readonly onDropped: (m: DroppedMessage) => void,
    limit = MAX_INBOUND_MESSAGE_BYTES,
  ) {
    super();
    this.framer = new InboundFramer(limit);
    inner.on('data', (chunk: Buffer) => {
      for (const o of this.framer.feed(chunk)) {
        if (o.kind === 'pass') {
          if (!this.push(o.bytes)) inner.pause();
        } else if (o.kind === 'dropped') {
          if (o.puback) inner.write(o.puback);
          this.onDropped(o.message);
        } else {
          this.destroy(new Error(`the broker sent an oversized packet (${o.detail}): connection closed`));
          return;
        }
      }
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }

  setNoDelay(noDelay = true): this {
    this.inner.setNoDelay?.(noDelay);
    return this;
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.inner.write(chunk, (err) => done(err ?? null));
  }

  override _final(done: (err?: Error | null) => void): void {
    this.inner.end(() => done());
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.inner.destroy(err ?? undefined);
    done(err);
  }
}

/**
 * mqtt.connect with the guard between the socket and the parser; mqtt.js still builds
 * the socket itself (TCP or TLS from the URL and options).
 */
export function connectGuarded(url: string, options: IClientOptions, onDropped: (m: DroppedMessage) => void): MqttClient {
  const client = mqtt.connect(url, { ...options, manualConnect: true });
  // streamBuilder is private in mqtt.js's types but is the seam its own connect() uses
  // (mqtt is pinned; test/broker-input.test.ts fails should it move).
  const seam = client as unknown as { streamBuilder: (c: MqttClient) => Inner };
  const build = seam.streamBuilder;
  seam.streamBuilder = (c) => new GuardedMqttStream(build(c), onDropped);
  client.connect();
  return client;
}
