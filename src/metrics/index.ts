export { Counter, MetricsRegistry, escapeLabelValue, type Labels, type Sample } from './registry';
export { createWorkerMetrics, serviceOf, type AwsCallObserver, type WorkerMetrics } from './worker-metrics';
export { OPEN_PHASES, runsByPhase } from './runs-by-phase';
export { freeLoopbackPort, startOpsServer, type Health, type OpsServer, type OpsServerOptions } from './ops-server';
