import type { DurationInput } from './duration';

/** Where a decommission is. Stored in status and in the `DecommissionPhase` search attribute. */
export type Phase =
  | 'VALIDATING'
  | 'INVENTORY'
  | 'AWAITING_APPROVAL'
  | 'CONNECTING'
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
  /** Who asks for the decommission; an approver must be someone else unless `allowSelfApproval`. */
  requestedBy: string;
  /** KMS waiting period for every key, integer 7–30. Default 30. */
  pendingWindowInDays?: number;
  /** Inventory only, change nothing, and return the plan. Default false. */
  dryRun?: boolean;
  /** Wait for an `approve` update after the inventory. Default true. */
  requireApproval?: boolean;
  /** Let the requester approve their own decommission. Default false (four-eyes). */
  allowSelfApproval?: boolean;
  /** How long to wait for approval before ending CANCELLED. Default 7 days. */
  approvalTimeout?: DurationInput;
  /** Guardrail: stop before changing anything unless the store holds exactly this many keys. */
  expectedKeyCount?: number;
  /** Connect a DISCONNECTED or FAILED CloudHSM store before scheduling, so KMS can delete the HSM key material. Default true. */
  reconnect?: boolean;
  /** Change ticket or other reference shown in the UI and the report. */
  ticket?: string;
  timing?: DecommissionTiming;
}

/** {@link DecommissionInput} with every default applied and durations in milliseconds. */
export interface NormalizedInput {
  customKeyStoreId: string;
  requestedBy: string;
  pendingWindowInDays: number;
  dryRun: boolean;
  requireApproval: boolean;
  allowSelfApproval: boolean;
  approvalTimeoutMs: number;
  expectedKeyCount?: number;
  reconnect: boolean;
  ticket?: string;
  timing: {
    storePollIntervalMs: number;
    driftCheckIntervalMs: number;
    verifyIntervalMs: number;
    verifyPatienceMs: number;
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
}

/** Why the run is BLOCKED and what an operator may do about it. */
export interface Blocker {
  kind:
    | 'NEW_KEYS'
    | 'KEYS_NOT_PENDING'
    | 'STORE_NOT_CONNECTED'
    | 'CONNECT_FAILED'
    | 'STORE_DELETED'
    | 'VERIFY_TIMEOUT'
    | 'DISCONNECT_FAILED'
    | 'DELETE_FAILED'
    | 'STEP_FAILED';
  /** Precise, human description: which keys, which state, what would happen if ignored. */
  message: string;
  since: number;
  /** Actions `resolve` accepts for this blocker. `cancel` is always possible through the cancel update until DISCONNECTING. */
  allowedActions: ResolveAction[];
  /** Key IDs involved (first 50), e.g. the new keys found in the store. */
  keyIds?: string[];
  keyCount?: number;
  connectionState?: ConnectionState;
  connectionErrorCode?: string;
}

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
}

/** Arguments of the `cancel` update. */
export interface CancelRequest {
  by: string;
  reason: string;
}

/** Arguments of the `resolve` update. */
export interface ResolveRequest {
  by: string;
  action: ResolveAction;
  comment?: string;
}

/** A decision recorded in the report: who did what, when. */
export interface AuditRecord {
  what: 'requested' | 'approved' | 'cancelled' | 'resolved' | 'approval-timeout';
  by: string;
  at: number;
  detail?: string;
}

/** Answer of the `status` query. Small on purpose: safe to poll every second. */
export interface DecommissionStatus {
  customKeyStoreId: string;
  phase: Phase;
  /** Phase before BLOCKED, or the phase the run ended in. */
  previousPhase?: Phase;
  dryRun: boolean;
  store?: StoreInfo;
  requestedBy: string;
  approvedBy?: string;
  ticket?: string;
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
}

/** One key in the final report. */
export interface ReportKey {
  keyId: string;
  arn: string;
  aliases: string[];
  priorState: KeyState;
  /** How the key came to be pending: scheduled by this run, or already pending before it. */
  scheduledBy: 'this-run' | 'before-this-run' | 'not-scheduled';
  deletionDate?: number;
  /** When the workflow confirmed DescribeKey answers NotFoundException. */
  confirmedDeletedAt?: number;
  /** Set by rollback. */
  restoredState?: KeyState;
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
  /** CloudHSM keys whose HSM material may be orphaned (label = key ARN). */
  possiblyOrphanedKeyArns?: string[];
  /** Notes the operator must read: backups, external keys, anything done knowingly. */
  notes: string[];
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
