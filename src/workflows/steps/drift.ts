import type { DriftScan } from '../../activities';
import type { InventoriedKey } from '../../shared/types';
import { batch } from '../activity-stubs';
import { count } from '../render';
import type { Run, Transition } from '../run';
import { checkStore } from './connection';

/** Keys not pending deletion that one drift scan reports by ID (the total is always counted). */
const DRIFT_REPORT_KEYS = 1_000;
/** Key IDs a blocker lists. */
const BLOCKER_KEYS = 50;

const list = (ids: string[], total = ids.length) => `${ids.slice(0, 5).join(', ')}${total > 5 ? ', …' : ''}`;

/**
 * One whole-account scan for everything that would make finishing unsafe: the store gone or not
 * CONNECTED, scheduled keys no longer pending (someone cancelled them), keys new to the store.
 * Returns a transition when an operator's decision changed the plan.
 */
export async function driftCheck(run: Run): Promise<Transition | undefined> {
  run.progress({ what: 'Drift check: store state, scheduled keys, new keys' });
  const scan = await run.attempt('drift scan', () =>
    batch.driftScan.executeWithOptions({ summary: 'Drift check: store state, and DescribeKey every account key for store keys not pending deletion' }, [
      { customKeyStoreId: run.cfg.customKeyStoreId, maxReported: DRIFT_REPORT_KEYS },
    ]),
  );
  run.state.scannedKeys = scan.scanned;
  await checkStore(run, 'drift check', scan.store);
  return keyDrift(run, scan);
}

async function keyDrift(run: Run, scan: DriftScan): Promise<Transition | undefined> {
  const suspects = run.ledger.expectedPending(scan.notPending.map((k) => k.keyId)).map((e) => e.keyId);
  if (suspects.length > 0) {
    const confirmed = await confirmNotPending(run, suspects);
    if (confirmed.length > 0) return keysNotPending(run, confirmed);
  }
  const fresh = scan.notPending.filter((k) => !run.ledger.has(k.keyId));
  if (fresh.length > 0) return newKeys(run, fresh, scan.arnPrefix, scan.notPendingTotal - (scan.notPending.length - fresh.length));
  return undefined;
}

/** Stale reads lie: a key that reads "not pending" is re-read before anyone is asked. */
async function confirmNotPending(run: Run, keyIds: string[]): Promise<string[]> {
  const checks = await run.attempt('confirm drift', () =>
    batch.checkKeys.executeWithOptions({ summary: `Drift check: confirm ${count(keyIds.length)} key(s) no longer pending deletion` }, [
      { customKeyStoreId: run.cfg.customKeyStoreId, keyIds, confirmReads: 2, confirmDelayMs: Math.min(2_000, run.cfg.timing.verifyIntervalMs) },
    ]),
  );
  return run.ledger.applyChecks(checks, Date.now()).map((e) => e.keyId);
}

/** Scheduled keys someone cancelled: the store cannot be deleted while they exist. */
export async function keysNotPending(run: Run, ids: string[]): Promise<Transition> {
  await run.block({
    kind: 'KEYS_NOT_PENDING',
    message: `${count(ids.length)} scheduled key(s) are no longer pending deletion (cancelled outside this workflow): ${list(ids)}. The store cannot be deleted while they exist. Reschedule them (a second person must agree), or cancel.`,
    allowedActions: ['reschedule'],
    keyIds: ids.slice(0, BLOCKER_KEYS),
    keyCount: ids.length,
  });
  run.ledger.markForReschedule(ids);
  return { to: run.needsConnect() ? 'CONNECTING' : 'SCHEDULING' };
}

/** Keys in the store this run has never seen: created after the inventory, never approved for deletion. */
export async function newKeys(run: Run, fresh: InventoriedKey[], arnPrefix: string | undefined, total: number): Promise<Transition> {
  const ids = fresh.map((k) => k.keyId);
  await run.block({
    kind: 'NEW_KEYS',
    message: `${count(total)} key(s) appeared in the store after approval: ${list(ids, total)}. They were not approved for deletion and would block deleting the store. Schedule them (a second person must agree), or cancel.`,
    allowedActions: ['schedule-new-keys'],
    keyIds: ids.slice(0, BLOCKER_KEYS),
    keyCount: total,
  });
  run.ledger.addInventoried(fresh, arnPrefix);
  return { to: run.needsConnect() ? 'CONNECTING' : 'SCHEDULING' };
}
