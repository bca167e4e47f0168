/** Shapes shared by the benchmark modules and written to `bench/results/latest.json`. */

/** How a scenario was driven (`activity`: one activity function run directly, outside a workflow). */
export type Approach = 'workflow' | 'sequential-sdk' | 'parallel-10-sdk' | 'activity';

/** Temporal's cost of one decommission run (all runs of a continue-as-new chain together). */
export interface TemporalCost {
  runs: number;
  historyEvents: number;
  historyBytes: number;
  eventsPerKey: number;
  bytesPerKey: number;
  /** Largest single payload anywhere in the history. */
  largestPayloadBytes: number;
  largestPayloadEvent?: string;
  /** Largest payload list of one event (what the 2 MB blob limit is checked against for inputs). */
  largestPayloadsBytes: number;
  continuedAsNew: number;
  /** Payload bytes (inputs + results) and count per activity type: where the history bytes go. */
  byActivity: Record<string, { count: number; payloadBytes: number }>;
}

/** Worker process memory, sampled from `/proc/<pid>/status` during the scenario. */
export interface WorkerMemory {
  /** VmRSS once the worker was polling, before any run. */
  startRssMiB: number;
  /** Highest VmRSS seen by the sampler, MiB. */
  peakRssMiB: number;
  /** VmHWM at the end (the kernel's own peak RSS since the process started), MiB. */
  hwmMiB: number;
  samples: number;
}

/** A target from the issue, evaluated on this scenario. */
export interface TargetCheck {
  description: string;
  met: boolean;
}

/** One row of the results. The first seven fields are the contract of the JSON file. */
export interface ScenarioResult {
  name: string;
  keys: number;
  /** Measured duration of the phase the scenario is about, seconds. */
  wallSeconds: number;
  /** The physical limit for that phase: calls ÷ scaled quota, seconds. */
  boundSeconds: number;
  /** Achieved call rate ÷ scaled quota, 0–1 (can exceed 1 only if the emulator let bursts through). */
  achievedRatePerQuota: number;
  /** ThrottlingException responses the emulator sent during the scenario (all operations). */
  throttled: number;
  /** Calls the caller finally gave up on (after its own retries): keys left undone. */
  failedCalls: number;
  title: string;
  approach: Approach;
  /** The KMS operation the rate is about. */
  operation: string;
  /** Scaled quota of that operation, requests per second. */
  quotaPerSecond: number;
  achievedPerSecond: number;
  /** Non-throttling error responses (from the audit log). */
  errors: number;
  /** Most successful calls of `operation` inside any 1 s window. */
  maxCallsInAnySecond?: number;
  /** Whole scenario, including setup of the run (inventory, approval, waiting…), seconds. */
  totalSeconds?: number;
  temporal?: TemporalCost;
  worker?: WorkerMemory;
  targets: TargetCheck[];
  notes: string[];
  /** Free-form figures specific to the scenario. */
  extra?: Record<string, number | string | boolean>;
}

/** A measured rate ceiling of the emulator on this machine. */
export interface CeilingMeasurement {
  operation: string;
  /** Calls in flight, over all client processes. */
  concurrency: number;
  /** Client processes the load was split over (absent in older results: 1). */
  processes?: number;
  perSecond: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

/** One point of the rate chart: calls in a 1 s bucket. */
export interface RateSeries {
  operation: string;
  /** Successful calls per 1 s bucket, from the scenario's first call. */
  ok: number[];
  throttled: number[];
  quotaPerSecond: number;
}

/** The whole JSON file. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  mode: 'quick' | 'full';
  quotaScale: number;
  utilization: number;
  latency: { latencyMs: number; jitterMs: number };
  /** Node flags the worker ran with, when not the default. */
  workerNodeFlags?: string;
  /** Extra worker environment, when set (experiments). */
  workerEnv?: Record<string, string>;
  machine: { cpus: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[]; node: string };
  ceilings: CeilingMeasurement[];
  scenarios: ScenarioResult[];
  chart: { title: string; series: RateSeries[] };
  findings: string[];
}
