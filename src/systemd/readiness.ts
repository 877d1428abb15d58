/**
 * READY=1 means "the HTTP API answers" (CONTRACT §8), not merely "listen() returned":
 * the controller asks itself for /api/health once before saying so. node:http, not fetch,
 * so readiness does not load undici into every controller.
 */
import { get } from 'node:http';

/** One self-check may take this long before it is tried again. */
export const READINESS_REQUEST_TIMEOUT_MS = 2_000;
/** Pause between self-checks that got no answer. */
export const READINESS_RETRY_MS = 100;

export async function waitUntilApiAnswers(baseUrl: string): Promise<void> {
  for (;;) {
    if (await healthAnswers(`${baseUrl}/api/health`)) return;
    await new Promise((r) => setTimeout(r, READINESS_RETRY_MS));
  }
}

function healthAnswers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: READINESS_REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}
