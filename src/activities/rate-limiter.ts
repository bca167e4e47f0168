/**
 * Paces KMS calls under the account-wide request quotas. One instance is shared by every activity of
 * a worker process, so ten concurrent decommissions together stay under 15 ScheduleKeyDeletion/s.
 *
 * Calls are granted evenly spaced (no burst): KMS counts requests per second, and a burst that a
 * token bucket would allow can still trip the service's own bucket when network latency bunches calls.
 */
export type KmsOperation =
  | 'ListKeys'
  | 'DescribeKey'
  | 'ListAliases'
  | 'ScheduleKeyDeletion'
  | 'CancelKeyDeletion'
  | 'EnableKey'
  | 'DisableKey'
  | 'DescribeCustomKeyStores'
  | 'ConnectCustomKeyStore'
  | 'DisconnectCustomKeyStore'
  | 'DeleteCustomKeyStore';

/** AWS's default request quotas, requests per second per account and Region. */
export const KMS_DEFAULT_QUOTAS: Readonly<Record<KmsOperation, number>> = {
  ListKeys: 500,
  DescribeKey: 2000,
  ListAliases: 500,
  ScheduleKeyDeletion: 15,
  CancelKeyDeletion: 5,
  EnableKey: 5,
  DisableKey: 5,
  DescribeCustomKeyStores: 5,
  ConnectCustomKeyStore: 5,
  DisconnectCustomKeyStore: 5,
  DeleteCustomKeyStore: 5,
};

export interface RateLimiterOptions {
  /** Multiplies every quota, for accounts with raised quotas (or an emulator with scaled ones). Default 1; 0 disables pacing. */
  quotaScale?: number;
  /** Share of each quota this worker may use; leaves headroom for other callers and clock skew. Default 0.97. */
  utilization?: number;
  /** Per-operation overrides in requests per second (already final: not scaled). */
  overrides?: Partial<Record<KmsOperation, number>>;
}

export interface KmsRateLimiter {
  /** Resolves when the caller may send one request of `operation`; rejects if `signal` aborts first. */
  acquire(operation: KmsOperation, signal?: AbortSignal): Promise<void>;
  /** The pace in requests per second for an operation (Infinity when unpaced). */
  rate(operation: KmsOperation): number;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function createKmsRateLimiter(options: RateLimiterOptions = {}): KmsRateLimiter {
  const scale = options.quotaScale ?? 1;
  const utilization = options.utilization ?? 0.97;
  const rates = new Map<KmsOperation, number>();
  for (const [op, quota] of Object.entries(KMS_DEFAULT_QUOTAS) as [KmsOperation, number][]) {
    rates.set(op, options.overrides?.[op] ?? (scale === 0 ? Infinity : quota * scale * utilization));
  }
  const nextSlot = new Map<KmsOperation, number>();

  // A grant happens only when its slot has really come (checked after waking), and the cadence carries
  // over at most one interval of lateness: a stalled event loop never releases a burst of queued calls.
  function tryTake(operation: KmsOperation, interval: number): number {
    const now = performance.now();
    const slot = nextSlot.get(operation) ?? now;
    if (now >= slot) {
      nextSlot.set(operation, Math.max(slot, now - interval) + interval);
      return 0;
    }
    return slot - now;
  }

  return {
    rate: (operation) => rates.get(operation) ?? Infinity,
    async acquire(operation, signal) {
      const rate = rates.get(operation) ?? Infinity;
      if (!Number.isFinite(rate)) return;
      const interval = 1000 / rate;
      for (let wait = tryTake(operation, interval); wait > 0; wait = tryTake(operation, interval)) {
        await delay(wait, signal);
      }
    },
  };
}
