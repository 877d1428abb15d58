/**
 * What the kiosk shows the broker to prove who it is (CONTRACT §8): the password (inline
 * or `upstream.passwordFile`) and, over `mqtts://`, the CA that signs the broker's
 * certificate and the kiosk's own certificate and key (`upstream.tls`).
 *
 * At start every file is read and checked — readable, PEM that parses, the key matching
 * its certificate, no certificate already expired — and any problem is a config error
 * naming the key (exit 2). The files are read again for each connection attempt, so a
 * renewed certificate or a corrected CA is taken without a restart; a file that goes bad
 * at run time is an upstream fault (refusalFaults.ts) and the link keeps its backoff.
 *
 * The broker's certificate and host name are always verified: `rejectUnauthorized` is
 * set here, explicitly, so neither a config key nor NODE_TLS_REJECT_UNAUTHORIZED can
 * turn it off.
 *
 * `$CREDENTIALS_DIRECTORY/NAME` in any of these paths is the file systemd hands the
 * service with `LoadCredential=NAME:…` (docs/deployment.md).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { ErrorCode, KioskError } from '../errors.js';

export const CREDENTIALS_PREFIX = '$CREDENTIALS_DIRECTORY/';
/** A certificate that expires sooner than this is a warning event. */
export const CERT_EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface UpstreamAccessConfig {
  url: string;
  password: string | null;
  passwordFile?: string | undefined;
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | undefined;
}

export interface CertificateInfo {
  /** The config key naming the file, e.g. "upstream.tls.cert". */
  key: string;
  subject: string;
  notAfter: Date;
}

export interface UpstreamAccess {
  password: string | null;
  /** The TLS part of mqtt.connect's options, read afresh (throws a KioskError when a file went bad). */
  tlsOptions(): Partial<IClientOptions>;
  /** The certificates found at start (the client's and the CA's), for expiry warnings. */
  certificates: CertificateInfo[];
}

/** Where a configured path points: `$CREDENTIALS_DIRECTORY/…` or relative to the config file's folder. */
export function resolveConfigPath(path: string, configDir: string): string {
  if (path.startsWith(CREDENTIALS_PREFIX)) return path; // expanded when read: the environment is the running service's
  return isAbsolute(path) ? path : resolve(configDir, path);
}

/** The upstream slice with its file paths resolved (config loading, CONTRACT §8). */
export function resolveUpstreamPaths<T extends Omit<UpstreamAccessConfig, 'url' | 'password'>>(upstream: T, configDir: string): T {
  const tls = upstream.tls;
  const at = (p: string | undefined) => (p === undefined ? undefined : resolveConfigPath(p, configDir));
  return {
    ...upstream,
    ...(upstream.passwordFile !== undefined ? { passwordFile: at(upstream.passwordFile) } : {}),
    ...(tls ? { tls: { ...(tls.ca ? { ca: at(tls.ca) } : {}), ...(tls.cert ? { cert: at(tls.cert) } : {}), ...(tls.key ? { key: at(tls.key) } : {}) } } : {}),
  };
}

/** Reads and checks every credential file; a problem is a KioskError naming the key. */
export function loadUpstreamAccess(config: UpstreamAccessConfig, env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): UpstreamAccess {
  const password = config.passwordFile !== undefined ? readSecret('upstream.passwordFile', config.passwordFile, env).toString('utf8').replace(/\r?\n$/, '') : config.password;
  const tls = config.tls;
  const readTls = (): { ca?: Buffer; cert?: Buffer; key?: Buffer; certificates: CertificateInfo[] } => {
    const out: { ca?: Buffer; cert?: Buffer; key?: Buffer; certificates: CertificateInfo[] } = { certificates: [] };
    if (tls?.ca !== undefined) {
      out.ca = readSecret('upstream.tls.ca', tls.ca, env);
      out.certificates.push(...parseCertificates('upstream.tls.ca', out.ca, now));
    }
    if (tls?.cert !== undefined && tls.key !== undefined) {
      out.cert = readSecret('upstream.tls.cert', tls.cert, env);
      out.key = readSecret('upstream.tls.key', tls.key, env);
      const [leaf] = parseCertificates('upstream.tls.cert', out.cert, now);
      out.certificates.push(leaf!);
      checkKeyMatches(out.key, out.cert);
    }
    return out;
  };
  const first = readTls();
  const secure = /^mqtts:/.test(config.url);
  return {
    password,
    certificates: first.certificates,
    tlsOptions() {
      if (!secure) return {};
      const { ca, cert, key } = readTls();
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
    },
  };
}

/** Certificates that expire within CERT_EXPIRY_WARNING_DAYS of `now` (or already have). */
export function expiringCertificates(certs: readonly CertificateInfo[], now: Date): Array<CertificateInfo & { daysLeft: number }> {
  return certs
    .map((c) => ({ ...c, daysLeft: Math.floor((c.notAfter.getTime() - now.getTime()) / DAY_MS) }))
    .filter((c) => c.notAfter.getTime() - now.getTime() < CERT_EXPIRY_WARNING_DAYS * DAY_MS);
}

function readSecret(key: string, path: string, env: NodeJS.ProcessEnv): Buffer {
  let file = path;
  if (path.startsWith(CREDENTIALS_PREFIX)) {
    const dir = env.CREDENTIALS_DIRECTORY;
    if (!dir) throw configError(key, `${path}: $CREDENTIALS_DIRECTORY is not set (the service was not started by systemd with LoadCredential=)`);
    file = join(dir, path.slice(CREDENTIALS_PREFIX.length));
  }
  try {
    return readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : err.code === 'EACCES' ? 'permission denied (the kiosk user cannot read it)' : err.message;
    throw configError(key, `cannot read ${file}: ${why}`);
  }
}

function parseCertificates(key: string, pem: Buffer, now: Date): CertificateInfo[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw configError(key, 'no PEM certificate in the file');
  return blocks.map((block) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (e) {
      throw configError(key, `not a valid PEM certificate: ${(e as Error).message}`);
    }
    const notAfter = new Date(cert.validTo);
    if (notAfter.getTime() <= now.getTime()) throw configError(key, `the certificate "${cert.subject.replace(/\n/g, ', ')}" expired on ${notAfter.toISOString()}`);
    return { key, subject: cert.subject.replace(/\n/g, ', '), notAfter };
  });
}

function checkKeyMatches(keyPem: Buffer, certPem: Buffer): void {
  let privateKey;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (e) {
    throw configError('upstream.tls.key', `not a readable PEM private key (an encrypted key needs its passphrase removed): ${(e as Error).message}`);
  }
  if (!new X509Certificate(certPem).checkPrivateKey(privateKey)) throw configError('upstream.tls.key', 'the key does not match the certificate in upstream.tls.cert');
}

function configError(key: string, what: string): KioskError {
  return new KioskError(ErrorCode.ConfigInvalid, `config: key "${key}": ${what}`, { key });
}
