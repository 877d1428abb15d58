/**
 * The kiosk on an office's broker (CONTRACT §8): a real Mosquitto with a TLS listener
 * that requires client certificates, takes each certificate's CN as the user name and
 * confines every kiosk with an ACL of `pattern` lines; certificates made by openssl at
 * test time. Bad credentials stop the start with exit 2 naming the key; a broker that
 * refuses the kiosk at run time is an upstream fault with its reason, the events wait on
 * disk, the link keeps its backoff, and everything arrives once it is put right.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { KioskError } from '../src/errors.js';
import { startController, type Controller, type ControllerOptions } from '../src/main.js';
import { expiringCertificates, loadUpstreamAccess } from '../src/upstream/connectOptions.js';
import type { EventEnvelope } from '../src/upstream/events.js';
import type { ConnectFn } from '../src/facades/upstream.js';
import { startCentralSimulator, type CentralSimulator } from '../sim/central/centralSimulator.js';
import { startSimulatedPrinter } from '../sim/printer/simulatedPrinter.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { createPki, type Pki } from './support/pki.js';

/** The ACL of docs/deployment.md: a kiosk reaches its own topics and its site's shared ones. */
const KIOSK_ACL = [
  'pattern write siga/+/%u/events',
  'pattern write siga/+/%u/status',
  'pattern write siga/+/central/requests',
  'pattern read siga/+/%u/replies',
  'pattern read siga/+/queues',
  'user central',
  'topic readwrite siga/#',
];
const BACKOFF = { initialMs: 50, maxMs: 400 };
const POLL_MS = 20;

