import type { Phase } from '../shared/types';

/** What a `cancel` does in a phase: accepted (and what happens then) or refused. */
export type CancelRule = { accepted: true; effect: string } | { accepted: false; reason: string };

/** One row of the runbook: what the phase does and what each operator message means in it. */
export interface PhaseSpec {
  does: string;
  cancel: CancelRule;
  approve: string;
  resolve: string;
}

const NOT_HERE = 'refused';
const ROLLBACK = 'restores every key this run (possibly) scheduled to its prior state, by reading it first';

/**
 * The phase machine as a table: the workflow's validators read it, the README prints it
 * (`renderPhaseTable`, kept identical by a test). BLOCKED is a pause inside one of these phases, so a
 * blocked run answers as the phase it blocked in, plus `resolve`.
 */
export const PHASES: Record<Phase, PhaseSpec> = {
  VALIDATING: {
    does: "Loads the deployment approval policy, checks the workflow ID is the store's, describes the store",
    cancel: { accepted: true, effect: 'ends CANCELLED; nothing was changed in KMS' },
    approve: NOT_HERE,
    resolve: NOT_HERE,
  },
  INVENTORY: {
    does: 'DescribeKey every key of the account (ListKeys has no store filter), then GetKeyLastUsage of every store key, classified against `recentUseWindow`; fails closed on any error retrying cannot fix',
    cancel: { accepted: true, effect: 'ends CANCELLED; nothing was changed in KMS' },
    approve: NOT_HERE,
    resolve: NOT_HERE,
  },
  AWAITING_APPROVAL: {
    does: 'Waits for `approve` until `approvalTimeout`, then ends CANCELLED',
    cancel: { accepted: true, effect: 'ends CANCELLED; nothing was changed in KMS' },
    approve:
      'accepted once, before the deadline, from someone other than the requester (unless the policy allows self-approval); with keys used within `recentUseWindow`, only with `acknowledgeRecentlyUsedKeys` = their count (even if the policy needs no approval)',
    resolve: NOT_HERE,
  },
  CONNECTING: {
    does: 'CloudHSM: connects the store (FAILED is disconnected first), so KMS can delete the HSM key material',
    cancel: { accepted: true, effect: `stops connecting, then ${ROLLBACK} (none on the first pass)` },
    approve: NOT_HERE,
    resolve: 'on CONNECT_FAILED / STORE_NOT_CONNECTED: `reconnect`, or `proceed` (four-eyes: HSM material may be orphaned)',
  },
  QUIET_PERIOD: {
    does: 'Only with `quietPeriod`: DisableKey every Enabled key (prior states recorded), then waits `quietPeriod` watching CloudTrail for DisabledException every `usageCheckInterval`',
    cancel: {
      accepted: true,
      effect: 'the disabling batch in flight stops before its next key, then ROLLING_BACK re-enables exactly the keys this run disabled, reading each first',
    },
    approve: NOT_HERE,
    resolve:
      'on KEY_IN_USE: `proceed` (four-eyes: acknowledges those callers on those keys); STEP_FAILED: `retry` (a failed attempted-use check also allows `proceed` without the watch, four-eyes)',
  },
  SCHEDULING: {
    does: 'ScheduleKeyDeletion in batches, each key re-checked to belong to the store, paced under 15/s account-wide',
    cancel: { accepted: true, effect: `the batch in flight stops before its next key, then ROLLING_BACK ${ROLLBACK}` },
    approve: NOT_HERE,
    resolve: 'on STEP_FAILED: `retry`',
  },
  WAITING: {
    does: 'Durable wait until the latest DeletionDate; store connection checked every `connectionCheckInterval`, drift scan every `driftCheckInterval`, CloudTrail searched for attempted use (KMSInvalidStateException) every `usageCheckInterval`',
    cancel: { accepted: true, effect: `ROLLING_BACK ${ROLLBACK}` },
    approve: NOT_HERE,
    resolve:
      'on KEY_IN_USE: `proceed` (four-eyes); a failed attempted-use check: `retry`, or `proceed` without the watch (four-eyes); NEW_KEYS: `schedule-new-keys` (four-eyes); KEYS_NOT_PENDING: `reschedule` (four-eyes); STORE_NOT_CONNECTED: `reconnect` or `proceed` (four-eyes); STORE_DELETED: `proceed` (four-eyes); STEP_FAILED: `retry`',
  },
  VERIFYING: {
    does: "DescribeKey of the scheduled keys until NotFound (KMS may lag 24 h), then KMS's DeleteKey CloudTrail events (waiting up to `cloudTrailDeliveryLag`), then a final inventory must find the store empty",
    cancel: { accepted: true, effect: `ROLLING_BACK of the keys still pending deletion; keys KMS already deleted are reported as gone; the store is kept` },
    approve: NOT_HERE,
    resolve: 'on VERIFY_TIMEOUT: `keep-waiting`; otherwise as in WAITING',
  },
  DISCONNECTING: {
    does: 'DisconnectCustomKeyStore and wait for DISCONNECTED (every key is confirmed deleted)',
    cancel: { accepted: false, reason: 'every key of the store is already deleted: there is nothing left to restore' },
    approve: NOT_HERE,
    resolve: 'on DISCONNECT_FAILED / STORE_DELETED: `retry` / `proceed`',
  },
  DELETING: {
    does: 'DeleteCustomKeyStore, confirmed by CustomKeyStoreNotFoundException (HasCMKs → back to VERIFYING)',
    cancel: { accepted: false, reason: 'every key of the store is already deleted: there is nothing left to restore' },
    approve: NOT_HERE,
    resolve: 'on DELETE_FAILED / STORE_DELETED: `retry` / `proceed`',
  },
  ROLLING_BACK: {
    does: 'CancelKeyDeletion / EnableKey per key until each is in its state before the run (keys the quiet period disabled: Enabled), paced under 5/s; a failure blocks (ROLLBACK_FAILED)',
    cancel: { accepted: false, reason: 'the run is already being cancelled' },
    approve: NOT_HERE,
    resolve: 'on ROLLBACK_FAILED: `retry`',
  },
  BLOCKED: {
    does: 'A pause inside the phase shown as `blockedIn`, until an operator resolves (naming the blocker id) or cancels',
    cancel: { accepted: true, effect: 'as in the phase it blocked in' },
    approve: NOT_HERE,
    resolve: "one of the blocker's `allowedActions`, naming its `id`",
  },
  COMPLETED: {
    does: 'Ended: every key deleted, the store disconnected and deleted',
    cancel: { accepted: false, reason: 'the run has ended' },
    approve: NOT_HERE,
    resolve: NOT_HERE,
  },
  DRY_RUN_COMPLETE: {
    does: 'Ended: the plan, nothing changed',
    cancel: { accepted: false, reason: 'the run has ended' },
    approve: NOT_HERE,
    resolve: NOT_HERE,
  },
  CANCELLED: {
    does: 'Ended: cancelled, every key this run scheduled restored or reported',
    cancel: { accepted: false, reason: 'the run has ended' },
    approve: NOT_HERE,
    resolve: NOT_HERE,
  },
  FAILED: {
    does: 'Ended before any change in KMS (e.g. AccessDenied during the inventory)',
    cancel: { accepted: false, reason: 'the run has ended' },
    approve: NOT_HERE,
    resolve: NOT_HERE,
  },
};

/** The order of the runbook, for the README table. */
export const RUNBOOK_ORDER: readonly Phase[] = [
  'VALIDATING',
  'INVENTORY',
  'AWAITING_APPROVAL',
  'CONNECTING',
  'QUIET_PERIOD',
  'SCHEDULING',
  'WAITING',
  'VERIFYING',
  'DISCONNECTING',
  'DELETING',
  'ROLLING_BACK',
  'BLOCKED',
  'COMPLETED',
  'DRY_RUN_COMPLETE',
  'CANCELLED',
  'FAILED',
];

/** The phase table as Markdown, exactly as the README shows it. */
export function renderPhaseTable(): string {
  const rows = RUNBOOK_ORDER.map((p) => {
    const spec = PHASES[p];
    const cancel = spec.cancel.accepted ? spec.cancel.effect : `refused: ${spec.cancel.reason}`;
    return `| \`${p}\` | ${spec.does} | ${cancel} | ${spec.approve} | ${spec.resolve} |`;
  });
  return ['| Phase | What it does | `cancel` | `approve` | `resolve` |', '|---|---|---|---|---|', ...rows].join('\n');
}
