import type { WorkerOptions } from '@temporalio/worker';
import {
  CLOUDTRAIL_DEFAULT_QUOTAS,
  KMS_DEFAULT_QUOTAS,
  createActivities,
  createCloudTrailClient,
  createKmsClient,
  createKmsRateLimiter,
  type ActivityDeps,
  type PacedOperation,
} from './activities';
import { createConcurrencyGate } from './activities/concurrency-gate';
import { createDescribeThreads } from './activities/describe-threads';
import { notifyFromEnv } from './activities/notify-config';
import { QuotaShare, type QuotaShareStatus } from './activities/quota-share';
import { minQuietPeriodFromEnv } from './client/env';
import { DEFAULT_APPROVAL_POLICY, type ApprovalPolicy } from './shared/policy';
import { createDecisionVerifier, type DecisionVerifier } from './decisions/signing';
import type { JWK } from 'jose';
import { readFileSync } from 'node:fs';

/**
 * Worker options every worker of this project uses (the production worker and the test harness).
 *
 * Heartbeat throttling: a cancellation reaches an activity only in the answer to a heartbeat, and by
 * default the SDK sends heartbeats at most every 80% of the activity's heartbeatTimeout (16 s for the
 * 20 s batches). Capped at 1 s, a cancelled ScheduleKeyDeletion batch stops within about a second
 * instead of scheduling up to 16 s × 15/s = 240 more keys. The cost is one heartbeat RPC per second
 * per running activity.
 */
export const WORKER_TUNING = {
  /** Longest interval between two heartbeats sent to the server (SDK default 60 s; otherwise 80% of heartbeatTimeout). */
  maxHeartbeatThrottleInterval: 1_000,
  /** Interval for activities without a heartbeatTimeout (SDK default 30 s). */
  defaultHeartbeatThrottleInterval: 1_000,
} as const satisfies Pick<WorkerOptions, 'maxHeartbeatThrottleInterval' | 'defaultHeartbeatThrottleInterval'>;

/** A `true`/`false` env var; anything else is an Error naming the variable and the rule. */
export function envBoolean(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new Error(`${name} must be "true" or "false", got "${raw}"`);
}

/**
 * The deployment's approval policy (see `DEFAULT_APPROVAL_POLICY` for why it is the worker's, never the
 * request's): `DECOMMISSION_REQUIRE_APPROVAL` and `DECOMMISSION_ALLOW_SELF_APPROVAL`, each `true` or
 * `false`; unset means the default (approval required, never by the requester). `DECOMMISSION_MIN_QUIET_PERIOD`
 * (a duration such as `"1m"`) lowers the shortest quiet period a request may ask for; unset means 1 day.
 */
export function policyFromEnv(env: NodeJS.ProcessEnv = process.env): ApprovalPolicy {
  const minimumQuietPeriodMs = minQuietPeriodFromEnv(env);
  return {
    requireApproval: envBoolean('DECOMMISSION_REQUIRE_APPROVAL', DEFAULT_APPROVAL_POLICY.requireApproval, env),
    allowSelfApproval: envBoolean('DECOMMISSION_ALLOW_SELF_APPROVAL', DEFAULT_APPROVAL_POLICY.allowSelfApproval, env),
    ...(minimumQuietPeriodMs !== undefined ? { minimumQuietPeriodMs } : {}),
    requireSignedDecisions: envBoolean('DECOMMISSION_REQUIRE_SIGNED_DECISIONS', false, env),
  };
}

/**
 * The verifier of the portal API's decision signatures: the public JWKS from `DECISION_VERIFY_JWKS` (inline
 * JSON) or `DECISION_VERIFY_JWKS_FILE`. Undefined when neither is set; a policy that requires signed
 * decisions without one is a configuration error, refused at start rather than found by the first approval.
 */
