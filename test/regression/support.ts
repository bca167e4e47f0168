import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, createCloudTrailClient, createKmsClient, createKmsRateLimiter, type ActivityDeps } from '../../src/activities';
import type { ResolveRequest } from '../../src/shared/types';
import { temporalAddress, workflowBundle, type Harness } from '../support/harness';

/**
 * Small helpers of the regression suite (test/regression). Everything here uses public pieces only:
 * the harness, the emulator's admin API, the client and the Temporal SDK.
 */

/**
 * The resolve request as the 0.2.0 contract wants it (`blockerId` names the blocker it answers).
 * When these tests are run against 8249dad to prove that they fail there, this one function is the
 * adaptation: the old resolve had no blockerId and rejected unknown fields.
 */
export function resolveRequest(request: ResolveRequest): ResolveRequest {
  return request;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A worker of our own on the harness's task queue (for tests that stop and start workers). */
export async function startWorker(h: Harness, deps: Partial<ActivityDeps> = {}): Promise<{ stop(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const sdkConfig = { endpoint: h.emulator.url, region: h.emulator.region, credentials: h.emulator.credentials };
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: h.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({
      kms: createKmsClient(sdkConfig),
      cloudTrail: createCloudTrailClient(sdkConfig),
      limiter: createKmsRateLimiter({ quotaScale: 0 }),
      ...deps,
    }),
  });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
        await connection.close();
      })();
      return stopped;
    },
  };
}

/** Stops the harness's own worker (the harness's close() then skips it) and waits until it is down. */
export async function stopHarnessWorker(h: Harness): Promise<void> {
  if (h.worker.getState() === 'RUNNING') h.worker.shutdown();
  while (h.worker.getState() !== 'STOPPED' && h.worker.getState() !== 'FAILED') await sleep(50);
}

/** Workflow history events of a run: does any workflow task fail (a domain error leaking into Temporal)? */
export async function workflowTaskFailures(h: Harness, workflowId: string): Promise<string[]> {
  const history = await h.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.workflowTaskFailedEventAttributes != null)
    .map((e) => `${e.eventId}: ${e.workflowTaskFailedEventAttributes?.failure?.message ?? '?'}`);
}
