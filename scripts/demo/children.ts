/**
 * Child Node processes of the demo (KMS emulator, worker): started through ts-node like `npm run …`,
 * ready when a known line appears, output kept in a log file (not on the terminal, where the watch
 * view draws), and stopped with SIGINT then SIGKILL so nothing outlives the demo.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ChildSpec {
  /** Shown in messages: "worker", "KMS emulator". */
  name: string;
  /** TypeScript entry point, relative to `cwd`. */
  script: string;
  args?: string[];
  /** The whole environment of the child (nothing is inherited implicitly). */
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** stdout+stderr go here. */
  logFile: string;
  /** The child is ready once a line matches. */
  ready: RegExp;
  readyTimeoutMs: number;
}

export interface RunningChild {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the line that matched `spec.ready`; rejects (with the log's tail) if the child dies or times out first. */
  ready: Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name) when the process ends, for whatever reason. */
  exited: Promise<number | string>;
  /** False once the process has exited. */
  running(): boolean;
  /** SIGKILL, now. */
  kill(): void;
  /** SIGINT (graceful in both the worker and the emulator), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** The last lines of a log file, to explain why a child failed. */
export function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Spawns the child and returns at once, so that a caller interrupted during start-up can still stop it. */
export function spawnChild(spec: ChildSpec): RunningChild {
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const log = createWriteStream(spec.logFile, { flags: 'w' });
  const child: ChildProcess = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', spec.script, ...(spec.args ?? [])], {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  void exited.then(() => log.end());

  const ready = new Promise<RegExpMatchArray>((resolve, reject) => {
    let buffered = '';
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fn();
    };
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      if (done) return;
      buffered = (buffered + chunk.toString()).slice(-8192);
      const match = buffered.match(spec.ready);
      if (match) finish(() => resolve(match));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() => reject(new Error(`${spec.name} was not ready within ${spec.readyTimeoutMs / 1000} s; see ${spec.logFile}:\n${logTail(spec.logFile)}`)));
    }, spec.readyTimeoutMs);
    void exited.then((code) =>
      // Give the log stream a moment to flush what the child printed before it died.
      setTimeout(
        () => finish(() => reject(new Error(`${spec.name} exited (${code}) before it was ready; see ${spec.logFile}:\n${logTail(spec.logFile)}`))),
        100,
      ),
    );
  });

  // Marked as handled here; whoever awaits `ready` still gets the rejection.
  ready.catch(() => undefined);

  let stopping: Promise<void> | undefined;
  return {
    name: spec.name,
    pid: child.pid as number,
    logFile: spec.logFile,
    ready,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    kill: () => void child.kill('SIGKILL'),
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
