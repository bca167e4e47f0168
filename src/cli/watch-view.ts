import { Format, MultiBar, type Options, type Params, type SingleBar } from 'cli-progress';
import type { DecommissionReport, DecommissionStatus } from '../shared/types';
import { attemptedUseLines, formatDate, relative, scheduleRate, scheduleTotal } from './format';
import { blockerLabel, blockerLines, cliCommand } from './hints';

/** What `watch` shows; one implementation per kind of output stream. */
export interface WatchView {
  /** A fresh status from the `status` query. */
  update(status: DecommissionStatus, now: number): void;
  /** Something worth a line of its own (e.g. the status query failing for a while). */
  note(text: string, now: number): void;
  /** Final frame, from the run's report; the view is stopped afterwards. */
  finish(report: DecommissionReport): void;
  /** Releases the terminal (cursor, timers). Idempotent. */
  stop(): void;
}

const clock = (now: number): string => new Date(now).toISOString().slice(11, 19);

function rateText(status: DecommissionStatus, now: number): string {
  const rate = scheduleRate(status, now);
  return rate === undefined ? '' : ` (${rate.toFixed(1)} calls/s)`;
}

function countdown(status: DecommissionStatus, now: number): string {
  if (status.latestDeletionDate === undefined) return 'no DeletionDate yet';
  return `last DeletionDate ${formatDate(status.latestDeletionDate)} (${relative(status.latestDeletionDate, now)})`;
}

/**
 * The blocker and the commands that answer it, indented under the status line; a KEY_IN_USE blocker lists
 * its attempted uses (who called, on which key, when) between its message and the commands.
 */
function blockerText(status: DecommissionStatus, cli: string): string {
  const [first, ...rest] = blockerLines(status, cli);
  const attempts = attemptedUseLines(status.blocker).map((line) => `  ${line}`);
  return [first, ...attempts, ...rest]
    .filter((line) => line !== undefined)
    .map((line) => `  ${line}`)
    .join('\n');
}

/**
 * One line describing the status; when BLOCKED, followed by the blocker and one runnable `resolve` command
 * per allowed action (indented lines). Exported for the plain view and for tests.
 *
 * @param cli how the printed commands start (see {@link cliCommand})
 * @example
 * // "12:00:05 SCHEDULING · scheduled 3/7 keys (2.9 calls/s) · deleted 0/7 · no DeletionDate yet · next: Schedule deletion: keys 4–7 of 7"
 */
export function statusLine(status: DecommissionStatus, now: number, cli: string = cliCommand()): string {
  const c = status.counts;
  const parts = [
    `${clock(now)} ${status.phase}${status.dryRun ? ' (dry run)' : ''}`,
    `scheduled ${c.scheduled}/${scheduleTotal(status)} keys${rateText(status, now)}`,
    `deleted ${c.deleted}/${c.inventoried}`,
    countdown(status, now),
  ];
  if (status.nextAction) parts.push(`next: ${status.nextAction}`);
  if (status.lastError) parts.push(`last error: ${status.lastError}`);
  const line = parts.join(' · ');
  return status.blocker ? `${line}\n${blockerText(status, cli)}` : line;
}

/** What must change for the plain view to print a new line: the countdown and the rate alone do not. */
function changeKey(status: DecommissionStatus): string {
  const c = status.counts;
  return JSON.stringify([
    status.phase,
    c.inventoried,
    c.scheduled,
    c.toSchedule,
    c.deleted,
    c.rolledBack,
    status.nextAction,
    status.blocker?.id,
    status.lastError,
    status.store?.connectionState,
  ]);
}

/** Non-TTY output (logs, CI, pipes): one line per change, never control characters. */
export class LineView implements WatchView {
  private lastKey?: string;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly cli: string = cliCommand(),
  ) {}

  update(status: DecommissionStatus, now: number): void {
    const key = changeKey(status);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.out.write(`${statusLine(status, now, this.cli)}\n`);
  }

  note(text: string, now: number): void {
    this.out.write(`${clock(now)} ${text}\n`);
  }

  finish(report: DecommissionReport): void {
    this.out.write(`${clock(report.endedAt)} ${report.outcome}\n`);
  }

  stop(): void {}
}

