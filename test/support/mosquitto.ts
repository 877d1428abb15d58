/**
 * A real mosquitto for tests and benchmarks: its own loopback port and config, started
 * and stopped (or killed) by the test, restartable on the same port so clients can
 * reconnect. Also a small subscriber that records every message it sees.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll } from 'vitest';

/** How long mosquitto may take to accept TCP connections after spawning. */
const BROKER_START_TIMEOUT_MS = 5_000;
const BROKER_POLL_MS = 20;
/** How long a SIGTERM'd mosquitto may take to exit before it is killed. */
const BROKER_STOP_TIMEOUT_MS = 3_000;

export interface MosquittoOptions {
  /** A fixed port; a free loopback port when absent. */
  port?: number;
  /** false: anonymous clients are refused ("not authorised"), to test a refusing broker. */
  allowAnonymous?: boolean;
  /** Extra mosquitto.conf lines. */
  extraConfig?: readonly string[];
  /**
   * A TLS listener (the url becomes mqtts://): the broker's certificate and key, the CA its
   * clients' certificates must chain to, required by default, the certificate's CN as the
   * user name (use_identity_as_username), and an ACL file's lines.
   */
  tls?: { cert: string; key: string; ca: string; requireCertificate?: boolean; acl?: readonly string[] };
}

export interface Mosquitto {
  url: string;
  port: number;
  /** Stops the broker: SIGTERM (clean) by default, SIGKILL to simulate a crash. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port (stopping it first if it runs). */
  restart(): Promise<void>;
}

/** One Mosquitto for a test file: started before its tests, stopped after them. */
export function useMosquitto(opts: MosquittoOptions = {}): Mosquitto {
  let started: Mosquitto | null = null;
  beforeAll(async () => {
    started = await startMosquitto(opts);
  });
  afterAll(async () => {
    await started?.stop();
  });
  const get = (): Mosquitto => {
    if (!started) throw new Error('the broker starts in beforeAll: use it inside a test or hook');
    return started;
  };
  return {
    get url() {
      return get().url;
    },
    get port() {
      return get().port;
    },
    stop: (signal) => get().stop(signal),
    restart: () => get().restart(),
  };
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = findMosquitto();
  const port = opts.port ?? (await freePort());
  const confText = [
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${opts.allowAnonymous === false ? 'false' : 'true'}`,
    'persistence false',
    // Tests push thousands of messages at subscribers: never drop them for queue limits.
    'max_queued_messages 0',
    'max_inflight_messages 0',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ...(opts.tls
      ? [
          `certfile ${opts.tls.cert}`,
          `keyfile ${opts.tls.key}`,
          `cafile ${opts.tls.ca}`,
          `require_certificate ${opts.tls.requireCertificate === false ? 'false' : 'true'}`,
          `use_identity_as_username ${opts.tls.requireCertificate === false ? 'false' : 'true'}`,
        ]
      : []),
    ...(opts.extraConfig ?? []),
    '',
  ].join('\n');
  let dir: string | null = null;

  let child: ChildProcess | null = null;
  let stderr = '';

  const launch = async (): Promise<void> => {
    stderr = '';
    dir = mkdtempSync(join(tmpdir(), 'kiosk-mosquitto-'));
    const conf = join(dir, 'mosquitto.conf');
    const acl = opts.tls?.acl ? join(dir, 'acl') : null;
    // Mosquitto started as root drops to its own user before it reads the ACL and certificates.
    if (acl) writeFileSync(acl, `${opts.tls!.acl!.join('\n')}\n`, { mode: 0o644 });
    if (opts.tls) chmodSync(dir, 0o755);
    writeFileSync(conf, acl ? `${confText}acl_file ${acl}\n` : confText);
    const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, signal) => reject(new Error(`mosquitto exited while starting (code ${code}, signal ${signal}): ${stderr.trim()}`))),
    );
    exited.catch(() => undefined);
    const deadline = Date.now() + BROKER_START_TIMEOUT_MS;
    for (;;) {
      const up = await Promise.race([canConnect(port), exited]);
      if (up) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`mosquitto did not accept connections on 127.0.0.1:${port} within ${BROKER_START_TIMEOUT_MS} ms: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, BROKER_POLL_MS));
    }
  };

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const proc = child;
    child = null;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), BROKER_STOP_TIMEOUT_MS);
      await gone;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  };

  await launch();
  return {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}

export interface ReceivedMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

export interface EventCollector {
  messages: ReceivedMessage[];
  /** Connections made so far (1 after the first; +1 after each broker restart). */
  readonly connects: number;
  readonly connected: boolean;
  /** Resolves once connection number `minConnects` (default 1) has its subscription granted. */
  subscribed(minConnects?: number): Promise<void>;
  /** Resolves once `pred` holds for the messages so far, rejects after `timeoutMs`. */
  waitFor(pred: (messages: readonly ReceivedMessage[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Subscribes to `topic` (wildcards allowed) and records every message, reconnecting
 * quickly when the broker comes back. QoS 0 by default: the broker then has nothing to
 * read back from this client, so a broker killed with SIGKILL still delivers what it
 * had already written to the socket.
 */
export async function collectEvents(url: string, topic: string, opts: { qos?: 0 | 1 } = {}): Promise<EventCollector> {
  const messages: ReceivedMessage[] = [];
  const client: MqttClient = mqtt.connect(url, { reconnectPeriod: 50, connectTimeout: 2_000, clean: true });
  client.on('error', () => undefined);
  let waiters: Array<() => void> = [];
  const notify = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  // Re-created on every (re)connection; the broker forgets subscriptions when restarted.
  let subscription: Promise<unknown> | null = null;
  let connects = 0;
  client.on('connect', () => {
    connects++;
    subscription = client.subscribeAsync(topic, { qos: opts.qos ?? 0 });
    subscription.catch(() => undefined);
  });
  client.on('message', (t, payload, packet) => {
    messages.push({ topic: t, payload: payload.toString(), retain: packet.retain });
    notify();
  });
  const subscribed = async (minConnects = 1): Promise<void> => {
    while (connects < minConnects || !client.connected) await new Promise((r) => client.once('connect', r));
    await subscription;
  };
  await subscribed();
  return {
    messages,
    get connects() {
      return connects;
    },
    get connected() {
      return client.connected;
    },
    subscribed,
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`collector on ${topic}: condition not met within ${timeoutMs} ms (${messages.length} messages)`)), timeoutMs);
        const check = (): void => {
          if (pred(messages)) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      await client.endAsync(true);
    },
  };
}

function findMosquitto(): string {
  if (existsSync('/usr/sbin/mosquitto')) return '/usr/sbin/mosquitto';
  for (const d of (process.env.PATH ?? '').split(':')) {
    const p = join(d, 'mosquitto');
    if (d && existsSync(p)) return p;
  }
  throw new Error('mosquitto is not installed (needed for upstream tests): run `bash scripts/install-system-deps.sh` as root, or `apt-get install mosquitto`.');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
