/**
 * The one polling helper for tests that wait on real I/O (sockets, PTYs, brokers): checks
 * `probe` every `pollMs` until it gives a truthy value, which it returns, or throws after
 * `timeoutMs` naming what it waited for. Timeouts of the controller itself run on
 * simulated clocks; this is only for the world outside it.
 */
export const WAIT_UNTIL_DEFAULT_MS = 5_000;
export const WAIT_UNTIL_POLL_MS = 10;

export async function waitUntil<T>(
  what: string,
  probe: () => T | Promise<T>,
  opts: { timeoutMs?: number; pollMs?: number } = {},
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const timeoutMs = opts.timeoutMs ?? WAIT_UNTIL_DEFAULT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    const pollMs = opts.pollMs ?? WAIT_UNTIL_POLL_MS;
    // 0: once per event-loop turn, for tests whose setTimeout is faked.
    await new Promise((r) => (pollMs === 0 ? setImmediate(r) : setTimeout(r, pollMs)));
  }
}
