import { sleep } from '@temporalio/workflow';
import type { InventoriedKey } from '../../shared/types';
import { batch } from '../activity-stubs';
import { count, iso } from '../render';
import type { Run, Transition } from '../run';
import { checkStore } from './connection';
import { keysNotPending, newKeys } from './drift';
import { scanStore } from './inventory';
import { gatherDeletionEvidence } from './usage';
import { latestDeletionDate, waitWatchingStore } from './waiting';

/** Keys a verify round checks first: while KMS lags, a round costs this many DescribeKey, not every key's. */
const VERIFY_PROBE = 100;
/** Keys per checkKeys activity once KMS is deleting (DescribeKey is cheap: 2,000/s); about 80 KiB of input. */
const CHECK_BATCH = 2_000;
const BLOCKER_KEYS = 50;

/**
 * One verification round: DescribeKey of the keys awaiting deletion, earliest DeletionDate first. The
 * first probe is small; the round goes on in full batches only while KMS is deleting, so an hourly
 * round during a multi-day lag does not resend thousands of key IDs into history. Returns keys found no
 * longer pending (cancelled outside this workflow).
 */
async function verifyRound(run: Run): Promise<string[]> {
  const awaiting = run.ledger.awaitingDeletion().sort((a, b) => (a.deletionDate ?? 0) - (b.deletionDate ?? 0));
  const notPending: string[] = [];
  let size = VERIFY_PROBE;
  for (let i = 0; i < awaiting.length; i += size, size = CHECK_BATCH) {
    const keyIds = awaiting.slice(i, i + size).map((e) => e.keyId);
    const checks = await run.attempt('check keys', () =>
      batch.checkKeys.executeWithOptions(
        { summary: `Verify: DescribeKey scheduled keys ${count(i + 1)}–${count(i + keyIds.length)} of ${count(awaiting.length)}` },
        [{ customKeyStoreId: run.cfg.customKeyStoreId, keyIds, confirmReads: 2, confirmDelayMs: Math.min(2_000, run.cfg.timing.verifyIntervalMs) }],
      ),
    );
    notPending.push(...run.ledger.applyChecks(checks, Date.now()).map((e) => e.keyId));
    run.publish();
    if (checks.deleted.length === 0) break; // KMS has not moved on: the rest waits for the next round
  }
  return notPending;
}

/** VERIFYING: every scheduled key must answer NotFound, then a final inventory must find the store empty. */
export async function verifying(run: Run): Promise<Transition> {
  // The store's connection matters only while KMS still has keys (and their HSM material) to delete;
  // after a HasCMKs round trip the store is legitimately DISCONNECTED here.
  if (!run.state.storeDeleted && run.ledger.awaitingDeletion().length > 0) await checkStore(run, 'verification');
  for (;;) {
    const notPending = await verifyRound(run);
    if (notPending.length > 0) return keysNotPending(run, notPending);
    const remaining = run.ledger.awaitingDeletion().length;
    if (remaining === 0) break;
    const latest = latestDeletionDate(run) ?? Date.now();
    const deadline = latest + run.cfg.timing.verifyPatienceMs + run.state.verifyExtensionMs;
    if (Date.now() >= deadline) {
      const ids = run.ledger.awaitingDeletion().map((e) => e.keyId);
      await run.block({
        kind: 'VERIFY_TIMEOUT',
        message: `${count(remaining)} key(s) still exist ${Math.round((Date.now() - latest) / 60_000)} min after the latest DeletionDate (${iso(latest)}); KMS may lag up to 24 h. Keep waiting, or cancel.`,
        allowedActions: ['keep-waiting'],
        keyIds: ids.slice(0, BLOCKER_KEYS),
        keyCount: remaining,
      });
      run.state.verifyExtensionMs += run.cfg.timing.verifyPatienceMs;
      continue;
    }
    const wake = Math.min(deadline, Date.now() + run.cfg.timing.verifyIntervalMs);
    run.progress({ what: `Re-check ${count(remaining)} key(s) still pending deletion`, at: wake });
    await waitWatchingStore(run, wake, `Verify: ${count(remaining)} key(s) not yet deleted by KMS; re-check at ${iso(wake)}`);
    await run.continueAsNewIfSuggested();
  }
  if (run.usage) await gatherDeletionEvidence(run);
  return finalInventory(run);
}

/** The store must now be empty: anything left was created after approval (or missed) and blocks deletion. */
async function finalInventory(run: Run): Promise<Transition> {
  const left: { keys: InventoriedKey[]; arnPrefix?: string } = { keys: [] };
  await scanStore(run, 'Final inventory', false, (keys, arnPrefix) => {
    left.keys.push(...keys);
    left.arnPrefix ??= arnPrefix;
  });
  const fresh = left.keys.filter((k) => !run.ledger.has(k.keyId));
  if (fresh.length > 0) return newKeys(run, fresh, left.arnPrefix, fresh.length);
  if (left.keys.length > 0) {
    // A read from before the deletion (eventual consistency): verify those keys again.
    for (const key of left.keys) run.ledger.unconfirmDeletion(key.keyId);
    await sleep(run.cfg.timing.verifyIntervalMs, { summary: 'Final inventory still lists deleted keys: verify again' });
    return { to: 'VERIFYING' };
  }
  return { to: run.state.storeDeleted ? 'COMPLETED' : 'DISCONNECTING' };
}
