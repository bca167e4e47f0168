import type { Command } from 'commander';
import type { DecommissionClient, UpdateAck } from '../../client';
import { DecommissionNotFoundError } from '../../client/errors';
import { FINAL_PHASES, RESOLVE_ACTIONS } from '../../shared/types';
import { validateApproveRequest, validateCancelRequest, validateResolveRequest } from '../../shared/validation';
import { withClient, type GlobalOptions } from '../connect';
import { CliError, ExitCode, UsageError } from '../exit-codes';
import { describeProblems, storeArg } from '../parse';

function printAck(update: string, ack: UpdateAck, json: boolean | undefined): void {
  process.stdout.write(json ? `${JSON.stringify(ack)}\n` : `${update} accepted (phase ${ack.phase}): ${ack.message}\n`);
}

/**
 * Sends an update. Temporal answers an update to a closed workflow with NotFound, which the client reports
 * as "no decommission found"; an operator needs to hear that the run exists but has ended.
 */
async function sendUpdate(client: DecommissionClient, store: string, update: string, send: () => Promise<UpdateAck>): Promise<UpdateAck> {
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof DecommissionNotFoundError)) throw err;
    const phase = await client.getStatus(store).then(
      (status) => status.phase,
      () => undefined,
    );
    if (phase && FINAL_PHASES.includes(phase)) throw new CliError(`${update} rejected: the run already ended in ${phase}`, ExitCode.UPDATE_REJECTED);
    throw err;
  }
}

/** `kms-decommission approve <store> --approver X [--comment C]`. */
export function registerApprove(program: Command): void {
  program
    .command('approve')
    .summary('approve the inventoried plan (four-eyes)')
    .description('Approve the inventoried plan of a run in AWAITING_APPROVAL. The approver must not be the requester unless the run was started with --allow-self-approval. A rejection exits 3 with the workflow\'s reason; nothing changes.')
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .requiredOption('--approver <name>', 'who approves (not the requester)')
    .option('--comment <text>', 'recorded in the report, e.g. the CAB reference')
    .option('--json', 'print the answer as JSON')
    .addHelpText('after', `
Examples:
  $ kms-decommission approve cks-1234567890abcdef0 --approver bob --comment "CAB-77 approved"`)
    .action(async (store: string, flags: { approver: string; comment?: string; json?: boolean }, cmd: Command) => {
      const { request, problems } = validateApproveRequest({ approver: flags.approver, comment: flags.comment });
      if (!request) throw new UsageError(`invalid approve request: ${describeProblems(problems, { approver: '--approver', comment: '--comment' })}`);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) => printAck('approve', await sendUpdate(client, store, 'approve', () => client.approve(store, request)), flags.json));
    });
}

/** `kms-decommission cancel <store> --by X --reason Y`. */
export function registerCancel(program: Command): void {
  program
    .command('cancel')
    .summary('cancel; keys this run scheduled are restored')
    .description('Cancel a decommission. Before scheduling nothing has changed; during scheduling or the waiting period every key this run scheduled gets its deletion cancelled and its prior state restored. Rejected (exit 3) once DISCONNECTING began.')
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .requiredOption('--by <name>', 'who cancels')
    .requiredOption('--reason <text>', 'why; recorded in the report')
    .option('--json', 'print the answer as JSON')
    .addHelpText('after', `
Examples:
  $ kms-decommission cancel cks-1234567890abcdef0 --by bob --reason "wrong store: CHG-1042 targets another account"`)
    .action(async (store: string, flags: { by: string; reason: string; json?: boolean }, cmd: Command) => {
      const { request, problems } = validateCancelRequest({ by: flags.by, reason: flags.reason });
      if (!request) throw new UsageError(`invalid cancel request: ${describeProblems(problems, { by: '--by', reason: '--reason' })}`);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) => printAck('cancel', await sendUpdate(client, store, 'cancel', () => client.cancel(store, request)), flags.json));
    });
}

/** `kms-decommission resolve <store> --by X --action A [--comment C]`. */
export function registerResolve(program: Command): void {
  program
    .command('resolve')
    .summary('decide how a BLOCKED run goes on')
    .description(`Resolve a BLOCKED run with one of the actions its blocker allows (see "status"). schedule-new-keys and reschedule delete more keys: the four-eyes rule applies again. Actions: ${RESOLVE_ACTIONS.join(', ')}.`)
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .requiredOption('--by <name>', 'who decides')
    .requiredOption('--action <action>', `one of ${RESOLVE_ACTIONS.join(', ')}`)
    .option('--comment <text>', 'recorded in the report')
    .option('--json', 'print the answer as JSON')
    .addHelpText('after', `
Examples:
  $ kms-decommission status cks-1234567890abcdef0          # shows the blocker and its allowed actions
  $ kms-decommission resolve cks-1234567890abcdef0 --by bob --action reconnect --comment "kmsuser password reset"`)
    .action(async (store: string, flags: { by: string; action: string; comment?: string; json?: boolean }, cmd: Command) => {
      const { request, problems } = validateResolveRequest({ by: flags.by, action: flags.action, comment: flags.comment });
      if (!request) throw new UsageError(`invalid resolve request: ${describeProblems(problems, { by: '--by', action: '--action', comment: '--comment' })}`);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) => printAck('resolve', await sendUpdate(client, store, 'resolve', () => client.resolve(store, request)), flags.json));
    });
}

