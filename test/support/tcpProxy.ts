/**
 * A local TCP proxy in front of the broker, for the fault matrix: `forward` passes bytes
 * both ways; `blackhole` keeps every connection open but passes nothing (a half-open
 * link: a cable cut somewhere, no FIN, no RST); `refuse` closes new connections at once.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type ProxyMode = 'forward' | 'blackhole' | 'refuse';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  mode: ProxyMode;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Every connection open now goes silent both ways (no FIN, no RST); new ones forward. */
  halfOpenExisting(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const silent = new WeakSet<Socket>();
  let accepted = 0;
  const state = { mode: 'forward' as ProxyMode };
  const server: Server = createServer((client) => {
    if (state.mode === 'refuse') {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    const passes = () => state.mode === 'forward' && !silent.has(client);
    client.on('data', (d: Buffer) => passes() && upstream.write(d));
    upstream.on('data', (d: Buffer) => passes() && client.write(d));
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: ProxyMode) {
      state.mode = m;
    },
    get accepted() {
      return accepted;
    },
    halfOpenExisting() {
      for (const [client] of pairs) silent.add(client);
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
