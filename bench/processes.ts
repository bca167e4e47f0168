/**
 * The emulator and the worker as child processes: the worker must be its own process so its memory can
 * be read from /proc, and the emulator gets its own so it does not share an event loop (and a core) with
 * the worker or with the benchmark's own clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { EmulatorAdminClient } from '../src/emulator/admin-client';
import type { BenchBuild } from './build';
import { readProcCpuSeconds, RssSampler } from './rss';
import type { WorkerMemory } from './types';

/** Credentials the emulator accepts by default; not a secret. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
export const EMULATOR_REGION = 'us-east-1';

export interface EmulatorProcessOptions {
  quotaScale: number;
  /** Real milliseconds per emulated day: decides how long a 7-day waiting period lasts. */
  dayMs: number;
  seed: number;
  logFile: string;
}

export interface EmulatorProcess {
  url: string;
  pid: number;
  /** CPU seconds used so far. */
  cpuSeconds(): number;
  admin: EmulatorAdminClient;
  stop(): Promise<void>;
}

export interface WorkerProcessOptions {
  temporalAddress: string;
  taskQueue: string;
  emulatorUrl: string;
  quotaScale: number;
  utilization: number;
  logFile: string;
  /** Extra node flags, space-separated (passed on the command line: NODE_OPTIONS refuses some, e.g. --trace-gc). */
  nodeFlags?: string;
  extraEnv?: Record<string, string>;
}

export interface WorkerProcess {
  pid: number;
  /** CPU seconds used so far. */
  cpuSeconds(): number;
  /** Peak VmRSS (MiB) since the last reset; see {@link RssSampler.peakSoFar}. */
  peakRssMiB(reset?: boolean): number;
  taskQueue: string;
  /** Stops sampling, then the worker (SIGTERM: the SDK drains), and returns its memory figures. */
  stop(): Promise<WorkerMemory>;
}

function waitForLine(child: ChildProcess, log: WriteStream, pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let tail = '';
    const timer = setTimeout(() => finish(new Error(`${what} did not start within ${timeoutMs} ms; see ${log.path}\n${tail}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      tail = (tail + chunk.toString()).slice(-2000);
      const match = pattern.exec(buffer);
      if (match) finish(undefined, match);
      if (buffer.length > 100_000) buffer = buffer.slice(-10_000);
    };
    const onErr = (chunk: Buffer): void => {
      tail = (tail + chunk.toString()).slice(-2000);
    };
    const onExit = (code: number | null): void => finish(new Error(`${what} exited with code ${code} before it was ready; see ${log.path}\n${tail}`));
    function finish(err?: Error, match?: RegExpExecArray): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(match as RegExpExecArray);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Children still running: killed if the benchmark exits early (Ctrl-C, crash) so none is left behind. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function spawnLogged(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  nodeFlags: string[] = [],
): { child: ChildProcess; log: WriteStream } {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: path.dirname(script) });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  live.add(child);
  child.once('exit', () => {
    live.delete(child);
    log.end();
  });
  return { child, log };
}

/** Environment without anything that could point a child at real AWS or another Temporal. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(AWS_|TEMPORAL_)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/** Starts the emulator CLI on a free port and waits for its "listening" line. */
export async function startEmulatorProcess(build: BenchBuild, options: EmulatorProcessOptions): Promise<EmulatorProcess> {
  const args = [
    '--port',
    '0',
    '--quota-scale',
    String(options.quotaScale),
    '--day-ms',
    String(options.dayMs),
    '--connect-ms',
    '200',
    '--disconnect-ms',
    '200',
    '--seed',
    String(options.seed),
  ];
  const { child, log } = spawnLogged(build.emulatorScript, args, cleanEnv(), options.logFile);
  const match = await waitForLine(child, log, /kms-emulator listening on (http:\/\/\S+)/, 30_000, 'kms-emulator');
  const url = match[1];
  const pid = child.pid as number;
  return { url, pid, cpuSeconds: () => readProcCpuSeconds(pid), admin: new EmulatorAdminClient(url), stop: () => stopChild(child, 10_000) };
}

/** Starts `src/worker.ts` (transpiled) against the emulator with the prebuilt workflow bundle. */
export async function startWorkerProcess(build: BenchBuild, options: WorkerProcessOptions): Promise<WorkerProcess> {
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TASK_QUEUE: options.taskQueue,
    AWS_ENDPOINT_URL_KMS: options.emulatorUrl,
    // The emulator answers CloudTrail's LookupEvents on the same URL (usage evidence).
    AWS_ENDPOINT_URL_CLOUDTRAIL: options.emulatorUrl,
    AWS_REGION: EMULATOR_REGION,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    KMS_QUOTA_SCALE: String(options.quotaScale),
    KMS_QUOTA_UTILIZATION: String(options.utilization),
    WORKFLOW_BUNDLE_PATH: build.bundlePath,
    // The approval policy every scenario relies on (runs wait for bench-approver), explicit so that a
    // developer's shell cannot change it; `workerEnv` in the config may still override it.
    DECOMMISSION_REQUIRE_APPROVAL: 'true',
    DECOMMISSION_ALLOW_SELF_APPROVAL: 'false',
    ...options.extraEnv,
  };
  const { child, log } = spawnLogged(build.workerScript, [], env, options.logFile, options.nodeFlags?.split(/\s+/).filter(Boolean));
  await waitForLine(child, log, /worker polling task queue/, 60_000, 'worker');
  const pid = child.pid as number;
  const sampler = new RssSampler(pid);
  return {
    pid,
    cpuSeconds: () => readProcCpuSeconds(pid),
    peakRssMiB: (reset) => sampler.peakSoFar(reset),
    taskQueue: options.taskQueue,
    async stop() {
      const memory = sampler.stop();
      await stopChild(child, 30_000);
      return memory;
    },
  };
}
