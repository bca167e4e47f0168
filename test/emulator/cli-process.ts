/** Runs the emulator CLI (`src/emulator/main.ts`) as a child process for persistence and CLI tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../..');
const MAIN = path.join(REPO, 'src/emulator/main.ts');

export interface CliRun {
  proc: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Spawns the CLI exactly as `npm run emulator` does (ts-node, transpile-only). */
export function spawnCli(args: string[]): { proc: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | string> } {
  const proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', MAIN, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Spawns the CLI and waits for its `listening on` line. */
export async function startCli(args: string[], timeoutMs = 20_000): Promise<CliRun> {
  const run = spawnCli(['--port', '0', ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start within ${timeoutMs} ms; stderr: ${run.stderr()}`)), timeoutMs);
    const check = (): void => {
      const m = /kms-emulator listening on (http:\/\/\S+)\n/.exec(run.stdout());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    run.proc.stdout?.on('data', check);
    void run.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with ${code} before listening; stderr: ${run.stderr()}`));
    });
  });
  return { ...run, url };
}

/** kill -9: no shutdown hook runs, nothing is flushed. */
export async function killHard(run: CliRun): Promise<void> {
  run.proc.kill('SIGKILL');
  await run.exited;
}
