import type { NotificationRecord } from './notifications';
import type { ApprovalPolicy } from './policy';
import type { DurationInput } from './duration';
import type { AttemptedUse, UsageClass } from './usage';

/** Where a decommission is. Stored in status and in the `DecommissionPhase` search attribute. */
export type Phase =
  | 'VALIDATING'
  | 'INVENTORY'
  | 'AWAITING_APPROVAL'
  | 'CONNECTING'
  | 'QUIET_PERIOD'
  | 'SCHEDULING'
  | 'WAITING'
  | 'VERIFYING'
  | 'DISCONNECTING'
  | 'DELETING'
  | 'ROLLING_BACK'
  | 'BLOCKED'
  | 'COMPLETED'
  | 'DRY_RUN_COMPLETE'
  | 'CANCELLED'
  | 'FAILED';

/** Phases in which a run has ended. */
export const FINAL_PHASES: readonly Phase[] = ['COMPLETED', 'DRY_RUN_COMPLETE', 'CANCELLED', 'FAILED'];

export type CustomKeyStoreType = 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';
export type ConnectionState = 'CONNECTED' | 'CONNECTING' | 'DISCONNECTED' | 'DISCONNECTING' | 'FAILED';
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'Unavailable' | 'Creating' | 'Updating' | 'PendingImport' | 'PendingReplicaDeletion';

/** Tunable intervals. Each is milliseconds or a string such as "30s", "1h", "1 day". */
export interface DecommissionTiming {
  /** How often to poll the store's connection state while connecting or disconnecting. Default 30s. */
  storePollInterval?: DurationInput;
  /** How often to look for drift during the waiting period. Default 1 day. */
  driftCheckInterval?: DurationInput;
  /** How often to re-check keys once their DeletionDate has passed. Default 1 hour. */
  verifyInterval?: DurationInput;
  /** How long after the latest DeletionDate to wait for KMS to delete the keys before BLOCKED. Default 26 hours. */
  verifyPatience?: DurationInput;
  /**
   * How often a CloudHSM store's connection state is checked during the waiting period and verification,
   * apart from the daily drift scan: a store that drops its connection must be noticed before a
   * DeletionDate passes, or KMS cannot delete that key's HSM material. Default 5 minutes.
   */
  connectionCheckInterval?: DurationInput;
  /**
   * How often CloudTrail is searched for attempted use of the store's keys during the quiet period and the
   * waiting period. Each check covers the time since the previous one plus `cloudTrailDeliveryLag`. Default 15 minutes.
   */
  usageCheckInterval?: DurationInput;
  /**
   * How late CloudTrail may deliver an event (typically 5–15 minutes): each attempted-use check re-reads this
   * much of the previous window, and deletion evidence is awaited this long after the last key was confirmed
   * deleted. Default 20 minutes.
   */
  cloudTrailDeliveryLag?: DurationInput;
}

/**
 * Input of the `decommissionCustomKeyStore` workflow: one JSON object, validated field by field.
 * Unknown fields are rejected, so a typo never silently falls back to a default.
 *
 * @example
 * { "customKeyStoreId": "cks-1234567890abcdef0", "requestedBy": "alice", "pendingWindowInDays": 7, "ticket": "CHG-1042" }
 */
