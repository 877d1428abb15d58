/**
 * `kiosk` command line (CONTRACT §1). The simulator command is wired in by bin/kiosk.js,
 * which is the only place that may reach into sim/.
 */
import { SIM_ACCESSIBILITY_HELP } from './simHelp.js';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isKioskError } from '../../kernel/errors.js';
import { VERSION } from '../version.js';

export interface SimCommandOptions {
  port: number;
  host: string;
  dataDir: string | undefined;
  /** The drop-box board: the TypeScript simulator or the reference firmware on the emulator. */
  board?: 'typescript' | 'firmware';
}

export interface CliHooks {
  runSim?: (opts: SimCommandOptions) => Promise<void>;
}

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or usage. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function buildProgram(hooks: CliHooks = {}): Command {
  const program = new Command('kiosk')
    .description('Kiosk and drop-box controller: tickets, deferred-document drop box, MQTT upstream.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('Run the controller on the devices named in a config file, until SIGTERM/SIGINT.')
    .requiredOption('-c, --config <file>', 'JSON config file (see docs/config.schema.json)')
    .action(async (opts: { config: string }) => {
      const { runFromConfigFile } = await import('./run.js');
      await runFromConfigFile(opts.config);
    });

  program
    .command('sim')
    .description('Run the whole kiosk on simulated hardware (board on a pseudo-terminal, TCP printer, embedded broker, simulated central); no config needed.')
    .option('-p, --port <port>', 'HTTP port for the UI and API', (v) => parsePort(v), 8080)
    .option('--host <host>', 'HTTP bind address', '127.0.0.1')
    .option('--data-dir <dir>', 'where the simulated kiosk keeps its data (default: a fresh temporary folder)')
    .addOption(new Option('--board <kind>', 'the drop-box board: the TypeScript simulator, or the reference firmware on an emulated ATmega328P (simavr)').choices(['typescript', 'firmware']).default('typescript'))
    .addHelpText('after', `\n${SIM_ACCESSIBILITY_HELP}\n`)
    .action(async (opts: { port: number; host: string; dataDir?: string; board: 'typescript' | 'firmware' }) => {
      if (!hooks.runSim) throw new Error('the simulator is not available in this build');
      await hooks.runSim({ port: opts.port, host: opts.host, dataDir: opts.dataDir, board: opts.board });
    });

  program
    .command('pin-hash')
    .description('Read a PIN on standard input and print the string for diagnostics.pinHash (scrypt, salted).')
    .action(async () => {
      const { readPinAndPrintHash } = await import('./pinHash.js');
      await readPinAndPrintHash();
    });

  program
    .command('health')
    .description('Exit 0 only when the controller answers and every configured device works (printer ready, board online, broker connected); exit 1 saying what does not. The post-update check of an A/B updater.')
    .option('-c, --config <file>', 'the config the controller runs with: its address and which devices it must have')
    .option('--url <url>', 'the controller\'s HTTP address (default: from --config, else http://127.0.0.1:8080)')
    .option('--timeout <s>', 'wait this long for a controller still starting', (v) => parsePositiveInt(v, '--timeout'), 60)
    .option('--no-upstream', 'accept an unreachable broker (events wait on disk)')
    .action(async (opts: { config?: string; url?: string; timeout: number; upstream: boolean }) => {
      const { runHealth } = await import('./health.js');
      await runHealth({ ...opts, timeoutS: opts.timeout });
    });

  program
    .command('diag')
    .description('Technician diagnostics of a running controller over its local HTTP API. Asks for the PIN (or reads KIOSK_DIAG_PIN).')
    .addHelpText(
      'after',
      '\nActions:\n' +
        '  status          every device in detail (status bytes, board frames, counters, upstream)\n' +
        '  outbox          events waiting to go upstream\n' +
        '  logs            the latest log lines (--lines N)\n' +
        '  test-print      print a test ticket\n' +
        '  unlock [ms]     release the collection door lock (default: dropbox.unlockMs)\n' +
        '  led <mode>      slot light: off, on or blink\n' +
        '  sensors         door, fill, slot and key live, every second, until Ctrl-C (--count N)\n\n' +
        'Example: kiosk diag status --url http://127.0.0.1:8080\n' +
        'On the kiosk, never locked out: kiosk diag status --socket /var/lib/kiosk/diag.sock',
    )
    .addArgument(new Argument('<action>', 'what to do').choices(['status', 'outbox', 'logs', 'test-print', 'unlock', 'led', 'sensors']))
    .argument('[value]', 'unlock: milliseconds; led: off | on | blink')
    .option('--url <url>', 'the controller\'s HTTP address', 'http://127.0.0.1:8080')
    .option('--socket <path>', 'on the kiosk itself: the controller\'s local socket (<dataDir>/diag.sock, needs the kiosk\'s account); never locked out')
    .option('--json', 'print JSON instead of text', false)
    .option('--count <n>', 'sensors: stop after N readings', (v) => parsePositiveInt(v, '--count'))
    .option('--lines <n>', 'logs: how many lines', (v) => parsePositiveInt(v, '--lines'))
    .action(async (action: string, value: string | undefined, opts: { url: string; socket?: string; json: boolean; count?: number; lines?: number }, cmd: Command) => {
      if (action === 'led' && !['off', 'on', 'blink'].includes((value ?? '').toLowerCase())) cmd.error('error: led needs a mode: off, on or blink', { exitCode: EXIT_USAGE });
      if (action === 'unlock' && value !== undefined && !/^\d+$/.test(value)) cmd.error(`error: unlock takes a whole number of milliseconds, not "${value}"`, { exitCode: EXIT_USAGE });
      const { runDiag } = await import('./diag.js');
      await runDiag(action as import('./diag.js').DiagAction, value, opts);
    });

  return program;
}

function parsePositiveInt(v: string, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a whole number above 0, not "${v}"`);
  return n;
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CommanderError(EXIT_USAGE, 'kiosk.port', `invalid port "${v}"`);
  return n;
}

export async function runCli(argv: string[], hooks: CliHooks = {}): Promise<number> {
  const program = buildProgram(hooks);
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    if (isKioskError(err) && err.code >= 100 && err.code < 200) {
      console.error(err.message);
      return EXIT_USAGE;
    }
    // A KioskError's message says what failed and what to do; its code names it for support.
    if (isKioskError(err)) console.error(`kiosk: ${err.message} (error ${err.code}, ${err.codeName})`);
    else console.error(`kiosk: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_FAILURE;
  }
}

// Run directly (node --import tsx src/cli/main.ts ...): no simulator hook.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv);
}
