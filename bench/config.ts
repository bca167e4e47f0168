/** Benchmark sizes and knobs. `quick` must finish in under 3 minutes; `full` in about 20 on a quiet 2-core machine. */

/** Every scenario name, in run order. */
export const SCENARIOS = ['inventory', 'schedule-rollback', 'schedule-large', 'concurrent', 'rss', 'baselines', 'lagging', 'usage-check'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/**
 * What a bare `npm run bench` runs. Only when named: `lagging` (issue 10's history at scale, ~15 min of
 * emulated days) and `usage-check` (issue 11's cost of one CloudTrail check, at CloudTrail's real quota
 * whatever `--quota-scale` says).
 */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter((s) => s !== 'lagging' && s !== 'usage-check');

export interface BenchSizes {
  /** Scenario 1: keys in the account, and how many of them are in the store. */
  inventoryAccountKeys: number;
  inventoryStoreKeys: number;
  /** Scenarios 2 and 3: one run schedules these keys, then is cancelled during the wait (rollback). */
  scheduleKeys: number;
  /** Scenario 2, the CloudHSM ceiling: a complete run. */
  largeScheduleKeys: number;
  /** Scenario 4: concurrent decommissions × keys each. */
  concurrentStores: number;
  concurrentKeysPerStore: number;
  /** Scenario 5: keys per store and the two concurrency levels of the RSS measurement. */
  rssKeysPerStore: number;
  rssRuns: number[];
  /** Scenario 6: keys the naive baselines schedule (same as `scheduleKeys` for a like-for-like comparison). */
  baselineKeys: number;
  /** Seconds of each emulator ceiling measurement. */
  ceilingSeconds: number;
  /** usage-check: the stores whose attempted-use check is measured (keys each; they share one account). */
  usageCheckStoreKeys: number[];
  /** usage-check: KMS events the busy account's 35-minute window holds. */
  usageCheckBusyEvents: number;
}

export interface BenchConfig {
  mode: 'quick' | 'full';
  /** Multiplies every emulator quota and the worker's pacing (KMS_QUOTA_SCALE). */
  quotaScale: number;
  /** The worker's KMS_QUOTA_UTILIZATION (its default). */
  utilization: number;
  latencyMs: number;
  jitterMs: number;
  sizes: BenchSizes;
  scenarios: ScenarioName[];
  /** Seed for the emulator's ids and latency jitter. */
  seed: number;
  /** Extra node command-line flags of the worker process (memory experiments); unset = as shipped. */
  workerNodeFlags?: string;
  /** Extra worker environment, applied last (experiments: pacing knobs). */
  workerEnv?: Record<string, string>;
  /** CPU-profile the worker during the inventory (costs it some speed) and summarise where its CPU went. */
  profileWorker?: boolean;
}

export const QUICK_SIZES: BenchSizes = {
  inventoryAccountKeys: 5_000,
  inventoryStoreKeys: 165,
  scheduleKeys: 150,
  largeScheduleKeys: 300,
  concurrentStores: 10,
  concurrentKeysPerStore: 20,
  rssKeysPerStore: 5,
  rssRuns: [10, 100],
  baselineKeys: 150,
  ceilingSeconds: 2,
  usageCheckStoreKeys: [30, 16_666],
  usageCheckBusyEvents: 2_000,
};

export const FULL_SIZES: BenchSizes = {
  inventoryAccountKeys: 100_000,
  inventoryStoreKeys: 3_300,
  scheduleKeys: 3_300,
  largeScheduleKeys: 16_666,
  concurrentStores: 10,
  concurrentKeysPerStore: 330,
  rssKeysPerStore: 20,
  rssRuns: [10, 100],
  baselineKeys: 1_000,
  ceilingSeconds: 5,
  usageCheckStoreKeys: [30, 16_666],
  usageCheckBusyEvents: 5_000,
};

/**
 * Default quota scales. Full: 3 × AWS's quotas (45 ScheduleKeyDeletion/s, 15 CancelKeyDeletion/s) keeps
 * the 16,666-key run near 6 minutes and the whole benchmark near 20. Quick: 2 ×.
 */
export const DEFAULT_SCALE = { quick: 2, full: 3 } as const;

/** Real milliseconds per emulated day for complete runs: the 7-day waiting period lasts 2.1 s. */
export const SHORT_DAY_MS = 300;

/** The emulator's quota rule: AWS default rate × scale, per operation (kept in step with src/emulator/quotas.ts). */
export const AWS_QUOTAS = { DescribeKey: 2000, ListKeys: 500, ScheduleKeyDeletion: 15, CancelKeyDeletion: 5, EnableKey: 5 } as const;

/** The worker's spacing between two calls of `operation`: 1 / (quota × scale × utilization), ms. */
export function pacedIntervalMs(operation: keyof typeof AWS_QUOTAS, cfg: Pick<BenchConfig, 'quotaScale' | 'utilization'>): number {
  return 1000 / (AWS_QUOTAS[operation] * cfg.quotaScale * cfg.utilization);
}

export function scaledQuota(operation: keyof typeof AWS_QUOTAS, scale: number): number {
  return AWS_QUOTAS[operation] * scale;
}
