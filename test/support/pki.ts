/**
 * A small certificate authority made with openssl at test time: a CA, a broker
 * certificate for 127.0.0.1/localhost, and client certificates whose CN is the MQTT
 * identity (Mosquitto's use_identity_as_username). ECDSA P-256: quick to generate.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  ca: string;
  /** Issues `name`.crt/`name`.key signed by this CA; a server certificate names `san` (default 127.0.0.1 and localhost). */
  issue(name: string, opts?: { cn?: string; days?: number; server?: boolean; san?: string }): { cert: string; key: string };
  close(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  // Test keys only: readable by a broker that dropped root for its own user.
  for (const f of readdirSync(cwd)) chmodSync(join(cwd, f), 0o644);
}

export function createPki(name = 'ca'): Pki {
  const dir = mkdtempSync(join(tmpdir(), `kiosk-pki-${name}-`));
  chmodSync(dir, 0o755);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', `/CN=Test CA ${name}`], dir);
  return {
    dir,
    ca: join(dir, `${name}.crt`),
    issue(leaf, opts = {}) {
      const ext = join(dir, `${leaf}.ext`);
      writeFileSync(ext, opts.server ? `subjectAltName=${opts.san ?? 'IP:127.0.0.1,DNS:localhost'}\nextendedKeyUsage=serverAuth\n` : 'extendedKeyUsage=clientAuth\n');
      openssl(['req', ...ec, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${opts.cn ?? leaf}`], dir);
      openssl(['x509', '-req', '-in', `${leaf}.csr`, '-CA', `${name}.crt`, '-CAkey', `${name}.key`, '-CAcreateserial', '-out', `${leaf}.crt`, '-days', String(opts.days ?? 365), '-extfile', ext], dir);
      return { cert: join(dir, `${leaf}.crt`), key: join(dir, `${leaf}.key`) };
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