export interface DecommissionInput {
  /** The custom key store to retire (`cks-…`, 1–64 letters, digits or hyphens). */
  customKeyStoreId: string;
  /** Who asks for the decommission; an approver must be someone else (unless the deployment's policy allows self-approval). */
  requestedBy: string;
  /** KMS waiting period for every key, integer 7–30. Default 30. */
  pendingWindowInDays?: number;
  /** Inventory only, change nothing, and return the plan. Default false. */
  dryRun?: boolean;
  /** How long to wait for approval before ending CANCELLED. Default 7 days. */
  approvalTimeout?: DurationInput;
  /** Guardrail: stop before changing anything unless the store holds exactly this many keys. */
  expectedKeyCount?: number;
  /** Connect a DISCONNECTED or FAILED CloudHSM store before scheduling, so KMS can delete the HSM key material. Default true. */
  reconnect?: boolean;
  /** Change ticket or other reference shown in the UI and the report. */
  ticket?: string;
  /**
   * Keys whose last successful cryptographic use (KMS GetKeyLastUsage) falls within this window before the
   * inventory are "recently used": the run stops before any change until an approval acknowledges their
   * count. Default 30 days.
   */
  recentUseWindow?: DurationInput;
  /**
   * Optional "scream test": after approval, disable every Enabled key of the store and wait this long, watching
   * CloudTrail for attempted use, before scheduling deletion. Off by default; at most 90 days, at least the
   * deployment's minimum (1 day unless the worker's DECOMMISSION_MIN_QUIET_PERIOD says otherwise).
   */
  quietPeriod?: DurationInput;
  /** Watch CloudTrail for attempted use of the keys while they are disabled or pending deletion. Default true. */
  watchUsage?: boolean;
  timing?: DecommissionTiming;
  /**
   * Set by the portal API, never by people: a compact JWS by which the API vouches for this decision and the
   * verified identity of the person who made it (see `decisions.ts`). Deployments that require signed decisions
   * refuse requests without a valid one.
   */
  signature?: string;
}

/** {@link DecommissionInput} with every default applied and durations in milliseconds. */
export interface NormalizedInput {
  customKeyStoreId: string;
  requestedBy: string;
  pendingWindowInDays: number;
  dryRun: boolean;
  approvalTimeoutMs: number;
  expectedKeyCount?: number;
  reconnect: boolean;
  ticket?: string;
  /** Absent in runs started before 0.3.0 (they have no usage evidence). */
  recentUseWindowMs?: number;
  quietPeriodMs?: number;
  watchUsage?: boolean;
  timing: {
    storePollIntervalMs: number;
    driftCheckIntervalMs: number;
    verifyIntervalMs: number;
    verifyPatienceMs: number;
    connectionCheckIntervalMs: number;
    usageCheckIntervalMs?: number;
    cloudTrailDeliveryLagMs?: number;
  };
}

/** One rule an input field broke. */
export interface InputProblem {
  /** Dotted path of the field, e.g. `timing.verifyInterval`. */
  field: string;
  /** The rule, in words, with the offending value. */
  rule: string;
}

/** What the preflight learned about the store. */
export interface StoreInfo {
  customKeyStoreId: string;
  name: string;
  type: CustomKeyStoreType;
  connectionState: ConnectionState;
  connectionErrorCode?: string;
  cloudHsmClusterId?: string;
  xksProxyUriEndpoint?: string;
  xksProxyConnectivity?: string;
}

/** A key of the store as the inventory saw it. Kept small: thousands travel per activity result. */
export interface InventoriedKey {
  keyId: string;
  keyState: KeyState;
  /** Epoch ms; only for keys already pending deletion. */
  deletionDate?: number;
  aliases?: string[];
}

/** Outcome of scheduling one key. */
export interface ScheduleOutcome {
  keyId: string;
  /** SCHEDULED: this run scheduled it. ALREADY_PENDING: it was pending before this run touched it. GONE: deleted meanwhile. */
  outcome: 'SCHEDULED' | 'ALREADY_PENDING' | 'GONE';
  deletionDate?: number;
  /** State right before this run scheduled it (Enabled, Disabled or Unavailable). */
  priorState?: KeyState;
}

/** What a check of one scheduled key found. */
export interface KeyCheck {
  keyId: string;
  /** DELETED means DescribeKey answered NotFoundException. */
  status: 'PENDING' | 'DELETED' | 'NOT_PENDING';
  keyState?: KeyState;
  deletionDate?: number;
  customKeyStoreId?: string;
}

/** Result of checking a batch of keys, compact because most keys are simply "still pending" or "deleted". */
export interface KeyChecks {
  /** Keys for which DescribeKey answered NotFoundException. */
  deleted: string[];
  /** Keys no longer pending deletion (someone cancelled), with their state. */
  notPending: KeyCheck[];
  stillPending: number;
}

/** Outcome of rolling back one key. */
export interface RollbackOutcome {
  keyId: string;
  /** CANCELLED: deletion cancelled (and re-enabled if it was Enabled). NOT_PENDING: nothing to cancel. GONE: already deleted, cannot be restored. */
  outcome: 'CANCELLED' | 'NOT_PENDING' | 'GONE';
  restoredState?: KeyState;
  reEnabled?: boolean;
  /** What the rollback did to the key, across every attempt (a lost response is never done twice). */
  actions?: RollbackAction[];
  /** The key's state as read back at the end of the rollback. */
  finalState?: string;
}

