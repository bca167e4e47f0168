import type { ResetGuarded } from './reset-guard';
/**
 * Usage evidence: what the run learns about whether anything still needs the store's keys, before and
 * while they are deleted. Pure types and functions, shared by the workflow (sandbox), the activities,
 * the client and the tests.
 */

import type { StoreInfo } from './types';

/** A key's last successful cryptographic use, as KMS `GetKeyLastUsage` reports it (dates in epoch ms). */
export interface KeyUsage {
  keyId: string;
  /** Last successful cryptographic operation (`Encrypt`, `Decrypt`, `GenerateDataKey`…); absent when none was recorded. */
  operation?: string;
  lastUsedAt?: number;
  /** CloudTrail `EventId` of that operation. */
  cloudTrailEventId?: string;
  /** When KMS began tracking this key's usage (the later of the Region's tracking start and the key's creation). */
  trackingStartDate?: number;
  keyCreationDate?: number;
  /** The key no longer exists (NotFoundException): deleted since the inventory. */
  gone?: boolean;
}

/**
 * How a key's recorded usage reads against the run's `recentUseWindow`:
 * - `USED_RECENTLY`: a successful cryptographic operation within the window — the approval must acknowledge it;
 * - `USED_BEFORE_WINDOW`: last used earlier than the window;
 * - `NOT_USED_SINCE_TRACKING`: no use recorded, and KMS has tracked the key since its creation;
 * - `UNKNOWN`: no use recorded, but the key was created before KMS began tracking: it may have been used before.
 */
export type UsageClass = 'USED_RECENTLY' | 'USED_BEFORE_WINDOW' | 'NOT_USED_SINCE_TRACKING' | 'UNKNOWN';

export const USAGE_CLASSES: readonly UsageClass[] = ['USED_RECENTLY', 'USED_BEFORE_WINDOW', 'NOT_USED_SINCE_TRACKING', 'UNKNOWN'];

/** Classifies one key's usage at `now` (workflow time) against a window of `windowMs`. */
export function classifyUsage(usage: Pick<KeyUsage, 'lastUsedAt' | 'trackingStartDate' | 'keyCreationDate'>, now: number, windowMs: number): UsageClass {
  if (usage.lastUsedAt !== undefined) return usage.lastUsedAt >= now - windowMs ? 'USED_RECENTLY' : 'USED_BEFORE_WINDOW';
  if (usage.trackingStartDate !== undefined && usage.keyCreationDate !== undefined && usage.keyCreationDate < usage.trackingStartDate) return 'UNKNOWN';
  return 'NOT_USED_SINCE_TRACKING';
}

/**
 * KMS operations that *use* a key. Only failures of these count as attempted use: the run's own calls
 * (a ScheduleKeyDeletion answered "is pending deletion", a DescribeKey) are management calls, never use.
 */
export const CRYPTOGRAPHIC_OPERATIONS: readonly string[] = [
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'Sign',
  'Verify',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
];

/**
 * CloudTrail `errorCode`s that mean "something tried to use a key this run is retiring": Disabled during
 * the quiet period, pending deletion during the waiting period. Both are watched in both periods: a key
 * disabled before the run counts as much as one this run disabled.
 */
export const ATTEMPTED_USE_ERROR_CODES: readonly string[] = ['DisabledException', 'KMSInvalidStateException'];

/**
 * Stores up to this size give the watch their key ARNs, so `auto` can fall back to per-key lookups (at most
 * 2 × keys LookupEvents calls a check); larger stores are always watched account-wide.
 */
export const PER_KEY_LOOKUP_MAX_KEYS = 200;

/** One failed cryptographic call on a key of the store, from CloudTrail. */
export interface AttemptedUse {
  eventId: string;
  /** CloudTrail `eventTime`, epoch ms (whole seconds). */
  eventTime: number;
  eventName: string;
  errorCode: string;
  keyId: string;
  /** Who called: `userIdentity.arn`, else `userIdentity.invokedBy` (an AWS service), else the access key id. */
  caller: string;
  sourceIPAddress?: string;
  userAgent?: string;
}

/**
 * How the attempted-use watch queries CloudTrail (LookupEvents takes one lookup attribute per request):
 * - `account-wide`: one window of `EventSource = kms.amazonaws.com`, filtered locally — cost grows with
 *   the account's KMS traffic, not with the store's size;
 * - `per-key`: one `ResourceName = <key ARN>` lookup per key — cost grows with the store's size;
 * - `auto`: account-wide, falling back to per-key once the account-wide window needs more pages than the
 *   store has keys (only possible when the key ARNs are given): never more than twice the cheaper one.
 */
export type LookupStrategy = 'account-wide' | 'per-key' | 'auto';

/** Input of the `findAttemptedUse` activity. */
export interface FindAttemptedUseInput {
  customKeyStoreId: string;
  /** ARNs of the store's keys: needed for `per-key` (and the `auto` fallback); omit for large stores. */
  keyArns?: string[];
  /** Inclusive CloudTrail `eventTime` bounds, epoch ms. */
  startTime: number;
  endTime: number;
  strategy: LookupStrategy;
  /** Report at most this many findings (newest first); `total` counts them all. Default 50. */
  maxFindings?: number;
  /** Event ids already reported: never reported again (the windows of two checks overlap by the delivery lag). */
  seenEventIds?: string[];
  /**
   * `<caller> → <keyId>` pairs an operator acknowledged: their events are left out before `maxFindings` applies,
   * so a noisy acknowledged caller can never hide a rare new one.
   */
  acknowledged?: string[];
  /**
   * Count acknowledged callers' events with `countAcknowledged.from <= eventTime < countAcknowledged.until`
   * (epoch ms). The workflow passes consecutive spans ending one delivery lag before now, so each event is
   * counted once, after CloudTrail has delivered it.
   */
  countAcknowledged?: { from: number; until: number };
}

