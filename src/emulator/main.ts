/**
 * CLI: `npm run emulator -- --port 4599 [flags]`. Prints exactly one line
 * `kms-emulator listening on http://127.0.0.1:<port>` once ready; bad flags exit 2, a state file that
 * cannot be loaded exits 1; SIGINT/SIGTERM close the server, write the snapshot and exit 0.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { OptionError, parseInstant, resolveOptions } from './config';
import { startEmulator } from './index';
import type { EmulatorOptions, IdentitySpec, UsageSimulatorSpec } from './types';

function integer(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${flag} must be an integer between ${min} and ${max}.`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer between ${min} and ${max}.`);
    return n;
  };
}

function decimal(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a number between ${min} and ${max}.`);
    return n;
  };
}

function pattern(flag: string, re: RegExp, rule: string): (value: string) => string {
  return (value) => {
    if (!re.test(value)) throw new InvalidArgumentError(`${flag} ${rule}.`);
    return value;
  };
}

function instant(flag: string): (value: string) => number {
  return (value) => {
    const ms = /^\d+$/.test(value.trim()) ? Number(value) : parseInstant(value);
    if (ms === undefined || !Number.isFinite(ms)) throw new InvalidArgumentError(`${flag} must be epoch milliseconds or an ISO 8601 date.`);
    return ms;
  };
}

/** `--quota Name=rps`, repeatable; collects into one object. */
function quotaOverride(value: string, previous: Record<string, number> | undefined): Record<string, number> {
  const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(value.trim());
  const name = m?.[1];
  const rate = Number(m?.[2]);
  if (!name || !(rate > 0)) throw new InvalidArgumentError('--quota must look like <QuotaName>=<requests per second>, e.g. GetKeyLastUsage=10.');
  return { ...previous, [name]: rate };
}

/** `--identity <accessKeyId>:<secret>:<principal ARN>`, repeatable (the secret must not contain ':'). */
function identity(value: string, previous: IdentitySpec[] | undefined): IdentitySpec[] {
  const first = value.indexOf(':');
  const second = first < 0 ? -1 : value.indexOf(':', first + 1);
  if (first <= 0 || second <= first + 1 || !value.slice(second + 1).startsWith('arn:')) {
    throw new InvalidArgumentError('--identity must look like <accessKeyId>:<secretAccessKey>:<principal ARN>.');
  }
  return [...(previous ?? []), { accessKeyId: value.slice(0, first), secretAccessKey: value.slice(first + 1, second), arn: value.slice(second + 1) }];
}

const USAGE_FIELDS: Record<string, string> = { key: 'keyId', every: 'everyMs', as: 'principal', ops: 'operations', from: 'sourceAddress', agent: 'userAgent' };

/** `--usage key=<key>,every=<ms>,as=<name|ARN>,ops=Encrypt+Decrypt,from=<127.x.y.z>,agent=<text>`, repeatable. */
function usageSpec(value: string, previous: UsageSimulatorSpec[] | undefined): UsageSimulatorSpec[] {
  const spec: Record<string, unknown> = {};
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const field = USAGE_FIELDS[part.slice(0, eq).trim()];
    if (eq <= 0 || !field)
      throw new InvalidArgumentError(`--usage takes ${Object.keys(USAGE_FIELDS).join(', ')} as name=value pairs separated by commas (got '${part}').`);
    const v = part.slice(eq + 1).trim();
    spec[field] = field === 'everyMs' ? Number(v) : field === 'operations' ? v.split('+') : v;
  }
  if (spec.keyId === undefined) throw new InvalidArgumentError('--usage needs key=<key id, ARN or alias>.');
  return [...(previous ?? []), spec as unknown as UsageSimulatorSpec];
}

