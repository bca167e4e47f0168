import { Option, type Command } from 'commander';
import type { StartResult } from '../../client';
import type { DecommissionInput } from '../../shared/types';
import { formatDuration } from '../../shared/duration';
import { validateDecommissionInput } from '../../shared/validation';
import { MIN_QUIET_PERIOD_ENV, minQuietPeriodFromEnv } from '../../client/env';
import { withClient, type GlobalOptions } from '../connect';
import { UsageError } from '../exit-codes';
import { cliCommand, YOU } from '../hints';
import {
  describeProblems,
  inputFromFlags,
  integerArg,
  parseJsonInput,
  readInputFile,
  REMOVED_POLICY_FLAGS,
  removedPolicyFlagMessage,
  START_FLAGS,
  type RemovedPolicyOption,
  type StartFlags,
} from '../parse';

const FIELD_FLAGS = [
  'store',
  'requestedBy',
  'window',
  'dryRun',
  'approvalTimeout',
  'expectedKeys',
  'reconnect',
  'ticket',
  'recentUseWindow',
  'quietPeriod',
  'watchUsage',
  'timingStorePollInterval',
  'timingDriftCheckInterval',
  'timingVerifyInterval',
  'timingVerifyPatience',
  'timingConnectionCheckInterval',
  'timingUsageCheckInterval',
  'timingCloudtrailDeliveryLag',
];

interface StartOptions extends StartFlags {
  failIfRunning?: boolean;
  json?: boolean;
}

/**
 * The deployment's minimum quiet period from `DECOMMISSION_MIN_QUIET_PERIOD` (the worker's setting, read
 * here too so that the CLI refuses what the worker would), or undefined for the default of 1 day.
 */
