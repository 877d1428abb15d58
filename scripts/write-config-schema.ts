// Writes docs/config.schema.json from the zod schema so editors can validate and
// complete kiosk config files. `npm run schema`; a test checks it is current.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config/jsonSchema.js';

writeFileSync(new URL('../docs/config.schema.json', import.meta.url), JSON.stringify(configJsonSchema(), null, 2) + '\n');
