/**
 * Waits for `promise` at most `ms`. On time out the answer is `onTimeout()`: its value,
 * or its throw as the rejection. A rejection of `promise` is passed on (as an Error).
 * `unref`: the timer alone does not keep the process running.
 */
export function withTimeout<T, F>(promise: Promise<T>, ms: number, onTimeout: () => F, opts: { unref?: boolean } = {}): Promise<T | F> {
  return new Promise<T | F>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    }, ms);
    if (opts.unref) timer.unref();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
