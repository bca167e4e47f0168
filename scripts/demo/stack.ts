/**
 * Everything the demo starts, and the one place that stops it: worker first (it drains), then the KMS
 * emulator, then the Temporal dev server. Stopping is idempotent and safe at any point of start-up.
 */
import type { DevServer } from '../../src/devtools/temporal-dev-server';
import { logTail, type RunningChild } from './children';

export class DemoStack {
  server?: DevServer;
  /** Set while the dev server starts: a stop during start-up waits for it, then stops it. */
  serverStarting?: Promise<unknown>;
  emulator?: RunningChild;
  worker?: RunningChild;
  private stopping?: Promise<void>;

  /**
   * Graceful stop of every process this demo started; resolves once they have all exited. The client
   * connection is left open: closing it under in-flight calls (the watch's long poll) makes the SDK's
   * retry timer throw; the process exits right after this anyway.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // On a terminal Ctrl-C the dev server gets SIGINT too and is gone already: the worker cannot report an
      // in-flight activity then, so it is not given its full 20 s drain (the next demo run starts afresh anyway).
      await this.worker?.stop(5_000);
      await this.emulator?.stop();
      await this.serverStarting?.catch(() => undefined);
      await this.server?.stop();
    })();
    return this.stopping;
  }

  /** True once {@link stop} was called: from then on, children exiting is expected. */
  isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * Rejects as soon as a started process dies while the demo still needs it (a worker crash, say), so
   * that the demo fails with the child's log instead of waiting forever.
   */
  unexpectedExit(): Promise<never> {
    const watch = (name: string, exited: Promise<unknown>, log?: string) =>
      exited.then((code) => {
        if (!this.isStopping()) throw new Error(`${name} exited unexpectedly (${String(code)})${log ? `; see ${log}:\n${logTail(log)}` : ''}`);
        return new Promise<never>(() => undefined);
      });
    const server = this.server?.process;
    const watched: Promise<never>[] = [];
    if (this.worker) watched.push(watch(this.worker.name, this.worker.exited, this.worker.logFile));
    if (this.emulator) watched.push(watch(this.emulator.name, this.emulator.exited, this.emulator.logFile));
    if (server) watched.push(watch('Temporal dev server', new Promise((resolve) => server.once('exit', (code, signal) => resolve(code ?? signal)))));
    const any = Promise.race(watched);
    any.catch(() => undefined);
    return any;
  }

  /** Last resort (second Ctrl-C, or the demo itself crashing): SIGKILL everything that may still run. */
  killNow(): void {
    // Only processes not yet reaped: a PID that exited may already belong to someone else.
    if (this.worker?.running()) this.worker.kill();
    if (this.emulator?.running()) this.emulator.kill();
    const server = this.server?.process;
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }

  /** PIDs of the processes this demo started, for the closing message and for checks with `ps`. */
  pids(): Record<string, number | undefined> {
    return { temporal: this.server?.process.pid, emulator: this.emulator?.pid, worker: this.worker?.pid };
  }
}
