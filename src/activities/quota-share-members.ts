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
   * A live worker whose heartbeats have shown no activity running for this long is idle: it does not take a share
   * (so the busy replicas use the whole quota between them). Default: `heartbeatStaleMs`.
   */
  idleAfterMs?: number;
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
export async function heartbeatingReplicas(
  service: WorkflowService,
  options: ReplicaDiscoveryOptions,
  lastBusy: Map<string, number> = new Map(),
  busySince: Map<string, number> = new Map(),
): Promise<LiveReplicas | undefined> {
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
        if (now - millis(hb.heartbeatTime) > options.heartbeatStaleMs) continue;
        identities.add(hb.workerIdentity);
        if ((hb.activityTaskSlotsInfo?.currentUsedSlots ?? 0) > 0) {
          const previous = lastBusy.get(hb.workerIdentity);
          if (previous === undefined || now - previous > (options.idleAfterMs ?? options.heartbeatStaleMs)) busySince.set(hb.workerIdentity, now);
          lastBusy.set(hb.workerIdentity, now);
        }
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
  } catch {
    return undefined; // UNIMPLEMENTED, disabled by dynamic config, or not permitted: use the pollers
  }
  if (!identities.has(options.self)) return undefined;
  const idleAfter = options.idleAfterMs ?? options.heartbeatStaleMs;
  for (const [identity, at] of lastBusy) {
    if (identities.has(identity) && now - at <= 10 * idleAfter) continue;
    lastBusy.delete(identity);
    busySince.delete(identity);
  }
  const busy = [...identities].filter((id) => now - (lastBusy.get(id) ?? -Infinity) <= idleAfter);
  return { identities: [...identities], busy, busySince: Object.fromEntries(busy.map((id) => [id, busySince.get(id) ?? now])), source: 'heartbeats' };
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
  const identities = [...new Set(pollers.filter((p) => newest - p.at <= stale).map((p) => p.identity))];
  // Pollers say nothing about work: every live replica counts as busy.
  return { identities, busy: identities, source: 'pollers' };
}

/**
 * Reads the live replicas from worker heartbeats when the server has them, else from the task queue's pollers.
 * Remembers when each replica last ran an activity, so one that is between two activities does not drop out.
 */
export function replicaDiscovery(service: WorkflowService, options: ReplicaDiscoveryOptions): () => Promise<LiveReplicas> {
  const lastBusy = new Map<string, number>();
  const busySince = new Map<string, number>();
  return async () => (await heartbeatingReplicas(service, options, lastBusy, busySince)) ?? pollingReplicas(service, options);
}