/** Builds the commander program (exported for tests and `--help` generation). */
export function buildProgram(): Command {
  return new Command('kms-emulator')
    .description('Protocol-faithful AWS KMS emulator for custom key stores (AWS JSON 1.1, SigV4, admin API under /__admin/).')
    .addOption(new Option('--host <host>', 'interface to bind').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'TCP port, 0 = pick a free port').argParser(integer('--port', 0, 65535)).default(4599))
    .addOption(
      new Option('--region <region>', 'region used in ARNs and required in the SigV4 scope')
        .argParser(pattern('--region', /^[a-z]{2}(-[a-z]+)+-\d+$/, 'must look like an AWS region, e.g. us-east-1'))
        .default('us-east-1'),
    )
    .addOption(
      new Option('--account <id>', 'AWS account id used in ARNs (12 digits)')
        .argParser(pattern('--account', /^\d{12}$/, 'must be exactly 12 digits'))
        .default('111122223333'),
    )
    .addOption(
      new Option('--day-ms <ms>', 'real milliseconds per emulated day (86400000 = real time)')
        .argParser(integer('--day-ms', 1, 86_400_000 * 365))
        .default(86_400_000),
    )
    .addOption(
      new Option('--deletion-lag-hours <hours>', 'emulated hours (0-24) between DeletionDate and the actual deletion')
        .argParser(decimal('--deletion-lag-hours', 0, 24))
        .default(0),
    )
    .addOption(
      new Option('--connect-ms <ms>', 'duration of CONNECTING in emulated milliseconds').argParser(integer('--connect-ms', 0, 86_400_000)).default(2000),
    )
    .addOption(
      new Option('--disconnect-ms <ms>', 'duration of DISCONNECTING in emulated milliseconds')
        .argParser(integer('--disconnect-ms', 0, 86_400_000))
        .default(1000),
    )
    .addOption(
      new Option('--quota-scale <factor>', 'multiplier for every per-operation request quota; 0 disables throttling')
        .argParser(decimal('--quota-scale', 0, 1_000_000))
        .default(1),
    )
    .addOption(new Option('--state <file>', 'persist state in this snapshot file (journal: <file>.journal); omit for in-memory'))
    .addOption(
      new Option('--access-key <id>', 'the only access key id accepted in SigV4 signatures')
        .argParser(pattern('--access-key', /^[A-Za-z0-9]{1,128}$/, 'must be 1-128 letters or digits'))
        .default('test'),
    )
    .addOption(
      new Option('--secret-key <secret>', 'secret access key used to verify signatures')
        .argParser(pattern('--secret-key', /^.+$/, 'must not be empty'))
        .default('test'),
    )
    .addOption(new Option('--short-pages', 'return about half of the requested page size (still truncated), as KMS may'))
    .addOption(new Option('--seed <n>', 'seed for generated ids and fault randomness (reproducible runs)').argParser(integer('--seed', 0, 2 ** 32 - 1)))
    .addOption(
      new Option(
        '--tracking-start <date>',
        'GetKeyLastUsage tracking start (epoch ms or ISO 8601); keys created earlier report it as TrackingStartDate',
      ).argParser(instant('--tracking-start')),
    )
    .addOption(new Option('--principal-arn <arn>', 'CloudTrail principal of --access-key (default arn:aws:iam::<account>:user/<access key>)'))
    .addOption(new Option('--identity <key:secret:arn>', 'another accepted caller and its principal ARN, repeatable').argParser(identity))
    .addOption(
      new Option('--cloudtrail-delay-ms <ms>', 'emulated ms before an event is visible to LookupEvents (real CloudTrail: about 5-15 min)').argParser(
        integer('--cloudtrail-delay-ms', 0, 86_400_000),
      ),
    )
    .addOption(
      new Option('--cloudtrail-jitter-ms <ms>', 'uniform extra CloudTrail delivery delay per event, emulated ms').argParser(
        integer('--cloudtrail-jitter-ms', 0, 86_400_000),
      ),
    )
    .addOption(
      new Option('--cloudtrail-max-events <n>', 'CloudTrail events kept (oldest dropped beyond it)').argParser(
        integer('--cloudtrail-max-events', 1, 100_000_000),
      ),
    )
    .addOption(
      new Option(
        '--usage <spec>',
        'an application still using a key: key=<key>,every=<ms>,as=<name|ARN>[,ops=Encrypt+Decrypt][,from=127.0.0.5][,agent=<text>], repeatable',
      ).argParser(usageSpec),
    )
    .addOption(
      new Option('--quota <name=rps>', 'override one request quota (before --quota-scale), repeatable, e.g. GetKeyLastUsage=10 or LookupEvents=4').argParser(
        quotaOverride,
      ),
    )
    .helpOption('-h, --help', 'show this help')
    .showHelpAfterError(false)
    .exitOverride();
}

