#!/usr/bin/env node
// Entry point for `npx kiosk`. The controller is TypeScript run through tsx's loader,
// so a fresh clone needs only `npm ci`, no build step. This file is the one place
// that joins the controller (src/) and the simulator (sim/) for `kiosk sim`.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
const code = await runCli(process.argv, {
  runSim: async (opts) => {
    const { runKioskSim } = await import('../sim/kioskSim.ts');
    await runKioskSim(opts);
  },
});
// The process ends when nothing is left running: a controller that failed half-way through
// starting has already stopped every part it started (src/lifecycle.ts).
process.exitCode = code;