interface BarPayload {
  text?: string;
  label?: string;
  unit?: string;
  suffix?: string;
}

function renderBar(options: Options, params: Params, payload: BarPayload): string {
  if (payload.text !== undefined) return payload.text;
  const progress = params.total > 0 ? Math.min(1, params.value / params.total) : 0;
  return `${payload.label} ${Format.BarFormat(progress, options)} ${params.value}/${params.total} ${payload.unit}${payload.suffix ?? ''}`;
}

/**
 * TTY output: a header line and two progress bars (keys scheduled, keys confirmed deleted) redrawn in
 * place by cli-progress; phase changes and blockers are printed above them and stay in the scrollback.
 */
export class BarView implements WatchView {
  private readonly bars: MultiBar;
  private readonly header: SingleBar;
  private readonly scheduled: SingleBar;
  private readonly deleted: SingleBar;
  private lastPhase?: string;
  private lastBlocker?: string;
  private stopped = false;

  constructor(
    out: NodeJS.WritableStream,
    private readonly cli: string = cliCommand(),
  ) {
    const isRealTty = (out as { isTTY?: boolean }).isTTY === true;
    this.bars = new MultiBar({
      stream: out,
      format: renderBar,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      // We own Ctrl-C (see watchDecommission's signal); cli-progress would otherwise swallow SIGINT.
      gracefulExit: false,
      // Forced TTY mode on a stream that is not one (tests, `script`): still render.
      noTTYOutput: !isRealTty,
      barCompleteChar: '█',
      barIncompleteChar: '░',
    });
    this.header = this.bars.create(1, 0, { text: 'Waiting for the first status…' });
    this.scheduled = this.bars.create(0, 0, { label: 'Scheduled', unit: 'keys' });
    this.deleted = this.bars.create(0, 0, { label: 'Deleted  ', unit: 'keys' });
  }

  update(status: DecommissionStatus, now: number): void {
    if (this.stopped) return;
    if (status.phase !== this.lastPhase) {
      this.bars.log(`${clock(now)} ${this.lastPhase ? `${this.lastPhase} → ` : ''}${status.phase}\n`);
      this.lastPhase = status.phase;
    }
    if (status.blocker && status.blocker.id !== this.lastBlocker) {
      this.bars.log(`${blockerText(status, this.cli)}\n`);
      this.lastBlocker = status.blocker.id;
    }
    const store = status.store ? ` · ${status.store.type} ${status.store.connectionState}` : '';
    const next = status.blocker
      ? `BLOCKED (${blockerLabel(status)}): resolve with ${status.blocker.allowedActions.join(' | ')} (commands above)`
      : status.nextAction
        ? `next: ${status.nextAction}`
        : '';
    this.header.update(0, { text: `${status.phase}${status.dryRun ? ' (dry run)' : ''} · ${status.customKeyStoreId}${store}${next ? ` · ${next}` : ''}` });
    this.scheduled.setTotal(scheduleTotal(status));
    this.scheduled.update(status.counts.scheduled, { suffix: rateText(status, now) });
    this.deleted.setTotal(status.counts.inventoried);
    this.deleted.update(status.counts.deleted, { suffix: ` · ${countdown(status, now)}` });
  }

  note(text: string, now: number): void {
    if (!this.stopped) this.bars.log(`${clock(now)} ${text}\n`);
  }

  finish(report: DecommissionReport): void {
    if (this.stopped) return;
    if (report.outcome !== this.lastPhase) this.bars.log(`${clock(report.endedAt)} ${this.lastPhase ? `${this.lastPhase} → ` : ''}${report.outcome}\n`);
    this.header.update(0, { text: `${report.outcome} · ${report.customKeyStoreId}` });
    this.scheduled.setTotal(report.counts.scheduled + report.counts.toSchedule);
    this.scheduled.update(report.counts.scheduled, { suffix: '' });
    this.deleted.setTotal(report.counts.inventoried);
    this.deleted.update(report.counts.deleted, {
      suffix: report.latestDeletionDate !== undefined ? ` · last DeletionDate ${formatDate(report.latestDeletionDate)}` : '',
    });
    // Flush pending log lines before the final redraw.
    this.bars.update();
    this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bars.stop();
  }
}
