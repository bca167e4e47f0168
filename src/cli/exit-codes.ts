/**
 * Process exit codes of `kms-decommission`. Scripts and runbooks branch on them, so they are part of the
 * CLI's contract: never renumber, only add.
 */
export const ExitCode = {
  /** The command did what was asked; `watch`: the run ended COMPLETED or DRY_RUN_COMPLETE. */
  OK: 0,
  /** Anything else: Temporal unreachable, an unexpected server error, a report requested too early. */
  ERROR: 1,
  /** Bad command line or invalid input: nothing was sent to Temporal. */
  USAGE: 2,
  /** The workflow's validator rejected the update (wrong phase, four-eyes rule…): its state did not change. */
  UPDATE_REJECTED: 3,
  /** No decommission with this store or workflow ID. */
  NOT_FOUND: 4,
  /** `start --fail-if-running`: a decommission of the store is already running. */
  ALREADY_RUNNING: 5,
  /** `watch`: the run ended CANCELLED (keys this run scheduled were restored). */
  CANCELLED: 10,
  /** `watch`: the run ended FAILED. */
  FAILED: 11,
  /** `watch` interrupted (Ctrl-C); the decommission itself goes on. */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit-code table as shown in `--help` and the README. */
export const EXIT_CODE_HELP = `Exit codes:
  0   success; watch: the run ended COMPLETED or DRY_RUN_COMPLETE
  1   other error (e.g. cannot reach Temporal)
  2   usage error or invalid input (nothing was sent to Temporal)
  3   update rejected by the workflow (wrong phase, four-eyes rule…)
  4   decommission not found
  5   start --fail-if-running: already running
  10  watch: the run ended CANCELLED
  11  watch: the run ended FAILED
  130 watch interrupted (the decommission goes on)`;

/** An error the CLI reports as one line on stderr, exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage or input problem found before anything was sent to Temporal (exit 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.USAGE);
    this.name = 'UsageError';
  }
}
