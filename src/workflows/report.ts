import { REPORT_INLINE_KEYS, type DecommissionReport, type DecommissionStatus, type NormalizedInput } from '../shared/types';
import type { RunState } from './run-state';
import type { KeyLedger } from './ledger';

export interface ReportInput {
  outcome: DecommissionReport['outcome'];
  reason?: string;
  cfg: NormalizedInput;
  state: RunState;
  status: DecommissionStatus;
  ledger: KeyLedger;
  endedAt: number;
}

/**
 * The run's result. For CloudHSM it lists keys whose DeletionDate fell inside an interval in which the
 * store was seen not CONNECTED (from the last check that saw it connected): KMS could not have deleted
 * their HSM material, which is then orphaned under label = key ARN.
 */
export function buildReport({ outcome, reason, cfg, state, status, ledger, endedAt }: ReportInput): DecommissionReport {
  const store = state.store;
  const notes = [...state.notes];
  let possiblyOrphanedKeyArns: string[] | undefined;
  let storeConnectedThroughout: boolean | undefined;
  if (store?.type === 'AWS_CLOUDHSM' && outcome !== 'DRY_RUN_COMPLETE') {
    const intervals = state.disconnectedIntervals;
    storeConnectedThroughout = intervals.length === 0;
    possiblyOrphanedKeyArns = ledger
      .all()
      .filter((e) => e.confirmedDeletedAt !== undefined && e.deletionDate !== undefined)
      .filter((e) => intervals.some(([from, to]) => (e.deletionDate as number) >= from - 1 && (to === null || (e.deletionDate as number) <= to)))
      .map((e) => e.arn);
    if (possiblyOrphanedKeyArns.length > 0) {
      notes.push(
        `${possiblyOrphanedKeyArns.length} key(s) reached their DeletionDate while the store was not CONNECTED: their HSM key material may be orphaned in cluster ${store.cloudHsmClusterId ?? ''} (find it by label = key ARN; check CloudTrail DeleteKey backingKeysDeletionStatus).`,
      );
    }
    if (outcome === 'COMPLETED')
      notes.push('CloudHSM cluster backups still hold copies of the deleted key material; delete or expire them per your retention policy.');
  }
  if (store?.type === 'EXTERNAL_KEY_STORE' && outcome === 'COMPLETED') {
    notes.push('External keys remain in the external key manager: KMS never deletes them; retire them there if no longer needed.');
  }
  return {
    outcome,
    customKeyStoreId: cfg.customKeyStoreId,
    store,
    ticket: cfg.ticket,
    pendingWindowInDays: cfg.pendingWindowInDays,
    startedAt: state.startedAt,
    endedAt,
    decisions: state.decisions,
    counts: status.counts,
    earliestDeletionDate: status.earliestDeletionDate,
    latestDeletionDate: status.latestDeletionDate,
    storeConnectedThroughout,
    disconnectedWindows:
      store?.type === 'AWS_CLOUDHSM' && outcome !== 'DRY_RUN_COMPLETE'
        ? state.disconnectedIntervals.map(([from, to]) => (to === null ? { from } : { from, to }))
        : undefined,
    possiblyOrphanedKeyArns,
    notes,
    ...(state.usage ? { usage: status.usage, attemptedUses: state.usage.attempted } : {}),
    reason,
    keyCount: ledger.size,
    keys: ledger.reportKeys(0, REPORT_INLINE_KEYS),
    keysTruncated: ledger.size > REPORT_INLINE_KEYS,
  };
}
