import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmulatorAdminClient } from '../../src/emulator';

/**
 * Runs the pieces of the system as separate OS processes, so reliability tests can SIGKILL them the way
 * a crash, an OOM kill or a node eviction would: the worker (`src/worker.ts`), the KMS emulator CLI
 * (`src/emulator/main.ts`) and the Temporal CLI. Dedicated Temporal dev servers come from
 * `src/devtools/temporal-dev-server.ts` (`startDevServer`), which already runs the CLI as a child.
 */

const repoRoot = path.resolve(__dirname, '..', '..');
/** Output kept per process: enough for the secret scan of a whole test, bounded so a chatty child cannot exhaust memory. */
const MAX_OUTPUT_CHARS = 16 * 1024 * 1024;

/** Every child started here, so a failing test never leaves one running (see {@link stopAllProcesses}). */
const started = new Set<ManagedProcess>();

process.once('exit', () => {
  for (const p of started) if (p.alive()) p.child.kill('SIGKILL');
});

/** How a child process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output captured. */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  alive(): boolean;
  readonly exited: Promise<ProcessExit>;
  /** Sends `signal` (default SIGKILL) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<ProcessExit>;
}

function spawnManaged(name: string, args: string[], env: NodeJS.ProcessEnv): ManagedProcess {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > MAX_OUTPUT_CHARS) output = output.slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const managed: ManagedProcess = {
    name,
    child,
    pid: child.pid as number,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (managed.alive()) child.kill(signal);
      return exited;
    },
  };
  started.add(managed);
  void exited.then(() => started.delete(managed));
  return managed;
}

/** Resolves once `pattern` appears in the process output; rejects if the process exits or the time runs out. */
export async function waitForOutput(proc: ManagedProcess, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = pattern.exec(proc.output());
    if (match) return match;
    if (!proc.alive()) throw new Error(`${proc.name} exited before printing ${pattern}:\n${proc.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${proc.name} did not print ${pattern} within ${timeoutMs} ms:\n${proc.output().slice(-4000)}`);
}

/** SIGKILLs every child this module started that is still running (for `afterAll`). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...started].map((p) => p.kill('SIGKILL')));
}

// -------------------------------------------------------------------------------------------------
// Workflow bundle

let bundlePath: Promise<string> | undefined;

function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (name.endsWith('.ts')) hash.update(file).update(readFileSync(file));
    }
  };
  walk(path.join(repoRoot, 'src', 'workflows'));
  walk(path.join(repoRoot, 'src', 'shared'));
  hash.update(JSON.parse(readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')).version as string);
  return hash.digest('hex').slice(0, 16);
}

/**
 * Path of a workflow bundle of the current sources, for `WORKFLOW_BUNDLE_PATH`: a worker given a bundle
 * starts in about 1.5 s instead of running webpack each time, which matters when a test restarts it
 * after every kill. Cached by a hash of the workflow sources, so edits are never run stale.
 */
export function workflowBundlePath(): Promise<string> {
  bundlePath ??= (async () => {
    const dir = path.join(tmpdir(), 'kms-decommission-bundles');
    const file = path.join(dir, `workflow-bundle-${sourceHash()}.js`);
    if (existsSync(file)) return file;
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'src', 'workflows', 'index.ts'), logger: new DefaultLogger('WARN') });
    mkdirSync(dir, { recursive: true });
    // Write then rename: parallel jest workers may build the same bundle at once.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
    return file;
  })();
  return bundlePath;
}

// -------------------------------------------------------------------------------------------------
// Worker