let pki: Pki;
let otherPki: Pki;
let broker: Mosquitto;
let centralTls: IClientOptions;
let testNo = 0;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  pki = createPki('office');
  otherPki = createPki('other');
  const server = pki.issue('broker', { server: true, cn: 'localhost' });
  const central = pki.issue('central');
  centralTls = { ca: readFileSync(pki.ca), cert: readFileSync(central.cert), key: readFileSync(central.key), rejectUnauthorized: true };
  broker = await startMosquitto({ tls: { cert: server.cert, key: server.key, ca: pki.ca, acl: KIOSK_ACL } });
}, 30_000);
afterAll(async () => {
  await broker?.stop();
  pki?.close();
  otherPki?.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitUntil(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

interface TlsKiosk {
  controller: Controller;
  central: CentralSimulator;
  dir: string;
  kioskId: string;
  site: string;
  attempts: () => number;
  topics: { published: Set<string>; subscribed: Set<string> };
}

/** A kiosk with its own certificate (CN = kiosk id unless `cn` says otherwise) and a printer. */
async function startTlsKiosk(opts: { ca?: string; cn?: string; url?: string; days?: number } = {}): Promise<TlsKiosk> {
  testNo++;
  const kioskId = `tls-k${testNo}`;
  const site = `tls-site-${testNo}`;
  const dir = mkdtempSync(join(tmpdir(), 'kiosk-tls-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const leaf = pki.issue(kioskId, { cn: opts.cn ?? kioskId, ...(opts.days ? { days: opts.days } : {}) });
  mkdirSync(join(dir, 'tls'));
  copyFileSync(opts.ca ?? pki.ca, join(dir, 'tls', 'ca.crt'));
  copyFileSync(leaf.cert, join(dir, 'tls', 'kiosk.crt'));
  copyFileSync(leaf.key, join(dir, 'tls', 'kiosk.key'));
  const printer = await startSimulatedPrinter();
  cleanups.push(() => printer.close());
  const services = [{ id: 'prestacoes', prefix: 'P', name: { 'pt-PT': 'Prestações', en: 'Benefits' } }];
  const central = await startCentralSimulator({ url: broker.url, prefix: 'siga', site, services, connectOptions: centralTls });
  cleanups.push(() => central.close());
  const configFile = join(dir, 'kiosk.json');
  const raw = {
    kiosk: { id: kioskId, site },
    dataDir: './var',
    http: { port: 0 },
    printer: { type: 'epson', interface: `tcp://127.0.0.1:${printer.port}` },
    // Relative paths: relative to the config file's folder.
    upstream: { url: opts.url ?? broker.url, prefix: 'siga', requestTimeoutMs: 3_000, tls: { ca: 'tls/ca.crt', cert: 'tls/kiosk.crt', key: 'tls/kiosk.key' } },
    services,
  };
  writeFileSync(configFile, JSON.stringify(raw));
  const config = parseConfig(raw, configFile);
  let attempts = 0;
  const topics = { published: new Set<string>(), subscribed: new Set<string>() };
  const connect: ConnectFn = (url, o) => {
    attempts++;
    topics.published.add(`will:${o.will?.topic}`);
    const client = mqtt.connect(url, o);
    const publish = client.publish.bind(client) as (...a: unknown[]) => MqttClient;
    const subscribe = client.subscribe.bind(client) as (...a: unknown[]) => MqttClient;
    (client as unknown as { publish: unknown }).publish = (topic: string, ...rest: unknown[]) => {
      topics.published.add(topic);
      return publish(topic, ...rest);
    };
    (client as unknown as { subscribe: unknown }).subscribe = (t: string | string[], ...rest: unknown[]) => {
      for (const x of Array.isArray(t) ? t : [t]) topics.subscribed.add(x);
      return subscribe(t, ...rest);
    };
    return client;
  };
  const options: ControllerOptions = { logTo: null, upstreamBackoff: BACKOFF, upstreamConnect: connect };
  const controller = await startController(config, options);
  cleanups.push(() => controller.stop('test end'));
  await waitUntil('printer ready', () => controller.printer!.status().ready);
  return { controller, central, dir, kioskId, site, attempts: () => attempts, topics };
}

const outboxEvents = (c: Controller): EventEnvelope[] => c.outbox.peek(0, 1000).map((r) => JSON.parse(r.payload) as EventEnvelope);

describe('a kiosk on a TLS broker that requires its certificate', () => {
  it('sends its events and gets a ticket from central, through the ACL, touching only its own topics', async () => {
    const k = await startTlsKiosk();
    await waitUntil('upstream connected', () => k.controller.upstream.status().connected);
    await k.central.waitForEvent((e) => e.type === 'kiosk.started' && e.kiosk === k.kioskId, 10_000);
    const res = await fetch(`${k.controller.url}/api/tickets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'prestacoes', priority: false }) });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ ticket: 'P001', offline: false, printed: true }); // central's number: the request and the reply passed the ACL
    const issued = await k.central.waitForEvent((e) => e.type === 'ticket.issued', 10_000);
    expect(issued.data).toMatchObject({ ticket: 'P001', offline: false });
    await waitUntil('outbox drained', () => k.controller.upstream.status().outboxDepth === 0);
    expect(outboxEvents(k.controller).filter((e) => e.type === 'device.fault')).toEqual([]);

    await k.controller.stop('test');
    const base = `siga/${k.site}`;
    expect([...k.topics.published].sort()).toEqual([`${base}/${k.kioskId}/events`, `${base}/${k.kioskId}/status`, `${base}/central/requests`, `will:${base}/${k.kioskId}/status`].sort());
    expect([...k.topics.subscribed].sort()).toEqual([`${base}/${k.kioskId}/replies`, `${base}/queues`].sort());
  }, 40_000);

  it('with a CA that did not sign the broker: a TLS fault with the reason, events on disk, no retry storm, and all arrive once the CA file is right', async () => {
    const k = await startTlsKiosk({ ca: otherPki.ca });
    const box = { box: 'box-1', level: 'ok' as const };
    for (let i = 1; i <= 5; i++) k.controller.outbox.append([{ type: 'dropbox.fill', data: { ...box, percent: i * 5 } }]);
    await waitUntil('a TLS fault recorded', () => outboxEvents(k.controller).some((e) => e.type === 'device.fault' && (e.data as { code: string }).code === 'upstream.tls_failed'));
    const windowStart = k.attempts();
    await new Promise((r) => setTimeout(r, 3_000));
    const attemptsIn3s = k.attempts() - windowStart;
    // Backoff 50 ms doubling to 400 ms with jitter: about a dozen attempts in 3 s, never a storm.
    expect(attemptsIn3s).toBeLessThanOrEqual(30);
    expect(attemptsIn3s).toBeGreaterThanOrEqual(3);
    const faults = outboxEvents(k.controller).filter((e) => e.type === 'device.fault' && (e.data as { code: string }).code === 'upstream.tls_failed');
    expect(faults).toHaveLength(1); // once per reason, not once per attempt
    expect((faults[0]!.data as { reason: string }).reason).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET_ISSUER_CERT_LOCALLY|VERIFY_LEAF_SIGNATURE)/);
    expect(k.controller.upstream.status().connected).toBe(false);
    expect(k.controller.upstream.status().outboxDepth).toBeGreaterThanOrEqual(7); // kiosk.started, 5 fills, the fault
    expect((await fetch(`${k.controller.url}/api/health`)).status).toBe(200); // still running

    copyFileSync(pki.ca, join(k.dir, 'tls', 'ca.crt')); // the technician puts the right CA in place
    await waitUntil('upstream connected', () => k.controller.upstream.status().connected, 15_000);
    const got = await k.central.waitForEvents((es) => es.filter((e) => e.kiosk === k.kioskId && e.type === 'dropbox.fill').length >= 5 && es.some((e) => e.type === 'device.recovered'), 15_000);
    const mine = got.filter((e) => e.kiosk === k.kioskId);
    expect(mine.filter((e) => e.type === 'dropbox.fill').map((e) => (e.data as { percent: number }).percent)).toEqual([5, 10, 15, 20, 25]);
    expect(mine.map((e) => e.type)).toEqual(expect.arrayContaining(['kiosk.started', 'device.fault', 'device.recovered']));
    const seqs = mine.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  }, 60_000);

  it('verifies the broker\'s host name even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const wrongName = pki.issue('broker-elsewhere', { cn: 'broker.example', server: true, san: 'DNS:broker.example' });
    const other = await startMosquitto({ tls: { cert: wrongName.cert, key: wrongName.key, ca: pki.ca, acl: KIOSK_ACL } });
    cleanups.push(() => other.stop());
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    cleanups.push(() => {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
    });
    const k = await startTlsKiosk({ url: other.url });
    await waitUntil('a TLS fault recorded', () => outboxEvents(k.controller).some((e) => e.type === 'device.fault' && (e.data as { code: string }).code === 'upstream.tls_failed'), 15_000);
    const fault = outboxEvents(k.controller).find((e) => e.type === 'device.fault')!;
    expect((fault.data as { reason: string }).reason).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(k.controller.upstream.status().connected).toBe(false);
  }, 40_000);

  it('a kiosk whose certificate names another identity: the broker drops its session, one fault with the reason, and the retries back off', async () => {
    // Mosquitto 2.0 takes the connection of an identity its ACL denies, answers its SUBSCRIBE,
    // and closes it at the first PUBLISH to a topic the ACL denies (MQTT 3.1.1 has no PUBACK code).
    const k = await startTlsKiosk({ cn: 'somebody-else' });
    await waitUntil('session dropped', () => outboxEvents(k.controller).some((e) => e.type === 'device.fault' && (e.data as { code: string }).code === 'upstream.connection_dropped'), 15_000);
    const attemptsAtFault = k.attempts();
    await new Promise((r) => setTimeout(r, 4_000));
    const faults = outboxEvents(k.controller).filter((e) => (e.data as { code?: string }).code === 'upstream.connection_dropped');
    expect(faults).toHaveLength(1);
    expect((faults[0]!.data as { reason: string }).reason).toBe('closed_after_connect');
    // BACKOFF grows to 400 ms (full jitter: 200 ms on average), so about 20 attempts in
    // 4 s; without the growing wait it was one every 50 ms (about 60: measured 64 in 5 s).
    expect(k.attempts() - attemptsAtFault).toBeLessThanOrEqual(30);
    // Its events are not acknowledged by central: they are published, but the ACL drops them.
    await new Promise((r) => setTimeout(r, 500));
    expect(k.central.events().filter((e) => e.kiosk === k.kioskId)).toEqual([]);
  }, 40_000);

  it('a certificate that expires within 30 days is a warning event at start', async () => {
    const k = await startTlsKiosk({ days: 10 });
    const warning = outboxEvents(k.controller).find((e) => (e.data as { code?: string }).code === 'upstream.certificate_expiring');
    expect(warning, JSON.stringify(outboxEvents(k.controller))).toBeDefined();
    expect(warning!.data).toMatchObject({ device: 'upstream', reason: 'upstream.tls.cert' });
    expect((warning!.data as { detail: string }).detail).toMatch(/in (9|10) days/);
  }, 30_000);
});

describe('a broker that refuses the kiosk\'s password', () => {
  it('is a connect_refused fault with the broker\'s reason code, once, and the events stay on disk', async () => {
    const strict = await startMosquitto({ allowAnonymous: false });
    cleanups.push(() => strict.stop());
    const dir = mkdtempSync(join(tmpdir(), 'kiosk-refused-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'password'), 'not-the-password\n');
    const config = parseConfig({ kiosk: { id: 'refused-k1', site: 's' }, dataDir: './var', http: { port: 0 }, upstream: { url: strict.url, prefix: 'siga', username: 'kiosk', passwordFile: 'password' } }, join(dir, 'kiosk.json'));
    const controller = await startController(config, { logTo: null, upstreamBackoff: BACKOFF });
    cleanups.push(() => controller.stop('test end'));
    await waitUntil('fault', () => outboxEvents(controller).some((e) => (e.data as { code?: string }).code === 'upstream.connect_refused'));
    await new Promise((r) => setTimeout(r, 1_000));
    const faults = outboxEvents(controller).filter((e) => (e.data as { code?: string }).code === 'upstream.connect_refused');
    expect(faults).toHaveLength(1);
    expect(faults[0]!.data).toMatchObject({ device: 'upstream', reason: 5 });
    expect((faults[0]!.data as { detail: string }).detail).toContain('not authorised');
    expect(outboxEvents(controller).map((e) => e.type)).toContain('kiosk.started');
  }, 30_000);
});

describe('credential files that are wrong stop the start, naming the key', () => {
  let dir: string;
  let good: { cert: string; key: string };
  let other: { cert: string; key: string };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiosk-badcreds-'));
    good = pki.issue('bad-input-k1');
    other = pki.issue('bad-input-k2');
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n');
    mkdirSync(join(dir, 'a-folder'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const upstream = (u: Record<string, unknown>) => ({ url: 'mqtts://127.0.0.1:8883', prefix: 'siga', password: null, ...u });
  const failure = (u: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, now?: Date): KioskError => {
    try {
      loadUpstreamAccess(upstream(u), env, now);
    } catch (e) {
      if (e instanceof KioskError) return e;
      throw e;
    }
    throw new Error('accepted');
  };

  it('a missing file, a folder, a file that is not PEM', () => {
    expect(failure({ tls: { ca: join(dir, 'nope.crt') } }).message).toMatch(/key "upstream\.tls\.ca": cannot read .*nope\.crt: file not found/);
    expect(failure({ tls: { ca: join(dir, 'a-folder') } }).message).toMatch(/key "upstream\.tls\.ca": cannot read/);
    expect(failure({ tls: { ca: join(dir, 'not-a-cert.pem') } }).message).toContain('key "upstream.tls.ca": no PEM certificate');
    expect(failure({ tls: { cert: join(dir, 'not-a-cert.pem'), key: good.key } }).message).toContain('key "upstream.tls.cert"');
    expect(failure({ tls: { cert: good.cert, key: join(dir, 'not-a-cert.pem') } }).message).toContain('key "upstream.tls.key": not a readable PEM private key');
    expect(failure({ passwordFile: join(dir, 'nope') }).message).toMatch(/key "upstream\.passwordFile": cannot read/);
  });

  it('a key that does not match its certificate', () => {
    expect(failure({ tls: { cert: good.cert, key: other.key } }).message).toContain('key "upstream.tls.key": the key does not match the certificate');
  });

  it('an expired certificate or CA (the clock moved two years on)', () => {
    const later = new Date(Date.now() + 2 * 365 * 86_400_000);
    expect(failure({ tls: { cert: good.cert, key: good.key } }, {}, later).message).toMatch(/key "upstream\.tls\.cert": the certificate .* expired/);
    const muchLater = new Date(Date.now() + 11 * 365 * 86_400_000);
    expect(failure({ tls: { ca: pki.ca } }, {}, muchLater).message).toMatch(/key "upstream\.tls\.ca": the certificate .* expired/);
  });

  it('$CREDENTIALS_DIRECTORY: read from there under systemd, a config error without it', () => {
    writeFileSync(join(dir, 'upstream-password'), 's3cret\n');
    expect(loadUpstreamAccess(upstream({ passwordFile: '$CREDENTIALS_DIRECTORY/upstream-password' }), { CREDENTIALS_DIRECTORY: dir }).password).toBe('s3cret');
    expect(failure({ passwordFile: '$CREDENTIALS_DIRECTORY/upstream-password' }).message).toContain('$CREDENTIALS_DIRECTORY is not set');
  });

  it('warns of certificates within 30 days of expiry, not before', () => {
    const access = loadUpstreamAccess(upstream({ tls: { cert: good.cert, key: good.key } }));
    const notAfter = access.certificates[0]!.notAfter;
    expect(expiringCertificates(access.certificates, new Date(notAfter.getTime() - 31 * 86_400_000))).toEqual([]);
    expect(expiringCertificates(access.certificates, new Date(notAfter.getTime() - 29 * 86_400_000))).toHaveLength(1);
  });

  it('config: TLS files need mqtts://, password and passwordFile exclude each other, a certificate needs its key', () => {
    const bad = (u: Record<string, unknown>) => configSchema.safeParse({ kiosk: { id: 'k', site: 's' }, upstream: { url: 'mqtts://h:8883', prefix: 'siga', ...u } });
    expect(bad({ url: 'mqtt://h:1883', tls: { ca: 'ca.crt' } }).error?.issues[0]?.path).toEqual(['upstream', 'tls']);
    expect(bad({ password: 'x', passwordFile: 'p' }).error?.issues[0]?.path).toEqual(['upstream', 'passwordFile']);
    expect(bad({ tls: { cert: 'k.crt' } }).error?.issues[0]?.path).toEqual(['upstream', 'tls', 'key']);
    expect(bad({ tls: { ca: 'ca.crt', verify: false } }).success).toBe(false); // no key turns verification off
  });

  it('kiosk run exits 2 with one message naming the key', () => {
    const file = join(dir, 'kiosk.json');
    writeFileSync(file, JSON.stringify({ kiosk: { id: 'k', site: 's' }, dataDir: './var', http: { port: 0 }, upstream: { url: 'mqtts://127.0.0.1:8883', prefix: 'siga', tls: { cert: good.cert, key: other.key } } }));
    const r = spawnSync(process.execPath, ['bin/kiosk.js', 'run', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('key "upstream.tls.key": the key does not match the certificate');
  }, 30_000);
});
