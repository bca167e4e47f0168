import { Option, type Command } from 'commander';
import type { DecommissionSummary } from '../../client';
import { DecommissionClientError } from '../../client/errors';
import { renderReportMarkdown } from '../../client/report-markdown';
import type { Phase } from '../../shared/types';
import { withClient, type GlobalOptions } from '../connect';
import { CliError } from '../exit-codes';
import { formatList, formatStatus } from '../format';
import { cliCommand } from '../hints';
import { integerArg, PHASES, storeArg, storeIdOf, workflowIdOf } from '../parse';

/** `kms-decommission status <store> [--json]`. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .summary('current phase, counts, dates, next action and blocker')
    .description(
      "Show the current phase, key counts, DeletionDates, next action and blocker of a decommission (the workflow's status query: a worker must be running). A BLOCKED run shows the blocker's id and one ready-to-run resolve command per allowed action.",
    )
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .option('--json', 'print the raw status as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission status cks-1234567890abcdef0
  $ kms-decommission status cks-1234567890abcdef0 --json | jq .phase`,
    )
    .action(async (store: string, flags: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      await withClient(globals, async (client) => {
        const status = await client.getStatus(store);
        process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(workflowIdOf(store), status, Date.now(), cliCommand(globals)));
      });
    });
}

/** `kms-decommission list [--phase P] [--store S] [--running]`. */
export function registerList(program: Command): void {
  program
    .command('list')
    .summary('list decommissions (by phase, store, running)')
    .description('List decommissions through the KmsCustomKeyStoreId and DecommissionPhase search attributes, newest first.')
    .addOption(new Option('--phase <phase>', 'only runs in this phase').choices(PHASES))
    .option('--store <id>', 'only runs for this store', storeArg)
    .option('--running', 'only running workflows')
    .addOption(new Option('--limit <n>', 'at most n rows').argParser(integerArg(1, 10_000)).default(100))
    .option('--json', 'print the rows as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission list --running
  $ kms-decommission list --phase BLOCKED
  $ kms-decommission list --store cks-1234567890abcdef0 --json`,
    )
    .action(async (flags: { phase?: Phase; store?: string; running?: boolean; limit: number; json?: boolean }, cmd: Command) => {
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) => {
        const rows: DecommissionSummary[] = [];
        for await (const row of client.listDecommissions({
          phase: flags.phase,
          customKeyStoreId: flags.store && storeIdOf(flags.store),
          runningOnly: flags.running,
        })) {
          rows.push(row);
          if (rows.length >= flags.limit) break;
        }
        process.stdout.write(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : formatList(rows));
      });
    });
}

/** `kms-decommission report <store> [--format markdown|json] [--wait]`. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .summary('the final report (Markdown or JSON)')
    .description(
      'Print the report of a finished decommission: outcome, decisions, every key with its prior state, DeletionDate and deletion proof. For a running decommission, exits 1 unless --wait.',
    )
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .addOption(new Option('--format <format>', 'output format').choices(['markdown', 'json']).default('markdown'))
    .option('--wait', 'wait for a running decommission to end')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission report cks-1234567890abcdef0 > CHG-1042-report.md
  $ kms-decommission report cks-1234567890abcdef0 --format json --wait | jq .outcome`,
    )
    .action(async (store: string, flags: { format: 'markdown' | 'json'; wait?: boolean }, cmd: Command) => {
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) => {
        let report;
        try {
          report = await client.getReport(store, { wait: flags.wait });
        } catch (err) {
          // The client's wording is for library callers ("pass wait"); say what to type here.
          if (err instanceof DecommissionClientError && /still running/.test(err.message))
            throw new CliError(err.message.replace(/pass wait\b/, 'pass --wait'));
          throw err;
        }
        process.stdout.write(flags.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderReportMarkdown(report));
      });
    });
}