export function decisionVerifierFromEnv(env: NodeJS.ProcessEnv = process.env, policy = policyFromEnv(env)): DecisionVerifier | undefined {
  const inline = env.DECISION_VERIFY_JWKS;
  const file = env.DECISION_VERIFY_JWKS_FILE;
  if (!inline && !file) {
    if (policy.requireSignedDecisions)
      throw new Error("DECOMMISSION_REQUIRE_SIGNED_DECISIONS=true needs DECISION_VERIFY_JWKS or DECISION_VERIFY_JWKS_FILE (the API's public JWKS)");
    return undefined;
  }
  let jwks: { keys: JWK[] };
  try {
    jwks = JSON.parse(inline || readFileSync(file as string, 'utf8')) as { keys: JWK[] };
  } catch (err) {
    throw new Error(`${inline ? 'DECISION_VERIFY_JWKS' : 'DECISION_VERIFY_JWKS_FILE'} must be a JSON Web Key Set ({"keys": [...]}): ${(err as Error).message}`);
  }
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error('DECISION_VERIFY_JWKS must hold at least one key ({"keys": [...]})');
  return createDecisionVerifier(jwks, { clockToleranceSeconds: envNumber('DECISION_CLOCK_TOLERANCE_SECONDS', 60, env) });
}

/** Numeric env var, with a clear error naming the variable when it is not a number. */
export function envNumber(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

/**
 * Activities wired from the environment: the AWS SDK's default credential chain, `AWS_REGION`,
 * `AWS_ENDPOINT_URL_KMS` and `AWS_ENDPOINT_URL_CLOUDTRAIL` (the emulator, when set; the SDK reads both), and
 * the pacing knobs:
 * - `KMS_QUOTA_SCALE`: multiply AWS's default quotas (raised quotas, or a scaled emulator); default 1;
 * - `KMS_QUOTA_UTILIZATION`: share of each quota this worker uses; default 0.97;
 * - `KMS_MAX_IN_FLIGHT`: KMS requests in flight across the worker (memory bound); default 128;
 * - `KMS_DESCRIBE_THREADS`: worker threads that send DescribeKey (inventory, verification); default 1, 0 = none.
 *   One JS thread cannot carry AWS's 2,000 DescribeKey/s (the SDK's CPU per call); each thread costs ~25 MiB.
 * - `KMS_QUOTA_SHARE`: `true` (default) or `false`: share the quotas with the other replicas of the task queue
 *   (`quotaShare`, started by the worker once it knows its identity; see {@link quotaShareFromEnv}).
 *
 * the approval policy ({@link policyFromEnv}) and the notification sinks and links (`notifyFromEnv`). Invalid values throw
 * before anything is built.
 *
 * Call `close()` when the worker has stopped.
 */
/**
 * `KMS_QUOTA_OVERRIDES`: per-operation paces in requests per second, final (neither scaled nor reduced by the
 * utilization), for an account with one raised quota, e.g. `GetKeyLastUsage=50,LookupEvents=4`.
 */
export function quotaOverridesFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Record<PacedOperation, number>> | undefined {
  const raw = env.KMS_QUOTA_OVERRIDES?.trim();
  if (!raw) return undefined;
  const known = new Set<string>([...Object.keys(KMS_DEFAULT_QUOTAS), ...Object.keys(CLOUDTRAIL_DEFAULT_QUOTAS)]);
  const overrides: Partial<Record<PacedOperation, number>> = {};
  for (const part of raw.split(',')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    const rate = Number(value);
    if (!name || !known.has(name) || value === undefined || value === '' || !Number.isFinite(rate) || rate <= 0) {
      throw new Error(`KMS_QUOTA_OVERRIDES must be <operation>=<requests per second>[,…] with operations from ${[...known].join(', ')}, got "${part}"`);
    }
    overrides[name as PacedOperation] = rate;
  }
  return overrides;
}

export function activitiesFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ActivityDeps> = {}) {
  const threads = envNumber('KMS_DESCRIBE_THREADS', 1, env);
  const policy = policyFromEnv(env);
  const limiter = createKmsRateLimiter({
    quotaScale: envNumber('KMS_QUOTA_SCALE', 1, env),
    utilization: envNumber('KMS_QUOTA_UTILIZATION', 0.97, env),
    overrides: quotaOverridesFromEnv(env),
  });
  const settings = quotaShareFromEnv(env);
  const notify = notifyFromEnv(env);
  // Unpaced (KMS_QUOTA_SCALE=0): nothing to share.
  const quotaShare =
    envBoolean('KMS_QUOTA_SHARE', true, env) && limiter.pacedOperations().length > 0
      ? new QuotaShare(limiter, { onChange: logShare, noticeMs: settings.noticeMs, leaseMs: settings.leaseMs })
      : undefined;
  const deps: ActivityDeps = {
    kms: createKmsClient(),
    // Usage evidence (CloudTrail LookupEvents), paced by the same limiter under CloudTrail's 2/s.
    cloudTrail: createCloudTrailClient(),
    // Each thread builds its KMS client from the same environment (region, endpoint, credential chain).
    describeThreads: threads > 0 ? createDescribeThreads(Math.round(threads)) : undefined,
    limiter: quotaShare ? quotaShare.pacing(limiter) : limiter,
    gate: createConcurrencyGate(envNumber('KMS_MAX_IN_FLIGHT', 128, env)),
    policy,
    verifyDecision: decisionVerifierFromEnv(env, policy),
    notify: notify.options,
    ...overrides,
  };
  // Throttles feed the share's backoff; the metrics (if any) still see every call.
  if (quotaShare) deps.metrics = quotaShare.observer(deps.metrics);
  return {
    activities: createActivities(deps),
    quotaShare,
    async close(): Promise<void> {
      await quotaShare?.stop();
      await deps.describeThreads?.close();
      deps.kms.destroy();
      deps.cloudTrail?.destroy();
      notify.close();
    },
  };
}