function deploymentMinQuietPeriod(): number | undefined {
  try {
    return minQuietPeriodFromEnv();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The raw input and where it came from (`--input`, `--input-file <path>`, or the flags). */
function readInput(flags: StartOptions): { raw: unknown; source?: string } {
  if (flags.input !== undefined) return { raw: parseJsonInput(flags.input, '--input'), source: '--input' };
  if (flags.inputFile !== undefined) {
    const source = `--input-file ${flags.inputFile}`;
    return { raw: parseJsonInput(readInputFile(flags.inputFile), source), source };
  }
  return { raw: inputFromFlags(flags) };
}

function describeStarted(
  result: StartResult,
  input: { customKeyStoreId: string; requestedBy: string; dryRun: boolean; quietPeriodMs?: number },
  taskQueue: string,
  cli: string,
): string {
  const store = input.customKeyStoreId;
  if (result.alreadyRunning) {
    return `A decommission of ${store} is already running: workflow ${result.workflowId} (run ${result.runId}). Nothing new was started.\n  ${cli} status ${store}\n`;
  }
  const lines = [`Started decommission of ${store}: workflow ${result.workflowId} (run ${result.runId}) on task queue ${taskQueue}.`];
  if (input.dryRun) lines.push(`Dry run: inventory only. The plan: ${cli} report ${store} --wait`);
  else {
    // The approval policy is the worker's: by default the run waits for someone other than the requester.
    lines.push(
      `After the inventory it waits for approval by someone other than ${input.requestedBy} (unless the worker's approval policy says otherwise). The approver runs:`,
      `  ${cli} approve ${store} --approver ${YOU}`,
    );
    if (input.quietPeriodMs !== undefined)
      lines.push(
        `After approval it disables the store's Enabled keys for a quiet period of ${formatDuration(input.quietPeriodMs)}, watching CloudTrail for attempted use, before scheduling deletion.`,
      );
  }
  lines.push(`Follow it: ${cli} watch ${store}`);
  return lines.join('\n') + '\n';
}

/** `kms-decommission start`: validates the input locally, then starts the workflow through the client. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .summary('start decommissioning a custom key store')
    .description(
      'Start decommissioning a custom key store. The input is validated first by the same rules as the workflow: an invalid request exits 2 and nothing reaches Temporal. ' +
        'Give the input as flags, or as the raw JSON object with --input / --input-file. A store has at most one running decommission: starting again prints the running one. ' +
        "Whether approval is required and whether the requester may approve are the deployment's approval policy, set on the worker (DECOMMISSION_REQUIRE_APPROVAL, DECOMMISSION_ALLOW_SELF_APPROVAL), not per request.",
    )
    .option('--store <id>', 'custom key store to retire, e.g. cks-1234567890abcdef0 (customKeyStoreId)')
    .option('--requested-by <name>', 'who asks for it; the approver must be someone else (requestedBy)')
    .addOption(new Option('--window <days>', 'KMS waiting period in days, integer 7–30 (pendingWindowInDays; default 30)').argParser(integerArg()))
    .option('--dry-run', 'inventory only; change nothing and report the plan (dryRun)')
    // Removed: the approval policy is the worker's. Still parsed, to say so instead of "unknown option".
    .addOption(new Option(REMOVED_POLICY_FLAGS.approval.flag).hideHelp())
    .addOption(new Option(REMOVED_POLICY_FLAGS.allowSelfApproval.flag).hideHelp())
    .option('--approval-timeout <duration>', 'end CANCELLED without approval after this long, e.g. "3d" (approvalTimeout; default 7 days)')
    .addOption(new Option('--expected-keys <n>', 'guardrail: stop unless the store holds exactly n keys (expectedKeyCount)').argParser(integerArg()))
    .option('--no-reconnect', 'do not connect a DISCONNECTED CloudHSM store; block for a decision instead (reconnect=false)')
    .option('--ticket <ref>', 'change ticket shown in the UI and the report (ticket)')
    .option(
      '--recent-use-window <duration>',
      'keys used (GetKeyLastUsage) within this long before the inventory stop the run until the approval acknowledges them, e.g. "7d" (recentUseWindow; default 30 days)',
    )
    .option(
      '--quiet-period <duration>',
      `after approval, disable the store's Enabled keys and watch CloudTrail for attempted use this long before scheduling deletion, e.g. "14d"; at most 90 days, at least the deployment's minimum (${MIN_QUIET_PERIOD_ENV}, default 1 day) (quietPeriod; default: none)`,
    )
    .option('--no-watch-usage', 'do not watch CloudTrail for attempted use while keys are disabled or pending deletion (watchUsage=false; default true)')
    .option('--timing-store-poll-interval <duration>', 'store connection-state polling (timing.storePollInterval; default 30s)')
    .option('--timing-drift-check-interval <duration>', 'drift checks during the waiting period (timing.driftCheckInterval; default 1 day)')
    .option('--timing-verify-interval <duration>', 're-checks after the DeletionDate (timing.verifyInterval; default 1h)')
    .option('--timing-verify-patience <duration>', 'wait this long past the last DeletionDate before BLOCKED (timing.verifyPatience; default 26h)')
    .option(
      '--timing-connection-check-interval <duration>',
      'CloudHSM store connection checks while waiting and verifying (timing.connectionCheckInterval; default 5m)',
    )
    .option(
      '--timing-usage-check-interval <duration>',
      'CloudTrail attempted-use checks during the quiet and waiting periods (timing.usageCheckInterval; default 15m)',
    )
    .option(
      '--timing-cloudtrail-delivery-lag <duration>',
      'how late CloudTrail may deliver an event: re-read by each check, awaited for deletion evidence (timing.cloudTrailDeliveryLag; default 20m)',
    )
    .addOption(
      new Option('--input <json>', 'the whole DecommissionInput as a JSON object (instead of the flags above)').conflicts([...FIELD_FLAGS, 'inputFile']),
    )
    .addOption(new Option('--input-file <path>', 'read the JSON object from a file ("-" for stdin)').conflicts(FIELD_FLAGS))
    .option('--fail-if-running', 'exit 5 instead of printing the already running decommission')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission start --store cks-1234567890abcdef0 --requested-by alice --window 7 --ticket CHG-1042
  $ kms-decommission start --store cks-1234567890abcdef0 --requested-by alice --dry-run
  $ kms-decommission start --store cks-1234567890abcdef0 --requested-by alice --window 7 --quiet-period 14d --recent-use-window 90d
  $ kms-decommission start --input '{"customKeyStoreId":"cks-1234567890abcdef0","requestedBy":"alice","pendingWindowInDays":7}'
  $ kms-decommission start --input-file request.json --task-queue kms-decommission`,
    )
    .action(async (flags: StartOptions, cmd: Command) => {
      for (const option of Object.keys(REMOVED_POLICY_FLAGS) as RemovedPolicyOption[]) {
        if (cmd.getOptionValueSource(option) === 'cli') throw new UsageError(removedPolicyFlagMessage(option));
      }
      const { raw, source } = readInput(flags);
      const minimumQuietPeriodMs = deploymentMinQuietPeriod();
      const { input, problems } = validateDecommissionInput(raw, { minQuietPeriodMs: minimumQuietPeriodMs });
      if (!input) throw new UsageError(`invalid decommission input${source ? ` in ${source}` : ''}: ${describeProblems(problems, source ? {} : START_FLAGS)}`);
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      await withClient(
        globals,
        async (client, target) => {
          const result = await client.startDecommission(raw as DecommissionInput, { failIfRunning: flags.failIfRunning });
          process.stdout.write(
            flags.json
              ? `${JSON.stringify({ ...result, taskQueue: target.taskQueue })}\n`
              : describeStarted(result, input, target.taskQueue, cliCommand(globals)),
          );
        },
        { minimumQuietPeriodMs },
      );
    });
}
