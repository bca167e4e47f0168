import { Client } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { quotaMembership } from './activities/quota-share-members';
import { createWorkerMetrics, freeLoopbackPort, runsByPhase, startOpsServer, type Health } from './metrics';
import { TASK_QUEUE } from './shared/messages';
import { activitiesFromEnv, envNumber, opsFromEnv, quotaShareFromEnv, sdkMetricsUrl, WORKER_TUNING } from './worker-options';

/** What `/readyz` and `/livez` say about `worker` (undefined while it is being created). */
export function workerHealth(worker: Pick<Worker, 'getStatus'> | undefined): Health {
  if (!worker) return { ready: false, live: true, detail: 'starting' };
  const status = worker.getStatus();
  if (status.runState === 'FAILED') return { ready: false, live: false, detail: 'failed' };
  if (status.runState !== 'RUNNING') return { ready: false, live: true, detail: `shutting down (${status.runState})` };
  if (status.workflowPollerState !== 'POLLING' || status.activityPollerState !== 'POLLING') {
    return { ready: false, live: true, detail: `pollers: workflow ${status.workflowPollerState}, activity ${status.activityPollerState}` };
  }
  return { ready: true, live: true, detail: 'polling' };
}

/**
 * The decommission worker. Temporal connection from `@temporalio/envconfig` (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, or a TOML profile); AWS from the SDK's default
 * chain. SIGINT/SIGTERM drain in-flight activities (the SDK installs those handlers): `/readyz` answers 503
 * from the signal on, while activities get `shutdownGraceTime` to finish or checkpoint.
 *
 * `/metrics`, `/readyz`, `/livez` on METRICS_PORT (see `opsFromEnv`), from before the connection is made.
 * Production uses the prebuilt workflow bundle (`npm run build`); development bundles at start-up.
 */
async function main(): Promise<void> {
  const ops = opsFromEnv();
  const sdkBindAddress = ops.sdkBindAddress === 'auto' ? `127.0.0.1:${await freeLoopbackPort()}` : ops.sdkBindAddress;
  const share = quotaShareFromEnv();
  // Must come before the first connection: the runtime is created once per process. Worker heartbeats tell the
  // other replicas this one is alive (the quota share), every few seconds rather than the SDK's default minute.
  Runtime.install({
    workerHeartbeatInterval: share.heartbeatMs,
    ...(sdkBindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkBindAddress } } } } : {}),
  });
  const metrics = createWorkerMetrics();
  let worker: Worker | undefined;
  metrics.registry.gauge('kms_decommission_worker_ready', 'Whether this worker polls its task queue (what /readyz answers with 200)', () => [
    { labels: {}, value: workerHealth(worker).ready ? 1 : 0 },
  ]);
  const serverOptions = {
    port: ops.port,
    host: ops.host,
    registry: metrics.registry,
    health: () => workerHealth(worker),
    sdkMetricsUrl: sdkBindAddress ? sdkMetricsUrl(sdkBindAddress) : undefined,
  };
  const server = await startOpsServer(serverOptions).catch((err: NodeJS.ErrnoException) => {
    if (ops.portExplicit || err.code !== 'EADDRINUSE') throw err;
    console.warn(`Port ${ops.port} is in use (another worker on this host?): serving /metrics on a free port instead; set METRICS_PORT to choose`);
    return startOpsServer({ ...serverOptions, port: 0 });
  });
  console.log(`kms-decommission worker: /metrics, /readyz and /livez on ${server.url}`);
  try {
    const { connectionOptions, namespace } = loadClientConnectConfig();
    const connection = await NativeConnection.connect(connectionOptions);
    metrics.registry.gauge(
      'kms_decommission_runs',
      'Running decommissions in the namespace by phase (Temporal visibility; the same in every replica)',
      runsByPhase(new Client({ connection, namespace: namespace ?? 'default' })),
    );
    const bundlePath = process.env.WORKFLOW_BUNDLE_PATH ?? path.resolve(__dirname, '..', 'workflow-bundle.js');
    const useBundle = process.env.NODE_ENV === 'production' || process.env.WORKFLOW_BUNDLE_PATH !== undefined;
    if (useBundle && !existsSync(bundlePath)) throw new Error(`Workflow bundle ${bundlePath} not found: run \`npm run build\` first`);
    const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = useBundle
      ? { workflowBundle: { codePath: bundlePath } }
      : { workflowsPath: require.resolve('./workflows') };
    const kms = activitiesFromEnv(process.env, { metrics });
    try {
      worker = await Worker.create({
        connection,
        namespace: namespace ?? 'default',
        taskQueue: process.env.TASK_QUEUE ?? TASK_QUEUE,
        ...workflowSource,
        activities: metrics.instrument(kms.activities),
        // Every KMS call waits for one account-wide pacer, so more concurrent activities add no throughput,
        // only memory (100 concurrent inventories peaked at 638 MiB RSS with the SDK default of 100).
        maxConcurrentActivityTaskExecutions: envNumber('WORKER_MAX_CONCURRENT_ACTIVITIES', 20),
        // Runs sit idle for days; replaying a few hundred events on wake-up is cheaper than caching them all.
        maxCachedWorkflows: envNumber('WORKER_MAX_CACHED_WORKFLOWS', 100),
        // Long batches heartbeat; give them time to checkpoint before a deploy kills them.
        shutdownGraceTime: '20s',
        // Heartbeats at least every second: a cancelled batch stops within about a second.
        ...WORKER_TUNING,
      });
      if (kms.quotaShare) {
        // Before the first poll: the first activity already paces at this replica's share.
        const client = new Client({ connection, namespace: worker.options.namespace });
        const membership = quotaMembership(
          client.workflowService,
          {
            namespace: worker.options.namespace,
            taskQueue: worker.options.taskQueue,
            self: worker.options.identity,
            heartbeatStaleMs: share.heartbeatStaleMs,
          },
          (deadline, fn) => connection.withDeadline(deadline, fn),
        );
        await kms.quotaShare.start(membership, worker.options.identity, share.refreshMs);
        const quotaShare = kms.quotaShare;
        metrics.registry.gauge(
          'kms_decommission_quota_share_replicas',
          "Worker replicas counted for an operation's account-wide quota (those claiming it), this one included",
          () => Object.entries(quotaShare.status().operations).map(([operation, op]) => ({ labels: { operation }, value: op.replicas })),
        );
        metrics.registry.gauge('kms_decommission_quota_rate', "This replica's current pace per operation (requests per second)", () =>
          Object.entries(quotaShare.status().rates).map(([operation, value]) => ({ labels: { operation }, value: value as number })),
        );
      }
      console.log(`kms-decommission worker polling task queue "${worker.options.taskQueue}" in namespace "${worker.options.namespace}"`);
      await worker.run();
      console.log('kms-decommission worker stopped: in-flight tasks drained');
    } finally {
      await kms.close();
      await connection.close();
    }
  } finally {
    await server.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