/** The `acknowledged` form of a finding: who tried to use which key. */
export function callerKeyPair(f: Pick<AttemptedUse, 'caller' | 'keyId'>): string {
  return `${f.caller} → ${f.keyId}`;
}

/** Result of one attempted-use check, with what it cost (the benchmark reads `cost`). */
export interface FindAttemptedUseResult {
  findings: AttemptedUse[];
  /** Findings in the window (before `maxFindings`), not counting `seenEventIds` and acknowledged pairs. */
  total: number;
  /** Failed calls of acknowledged callers within `countAcknowledged`. */
  acknowledgedEvents: number;
  cost: {
    strategy: Exclude<LookupStrategy, 'auto'>;
    lookupCalls: number;
    /** CloudTrail events read (all pages). */
    eventsRead: number;
    /** DescribeKey calls made to tell whether an event's key belongs to the store. */
    describeCalls: number;
    elapsedMs: number;
  };
}

/** KMS's own `DeleteKey` event for a key of the store (`eventType` `AwsServiceEvent`). */
export interface DeletionEvidence {
  keyId: string;
  eventId: string;
  eventTime: number;
}

/** Input of the `findDeletionEvidence` activity: one slice of an account-wide `EventName = DeleteKey` lookup. */
export interface FindDeletionEvidenceInput {
  customKeyStoreId: string;
  startTime: number;
  endTime: number;
  /** CloudTrail `NextToken` of the previous slice. */
  nextToken?: string;
  /** LookupEvents pages read by this call before it returns with a `nextToken`. Default 40 (2,000 events). */
  maxPages?: number;
}

export interface FindDeletionEvidenceResult {
  /** `DeleteKey` service events whose key belonged to the store (by `additionalEventData.customKeyStoreId`). */
  evidence: DeletionEvidence[];
  nextToken?: string;
  lookupCalls: number;
}

/** Input of the `keyLastUsage` activity. */
export interface KeyLastUsageInput {
  keyIds: string[];
}

/** Input of the `disableKeys` activity (the quiet period). */
export interface DisableKeysInput extends ResetGuarded {
  customKeyStoreId: string;
  keyIds: string[];
}

/**
 * One key of the quiet period: DISABLED = this activity disabled it (it read Enabled); NOT_ENABLED = it
 * was not Enabled (left alone, `priorState` says what it was); GONE = deleted; NOT_IN_STORE = no longer
 * the store's key (never touched).
 */
export interface DisableOutcome {
  keyId: string;
  outcome: 'DISABLED' | 'NOT_ENABLED' | 'GONE' | 'NOT_IN_STORE';
  priorState?: string;
}

export interface DisableKeysResult {
  outcomes: DisableOutcome[];
  /**
   * Only in the details of a failed or cancelled batch: keys a DisableKey was sent for without an answer (it
   * may have landed). Keys of the batch in neither list were never touched.
   */
  sent?: string[];
}

/** Where the attempted-use watch stands: carried by the workflow, advanced by the `watchPeriod` activity. */
export interface UsageWatchCursor {
  /** Events from here on count. */
  since: number;
  /** CloudTrail was read up to here by the last check. */
  checkedUntil?: number;
  /** When the next check is due (epoch ms). */
  nextCheckAt: number;
  /** Acknowledged callers' events are counted up to here. */
  acknowledgedCountedUntil?: number;
  /** Event ids already reported (bounded). */
  seenEventIds: string[];
}

/** Input of the `watchPeriod` activity: one wait of the quiet or waiting period, watched without history per check. */
export interface WatchPeriodInput {
  customKeyStoreId: string;
  /** Watch until the wall clock reaches this epoch ms. */
  untilMs: number;
  /** CloudHSM: DescribeCustomKeyStores every `pollIntervalMs`; omitted, the connection is not watched. */
  connection?: { pollIntervalMs: number };
  /** The attempted-use watch; omitted, CloudTrail is not read. */
  usage?: {
    cursor: UsageWatchCursor;
    intervalMs: number;
    /** CloudTrail's delivery lag: each check re-reads this much of the previous window. */
    lagMs: number;
    acknowledged: string[];
    /** For stores small enough to fall back to per-key lookups (see `LookupStrategy` `auto`). */
    keyArns?: string[];
  };
}

/** What a `watchPeriod` found, and how far its checks got. */
export interface WatchPeriodResult {
  /**
   * UNTIL: nothing found up to `untilMs`; NOT_CONNECTED / GONE: a connection check saw the store not CONNECTED
   * or deleted; KEY_IN_USE: a CloudTrail check found attempted use (in `usage.found`).
   */
  outcome: 'UNTIL' | 'NOT_CONNECTED' | 'GONE' | 'KEY_IN_USE';
  store?: StoreInfo;
  lastSeenConnectedAt?: number;
  firstSeenNotConnectedAt?: number;
  connectionChecks: number;
  usage?: {
    cursor: UsageWatchCursor;
    checks: number;
    lookupCalls: number;
    /** Attempted uses counted by these checks, acknowledged callers' included. */
    counted: number;
    /** KEY_IN_USE: what the check found (at most 50, newest first) and how many in all. */
    found: AttemptedUse[];
    foundTotal: number;
    /** The slowest check of this watch (to tell a watch that cannot keep up). */
    slowest?: FindAttemptedUseResult['cost'];
  };
}