/** The flag behind each option whose validation happens in resolveOptions. */
const FLAG_OF_OPTION: Record<string, string> = {
  quotaOverrides: '--quota',
  principalArn: '--principal-arn',
  identities: '--identity',
  usage: '--usage',
};

interface CliFlags {
  host: string;
  port: number;
  region: string;
  account: string;
  dayMs: number;
  deletionLagHours: number;
  connectMs: number;
  disconnectMs: number;
  quotaScale: number;
  state?: string;
  accessKey: string;
  secretKey: string;
  shortPages?: boolean;
  seed?: number;
  trackingStart?: number;
  quota?: Record<string, number>;
  principalArn?: string;
  identity?: IdentitySpec[];
  cloudtrailDelayMs?: number;
  cloudtrailJitterMs?: number;
  cloudtrailMaxEvents?: number;
  usage?: UsageSimulatorSpec[];
}

/** Parses argv (without `node script`) into EmulatorOptions; throws CommanderError/OptionError. */
export function parseCli(args: string[]): EmulatorOptions {
  const program = buildProgram();
  program.configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  program.parse(args, { from: 'user' });
  const f = program.opts<CliFlags>();
  const options: EmulatorOptions = {
    host: f.host,
    port: f.port,
    region: f.region,
    account: f.account,
    dayMs: f.dayMs,
    deletionLagHours: f.deletionLagHours,
    connectMs: f.connectMs,
    disconnectMs: f.disconnectMs,
    quotaScale: f.quotaScale,
    statePath: f.state,
    accessKey: f.accessKey,
    secretKey: f.secretKey,
    shortPages: f.shortPages ?? false,
    seed: f.seed,
  };
  // New options only appear when given, so the mapping of the original flags stays exactly as it was.
  if (f.trackingStart !== undefined) options.trackingStartDate = f.trackingStart;
  if (f.quota !== undefined) options.quotaOverrides = f.quota;
  if (f.principalArn !== undefined) options.principalArn = f.principalArn;
  if (f.identity !== undefined) options.identities = f.identity;
  if (f.cloudtrailDelayMs !== undefined) options.cloudTrailDelayMs = f.cloudtrailDelayMs;
  if (f.cloudtrailJitterMs !== undefined) options.cloudTrailDelayJitterMs = f.cloudtrailJitterMs;
  if (f.cloudtrailMaxEvents !== undefined) options.cloudTrailMaxEvents = f.cloudtrailMaxEvents;
  if (f.usage !== undefined) options.usage = f.usage;
  try {
    resolveOptions(options);
  } catch (e) {
    // Option errors of the new flags name the flag, like commander's own messages.
    const flag = e instanceof OptionError ? FLAG_OF_OPTION[e.option.replace(/\[\d+\]$/, '')] : undefined;
    if (flag) throw new InvalidArgumentError(`${flag}: ${(e as Error).message}`);
    throw e;
  }
  return options;
}

async function main(): Promise<void> {
  let options: EmulatorOptions;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) process.exit(0);
    const message = e instanceof CommanderError ? e.message.replace(/^error: /, '') : (e as Error).message;
    process.stderr.write(`kms-emulator: ${message}\nRun with --help for the list of flags.\n`);
    process.exit(2);
  }
  let emulator;
  try {
    emulator = await startEmulator(options);
  } catch (e) {
    const message = e instanceof OptionError ? e.message : (e as Error).message;
    process.stderr.write(`kms-emulator: failed to start: ${message}\n`);
    process.exit(1);
  }
  const running = emulator;
  process.stdout.write(`kms-emulator listening on ${running.url}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    running.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`kms-emulator: error while stopping on ${signal}: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) void main();
