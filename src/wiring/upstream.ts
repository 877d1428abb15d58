/**
 * The outbox and the upstream link (src/facades/upstream.ts), wired. The outbox opens (or refuses: not a database,
 * a newer schema) before anything else can record an event; the link drains it to the broker.
 */
import { join } from 'node:path';
import type { Logger } from '../../kernel/log.js';
import type { KioskConfig } from '../config/schema.js';
import { OutboxStore } from '../upstream/outbox.js';
import { Upstream, type ConnectFn } from '../facades/upstream.js';
import type { UpstreamAccess } from '../upstream/connectOptions.js';
import { VERSION } from '../version.js';

export const OUTBOX_FILE = 'outbox.sqlite';

export interface OutboxConfig {
  dataDir: string;
  kiosk: Pick<KioskConfig['kiosk'], 'id' | 'site'>;
  outboxMaxMb: number;
}

export function startOutbox(config: OutboxConfig, deps: { log: Logger }): { facade: OutboxStore; stop: () => void } {
  const outbox = OutboxStore.open({
    file: join(config.dataDir, OUTBOX_FILE),
    kiosk: config.kiosk.id,
    site: config.kiosk.site,
    maxBytes: Math.round(config.outboxMaxMb * 1024 * 1024),
    log: deps.log,
  });
  return { facade: outbox, stop: () => outbox.close() };
}

export interface UpstreamDeps {
  outbox: OutboxStore;
  /** The password and TLS files, read and checked at start (connectOptions.ts). */
  access: Pick<UpstreamAccess, 'password' | 'tlsOptions'>;
  log: Logger;
  /** mqtt.connect, or a wrapper that watches it (tests count attempts and topics). */
  connect?: ConnectFn;
  /** Reconnect backoff (tests shorten it). */
  backoff?: { initialMs: number; maxMs: number };
}

export function startUpstream(config: KioskConfig['upstream'], kiosk: Pick<KioskConfig['kiosk'], 'id' | 'site'>, deps: UpstreamDeps): { facade: Upstream; stop: () => Promise<void> } {
  const upstream = new Upstream({
    url: config.url,
    prefix: config.prefix,
    site: kiosk.site,
    kiosk: kiosk.id,
    username: config.username,
    password: deps.access.password,
    tlsOptions: () => deps.access.tlsOptions(),
    outbox: deps.outbox,
    log: deps.log,
    version: VERSION,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
    ...(deps.connect ? { connect: deps.connect } : {}),
  });
  upstream.start();
  return { facade: upstream, stop: () => upstream.stop() };
}
