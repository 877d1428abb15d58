/**
 * Reads the headset jack from a Linux evdev device, or a FIFO carrying the same records
 * (CONTRACT §7), with no native module: a character device through an fs read stream, a
 * FIFO through a non-blocking pipe socket. It opens the FIFO read-write, so the FIFO
 * never reports end-of-file when its writer goes away and no read blocks a libuv worker.
 *
 * A path that is missing, or neither a character device nor a FIFO, is a state (told once
 * as a fault), and is looked at again every HEADSET_REOPEN_MS: a device that appears later
 * is picked up. Short records are carried over to the next read; records about anything
 * else are skipped; a jack value other than 0 or 1 is logged and ignored. Nothing read can
 * throw out of here.
 *
 * A character device's read blocks one libuv worker thread while it waits for a record
 * (evdev has no non-blocking path without a native module); one of the pool's four.
 *
 * The jack's state before the first record is unknown (reading it needs the EVIOCGSW ioctl,
 * i.e. a native module): the kiosk assumes "unplugged" until the first change.
 */
import { EventEmitter } from 'node:events';
import { close, constants, createReadStream, open, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { headsetReading, parseInputEvents } from './inputEvent.js';

/** How often a missing or unusable headset device is looked for again, and a closed one reopened. */
export const HEADSET_REOPEN_MS = 2_000;
/** Unknown records are logged at most once per this many. */
const UNKNOWN_LOG_EVERY = 100;

export type HeadsetState = 'plugged' | 'unplugged' | 'missing' | 'not_input_device' | 'unreadable';

export type HeadsetFaultCode = 'headset.missing' | 'headset.not_input_device' | 'headset.unreadable';

export interface HeadsetReaderEvents {
  change: [{ state: HeadsetState }];
  fault: [{ code: HeadsetFaultCode; detail: string }];
  recovered: [{ code: HeadsetFaultCode }];
}

export interface HeadsetReaderOptions {
  path: string;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  reopenMs?: number;
}

export class HeadsetReader extends EventEmitter<HeadsetReaderEvents> {
  private current: HeadsetState = 'unplugged';
  private stream: ReadStream | Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private fault: HeadsetFaultCode | null = null;
  private carry: Buffer = Buffer.alloc(0);
  private unknownRecords = 0;
  private shortRecords = 0;

  constructor(private readonly opts: HeadsetReaderOptions) {
    super();
  }

  state(): HeadsetState {
    return this.current;
  }

  counters(): { unknownRecords: number; shortRecords: number } {
    return { unknownRecords: this.unknownRecords, shortRecords: this.shortRecords };
  }

  start(): this {
    this.stopped = false;
    void this.openDevice();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stream?.destroy();
    this.stream = null;
  }

  private async openDevice(): Promise<void> {
    const { path } = this.opts;
    try {
      const st = await stat(path);
      if (this.stopped) return;
      if (st.isFIFO()) {
        // Read-write: we are a writer ourselves, so the FIFO never hits end-of-file between writers.
        // A raw descriptor (not a FileHandle, which would close it when collected): the socket owns it.
        const fd = await new Promise<number>((resolve, reject) => open(path, constants.O_RDWR | constants.O_NONBLOCK, (err, d) => (err ? reject(err) : resolve(d))));
        if (this.stopped) {
          close(fd, () => undefined);
          return;
        }
        this.attach(new Socket({ fd, readable: true, writable: false }));
      } else if (st.isCharacterDevice()) {
        this.attach(createReadStream(path, { highWaterMark: 64 * 24 }));
      } else {
        this.unusable('not_input_device', 'headset.not_input_device', `${path} is neither a character device nor a FIFO`);
        return;
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') this.unusable('missing', 'headset.missing', `${path} does not exist`);
      else this.unusable('unreadable', 'headset.unreadable', `${path}: ${e.message}`);
    }
  }

  private attach(stream: ReadStream | Socket): void {
    this.stream = stream;
    this.carry = Buffer.alloc(0);
    let opened = false;
    const onOpen = (): void => {
      if (opened) return;
      opened = true;
      if (this.fault) {
        this.emit('recovered', { code: this.fault });
        this.fault = null;
      }
      if (this.current !== 'plugged' && this.current !== 'unplugged') this.set('unplugged');
      this.opts.log.info({ path: this.opts.path }, 'headset device open');
    };
    if (stream instanceof Socket) onOpen();
    else stream.once('open', onOpen);
    stream.on('data', (chunk: Buffer | string) => {
      onOpen();
      this.read(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    });
    stream.on('error', (err: Error) => {
      this.opts.log.warn({ path: this.opts.path, err: err.message }, 'headset device read failed');
    });
    stream.on('close', () => {
      if (this.stream !== stream) return;
      this.stream = null;
      if (this.carry.length) {
        this.shortRecords++;
        this.opts.log.warn({ bytes: this.carry.length }, 'headset device closed in the middle of a record: the part read is dropped');
        this.carry = Buffer.alloc(0);
      }
      if (!this.stopped) this.retryLater();
    });
  }

  private read(chunk: Buffer): void {
    const { events, rest } = parseInputEvents(chunk, this.carry);
    this.carry = rest;
    for (const e of events) {
      const reading = headsetReading(e);
      if (reading === 'plugged' || reading === 'unplugged') this.set(reading);
      else if (reading === 'unknown_value') {
        this.opts.log.warn({ value: e.value }, 'headset switch record with a value other than 0 or 1 ignored');
      } else if (this.unknownRecords++ % UNKNOWN_LOG_EVERY === 0) {
        this.opts.log.debug({ type: e.type, code: e.code, seen: this.unknownRecords }, 'input record not about the headset skipped');
      }
    }
  }

  private set(state: HeadsetState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit('change', { state });
  }

  private unusable(state: HeadsetState, code: HeadsetFaultCode, detail: string): void {
    this.set(state);
    if (this.fault !== code) {
      this.fault = code;
      this.opts.log.warn({ code, detail }, 'headset device unusable: speech starts with Help only');
      this.emit('fault', { code, detail });
    }
    this.retryLater();
  }

  private retryLater(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.openDevice();
    }, this.opts.reopenMs ?? HEADSET_REOPEN_MS);
    this.timer.unref();
  }
}
