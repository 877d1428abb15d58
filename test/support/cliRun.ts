/**
 * For tests of `kiosk run` in a child process: free ports, and a config file with the
 * kiosk's identity, a data folder beside the file and the HTTP port, plus what the test adds.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** A port nobody listens on (taken, then given back). */
export async function freePort(): Promise<number> {
  const server = await listenOn(0);
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Writes `dir`/kiosk.json (data in `dir`/data) and returns its path. */
export function writeRunConfig(dir: string, httpPort: number, keys: Record<string, unknown>): string {
  const file = join(dir, 'kiosk.json');
  writeFileSync(file, JSON.stringify({ kiosk: { id: 'lisboa-01-k1', site: 'lisboa-01', locale: 'pt-PT' }, dataDir: './data', http: { host: '127.0.0.1', port: httpPort }, ...keys }));
  return file;
}
