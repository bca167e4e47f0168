import { createActivities, createKmsClient, createKmsRateLimiter, type ActivityDeps } from './activities';
import { createConcurrencyGate } from './activities/concurrency-gate';
import { createDescribeThreads } from './activities/describe-threads';

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
 * `AWS_ENDPOINT_URL_KMS` (the emulator, when set), and the pacing knobs:
 * - `KMS_QUOTA_SCALE`: multiply AWS's default quotas (raised quotas, or a scaled emulator); default 1;
 * - `KMS_QUOTA_UTILIZATION`: share of each quota this worker uses; default 0.97;
 * - `KMS_MAX_IN_FLIGHT`: KMS requests in flight across the worker (memory bound); default 128;
 * - `KMS_DESCRIBE_THREADS`: worker threads that send DescribeKey (inventory, verification); default 1, 0 = none.
 *   One JS thread cannot carry AWS's 2,000 DescribeKey/s (the SDK's CPU per call); each thread costs ~25 MiB.
 *
 * Call `close()` when the worker has stopped.
 */
export function activitiesFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ActivityDeps> = {}) {
  const threads = envNumber('KMS_DESCRIBE_THREADS', 1, env);
  const deps: ActivityDeps = {
    kms: createKmsClient(),
    // Each thread builds its KMS client from the same environment (region, endpoint, credential chain).
    describeThreads: threads > 0 ? createDescribeThreads(Math.round(threads)) : undefined,
    limiter: createKmsRateLimiter({ quotaScale: envNumber('KMS_QUOTA_SCALE', 1, env), utilization: envNumber('KMS_QUOTA_UTILIZATION', 0.97, env) }),
    gate: createConcurrencyGate(envNumber('KMS_MAX_IN_FLIGHT', 128, env)),
    ...overrides,
  };
  return {
    activities: createActivities(deps),
    async close(): Promise<void> {
      await deps.describeThreads?.close();
      deps.kms.destroy();
    },
  };
}
