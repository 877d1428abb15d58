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
// Exit with the command's code even if something still holds the event loop: a controller
// that failed half-way through starting (say, its HTTP port taken) must not linger.
process.exit(code);