/** A KMS call a rollback made to restore one key. */
export type RollbackAction = 'CancelKeyDeletion' | 'EnableKey';

interface BlockerBase {
  /** `<KIND>-<n>`: a `resolve` names it, so a late or duplicate resolve can never land on the next blocker. */
  id: string;
  /** Precise, human description: which keys, which state, what would happen if ignored. */
  message: string;
  since: number;
  /** Actions `resolve` accepts for this blocker; `cancel` is possible where the phase allows it (see the phase table). */
  allowedActions: ResolveAction[];
}

/** Keys involved in a blocker: the first 50 IDs and the total. */
interface KeyListFields {
  keyIds: string[];
  keyCount: number;
}

/** Why the run is BLOCKED and what an operator may do about it, by kind. */
export type Blocker =
  /** Keys appeared in the store after approval. */
  | (BlockerBase & KeyListFields & { kind: 'NEW_KEYS' })
  /** Keys this run expects pending deletion read otherwise: someone cancelled their deletion. */
  | (BlockerBase & KeyListFields & { kind: 'KEYS_NOT_PENDING' })
  /** KMS has not deleted the keys `verifyPatience` after the latest DeletionDate. */
  | (BlockerBase & KeyListFields & { kind: 'VERIFY_TIMEOUT' })
  /** Restoring keys failed: their deletion is still scheduled. */
  | (BlockerBase & KeyListFields & { kind: 'ROLLBACK_FAILED'; error: string })
  /** CloudHSM store not CONNECTED (or could not be connected): KMS could not delete the HSM key material. */
  | (BlockerBase & {
      kind: 'STORE_NOT_CONNECTED' | 'CONNECT_FAILED';
      connectionState: ConnectionState;
      connectionErrorCode?: string;
      /** Last check that saw the store CONNECTED: it may have been disconnected any time since. */
      lastSeenConnectedAt?: number;
    })
  /** The store was deleted outside this workflow. */
  | (BlockerBase & { kind: 'STORE_DELETED' })
  /**
   * CloudTrail shows something still trying to use keys of the store (failed with DisabledException or
   * KMSInvalidStateException): `findings` names the callers (first 10), `findingCount` counts them all.
   */
  | (BlockerBase & { kind: 'KEY_IN_USE'; findings: AttemptedUse[]; findingCount: number; keyCount: number })
  /** A step failed after its retries; `step` names it. */
  | (BlockerBase & { kind: 'DISCONNECT_FAILED' | 'DELETE_FAILED' | 'STEP_FAILED'; step: string; error: string });

/**
 * Operator decisions for a BLOCKED run:
 * - `schedule-new-keys`: schedule the keys found in the store after approval (counts as a new approval: four-eyes applies);
 * - `reschedule`: schedule again the keys someone cancelled (four-eyes applies);
 * - `reconnect`: connect the store again and keep it connected;
 * - `proceed`: go on knowingly (e.g. with a disconnected CloudHSM store: its HSM key material will be orphaned);
 * - `keep-waiting`: give KMS another `verifyPatience` to delete the keys;
 * - `retry`: run the failed step again.
 */
export type ResolveAction = 'schedule-new-keys' | 'reschedule' | 'reconnect' | 'proceed' | 'keep-waiting' | 'retry';

export const RESOLVE_ACTIONS: readonly ResolveAction[] = ['schedule-new-keys', 'reschedule', 'reconnect', 'proceed', 'keep-waiting', 'retry'];

/** Arguments of the `approve` update. */
export interface ApproveRequest {
  approver: string;
  comment?: string;
  /**
   * Required when the inventory found keys used within `recentUseWindow` (`status.usage.recentlyUsed`):
   * that exact count, as the approver's explicit acknowledgement that those keys are still in use.
   */
  acknowledgeRecentlyUsedKeys?: number;
  /**
   * Set by the portal API, never by people: a compact JWS by which the API vouches for this decision and the
   * verified identity of the person who made it (see `decisions.ts`). Deployments that require signed decisions
   * refuse requests without a valid one.
   */
  signature?: string;
}

