/**
 * `npm run build`: a fresh dist/ from tsc (tsconfig.build.json), plus what tsc does not
 * copy (the UI's static files), dist/'s own package.json (ESM, and the version `kiosk run`
 * reports, read by src/version.ts as ../package.json) and the build stamp bin/kiosk.js
 * compares with the sources (docs/deployment.md, "A stale build").
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const BUILD_STAMP_FILE = 'build-stamp.json';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true }); // no compiled file outlives its source
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
for (const dir of ['src/ui/public', 'src/ui/diag']) cpSync(join(root, dir), join(dist, dir), { recursive: true });
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
writeFileSync(join(dist, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }, null, 2)}\n`);
writeFileSync(join(dist, BUILD_STAMP_FILE), `${JSON.stringify({ version: pkg.version, builtAt: new Date().toISOString() }, null, 2)}\n`);
