#!/usr/bin/env node
// Entry point for `npx kiosk`. The controller is TypeScript run through tsx's loader,
// so a fresh clone needs only `npm ci`, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
