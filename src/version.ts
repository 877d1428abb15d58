import { readFileSync } from 'node:fs';

/** The controller's version, from package.json (reported in kiosk.started and the status topic). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
