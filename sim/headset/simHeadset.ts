/**
 * A simulated headset jack: a FIFO that carries evdev `input_event` records (CONTRACT §7),
 * written exactly as the kernel would write them for SW_HEADPHONE_INSERT. The controller
 * reads it with its real headset reader.
 */
import { execFileSync } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { headsetRecords } from '../../devices/headset/inputEvent.js';

export interface SimHeadset {
  readonly path: string;
  plug(): Promise<void>;
  unplug(): Promise<void>;
  /** Raw bytes, for tests of short or unknown records. */
  write(bytes: Buffer): Promise<void>;
  plugged(): boolean;
  close(): Promise<void>;
}

export async function createSimHeadset(path: string): Promise<SimHeadset> {
  if (!existsSync(path)) execFileSync('mkfifo', [path]);
  // Read-write and non-blocking: opening never waits for a reader, and the FIFO stays open between writes.
  const fifo: FileHandle = await open(path, constants.O_RDWR | constants.O_NONBLOCK);
  let state = false;
  const write = async (bytes: Buffer): Promise<void> => {
    await fifo.write(bytes);
  };
  return {
    path,
    async plug() {
      state = true;
      await write(headsetRecords(true));
    },
    async unplug() {
      state = false;
      await write(headsetRecords(false));
    },
    write,
    plugged: () => state,
    async close() {
      await fifo.close();
    },
  };
}
