import type { WorkflowService } from '@temporalio/client';
import { msNumberToTs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { QuotaClaim, QuotaMembership, QuotaRecord, QuotaSnapshot } from './quota-share';
import type { PacedOperation } from './rate-limiter';

// Enum values of Temporal's API (temporal.api.enums.v1), spelled out so that this module needs only the client.
const WORKER_STATUS_RUNNING = 1;
const WORKER_STATUS_SHUTDOWN = 3;
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/**
 * The `sdkName` of the quota records: each replica's record is a worker heartbeat of its own (next to the SDK's),
 * so `temporal worker list` shows one such entry per replica. Its plugins are the claims.
 */
export const QUOTA_RECORD_SDK_NAME = 'kms-decommission-quota-share';
/** Version of the record's encoding (the `sdkVersion` field): a reader skips records of a version it does not know. */
const QUOTA_RECORD_VERSION = '1';
const CLAIM_PREFIX = 'quota-claim/';

type WorkerHeartbeat = temporal.api.worker.v1.IWorkerHeartbeat;

/** Where to look for the replicas: the task queue every replica polls. */
export interface ReplicaDiscoveryOptions {
  namespace: string;
  taskQueue: string;
  /** This replica's worker identity. */
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

/** The instance key of a replica's quota record: one per identity, so a restarted replica replaces its old record. */
export function quotaRecordKey(identity: string): string {
  return `${QUOTA_RECORD_SDK_NAME}/${identity}`;
}

/**
 * A quota record as a worker heartbeat: the record's `seq` is the heartbeat time (readers only compare it for
 * change), one plugin per claim, named after the operation, whose version is the claim as JSON.
 */
export function encodeQuotaRecord(record: QuotaRecord, taskQueue: string): WorkerHeartbeat {
  return {
    workerInstanceKey: quotaRecordKey(record.identity),
    workerIdentity: record.identity,
    taskQueue,
    sdkName: QUOTA_RECORD_SDK_NAME,
    sdkVersion: QUOTA_RECORD_VERSION,
    status: record.stopped ? WORKER_STATUS_SHUTDOWN : WORKER_STATUS_RUNNING,
    heartbeatTime: msNumberToTs(record.seq),
    plugins: Object.entries(record.claims).map(([op, claim]) => ({ name: `${CLAIM_PREFIX}${op}`, version: JSON.stringify(claim) })),
  };
}

/** The quota record in a worker heartbeat; undefined for the SDK's own heartbeats and for records it cannot read. */
export function decodeQuotaRecord(hb: WorkerHeartbeat | null | undefined): QuotaRecord | undefined {
  if (!hb || hb.sdkName !== QUOTA_RECORD_SDK_NAME || hb.sdkVersion !== QUOTA_RECORD_VERSION || !hb.workerIdentity) return undefined;
  const claims: QuotaRecord['claims'] = {};
  for (const plugin of hb.plugins ?? []) {
    if (!plugin.name?.startsWith(CLAIM_PREFIX)) continue;
    try {
      const claim = JSON.parse(plugin.version ?? '') as QuotaClaim;
      if (typeof claim.epoch !== 'number' || typeof claim.counts !== 'object' || claim.counts === null) continue;
      claims[plugin.name.slice(CLAIM_PREFIX.length) as PacedOperation] = { epoch: claim.epoch, counts: claim.counts };
    } catch {
      continue; // a claim this reader cannot parse is no claim: the writer's AIMD covers it
    }
  }
  return { identity: hb.workerIdentity, seq: millis(hb.heartbeatTime), claims, stopped: hb.status === WORKER_STATUS_SHUTDOWN };
}

/**
 * The task queue's workers from worker heartbeats (ListWorkers): the live replicas (SDK heartbeats sent recently,
 * not shut down) and every replica's quota record. Undefined when the server does not answer ListWorkers (older
 * than 1.29, switched off, or not permitted): the caller falls back to {@link pollingReplicas}. `live` is
 * undefined when this replica's own SDK heartbeat is not listed (yet): the server may not record them.
 */
export async function heartbeatingReplicas(
  service: WorkflowService,
  options: ReplicaDiscoveryOptions,
): Promise<{ live?: string[]; records: QuotaRecord[] } | undefined> {
  const now = (options.now ?? Date.now)();
  const identities = new Set<string>();
  const records: QuotaRecord[] = [];
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
        if (hb?.sdkName === QUOTA_RECORD_SDK_NAME) {
          const record = decodeQuotaRecord(hb);
          if (record) records.push(record);
          continue;
        }
        if (!hb?.workerIdentity || hb.status === WORKER_STATUS_SHUTDOWN) continue;
        if (now - millis(hb.heartbeatTime) > options.heartbeatStaleMs) continue;
        identities.add(hb.workerIdentity);
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
  } catch {
    return undefined; // UNIMPLEMENTED, disabled by dynamic config, or not permitted: use the pollers
  }
  return { live: identities.has(options.self) ? [...identities] : undefined, records };
}

/**
 * Replicas that polled the activity task queue recently (DescribeTaskQueue). Ages are measured from the newest
 * poll seen, not this host's clock, so clock skew between hosts does not matter.
 */
export async function pollingReplicas(service: WorkflowService, options: ReplicaDiscoveryOptions): Promise<string[]> {
  const answer = await service.describeTaskQueue({
    namespace: options.namespace,
    taskQueue: { name: options.taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TASK_QUEUE_TYPE_ACTIVITY,
  });
  const pollers = (answer.pollers ?? []).filter((p) => p.identity).map((p) => ({ identity: p.identity as string, at: millis(p.lastAccessTime) }));
  const newest = Math.max(...pollers.map((p) => p.at));
  const stale = options.pollerStaleMs ?? DEFAULT_POLLER_STALE_MS;
  return [...new Set(pollers.filter((p) => newest - p.at <= stale).map((p) => p.identity))];
}

/** Runs `fn` with a gRPC deadline (the connection's `withDeadline`). */
export type WithDeadline = <T>(deadline: number, fn: () => Promise<T>) => Promise<T>;

/** How long one membership read or publish may take: a call stuck on an unreachable server must not stall the refreshes. */
export const MEMBERSHIP_CALL_TIMEOUT_MS = 2_000;

/**
 * The replicas' membership on the task queue: quota records and live replicas from worker heartbeats when the
 * server has them, else the live replicas from the task queue's pollers (no records: every live replica then
 * shares every quota). This replica's record is published with RecordWorkerHeartbeat. Each read and publish gets
 * a deadline of {@link MEMBERSHIP_CALL_TIMEOUT_MS} through `withDeadline` when given.
 */
export function quotaMembership(service: WorkflowService, options: ReplicaDiscoveryOptions, withDeadline?: WithDeadline): QuotaMembership {
  const bounded = <T>(fn: () => Promise<T>): Promise<T> => (withDeadline ? withDeadline(Date.now() + MEMBERSHIP_CALL_TIMEOUT_MS, fn) : fn());
  return {
    read: () =>
      bounded(async (): Promise<QuotaSnapshot> => {
        const heartbeats = await heartbeatingReplicas(service, options);
        if (heartbeats?.live) return { live: heartbeats.live, records: heartbeats.records, source: 'heartbeats' };
        const live = await pollingReplicas(service, options);
        return { live, records: heartbeats?.records, source: 'pollers' };
      }),
    publish: (record: QuotaRecord) =>
      bounded(async () => {
        await service.recordWorkerHeartbeat({
          namespace: options.namespace,
          identity: record.identity,
          workerHeartbeat: [encodeQuotaRecord(record, options.taskQueue)],
        });
      }),
  };
}
