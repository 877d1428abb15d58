/**
 * Tells systemd how the controller is doing (CONTRACT §8): READY=1 once the HTTP API
 * answers, STOPPING=1 when shutdown begins, WATCHDOG=1 on a timer while the event loop
 * runs (a hung loop stops the pings and systemd restarts the service).
 *
 * Node's dgram has no AF_UNIX datagram sockets. The datagrams go through `unix-dgram`
 * (a small native binding, socket(AF_UNIX, SOCK_DGRAM) + sendto, maintained by a Node
 * core developer and pulled in by millions of installs through hot-shots), sent from this
 * very process: systemd attributes each message to the unit by the sender's PID, so the
 * unit keeps the strict `NotifyAccess=main`. Spawning `systemd-notify` instead would need
 * `NotifyAccess=all`, a process per watchdog ping, and still lose messages when the short-
 * lived sender exits before systemd reads its credentials (systemd < 254).
 * Abstract socket names (`@name`) are not supported by the binding: logged, then ignored.
 */
import { createRequire } from 'node:module';
import type { Logger } from '../log.js';
import { NOTIFY_READY, NOTIFY_STOPPING, NOTIFY_WATCHDOG, readNotifyEnvironment, statusMessage } from './notifyProtocol.js';

export interface SystemdNotifier {
  /** Whether systemd listens (NOTIFY_SOCKET was set and usable). */
  readonly active: boolean;
  ready(status?: string): void;
  stopping(): void;
  /** Stops the watchdog pings and closes the socket. */
  close(): void;
}

/** The part of unix-dgram's socket used here. */
export interface UnixDatagramSocket {
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'message', listener: (buf: Buffer) => void): this;
  send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
  bind(path: string): void;
  close(): void;
}

interface UnixDgramModule {
  createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): UnixDatagramSocket;
}

/** Loaded only when systemd asks for notifications, so other runs never load the addon. */
export function loadUnixDgram(): UnixDgramModule {
  return createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
}

const inactive: SystemdNotifier = { active: false, ready: () => undefined, stopping: () => undefined, close: () => undefined };

export function startSystemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env, pid = process.pid): SystemdNotifier {
  const { socket: path, watchdogPingMs } = readNotifyEnvironment(env, pid);
  // Like sd_notify(unset_environment=1): children (espeak-ng, …) must not talk to systemd as us.
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  if (!path) return inactive;
  if (path.startsWith('@')) {
    log.warn({ socket: path }, 'systemd: abstract NOTIFY_SOCKET names are not supported; no readiness or watchdog notifications');
    return inactive;
  }
  let sock: UnixDatagramSocket;
  try {
    sock = loadUnixDgram().createSocket('unix_dgram');
  } catch (e) {
    log.error({ err: (e as Error).message }, 'systemd: cannot create the notification socket; no readiness or watchdog notifications');
    return inactive;
  }
  let failures = 0;
  sock.on('error', (err) => log.warn({ err: err.message }, 'systemd: notification socket error'));
  const send = (text: string): void => {
    const buf = Buffer.from(text);
    sock.send(buf, 0, buf.length, path, (err) => {
      // One line for the first failure and then every 100th: a gone socket must not flood the log.
      if (err && failures++ % 100 === 0) log.warn({ err: err.message, failures }, 'systemd: notification not delivered');
    });
  };
  let watchdog: NodeJS.Timeout | null = null;
  if (watchdogPingMs !== null) {
    send(NOTIFY_WATCHDOG);
    watchdog = setInterval(() => send(NOTIFY_WATCHDOG), watchdogPingMs);
    watchdog.unref();
  }
  let closed = false;
  return {
    active: true,
    ready(status) {
      if (!closed) send(NOTIFY_READY + (status ? statusMessage(status) : ''));
    },
    stopping() {
      // The pings go on while shutting down: the event loop is still alive and answerable.
      if (!closed) send(NOTIFY_STOPPING);
    },
    close() {
      if (closed) return;
      closed = true;
      if (watchdog) clearInterval(watchdog);
      sock.close();
    },
  };
}
