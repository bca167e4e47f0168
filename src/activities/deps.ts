import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { AwsCallObserver } from '../metrics/worker-metrics';
import type { DecisionVerifier } from '../decisions/signing';
import type { ApprovalPolicy } from '../shared/policy';
import type { ConcurrencyGate } from './concurrency-gate';
import type { DescribeThreads } from './describe-threads';
import type { NotifyActivityOptions } from './notify';
import type { KmsRateLimiter } from './rate-limiter';

/** Default {@link ActivityDeps.describeConcurrency}. */
export const DEFAULT_DESCRIBE_CONCURRENCY = 96;

/** What the activities need from the outside world; the worker builds them, tests inject their own. */
export interface ActivityDeps {
  /** A KMS client. Build it with `maxAttempts: 1`: retries go through the gateway (`aws-gateway.ts`) so every attempt is paced. */
  kms: KMSClient;
  /**
   * A CloudTrail client (`maxAttempts: 1`, like `kms`) for the usage-evidence activities. Without it,
   * `findAttemptedUse` and `findDeletionEvidence` fail non-retryably with type `CloudTrailNotConfigured`.
   */
  cloudTrail?: CloudTrailClient;
  /** Shared by every activity of the process: the KMS (and CloudTrail) quotas are account-wide. */
  limiter: KmsRateLimiter;
  /** Optional worker-wide cap on KMS requests in flight (memory, not rate). */
  gate?: ConcurrencyGate;
  /**
   * DescribeKey calls in flight during inventory and verification. Default 96: by Little's law, 2,000/s at
   * ~30 ms of latency needs 60 in flight; the shared limiter, not this number, caps the rate.
   */
  describeConcurrency?: number;
  /**
   * Sends DescribeKey from worker threads instead of `kms` (same endpoint and credentials): the SDK's CPU
   * cost per call otherwise caps an inventory on one thread. Pacing and retries still happen here.
   */
  describeThreads?: DescribeThreads;
  /** Concurrency of ScheduleKeyDeletion / CancelKeyDeletion calls in one activity. Default 4. */
  mutateConcurrency?: number;
  /**
   * Attempts of a throttled or transient KMS call inside an activity before the activity attempt fails,
   * for callers that do not heartbeat while they retry. Default 8.
   */
  maxCallAttempts?: number;
  /**
   * For callers that heartbeat while they retry (the inventory and drift scans): how long one call may
   * fail continuously with throttling or transient errors before the activity attempt fails (retryably).
   * Default 5 minutes.
   */
  retryBudgetMs?: number;
  /** The deployment's approval policy (`DEFAULT_APPROVAL_POLICY` when unset), served by `loadPolicy`. */
  policy?: ApprovalPolicy;
  /** Verifies the portal API's decision signatures (`DECISION_VERIFY_JWKS`); without it every signed decision is refused. */
  verifyDecision?: DecisionVerifier;
  /** Where `notify` sends notifications and what they link to (`notifyFromEnv`); without it `notify` sends nothing. */
  notify?: NotifyActivityOptions;
  /** Told of every AWS request `callKms` sends and its outcome (the worker's metrics); absent, nothing is counted. */
  metrics?: AwsCallObserver;
  /** Wall clock, injectable for tests. */
  now?: () => number;
}
