import { ApplicationFailure } from '@temporalio/workflow';
import type { InventoriedKey } from '../../shared/types';
import { inventory as inventoryStub } from '../activity-stubs';
import { formatDuration } from '../../shared/duration';
import { count } from '../render';
import type { Run, Transition } from '../run';
import { afterApproval } from './quiet-period';
import { inventoryLastUsage, recentlyUsedCount } from './usage';

/** Store keys per inventory activity result: about 70 bytes each (more with aliases) keeps results near 100 KiB. */
const INVENTORY_PAGE_KEYS = 1_000;

/**
 * Full scan of the account, handing the store's keys to `onPage` page by page (never the whole list in
 * one payload). Before any change a failure fails the run (fail closed); afterwards it blocks for retry.
 */
export async function scanStore(
  run: Run,
  purpose: string,
  withAliases: boolean,
  onPage: (keys: InventoriedKey[], arnPrefix: string | undefined) => void,
): Promise<void> {
  let marker: string | undefined;
  let scanned = 0;
  do {
    const scan = () =>
      inventoryStub.inventoryScan.executeWithOptions(
        { summary: `${purpose}: DescribeKey every account key (ListKeys has no store filter), from key #${count(scanned + 1)}` },
        [{ customKeyStoreId: run.cfg.customKeyStoreId, startMarker: marker, maxStoreKeys: INVENTORY_PAGE_KEYS, withAliases }],
      );
    const page = run.changedKeys() ? await run.attempt(purpose, scan) : await scan();
    scanned += page.scanned;
    marker = page.nextMarker;
    onPage(page.keys, page.arnPrefix);
    run.state.scannedKeys = scanned;
    run.publish();
  } while (marker);
}

/** INVENTORY: every key of the store with its aliases; a dry run ends here with the plan. */
export async function inventory(run: Run): Promise<Transition> {
  await scanStore(run, 'Inventory', true, (keys, arnPrefix) => run.ledger.addInventoried(keys, arnPrefix));
  const n = run.ledger.size;
  if (run.cfg.expectedKeyCount !== undefined && n !== run.cfg.expectedKeyCount) {
    throw ApplicationFailure.nonRetryable(
      `Guardrail: expectedKeyCount is ${run.cfg.expectedKeyCount} but store ${run.cfg.customKeyStoreId} holds ${n} keys`,
      'ExpectedKeyCountMismatch',
    );
  }
  if (run.usage) await inventoryLastUsage(run);
  if (run.cfg.dryRun) {
    run.state.notes.push(...planNotes(run));
    return { to: 'DRY_RUN_COMPLETE' };
  }
  const recentlyUsed = recentlyUsedCount(run);
  if (!run.policy.requireApproval && recentlyUsed === 0) {
    run.state.notes.push('The deployment policy does not require approval: scheduling followed the inventory directly.');
    return { to: afterApproval(run) };
  }
  if (!run.policy.requireApproval) {
    run.state.notes.push(
      `The deployment policy does not require approval, but ${count(recentlyUsed)} key(s) were used recently: the run waited for an approval that acknowledges them.`,
    );
  }
  const who = run.policy.allowSelfApproval ? 'anyone (the policy allows self-approval)' : `someone other than ${run.cfg.requestedBy}`;
  const ack = recentlyUsed > 0 ? `, acknowledging the ${count(recentlyUsed)} recently used key(s) (acknowledgeRecentlyUsedKeys: ${recentlyUsed})` : '';
  return { to: 'AWAITING_APPROVAL', next: { what: `Approval by ${who}${ack}`, at: run.state.startedAt + run.cfg.approvalTimeoutMs } };
}

function planNotes(run: Run): string[] {
  const c = run.ledger.counts();
  const notes = [
    `Dry run: would schedule ${count(c.toSchedule)} keys with a ${run.cfg.pendingWindowInDays}-day window; ${count(c.alreadyPending)} already pending.`,
  ];
  if (run.needsConnect()) notes.push(`Would connect the store first (now ${run.state.store?.connectionState}) so KMS can delete the HSM key material.`);
  if (run.cfg.quietPeriodMs !== undefined && run.usage)
    notes.push(
      `Would disable ${count(run.ledger.toDisable().length)} Enabled key(s) for a quiet period of ${formatDuration(run.cfg.quietPeriodMs)} before scheduling.`,
    );
  return notes;
}
