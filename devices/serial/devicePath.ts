/**
 * A configured device path checked once at start. A path that does not exist yet is an
 * unplugged device (opened later, with backoff); a path that exists but cannot be a
 * device (a directory) is a configuration mistake no reconnect will fix, so the start fails.
 */
import { statSync } from 'node:fs';
import { ErrorCode, KioskError } from '../../kernel/errors.js';

export function checkDevicePath(path: string, key: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    return; // absent or unreadable now: the device's link reports it and retries
  }
  if (isDirectory) {
    throw new KioskError(ErrorCode.DevicePathInvalid, `${key} is "${path}", which is a directory, not a device: set it to the device's path (e.g. /dev/ttyACM0).`, { key, path });
  }
}
