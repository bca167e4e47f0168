import { Option, type Command } from 'commander';
import type { DecommissionClient, UpdateAck } from '../../client';
import { DecommissionNotFoundError, UpdateRejectedError } from '../../client/errors';
import { FINAL_PHASES, RESOLVE_ACTIONS, type ApproveRequest } from '../../shared/types';
import { validateApproveRequest, validateCancelRequest, validateResolveRequest } from '../../shared/validation';
import { withClient, type GlobalOptions } from '../connect';
import { CliError, ExitCode, UsageError } from '../exit-codes';
import { describeProblems, integerArg, storeArg } from '../parse';

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

/** Flags of `approve`, keyed by the ApproveRequest field they set. */
const APPROVE_FLAGS = { approver: '--approver', comment: '--comment', acknowledgeRecentlyUsedKeys: '--acknowledge-recently-used-keys' };

/**
 * Sends the approval. The workflow's rejection names request fields ("acknowledgeRecentlyUsedKeys: must be
 * 2…"); on the command line the operator needs the flag that sets it, as in the local validation errors.
 */
async function approveNamingFlags(client: DecommissionClient, store: string, request: ApproveRequest): Promise<UpdateAck> {
  try {
    return await client.approve(store, request);
  } catch (err) {
    if (!(err instanceof UpdateRejectedError)) throw err;
    let reason = err.reason;
    for (const [field, flag] of Object.entries(APPROVE_FLAGS)) reason = reason.replace(new RegExp(`^${field}:`), `${field} (${flag}):`);
    throw new UpdateRejectedError(err.update, reason, err.cause);
  }
}

/** `kms-decommission approve <store> --approver X [--comment C] [--acknowledge-recently-used-keys N]`. */
export function registerApprove(program: Command): void {
  program
    .command('approve')
    .summary('approve the inventoried plan (four-eyes)')
    .description(
      "Approve the inventoried plan of a run in AWAITING_APPROVAL. The approver must not be the requester, unless the deployment's approval policy allows self-approval (the worker's DECOMMISSION_ALLOW_SELF_APPROVAL). " +
        'When the inventory found keys used within the recent-use window ("status" lists them), the approval must acknowledge exactly that many with --acknowledge-recently-used-keys. ' +
        "A rejection exits 3 with the workflow's reason; nothing changes.",
    )
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .requiredOption('--approver <name>', 'who approves (not the requester)')
    .option('--comment <text>', 'recorded in the report, e.g. the CAB reference')
    .addOption(
      new Option(
        '--acknowledge-recently-used-keys <n>',
        'the number of keys used within the recent-use window, as "status" shows it: the approver knowingly deletes keys still in use (acknowledgeRecentlyUsedKeys; required when that number is above 0)',
      ).argParser(integerArg(0)),
    )
    .option('--json', 'print the answer as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission approve cks-1234567890abcdef0 --approver bob --comment "CAB-77 approved"
  $ kms-decommission approve cks-1234567890abcdef0 --approver bob --acknowledge-recently-used-keys 2 --comment "CAB-77: both apps migrated"`,
    )
    .action(async (store: string, flags: { approver: string; comment?: string; acknowledgeRecentlyUsedKeys?: number; json?: boolean }, cmd: Command) => {
      const { request, problems } = validateApproveRequest({
        approver: flags.approver,
        comment: flags.comment,
        ...(flags.acknowledgeRecentlyUsedKeys !== undefined ? { acknowledgeRecentlyUsedKeys: flags.acknowledgeRecentlyUsedKeys } : {}),
      });
      if (!request) throw new UsageError(`invalid approve request: ${describeProblems(problems, APPROVE_FLAGS)}`);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) =>
        printAck('approve', await sendUpdate(client, store, 'approve', () => approveNamingFlags(client, store, request)), flags.json),
      );
    });
}

/** `kms-decommission cancel <store> --by X --reason Y`. */
export function registerCancel(program: Command): void {
  program
    .command('cancel')
    .summary('cancel; keys this run scheduled are restored')
    .description(
      'Cancel a decommission. Before scheduling nothing has changed; during scheduling, the waiting period or verification every key this run scheduled that KMS has not deleted yet gets its deletion cancelled and its prior state restored (keys KMS already deleted are reported as deleted). Rejected (exit 3) once DISCONNECTING began.',
    )
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .requiredOption('--by <name>', 'who cancels')
    .requiredOption('--reason <text>', 'why; recorded in the report')
    .option('--json', 'print the answer as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission cancel cks-1234567890abcdef0 --by bob --reason "wrong store: CHG-1042 targets another account"`,
    )
    .action(async (store: string, flags: { by: string; reason: string; json?: boolean }, cmd: Command) => {
      const { request, problems } = validateCancelRequest({ by: flags.by, reason: flags.reason });
      if (!request) throw new UsageError(`invalid cancel request: ${describeProblems(problems, { by: '--by', reason: '--reason' })}`);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) =>
        printAck('cancel', await sendUpdate(client, store, 'cancel', () => client.cancel(store, request)), flags.json),
      );
    });
}

/** `kms-decommission resolve <store> --blocker ID --by X --action A [--comment C]`. */
export function registerResolve(program: Command): void {
  program
    .command('resolve')
    .summary('decide how a BLOCKED run goes on')
    .description(
      `Resolve a BLOCKED run with one of the actions its blocker allows. "status" shows the blocker's id and the exact commands. ` +
        `--blocker names the blocker you are answering: a resolve naming any other (one already resolved, or a newer one) is rejected, so a late or repeated resolve never lands on the next blocker. ` +
        `Every decision that deletes keys or may orphan key material (schedule-new-keys, reschedule, proceed) needs someone other than the requester (unless the deployment's approval policy allows self-approval). Actions: ${RESOLVE_ACTIONS.join(', ')}.`,
    )
    .argument('<store>', 'store ID (cks-…) or workflow ID (kms-decommission-cks-…)', storeArg)
    .requiredOption('--blocker <id>', 'the blocker this decision answers, from "status" (e.g. CONNECT_FAILED-1)')
    .requiredOption('--by <name>', 'who decides')
    .requiredOption('--action <action>', `one of ${RESOLVE_ACTIONS.join(', ')}`)
    .option('--comment <text>', 'recorded in the report')
    .option('--json', 'print the answer as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission status cks-1234567890abcdef0          # shows the blocker, its id and the commands that answer it
  $ kms-decommission resolve cks-1234567890abcdef0 --blocker CONNECT_FAILED-1 --by bob --action reconnect --comment "kmsuser password reset"`,
    )
    .action(async (store: string, flags: { blocker: string; by: string; action: string; comment?: string; json?: boolean }, cmd: Command) => {
      const { request, problems } = validateResolveRequest({ by: flags.by, action: flags.action, blockerId: flags.blocker, comment: flags.comment });
      if (!request)
        throw new UsageError(
          `invalid resolve request: ${describeProblems(problems, { by: '--by', action: '--action', blockerId: '--blocker', comment: '--comment' })}`,
        );
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (client) =>
        printAck('resolve', await sendUpdate(client, store, 'resolve', () => client.resolve(store, request)), flags.json),
      );
    });
}
