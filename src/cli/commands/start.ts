import { Option, type Command } from 'commander';
import type { StartResult } from '../../client';
import type { DecommissionInput } from '../../shared/types';
import { validateDecommissionInput } from '../../shared/validation';
import { withClient, type GlobalOptions } from '../connect';
import { UsageError } from '../exit-codes';
import { describeProblems, inputFromFlags, integerArg, parseJsonInput, readInputFile, START_FLAGS, type StartFlags } from '../parse';

const FIELD_FLAGS = ['store', 'requestedBy', 'window', 'dryRun', 'approval', 'allowSelfApproval', 'approvalTimeout', 'expectedKeys', 'reconnect', 'ticket', 'timingStorePollInterval', 'timingDriftCheckInterval', 'timingVerifyInterval', 'timingVerifyPatience'];

interface StartOptions extends StartFlags {
  failIfRunning?: boolean;
  json?: boolean;
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

function describeStarted(result: StartResult, input: { customKeyStoreId: string; requestedBy: string; dryRun: boolean; requireApproval: boolean; allowSelfApproval: boolean }, taskQueue: string): string {
  const store = input.customKeyStoreId;
  if (result.alreadyRunning) {
    return `A decommission of ${store} is already running: workflow ${result.workflowId} (run ${result.runId}). Nothing new was started.\n  kms-decommission status ${store}\n`;
  }
  const lines = [`Started decommission of ${store}: workflow ${result.workflowId} (run ${result.runId}) on task queue ${taskQueue}.`];
  if (input.dryRun) lines.push(`Dry run: inventory only. The plan: kms-decommission report ${store} --wait`);
  else if (input.requireApproval) {
    lines.push(`After the inventory it waits for approval by ${input.allowSelfApproval ? 'anyone' : `someone other than ${input.requestedBy}`}:`, `  kms-decommission approve ${store} --approver <name>`);
  }
  lines.push(`Follow it: kms-decommission watch ${store}`);
  return lines.join('\n') + '\n';
}

/** `kms-decommission start`: validates the input locally, then starts the workflow through the client. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .summary('start decommissioning a custom key store')
    .description(
      'Start decommissioning a custom key store. The input is validated first by the same rules as the workflow: an invalid request exits 2 and nothing reaches Temporal. ' +
        'Give the input as flags, or as the raw JSON object with --input / --input-file. A store has at most one running decommission: starting again prints the running one.',
    )
    .option('--store <id>', 'custom key store to retire, e.g. cks-1234567890abcdef0 (customKeyStoreId)')
    .option('--requested-by <name>', 'who asks for it; the approver must be someone else (requestedBy)')
    .addOption(new Option('--window <days>', 'KMS waiting period in days, integer 7–30 (pendingWindowInDays; default 30)').argParser(integerArg()))
    .option('--dry-run', 'inventory only; change nothing and report the plan (dryRun)')
    .option('--no-approval', 'do not wait for an approve update (requireApproval=false)')
    .option('--allow-self-approval', 'let the requester approve (allowSelfApproval)')
    .option('--approval-timeout <duration>', 'end CANCELLED without approval after this long, e.g. "3d" (approvalTimeout; default 7 days)')
    .addOption(new Option('--expected-keys <n>', 'guardrail: stop unless the store holds exactly n keys (expectedKeyCount)').argParser(integerArg()))
    .option('--no-reconnect', 'do not connect a DISCONNECTED CloudHSM store; block for a decision instead (reconnect=false)')
    .option('--ticket <ref>', 'change ticket shown in the UI and the report (ticket)')
    .option('--timing-store-poll-interval <duration>', 'store connection-state polling (timing.storePollInterval; default 30s)')
    .option('--timing-drift-check-interval <duration>', 'drift checks during the waiting period (timing.driftCheckInterval; default 1 day)')
    .option('--timing-verify-interval <duration>', 're-checks after the DeletionDate (timing.verifyInterval; default 1h)')
    .option('--timing-verify-patience <duration>', 'wait this long past the last DeletionDate before BLOCKED (timing.verifyPatience; default 26h)')
    .addOption(new Option('--input <json>', 'the whole DecommissionInput as a JSON object (instead of the flags above)').conflicts([...FIELD_FLAGS, 'inputFile']))
    .addOption(new Option('--input-file <path>', 'read the JSON object from a file ("-" for stdin)').conflicts(FIELD_FLAGS))
    .option('--fail-if-running', 'exit 5 instead of printing the already running decommission')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission start --store cks-1234567890abcdef0 --requested-by alice --window 7 --ticket CHG-1042
  $ kms-decommission start --store cks-1234567890abcdef0 --requested-by alice --dry-run
  $ kms-decommission start --input '{"customKeyStoreId":"cks-1234567890abcdef0","requestedBy":"alice","pendingWindowInDays":7}'
  $ kms-decommission start --input-file request.json --task-queue kms-decommission`,
    )
    .action(async (flags: StartOptions, cmd: Command) => {
      const { raw, source } = readInput(flags);
      const { input, problems } = validateDecommissionInput(raw);
      if (!input) throw new UsageError(`invalid decommission input${source ? ` in ${source}` : ''}: ${describeProblems(problems, source ? {} : START_FLAGS)}`);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client, target) => {
        const result = await client.startDecommission(raw as DecommissionInput, { failIfRunning: flags.failIfRunning });
        process.stdout.write(flags.json ? `${JSON.stringify({ ...result, taskQueue: target.taskQueue })}\n` : describeStarted(result, input, target.taskQueue));
      });
    });
}
