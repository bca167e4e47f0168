import type { DecommissionClient } from '../client';
import { DecommissionNotFoundError } from '../client/errors';
import type { DecommissionReport, DecommissionStatus } from '../shared/types';
import { formatReportSummary } from './format';
import { cliCommand } from './hints';
import { BarView, LineView, type WatchView } from './watch-view';

/** Options of {@link watchDecommission}. */
export interface WatchOptions {
  /** Where to draw. Default `process.stdout`. */
  out?: NodeJS.WritableStream;
  /** How often to query the status, in ms. Default 1000. */
  intervalMs?: number;
  /** Progress bars (true) or one line per change (false). Default: whether `out` is a TTY. */
  tty?: boolean;
  /** Stops watching (not the decommission): the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How the commands it prints (resolve, report) start. Default: as this process was run (see {@link cliCommand}). */
  command?: string;
  /**
   * Called with every status polled, after the view drew it; `note` prints a line of its own (above the
   * bars on a terminal). For a caller that acts on what it sees, e.g. the demo's operator answering a blocker.
   */
  onStatus?: (status: DecommissionStatus, note: (text: string) => void) => void;
}

type Outcome = { report: DecommissionReport } | { error: unknown };

function delay(ms: number, until: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), until.then(() => undefined)]).finally(() => clearTimeout(timer));
}

function aborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * Live view of a decommission until it ends: phase, keys scheduled N/M with the call rate, the countdown to
 * the latest DeletionDate, verification progress (deleted/total) and the blocker when BLOCKED. Polls the
 * `status` query every `intervalMs`; the end is taken from the workflow's result, not from polling, so a
 * run that ends between two polls is never missed. Prints the report's summary, then returns the report.
 *
 * Query failures (e.g. no worker running) are shown and retried; a run that does not exist rejects with
 * {@link DecommissionNotFoundError}.
 *
 * @example
 * const report = await watchDecommission(client, 'cks-1234567890abcdef0', { out: process.stdout });
 * process.exitCode = report.outcome === 'COMPLETED' ? 0 : 1;
 */
export async function watchDecommission(client: DecommissionClient, storeOrWorkflowId: string, options: WatchOptions = {}): Promise<DecommissionReport> {
  const out = options.out ?? process.stdout;
  const intervalMs = options.intervalMs ?? 1_000;
  const tty = options.tty ?? (out as { isTTY?: boolean }).isTTY === true;
  const cli = options.command ?? cliCommand();
  const stop = aborted(options.signal);
  stop.catch(() => undefined); // observed below; avoids an unhandled rejection when never awaited

  // Resolves when the run ends; getReport waits on the workflow's result (long poll), not on our polling.
  const ended: Promise<Outcome> = client.getReport(storeOrWorkflowId, { wait: true }).then(
    (report) => ({ report }),
    (error: unknown) => ({ error }),
  );
  let outcome: Outcome | undefined;
  void ended.then((o) => (outcome = o));

  let view: WatchView | undefined;
  let failingSince: number | undefined;
  try {
    while (!outcome) {
      const polled = await Promise.race([
        client.getStatus(storeOrWorkflowId).then(
          (status): { status: DecommissionStatus } => ({ status }),
          (error: unknown) => ({ error }),
        ),
        ended.then(() => undefined),
        stop,
      ]);
      if (outcome || !polled) break;
      view ??= tty ? new BarView(out, cli) : new LineView(out, cli);
      if ('status' in polled) {
        failingSince = undefined;
        view.update(polled.status, Date.now());
        const shown = view;
        options.onStatus?.(polled.status, (text) => shown.note(text, Date.now()));
      } else {
        if (polled.error instanceof DecommissionNotFoundError) throw polled.error;
        if (failingSince === undefined) {
          failingSince = Date.now();
          view.note(`status query failed (is a worker polling the task queue?): ${(polled.error as Error).message}; retrying`, failingSince);
        }
      }
      await Promise.race([delay(intervalMs, ended), stop]);
    }
    const final = (await Promise.race([ended, stop])) as Outcome;
    if ('error' in final) throw final.error;
    view ??= tty ? new BarView(out, cli) : new LineView(out, cli);
    view.finish(final.report);
    out.write(formatReportSummary(final.report, cli));
    return final.report;
  } finally {
    view?.stop();
  }
}
