import type { WorkflowService } from '@temporalio/client';
import type { LiveReplicas } from './quota-share';

// Enum values of Temporal's API (temporal.api.enums.v1), spelled out so that this module needs only the client.
const WORKER_STATUS_SHUTDOWN = 3;
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** Where to look for the replicas: the task queue every replica polls. */
export interface ReplicaDiscoveryOptions {
  namespace: string;
  taskQueue: string;
  /** This replica's worker identity: its own entry proves the server records heartbeats. */
  self: string;
  /** A worker whose last heartbeat is older than this is gone (three heartbeat intervals). */
  heartbeatStaleMs: number;
  /**
   * A poller whose last poll is older than this (relative to the newest poll seen) is gone. It must exceed the
   * server's long-poll timeout (about a minute): an idle replica re-polls only that often.
   */
  pollerStaleMs?: number;
  now?: () => number;
}

/** Default {@link ReplicaDiscoveryOptions.pollerStaleMs}: above the server's one-minute long poll. */
export const DEFAULT_POLLER_STALE_MS = 70_000;

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

function millis(ts: Timestamp): number {
  if (!ts) return -Infinity;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/**
 * Replicas that sent a worker heartbeat (ListWorkers) recently and have not shut down. Undefined when the server
 * does not answer ListWorkers or does not list this replica (worker heartbeats off): the caller falls back to
 * {@link pollingReplicas}.
 */
export async function heartbeatingReplicas(service: WorkflowService, options: ReplicaDiscoveryOptions): Promise<LiveReplicas | undefined> {
  const now = (options.now ?? Date.now)();
  const identities = new Set<string>();
  let nextPageToken: Uint8Array | undefined;
  try {
    do {
      const page = await service.listWorkers({
        namespace: options.namespace,
        pageSize: 200,
        query: `TaskQueue = '${options.taskQueue.replace(/'/g, "\\'")}'`,
        nextPageToken,
      });
      for (const info of page.workersInfo ?? []) {
        const hb = info.workerHeartbeat;
        if (!hb?.workerIdentity || hb.status === WORKER_STATUS_SHUTDOWN) continue;
        if (now - millis(hb.heartbeatTime) <= options.heartbeatStaleMs) identities.add(hb.workerIdentity);
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
  } catch {
    return undefined; // UNIMPLEMENTED, disabled by dynamic config, or not permitted: use the pollers
  }
  return identities.has(options.self) ? { identities: [...identities], source: 'heartbeats' } : undefined;
}

/**
 * Replicas that polled the activity task queue recently (DescribeTaskQueue). Ages are measured from the newest
 * poll seen, not this host's clock, so clock skew between hosts does not matter.
 */
export async function pollingReplicas(service: WorkflowService, options: ReplicaDiscoveryOptions): Promise<LiveReplicas> {
  const answer = await service.describeTaskQueue({
    namespace: options.namespace,
    taskQueue: { name: options.taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TASK_QUEUE_TYPE_ACTIVITY,
  });
  const pollers = (answer.pollers ?? []).filter((p) => p.identity).map((p) => ({ identity: p.identity as string, at: millis(p.lastAccessTime) }));
  const newest = Math.max(...pollers.map((p) => p.at));
  const stale = options.pollerStaleMs ?? DEFAULT_POLLER_STALE_MS;
  return { identities: [...new Set(pollers.filter((p) => newest - p.at <= stale).map((p) => p.identity))], source: 'pollers' };
}

/** Live replicas from worker heartbeats when the server has them, else from the task queue's pollers. */
export async function liveReplicas(service: WorkflowService, options: ReplicaDiscoveryOptions): Promise<LiveReplicas> {
  return (await heartbeatingReplicas(service, options)) ?? pollingReplicas(service, options);
}
