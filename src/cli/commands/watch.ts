import { Option, type Command } from 'commander';
import type { DecommissionReport } from '../../shared/types';
import { withClient, type GlobalOptions } from '../connect';
import { CliError, ExitCode, type ExitCodeValue } from '../exit-codes';
import { cliCommand } from '../hints';
import { integerArg, storeArg } from '../parse';

/** Exit code for a run's outcome: scripts can chain `watch && report`. */
export function outcomeExitCode(report: DecommissionReport): ExitCodeValue {
  switch (report.outcome) {
    case 'COMPLETED':
    case 'DRY_RUN_COMPLETE':
      return ExitCode.OK;
    case 'CANCELLED':
      return ExitCode.CANCELLED;
    default:
      return ExitCode.FAILED;
  }
}

/** `kms-decommission watch <store>`: live view until the run ends; exits with its outcome. */
export function registerWatch(program: Command): void {
  program
    .command('watch')
    .summary('live progress until the run ends; exits with its outcome')
    .description(
      'Follow a decommission until it ends: phase, keys scheduled N/M with the call rate, countdown to the last DeletionDate, verification progress (deleted/total) and, when BLOCKED, the blocker with its id and the resolve commands. ' +
        'Progress bars on a terminal, one line per change otherwise. Exits 0 for COMPLETED or DRY_RUN_COMPLETE, 10 for CANCELLED, 11 for FAILED; Ctrl-C stops watching (130), not the decommission.',
    )
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .addOption(new Option('--interval <ms>', 'status query interval in ms').argParser(integerArg(100, 3_600_000)).default(1_000))
    .option('--plain', 'one line per change even on a terminal')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission watch cks-1234567890abcdef0
  $ kms-decommission watch cks-1234567890abcdef0 --plain | tee watch.log`,
    )
    .action(async (store: string, flags: { interval: number; plain?: boolean }, cmd: Command) => {
      const controller = new AbortController();
      const onSigint = () => controller.abort(new CliError('stopped watching; the decommission goes on', ExitCode.INTERRUPTED));
      process.once('SIGINT', onSigint);
      try {
        // Loaded here: cli-progress is only needed when watching.
        const { watchDecommission } = await import('../watch');
        const globals = cmd.optsWithGlobals<GlobalOptions>();
        const report = await withClient(globals, (client) =>
          watchDecommission(client, store, {
            out: process.stdout,
            intervalMs: flags.interval,
            tty: flags.plain ? false : undefined,
            signal: controller.signal,
            command: cliCommand(globals),
          }),
        );
        process.exitCode = outcomeExitCode(report);
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
