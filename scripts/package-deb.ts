/**
 * `npm run package [-- --out DIR]`: the Debian package of the kiosk (docs/deployment.md).
 *
 *   /opt/siga-kiosk/            bin/kiosk.js, dist/ (compiled), node_modules/ (production only)
 *   /etc/kiosk/kiosk.json       the config (a conffile: upgrades keep the office's edits)
 *   /lib/systemd/system/        kiosk-controller.service, kiosk-display.service
 *   /lib/udev/rules.d/          70-siga-kiosk.rules (/dev/kiosk-board, -scanner, -printer)
 *   /etc/chromium/policies/managed/siga-kiosk.json, /etc/pam.d/kiosk-display
 *   /var/lib/kiosk              data (created by systemd's StateDirectory= and postinst)
 *
 * Architecture-specific (better-sqlite3, serialport and unix-dgram are native): the
 * production modules are copied from this clone's node_modules, already built for this
 * machine's Node and architecture, rather than installed again — no network, no compiler.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT, buildControllerInto } from './build.js';

const PREFIX = 'opt/siga-kiosk';
/** Files of native modules needed only to build them, never to run them. */
const BUILD_ONLY = ['better-sqlite3/deps', 'better-sqlite3/src', 'better-sqlite3/build/Release/obj', 'better-sqlite3/build/Release/obj.target', 'better-sqlite3/build/Release/.deps', 'better-sqlite3/build/Release/test_extension.node', 'better-sqlite3/build/deps', 'unix-dgram/build/Release/obj.target', 'unix-dgram/build/Release/.deps', 'unix-dgram/src'];

export function packageDeb(outDir: string): string {
  const started = Date.now();
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string; description: string };
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const stage = join(outDir, `stage-${arch}`);
  rmSync(stage, { recursive: true, force: true });
  const app = join(stage, PREFIX);
  mkdirSync(app, { recursive: true });

  buildControllerInto(join(app, 'dist'));
  const t1 = Date.now();
  for (const f of ['bin/kiosk.js', 'package.json', 'package-lock.json', 'scripts/kiosk-browser.sh', 'docs/deployment.md', 'README.md']) {
    if (!existsSync(join(REPO_ROOT, f))) continue;
    mkdirSync(dirname(join(app, f)), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(app, f));
  }
  chmodSync(join(app, 'bin/kiosk.js'), 0o755);
  chmodSync(join(app, 'scripts/kiosk-browser.sh'), 0o755);
  copyProductionModules(join(app, 'node_modules'));
  const t2 = Date.now();

  const put = (from: string, to: string, mode = 0o644): void => {
    mkdirSync(dirname(join(stage, to)), { recursive: true });
    copyFileSync(join(REPO_ROOT, from), join(stage, to));
    chmodSync(join(stage, to), mode);
  };
  put('deploy/kiosk.json', 'etc/kiosk/kiosk.json', 0o640);
  put('deploy/systemd/kiosk-controller.service', 'lib/systemd/system/kiosk-controller.service');
  put('deploy/systemd/kiosk-display.service', 'lib/systemd/system/kiosk-display.service');
  put('deploy/udev/70-siga-kiosk.rules', 'lib/udev/rules.d/70-siga-kiosk.rules');
  put('deploy/chromium/siga-kiosk.json', 'etc/chromium/policies/managed/siga-kiosk.json');
  put('deploy/pam/kiosk-display', 'etc/pam.d/kiosk-display');
  mkdirSync(join(stage, 'var/lib/kiosk'), { recursive: true });
  for (const s of ['postinst', 'prerm', 'postrm']) put(`deploy/debian/${s}`, `DEBIAN/${s}`, 0o755);
  writeFileSync(join(stage, 'DEBIAN/conffiles'), ['/etc/kiosk/kiosk.json', '/etc/chromium/policies/managed/siga-kiosk.json', '/etc/pam.d/kiosk-display', ''].join('\n'));
  const installedKb = duKb(stage);
  writeFileSync(
    join(stage, 'DEBIAN/control'),
    [
      `Package: ${pkg.name}`,
      `Version: ${pkg.version}`,
      `Architecture: ${arch}`,
      'Maintainer: SIGA kiosk team <kiosk@localhost>',
      // The native modules are built for Node 20's ABI (NODE_MODULE_VERSION 115): another major would not load them.
      'Depends: nodejs (>= 20), nodejs (<< 21), adduser, cage, chromium, fonts-dejavu-core',
      'Section: misc',
      'Priority: optional',
      `Installed-Size: ${installedKb}`,
      `Description: ${pkg.description}`,
      ' The kiosk controller with its systemd units (watchdog, hardening), the locked-down',
      ' touch screen (cage + chromium), udev names for its devices and its data folder.',
      '',
    ].join('\n'),
  );
  const deb = join(outDir, `${pkg.name}_${pkg.version}_${arch}.deb`);
  // gzip: several times quicker than xz here, for a package that is built at every test run.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  const t3 = Date.now();
  process.stderr.write(`package: ${relative(process.cwd(), deb)} (${Math.round(statSync(deb).size / 1024)} KiB; build ${t1 - started} ms, files and modules ${t2 - t1} ms, dpkg-deb ${t3 - t2} ms)\n`);
  return deb;
}

/** Every package `npm ls --omit=dev` lists, copied from node_modules, without its build-only files. */
function copyProductionModules(target: string): void {
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
    .split('\n')
    .map((p) => relative(REPO_ROOT, p))
    .filter((p) => p.startsWith('node_modules/'));
  // A nested package comes with its parent's folder; copy only the outermost ones.
  const outermost = listed.filter((p) => !listed.some((q) => q !== p && p.startsWith(`${q}/`)));
  for (const p of outermost) cpSync(join(REPO_ROOT, p), join(target, relative('node_modules', p)), { recursive: true, verbatimSymlinks: true });
  for (const p of BUILD_ONLY) rmSync(join(target, p), { recursive: true, force: true });
  const prebuilds = join(target, '@serialport/bindings-cpp/prebuilds');
  if (existsSync(prebuilds)) for (const d of readdirSync(prebuilds)) if (d !== `linux-${process.arch}`) rmSync(join(prebuilds, d), { recursive: true, force: true });
}

function duKb(dir: string): number {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]);
}

if (process.argv[1] && process.argv[1].endsWith('package-deb.ts')) {
  const i = process.argv.indexOf('--out');
  packageDeb(i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : join(REPO_ROOT, 'build'));
}
