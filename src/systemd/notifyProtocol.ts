/**
 * The sd_notify protocol (CONTRACT §8), pure: what the environment asks for and the
 * datagrams to send. The socket itself is in notifySocket.ts.
 *
 * systemd passes `NOTIFY_SOCKET` (a Unix datagram socket path; `@name` for an abstract
 * one) and, with `WatchdogSec=`, `WATCHDOG_USEC` (and `WATCHDOG_PID`, the process meant).
 */

export interface NotifyEnvironment {
  /** Where to send datagrams; null: not started by systemd with Type=notify. */
  socket: string | null;
  /** Interval between WATCHDOG=1 pings; null: no watchdog for this process. */
  watchdogPingMs: number | null;
}

/**
 * Pings per watchdog period: the contract asks for at least two; three leaves one ping's
 * worth of slack for a busy event loop or a slow timer before systemd gives up.
 */
export const WATCHDOG_PINGS_PER_PERIOD = 3;

export const NOTIFY_READY = 'READY=1\n';
export const NOTIFY_STOPPING = 'STOPPING=1\n';
export const NOTIFY_WATCHDOG = 'WATCHDOG=1\n';

/** A free-form status line for `systemctl status` (newlines would start a new assignment). */
export function statusMessage(text: string): string {
  return `STATUS=${text.replace(/[\r\n]+/g, ' ')}\n`;
}

export function readNotifyEnvironment(env: NodeJS.ProcessEnv, pid: number): NotifyEnvironment {
  const socket = env.NOTIFY_SOCKET && env.NOTIFY_SOCKET.length > 0 ? env.NOTIFY_SOCKET : null;
  return { socket, watchdogPingMs: socket ? watchdogPingMs(env.WATCHDOG_USEC, env.WATCHDOG_PID, pid) : null };
}

function watchdogPingMs(usecText: string | undefined, pidText: string | undefined, pid: number): number | null {
  if (!usecText || !/^\d+$/.test(usecText)) return null;
  // WATCHDOG_PID names the process the watchdog is for; another one (a child) must not ping.
  if (pidText && pidText !== String(pid)) return null;
  const usec = Number(usecText);
  if (usec <= 0) return null;
  return Math.max(1, Math.floor(usec / 1000 / WATCHDOG_PINGS_PER_PERIOD));
}