/** Arguments of the `cancel` update. */
export interface CancelRequest {
  by: string;
  reason: string;
  /**
   * Set by the portal API, never by people: a compact JWS by which the API vouches for this decision and the
   * verified identity of the person who made it (see `decisions.ts`). Deployments that require signed decisions
   * refuse requests without a valid one.
   */
  signature?: string;
}

/** Arguments of the `resolve` update. */
export interface ResolveRequest {
  by: string;
  action: ResolveAction;
  /** The `status.blocker.id` this decision answers; a resolve naming any other blocker is refused. */
  blockerId: string;
  comment?: string;
  /**
   * Set by the portal API, never by people: a compact JWS by which the API vouches for this decision and the
   * verified identity of the person who made it (see `decisions.ts`). Deployments that require signed decisions
   * refuse requests without a valid one.
   */
  signature?: string;
}

/** A decision recorded in the report: who did what, when. */
export interface AuditRecord {
  what: 'requested' | 'approved' | 'cancelled' | 'resolved' | 'approval-timeout' | 'cancel-ignored';
  by: string;
  /** `by` is a subject verified from a signature of the portal API (deployments that require signed decisions). */
  verified?: true;
  /** The verified person's display name or email, for people to read (`by` is what rules compare). */
  name?: string;
  at: number;
  detail?: string;
}

/** Answer of the `status` query. Small on purpose: safe to poll every second. */
export interface DecommissionStatus {
  customKeyStoreId: string;
  phase: Phase;
  /** While BLOCKED: the phase the run blocked in. */
  previousPhase?: Phase;
  dryRun: boolean;
  store?: StoreInfo;
  requestedBy: string;
  approvedBy?: string;
  ticket?: string;
  /** The deployment's approval policy, as loaded by this run at its start. */
  policy?: ApprovalPolicy;
  /** Set once a cancel was accepted (or Temporal's cancel requested). */
  cancel?: { by: string; reason: string; at: number };
  counts: {
    inventoried: number;
    toSchedule: number;
    scheduled: number;
    alreadyPending: number;
    deleted: number;
    remaining: number;
    rolledBack: number;
  };
  /** Account keys DescribeKey'd by the latest inventory pass. */
  scannedKeys: number;
  /** Epoch ms. */
  earliestDeletionDate?: number;
  latestDeletionDate?: number;
  nextAction?: string;
  nextActionAt?: number;
  blocker?: Blocker;
  lastError?: string;
  startedAt: number;
  /** ScheduleKeyDeletion progress timing, for rate displays. */
  scheduling?: { startedAt: number; finishedAt?: number };
  continuedAsNew: number;
  /** Usage evidence gathered so far (absent in runs started before 0.3.0). */
  usage?: UsageSummary;
  /** The requester as verified from the portal API's signature (deployments that require signed decisions). */
  requester?: { subject: string; name?: string; verified: true };
  /** One record per notified transition (0.4.0 on, when a sink is configured): delivered, pending, or failed and why. */
  notifications?: NotificationRecord[];
  /**
   * This decommission's run chain: its first run ID, the same across continue-as-new (0.4.0 on). Decisions signed
   * by the portal API name it, so a decision about one decommission of a store is never applied to the next.
   */
  firstRunId?: string;
  /** KMS waiting period of every key this run schedules (0.4.0 on). */
  pendingWindowInDays?: number;
  /** When the approval window closes, epoch ms (0.4.0 on). */
  approvalDeadline?: number;
  /** The decisions so far, oldest first (0.4.0 on; at most the latest 50): who requested, approved, cancelled, resolved. */
  decisions?: AuditRecord[];
}

