/**
 * An MQTT broker inside the process (aedes 1.x, MQTT 3.1.1 only) for `kiosk sim` and
 * tests: no mosquitto needed. Clients must connect with protocolVersion 4 (aedes refuses 5).
 */
import net from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBrokerOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
}

export interface EmbeddedBroker {
  /** e.g. "mqtt://127.0.0.1:1883" */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const { port = 1883, host = '127.0.0.1' } = options;
  const aedes = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    // Request/reply is one small packet each way: Nagle plus the peer's delayed ACK
    // would add ~40 ms to every reply.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await closeAedes(aedes);
    throw err;
  }

  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  let closing: Promise<void> | null = null;

  return {
    url: `mqtt://${host}:${actualPort}`,
    port: actualPort,
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await closeAedes(aedes);
        // aedes ends its clients; a socket whose peer never answers the FIN would keep
        // server.close() waiting forever.
        for (const s of sockets) s.destroy();
        await serverClosed;
      })();
      return closing;
    },
  };
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()));
}
