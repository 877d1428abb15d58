/**
 * `kiosk health`: exit 0 only when the controller answers GET /api/health and every
 * device its config names is working (printer ready, drop-box board online, upstream
 * connected), exit 1 otherwise, saying what is not. Meant as the post-update check of an
 * A/B updater (Mender's ArtifactCommit, RAUC's mark-good; docs/deployment.md): it waits up
 * to --timeout for a controller that is still starting, so a slow boot is not a rollback.
 */
import { loadConfigFile } from '../config/load.js';
import type { KioskConfig } from '../config/schema.js';

/** Between two looks at /api/health while waiting. */
export const HEALTH_POLL_MS = 1_000;
/** One request may take this long. */
export const HEALTH_REQUEST_TIMEOUT_MS = 3_000;

export interface HealthOptions {
  config?: string;
  url?: string;
  timeoutS: number;
  /** Accept a kiosk whose broker is unreachable (its events wait on disk). */
  upstream: boolean;
}

interface HealthReport {
  status?: string;
  devices?: { printer?: { state?: string; ready?: boolean; fault?: unknown }; dropbox?: { state?: string }; scanner?: { state?: string }; speech?: { state?: string; faults?: unknown } };
  upstream?: { connected?: boolean };
}

type Expected = Pick<KioskConfig, 'printer' | 'dropbox' | 'scanner'> | null;

/** What is wrong with a health report, for the devices `expected` names (all of them when null). */
export function healthProblems(report: HealthReport, expected: Expected, wantUpstream: boolean): string[] {
  const problems: string[] = [];
  const printer = report.devices?.printer;
  const box = report.devices?.dropbox;
  const wantPrinter = expected ? Boolean(expected.printer) : printer?.state !== 'absent';
  const wantBox = expected ? Boolean(expected.dropbox) : box?.state !== 'absent';
  if (wantPrinter && printer?.ready !== true) problems.push(`printer not ready (${printer?.state ?? 'not reported'}${printer?.fault ? `: ${JSON.stringify(printer.fault)}` : ''})`);
  if (!wantPrinter && expected && printer && printer.state !== 'absent') problems.push('printer reported but not configured');
  if (wantBox && box?.state !== 'online') problems.push(`drop-box board not online (${box?.state ?? 'not reported'})`);
  if (!wantBox && expected && box && box.state !== 'absent') problems.push('drop-box reported but not configured');
  const scanner = report.devices?.scanner;
  const wantScanner = expected ? Boolean(expected.scanner) : scanner !== undefined && scanner.state !== 'absent';
  if (wantScanner && scanner?.state !== 'ready') problems.push(`scanner not ready (${scanner?.state ?? 'not reported'})`);
  const speech = report.devices?.speech;
  if (speech?.state === 'fault') problems.push(`speech output failing (${JSON.stringify(speech.faults ?? [])})`);
  if (wantUpstream && report.upstream?.connected !== true) problems.push('upstream broker not connected');
  return problems;
}

export async function runHealth(opts: HealthOptions): Promise<void> {
  const config = opts.config ? loadConfigFile(opts.config) : null;
  const base = opts.url ?? (config ? `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${config.http.port}` : 'http://127.0.0.1:8080');
  const deadline = Date.now() + opts.timeoutS * 1000;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS) });
      if (res.status !== 200) last = `GET /api/health answered ${res.status}`;
      else {
        const problems = healthProblems((await res.json()) as HealthReport, config, opts.upstream);
        if (problems.length === 0) {
          process.stdout.write(`healthy: ${base}\n`);
          return;
        }
        last = problems.join('; ');
      }
    } catch (e) {
      last = `no answer at ${base} (${(e as Error).message})`;
    }
    if (Date.now() + HEALTH_POLL_MS > deadline) throw new Error(`not healthy: ${last}`);
    await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
  }
}