/** What the run knows about the use of the store's keys: status, Web UI and report. */
export interface UsageSummary {
  recentUseWindowMs: number;
  /** When GetKeyLastUsage answered for every inventoried key (undefined until then). */
  checkedAt?: number;
  /** Keys per usage class. */
  classes: Record<UsageClass, number>;
  /** Keys used within the window: the count an approval must acknowledge. */
  recentlyUsed: number;
  /** The most recently used keys (at most 20), newest first. */
  recentKeys: { keyId: string; operation?: string; lastUsedAt?: number; cloudTrailEventId?: string }[];
  /** The quiet period, when the request asked for one. */
  quietPeriod?: { ms: number; startedAt?: number; endsAt?: number; disabled: number; endedAt?: number };
  /** The attempted-use watch (CloudTrail), when on. */
  watch?: {
    checks: number;
    /** CloudTrail is read up to here (epoch ms). */
    checkedUntil?: number;
    lookupCalls: number;
    /** Attempted uses found so far (acknowledged ones included). */
    findings: number;
    /** `caller → key` pairs an operator acknowledged with `proceed`: no longer blocking. */
    acknowledged: number;
    /** Who turned the watch off after a check failed (no check ran after that). */
    stoppedBy?: string;
  };
  /** Deletion evidence: keys confirmed deleted for which KMS's DeleteKey CloudTrail event was found. */
  deletionEvidence?: { found: number; of: number; lookedUntil?: number; done: boolean };
}

/** One key in the final report. */
export interface ReportKey {
  keyId: string;
  arn: string;
  aliases: string[];
  priorState: KeyState;
  /**
   * How the key came to be pending: scheduled by this run; already pending before it; or found pending
   * after approval although this run had not seen its ScheduleKeyDeletion answered (a lost response of
   * this run's, or someone else's decision: a rollback restores it either way, reading it first).
   */
  scheduledBy: 'this-run' | 'before-this-run' | 'after-approval' | 'not-scheduled';
  deletionDate?: number;
  /** When the workflow confirmed DescribeKey answers NotFoundException. */
  confirmedDeletedAt?: number;
  /** Set by rollback. */
  restoredState?: KeyState;
  /** What the rollback did to this key (empty: nothing needed restoring). */
  rollbackActions?: RollbackAction[];
  /** Last successful cryptographic use as GetKeyLastUsage reported it at inventory, and its class. */
  usage?: { class: UsageClass; operation?: string; lastUsedAt?: number; cloudTrailEventId?: string };
  /** The quiet period disabled this key (a rollback re-enables it). */
  disabledByRun?: boolean;
  /** KMS's DeleteKey event for this key in CloudTrail, when found. */
  deletionEvidence?: { eventId: string; eventTime: number };
}

/** The decommission's result. For big stores, `keys` is paged through the `report` query (see the client's `getReport`). */
export interface DecommissionReport {
  outcome: 'COMPLETED' | 'DRY_RUN_COMPLETE' | 'CANCELLED' | 'FAILED';
  customKeyStoreId: string;
  store?: StoreInfo;
  ticket?: string;
  pendingWindowInDays: number;
  startedAt: number;
  endedAt: number;
  decisions: AuditRecord[];
  counts: DecommissionStatus['counts'];
  earliestDeletionDate?: number;
  latestDeletionDate?: number;
  /** CloudHSM: was the store CONNECTED at every check through the waiting period? */
  storeConnectedThroughout?: boolean;
  /**
   * CloudHSM: windows in which the store may not have been CONNECTED (epoch ms), from the last check that
   * saw it connected to the first that saw it connected again (`to` absent: it never reconnected).
   */
  disconnectedWindows?: { from: number; to?: number }[];
  /** CloudHSM keys whose HSM material may be orphaned (label = key ARN). */
  possiblyOrphanedKeyArns?: string[];
  /** Notes the operator must read: backups, external keys, anything done knowingly. */
  notes: string[];
  /** Usage evidence: last use at inventory, the quiet period, attempted uses found, deletion evidence. */
  usage?: UsageSummary;
  /** Attempted uses CloudTrail showed during the run (first 100), acknowledged or not. */
  attemptedUses?: AttemptedUse[];
  /** Why it ended CANCELLED or FAILED. */
  reason?: string;
  /** Total number of keys; `keys` holds them all when at most {@link REPORT_INLINE_KEYS}. */
  keyCount: number;
  keys: ReportKey[];
  keysTruncated: boolean;
}

/** Largest key list returned inline in a report or a query page (about 300 bytes a key: far below 256 KiB). */
export const REPORT_INLINE_KEYS = 200;

/** A page of report keys from the `reportKeys` query. */
export interface ReportKeysPage {
  keys: ReportKey[];
  total: number;
  nextOffset?: number;
}
