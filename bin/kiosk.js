#!/usr/bin/env node
// Entry point for `npx kiosk`. Runs the compiled controller in dist/ when `npm run build`
// made one (no TypeScript loader in the process: CONTRACT §8), otherwise the TypeScript
// sources through tsx, so a fresh clone needs only `npm ci`. This file is the one place
// that joins the controller (src/) and the simulator (sim/) for `kiosk sim`.
//
// A stale build must not silently run old code in a developer's clone: when the sources
// sit beside dist/ (a clone, not the installed package) and any of them is newer than
// dist/build-stamp.json, the sources run through tsx instead and stderr says so.
// KIOSK_RUN_FROM=dist|src forces one or the other.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_DIRS = ['src', 'devices', 'kernel', 'sim'];

/** The first source file changed after the build, or null when the build is current. */
function newerSource(stampMs) {
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return null;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        const hit = walk(p);
        if (hit) return hit;
      } else if (statSync(p).mtimeMs > stampMs) return p;
    }
    return null;
  };
  for (const d of SOURCE_DIRS) {
    const hit = walk(join(root, d));
    if (hit) return hit;
  }
  return existsSync(join(root, 'package.json')) && statSync(join(root, 'package.json')).mtimeMs > stampMs ? join(root, 'package.json') : null;
}

function chooseBuild() {
  const stamp = join(root, 'dist', 'build-stamp.json');
  const forced = process.env.KIOSK_RUN_FROM;
  if (forced === 'dist' || forced === 'src') return forced;
  if (!existsSync(stamp)) return 'src';
  if (!existsSync(join(root, 'src'))) return 'dist'; // the installed package: no sources beside it
  const changed = newerSource(statSync(stamp).mtimeMs);
  if (!changed) return 'dist';
  process.stderr.write(`kiosk: dist/ is older than ${changed.slice(root.length)}: running the sources through tsx (npm run build to refresh the compiled controller)\n`);
  return 'src';
}

const from = chooseBuild();
let runCli;
let simEntry;
if (from === 'dist') {
  ({ runCli } = await import('../dist/src/cli/main.js'));
  simEntry = '../dist/sim/kioskSim.js';
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('kiosk: no compiled controller (dist/) and no TypeScript loader (tsx, a development dependency): run `npm run build`, or `npm ci` with development dependencies\n');
    process.exit(1);
  }
  register();
  ({ runCli } = await import('../src/cli/main.ts'));
  simEntry = '../sim/kioskSim.ts';
}
const code = await runCli(process.argv, {
  runSim: async (opts) => {
    const { runKioskSim } = await import(simEntry);
    await runKioskSim(opts);
  },
});
// The process ends when nothing is left running: a controller that failed half-way through
// starting has already stopped every part it started (src/lifecycle.ts).
process.exitCode = code;