/** How to start `src/worker.ts` as a process. */
export interface WorkerProcessOptions {
  temporalAddress: string;
  taskQueue: string;
  /** `AWS_ENDPOINT_URL_KMS`: the emulator URL. */
  kmsEndpoint: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `KMS_QUOTA_SCALE`; match the emulator's quota scale. Default 0 (unpaced). */
  quotaScale?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** The worker's environment: only what it needs, so a developer's own AWS or Temporal settings cannot leak in. */
function workerEnv(options: WorkerProcessOptions, bundle: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TASK_QUEUE: options.taskQueue,
    AWS_ENDPOINT_URL_KMS: options.kmsEndpoint,
    // The emulator answers CloudTrail's LookupEvents on the same URL (usage evidence).
    AWS_ENDPOINT_URL_CLOUDTRAIL: options.kmsEndpoint,
    AWS_REGION: options.region ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: options.accessKeyId ?? 'test',
    AWS_SECRET_ACCESS_KEY: options.secretAccessKey ?? 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
    KMS_QUOTA_SCALE: String(options.quotaScale ?? 0),
    WORKFLOW_BUNDLE_PATH: bundle,
    // The AWS SDK's Node-version notice is noise in every restart's log.
    AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
    NODE_NO_WARNINGS: '1',
    ...options.env,
  };
}

/** Starts one worker process and resolves once it polls its task queue. */
export async function startWorkerProcess(options: WorkerProcessOptions, name = 'worker'): Promise<ManagedProcess> {
  const bundle = await workflowBundlePath();
  const proc = spawnManaged(name, ['-r', 'ts-node/register/transpile-only', path.join(repoRoot, 'src', 'worker.ts')], workerEnv(options, bundle));
  await waitForOutput(proc, /worker polling task queue/, 60_000);
  return proc;
}

/** One SIGKILL of a supervised worker and how long the replacement took to start. */
export interface WorkerKill {
  /** Epoch ms of the SIGKILL. */
  killedAt: number;
  /** Milliseconds from the kill until the new worker polled its task queue. */
  restartMs: number;
  label: string;
}

/**
 * A worker that tests crash and restart: `crash()` SIGKILLs the current process and starts a new one
 * with the same settings, like a supervisor (systemd, Kubernetes) would. Keeps the output of every
 * generation for log scans.
 */
export class SupervisedWorker {
  private current?: ManagedProcess;
  private readonly previous: ManagedProcess[] = [];
  readonly kills: WorkerKill[] = [];
  /** Processes that exited without being killed by the test (they were restarted). */
  readonly unexpectedExits: ProcessExit[] = [];

  constructor(
    readonly options: WorkerProcessOptions,
    readonly name = 'worker',
  ) {}

  async start(): Promise<void> {
    this.current = await startWorkerProcess(this.options, `${this.name}#${this.previous.length + 1}`);
    const proc = this.current;
    void proc.exited.then((exit) => {
      if (this.current === proc && exit.signal !== 'SIGKILL' && exit.signal !== 'SIGTERM') this.unexpectedExits.push(exit);
    });
  }

  get process(): ManagedProcess | undefined {
    return this.current;
  }

  alive(): boolean {
    return this.current?.alive() ?? false;
  }

  /** SIGKILL, then start a replacement at once (after `afterKill`, e.g. to take a measurement while no worker runs). */
  async crash(label: string, afterKill?: () => Promise<void>): Promise<WorkerKill> {
    const proc = this.current;
    const killedAt = Date.now();
    if (proc) {
      this.previous.push(proc);
      await proc.kill('SIGKILL');
    }
    await afterKill?.();
    await this.start();
    const kill = { killedAt, restartMs: Date.now() - killedAt, label };
    this.kills.push(kill);
    return kill;
  }

  /** Starts a replacement if the worker died on its own (e.g. gave up on an unreachable server). */
  async ensureRunning(): Promise<boolean> {
    if (this.alive()) return false;
    if (this.current) this.previous.push(this.current);
    await this.start();
    return true;
  }

  /** Output of every generation, oldest first. */
  output(): string {
    return [...this.previous, ...(this.current ? [this.current] : [])].map((p) => p.output()).join('\n');
  }

  async stop(): Promise<void> {
    await this.current?.kill('SIGTERM');
  }
}

