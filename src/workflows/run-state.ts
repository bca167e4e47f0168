import type { NotificationRecord } from '../shared/notifications';
import type { ApprovalPolicy } from '../shared/policy';
import type { AuditRecord, Blocker, NormalizedInput, Phase, ResolveAction, StoreInfo } from '../shared/types';
import type { AttemptedUse, UsageClass } from '../shared/usage';

/** Bumped whenever {@link RunState}'s meaning changes (then a resumed run of an older version needs a migration; 2 is the first). */
export const RUN_STATE_SCHEMA_VERSION = 2;

/**
 * Everything a run knows besides the key ledger: carried across continue-as-new together with the
 * request exactly as it was sent, so a tightened validator never fails a run already in flight.
 */
export interface RunState {
  schemaVersion: typeof RUN_STATE_SCHEMA_VERSION;
  /** The request as normalised when the run began (defaults applied then, not re-derived later). */
  cfg: NormalizedInput;
  /** The deployment's approval policy, loaded once at the start of the run. */
  policy?: ApprovalPolicy;
  /** The runbook step the run is in; only the run loop changes it. BLOCKED is a pause inside a phase. */
  phase: Phase;
  store?: StoreInfo;
  startedAt: number;
  decisions: AuditRecord[];
  approvedBy?: string;
  cancel?: { by: string; reason: string; at: number };
  /** Why the run ended CANCELLED when nobody cancelled it (approval timed out). */
  endReason?: string;
  /** The blocker the run is paused on, if any. */
  blocker?: Blocker;
  /** Blockers raised so far: the suffix of the next blocker's id. */
  blockerCount: number;
  scannedKeys: number;
  scheduling?: { startedAt: number; finishedAt?: number };
  continuedAsNew: number;
  notes: string[];
  /** The operator chose to go on with a CloudHSM store that is not CONNECTED. */
  proceedDisconnected: boolean;
  /** An explicit `reconnect` decision overrides `reconnect: false` in the request. */
  reconnectApproved: boolean;
  notConnectedSince?: number;
  /** Last check that saw the store CONNECTED: a disconnect found later may have happened any time after it. */
  lastSeenConnectedAt?: number;
  /** Windows in which the store may have been not CONNECTED: [from, to or null while open]. */
  disconnectedIntervals: [number, number | null][];
  nextDriftCheckAt?: number;
  verifyExtensionMs: number;
  deleteRounds: number;
  lastError?: string;
  /** The store was deleted outside this workflow and the operator chose to proceed. */
  storeDeleted?: boolean;
  /** This run asked KMS to connect the store: a change in KMS even when no key was touched. */
  connectRequested?: boolean;
  /** Why the run failed (before any change): the FAILED phase fails the workflow with it. */
  failure?: { type: string; message: string };
  /** Temporal's cancel arrived after every key was deleted: recorded, and the teardown finished. */
  temporalCancelIgnored?: boolean;
  /** Usage evidence (0.3.0 on); absent in runs that began on older code, which gather none. */
  usage?: UsageState;
  /** Verified identities and notifications (0.4.0 on); absent in runs that began on older code. */
  portal?: PortalState;
}

/** What a run started on 0.4.0 or later keeps about verified decisions and notifications. */
export interface PortalState {
  /** The requester's verified identity, when the deployment requires signed decisions. */
  requester?: { subject: string; name?: string };
  /** `jti` of every signed decision accepted (bounded by the number of decisions): a signature is used once. */
  decisionIds: string[];
  /** One record per notified transition, in order: the dedupe ledger that makes each transition notify once. */
  notifications: NotificationRecord[];
}

/** A fresh {@link PortalState}. */
export function initialPortalState(): PortalState {
  return { decisionIds: [], notifications: [] };
}

/** What the run learned and decided about the use of the store's keys. */
export interface UsageState {
  /** When GetKeyLastUsage answered for every inventoried key. */
  checkedAt?: number;
  classes: Record<UsageClass, number>;
  /** Keys used within `recentUseWindow`, newest first (at most 20): what the approver reads. */
  recentKeys: { keyId: string; operation?: string; lastUsedAt?: number; cloudTrailEventId?: string }[];
  /** The quiet period: when disabling began, when all keys were disabled and the wait ends, when it ended. */
  quiet?: { startedAt: number; disabled: number; endsAt?: number; endedAt?: number };
  /** The attempted-use watch over CloudTrail. */
  watch: {
    /** Events from here on count (the start of the quiet period, or of scheduling). */
    since?: number;
    checks: number;
    checkedUntil?: number;
    nextCheckAt?: number;
    lookupCalls: number;
    findings: number;
    /** `caller → keyId` pairs an operator acknowledged with `proceed`. */
    acknowledged: string[];
    /** Event ids already reported (bounded): overlapping windows never report one twice. */
    seenEventIds: string[];
    /** Who turned the watch off after it failed (`proceed` on its STEP_FAILED blocker). */
    stoppedBy?: string;
    /** A check took longer than the interval once (noted in the report). */
    slowNoted?: boolean;
    /** Acknowledged callers' events are counted up to here (one delivery lag behind the checks). */
    acknowledgedCountedUntil?: number;
  };
  /** Attempted uses found (first 100), for the report. */
  attempted: AttemptedUse[];
  /** DeleteKey CloudTrail events of the deleted keys. */
  evidence?: { found: number; of: number; scannedUntil?: number; waitUntil?: number; lookupCalls: number; done: boolean };
}

/** A fresh {@link UsageState}. */
export function initialUsageState(): UsageState {
  return {
    classes: { USED_RECENTLY: 0, USED_BEFORE_WINDOW: 0, NOT_USED_SINCE_TRACKING: 0, UNKNOWN: 0 },
    recentKeys: [],
    watch: { checks: 0, lookupCalls: 0, findings: 0, acknowledged: [], seenEventIds: [] },
    attempted: [],
  };
}

/** The second argument of a continued run: the state, next to the raw request and the ledger chunks. */
export interface CarriedRun {
  schemaVersion: typeof RUN_STATE_SCHEMA_VERSION;
  state: RunState;
  /**
   * The run that continued as new (0.4.0 on): the next run accepts this state only if it continues from exactly
   * that run. A server-generated run ID cannot be known when someone forges a start, so forged state never matches.
   */
  writtenByRunId?: string;
}

/** A decision that answers a blocker, taken from the `resolve` update. */
export interface Resolution {
  by: string;
  action: ResolveAction;
  blockerId: string;
  comment?: string;
}

export function initialState(cfg: NormalizedInput, now: number): RunState {
  return {
    schemaVersion: RUN_STATE_SCHEMA_VERSION,
    cfg,
    phase: 'VALIDATING',
    startedAt: now,
    decisions: [{ what: 'requested', by: cfg.requestedBy, at: now, detail: cfg.ticket }],
    blockerCount: 0,
    scannedKeys: 0,
    continuedAsNew: 0,
    notes: [],
    proceedDisconnected: false,
    reconnectApproved: false,
    disconnectedIntervals: [],
    verifyExtensionMs: 0,
    deleteRounds: 0,
  };
}