function logShare(status: QuotaShareStatus): void {
  const schedule = status.operations.ScheduleKeyDeletion;
  const how = status.mode === 'records' ? 'claims' : 'every live replica shares every quota';
  console.log(
    `quota share: ScheduleKeyDeletion shared by ${schedule?.replicas ?? 1} replica(s) (${status.live} live, from ${status.source}; ${how}), this one at ${schedule?.rate.toFixed(2)}/s`,
  );
}

/** How a worker finds the replicas it shares the quotas with (see {@link quotaShareFromEnv}). */
export interface QuotaShareSettings {
  /** How often the live replicas are read again. */
  refreshMs: number;
  /** Temporal worker heartbeat interval (Runtime option): how fast a replica's death shows. */
  heartbeatMs: number;
  /** A replica whose last heartbeat is older than this is gone. */
  heartbeatStaleMs: number;
  /** A quota record unchanged for this long belongs to a replica that is gone; its own replica stops calling 1 s before. */
  leaseMs: number;
  /**
   * How long a replica that publishes no record (pollers fallback, or the previous version during a rolling
   * upgrade, which read every 2 s) needs to see a replica that starts calling: a heartbeat, a read, and a margin.
   */
  noticeMs: number;
}

/**
 * - `KMS_QUOTA_SHARE_REFRESH_MS`: how often a replica reads the others' quota records and renews its own; default
 *   500 (a claim that ends reaches the others within about this time, so it bounds the quota left unused);
 * - `KMS_QUOTA_SHARE_HEARTBEAT_MS`: Temporal worker heartbeat interval (1000–60000); default 2000. A replica
 *   whose last heartbeat, or whose quota record, is older than three intervals is gone.
 */