// -------------------------------------------------------------------------------------------------
// KMS emulator CLI

/** Flags of the emulator CLI (`src/emulator/main.ts`). */
export interface EmulatorProcessOptions {
  /** Default 0: pick a free port (read back from the "listening on" line). Pass it again to restart on the same port. */
  port?: number;
  statePath?: string;
  dayMs?: number;
  quotaScale?: number;
  connectMs?: number;
  disconnectMs?: number;
  deletionLagHours?: number;
  accessKey?: string;
  secretKey?: string;
  seed?: number;
  /** `--quota <name=rps>` per entry (before `--quota-scale`). */
  quotas?: Record<string, number>;
}

/** A running emulator process. */
export interface EmulatorProcess extends ManagedProcess {
  url: string;
  port: number;
  admin: EmulatorAdminClient;
}

/**
 * GetKeyLastUsage per second in accounts of the reliability suites (a raised quota): 0.3.0 reads it for every
 * key before scheduling, and at 5/s × scale it would add most of a minute before what those suites exercise.
 * The emulator takes {@link raisedLastUsageQuota} (before its scale), the worker {@link RAISED_LAST_USAGE_ENV}.
 */
export const RAISED_LAST_USAGE_RATE = 400;

/** The emulator's `quotaOverrides` entry for {@link RAISED_LAST_USAGE_RATE} at quota scale `scale`. */
export function raisedLastUsageQuota(scale: number): { GetKeyLastUsage: number } {
  return { GetKeyLastUsage: RAISED_LAST_USAGE_RATE / scale };
}

/** The worker environment that paces GetKeyLastUsage under {@link RAISED_LAST_USAGE_RATE}. */
export const RAISED_LAST_USAGE_ENV = { KMS_QUOTA_OVERRIDES: `GetKeyLastUsage=${RAISED_LAST_USAGE_RATE * 0.97}` };

/** Starts the emulator CLI and resolves once it listens. */
export async function startEmulatorProcess(options: EmulatorProcessOptions = {}, name = 'kms-emulator'): Promise<EmulatorProcess> {
  const flags: [string, string | number | undefined][] = [
    ['--port', options.port ?? 0],
    ['--state', options.statePath],
    ['--day-ms', options.dayMs],
    ['--quota-scale', options.quotaScale],
    ['--connect-ms', options.connectMs],
    ['--disconnect-ms', options.disconnectMs],
    ['--deletion-lag-hours', options.deletionLagHours],
    ['--access-key', options.accessKey],
    ['--secret-key', options.secretKey],
    ['--seed', options.seed],
  ];
  const args = ['-r', 'ts-node/register/transpile-only', path.join(repoRoot, 'src', 'emulator', 'main.ts')];
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, String(value));
  for (const [quota, rps] of Object.entries(options.quotas ?? {})) args.push('--quota', `${quota}=${rps}`);
  const proc = spawnManaged(name, args, { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: '1' });
  const match = await waitForOutput(proc, /kms-emulator listening on (http:\/\/[^\s]+)/, 60_000);
  const url = match[1];
  return Object.assign(proc, { url, port: Number(new URL(url).port), admin: new EmulatorAdminClient(url) });
}

// -------------------------------------------------------------------------------------------------
// Temporal CLI

/** Result of one Temporal CLI invocation. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The Temporal CLI binary the jest run uses (`TEMPORAL_CLI_PATH`, as set by `scripts/ensure-temporal.sh`). */
export function temporalCliPath(): string {
  return process.env.TEMPORAL_CLI_PATH ?? 'temporal';
}

/** Runs the raw Temporal CLI against `address`; never throws on a non-zero exit (tests assert on it). */
export function runTemporalCli(address: string, args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      temporalCliPath(),
      [...args, '--address', address, '--namespace', 'default'],
      { timeout: timeoutMs, maxBuffer: 64 << 20, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}
