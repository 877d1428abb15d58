import { z } from 'zod';
import { configSchema } from './schema.js';

/** JSON Schema of the config file (input side: defaults make keys optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'Kiosk controller configuration', $id: 'https://siga-kiosk.local/config.schema.json' };
}
