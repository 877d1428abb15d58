/**
 * `npm run build`: a fresh dist/ from tsc (tsconfig.build.json), plus what tsc does not
 * copy (the UI's static files), dist/'s own package.json (ESM, and the version `kiosk run`
 * reports, read by src/version.ts as ../package.json) and the build stamp bin/kiosk.js
 * compares with the sources (docs/deployment.md, "A stale build"). `npm run package`
 * builds into its staging folder the same way.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILD_STAMP_FILE = 'build-stamp.json';
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export function buildControllerInto(dist: string): void {
  rmSync(dist, { recursive: true, force: true }); // no compiled file outlives its source
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit', cwd: REPO_ROOT });
  for (const dir of ['src/ui/public', 'src/ui/diag']) cpSync(join(REPO_ROOT, dir), join(dist, dir), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  writeFileSync(join(dist, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }, null, 2)}\n`);
  writeFileSync(join(dist, BUILD_STAMP_FILE), `${JSON.stringify({ version: pkg.version, builtAt: new Date().toISOString() }, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) buildControllerInto(join(REPO_ROOT, 'dist'));
