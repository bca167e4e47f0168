import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { temporalAddress } from '../support/harness';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** How a CLI process ended. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running CLI process and its eventual result. */
export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  done: Promise<CliResult>;
}

/**
 * The environment of a CLI process: the test dev server's address, and nothing from the developer's
 * shell that would point it elsewhere.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), ...extra };
  for (const name of ['TASK_QUEUE', 'TEMPORAL_NAMESPACE', 'TEMPORAL_PROFILE', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS']) if (!(name in extra)) delete env[name];
  return env;
}

/** Starts `kms-decommission <args>` exactly as a developer runs it from a clone (ts-node, no build). */
export function spawnCli(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): CliProcess {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join('src', 'cli', 'main.ts'), ...args], {
    cwd: REPO_ROOT,
    env: cliEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kms-decommission ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, done };
}

/** Runs `kms-decommission <args>` to completion. */
export function runCli(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

/** Runs tasks with at most `limit` in flight (the CI machine has 2 cores; each CLI process loads ts-node). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return results;
}
