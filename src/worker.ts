import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TASK_QUEUE } from './shared/messages';
import { activitiesFromEnv, envNumber, WORKER_TUNING } from './worker-options';

/**
 * The decommission worker. Temporal connection from `@temporalio/envconfig` (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, or a TOML profile); AWS from the SDK's default
 * chain. SIGINT/SIGTERM drain in-flight activities (the SDK installs those handlers).
 *
 * Production uses the prebuilt workflow bundle (`npm run build`); development bundles at start-up.
 */
async function main(): Promise<void> {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  const bundlePath = process.env.WORKFLOW_BUNDLE_PATH ?? path.resolve(__dirname, '..', 'workflow-bundle.js');
  const useBundle = process.env.NODE_ENV === 'production' || process.env.WORKFLOW_BUNDLE_PATH !== undefined;
  if (useBundle && !existsSync(bundlePath)) throw new Error(`Workflow bundle ${bundlePath} not found: run \`npm run build\` first`);
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = useBundle
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: require.resolve('./workflows') };
  const kms = activitiesFromEnv();
  try {
    const worker = await Worker.create({
      connection,
      namespace: namespace ?? 'default',
      taskQueue: process.env.TASK_QUEUE ?? TASK_QUEUE,
      ...workflowSource,
      activities: kms.activities,
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
    console.log(`kms-decommission worker polling task queue "${worker.options.taskQueue}" in namespace "${worker.options.namespace}"`);
    await worker.run();
  } finally {
    await kms.close();
    await connection.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