export function quotaShareFromEnv(env: NodeJS.ProcessEnv = process.env): QuotaShareSettings {
  const heartbeatMs = envNumber('KMS_QUOTA_SHARE_HEARTBEAT_MS', 2_000, env);
  if (heartbeatMs < 1_000 || heartbeatMs > 60_000) throw new Error(`KMS_QUOTA_SHARE_HEARTBEAT_MS must be between 1000 and 60000, got "${heartbeatMs}"`);
  const refreshMs = envNumber('KMS_QUOTA_SHARE_REFRESH_MS', 500, env);
  if (refreshMs < 100) throw new Error(`KMS_QUOTA_SHARE_REFRESH_MS must be at least 100, got "${refreshMs}"`);
  // The lease must outlast a few missed refreshes: a replica stops calling 1 s before its record counts as gone.
  if (3 * heartbeatMs < 2 * refreshMs + 2_000)
    throw new Error(`KMS_QUOTA_SHARE_REFRESH_MS must be at most (3 × KMS_QUOTA_SHARE_HEARTBEAT_MS − 2000) / 2, got "${refreshMs}"`);
  return { refreshMs, heartbeatMs, heartbeatStaleMs: 3 * heartbeatMs, leaseMs: 3 * heartbeatMs, noticeMs: heartbeatMs + Math.max(refreshMs, 2_000) + 1_000 };
}

/** Where the worker serves its operations endpoint and the SDK's own metrics (see {@link opsFromEnv}). */
export interface OpsOptions {
  /** Port of `/metrics`, `/readyz`, `/livez`; 0 picks a free one (tests). */
  port: number;
  /** Whether METRICS_PORT was set: a port in use is then an error, not a fallback to a free port. */
  portExplicit: boolean;
  host: string;
  /** `host:port` of the SDK runtime's Prometheus exporter; `auto`: a free loopback port; undefined: off. */
  sdkBindAddress?: string;
}

/**
 * The operations endpoint from the environment:
 * - `METRICS_PORT` (default 9464) and `METRICS_HOST` (default `0.0.0.0`): `/metrics` (ours and the SDK's),
 *   `/readyz`, `/livez`. When METRICS_PORT is unset and 9464 is taken (several workers on one host, as in the
 *   tests and the benchmark), the worker serves on a free port and says so; when it is set, a taken port is fatal;
 * - `SDK_METRICS_BIND_ADDRESS` (default `auto`: a free loopback port): where the Temporal SDK runtime's
 *   Prometheus exporter listens; `/metrics` appends what it serves, so only METRICS_PORT needs to be reachable.
 *   Set `host:port` to scrape it directly too, or `off` to switch it off.
 */
export function opsFromEnv(env: NodeJS.ProcessEnv = process.env): OpsOptions {
  const port = envNumber('METRICS_PORT', 9464, env);
  if (!Number.isInteger(port) || port > 65_535) throw new Error(`METRICS_PORT must be a port number (0–65535), got "${env.METRICS_PORT}"`);
  const sdk = env.SDK_METRICS_BIND_ADDRESS === undefined || env.SDK_METRICS_BIND_ADDRESS === '' ? 'auto' : env.SDK_METRICS_BIND_ADDRESS;
  if (sdk !== 'off' && sdk !== 'auto' && !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(sdk)) {
    throw new Error(`SDK_METRICS_BIND_ADDRESS must be host:port, "auto" or "off", got "${sdk}"`);
  }
  return {
    port,
    portExplicit: env.METRICS_PORT !== undefined && env.METRICS_PORT !== '',
    host: env.METRICS_HOST || '0.0.0.0',
    sdkBindAddress: sdk === 'off' ? undefined : sdk,
  };
}

/** The URL to read the SDK exporter from this process: a wildcard bind address is read over loopback. */
export function sdkMetricsUrl(bindAddress: string): string {
  const host = bindAddress.slice(0, bindAddress.lastIndexOf(':'));
  const port = bindAddress.slice(bindAddress.lastIndexOf(':') + 1);
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return `http://${local}:${port}/metrics`;
}
