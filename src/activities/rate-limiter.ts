/**
 * Paces KMS calls under the account-wide request quotas. One instance is shared by every activity of
 * a worker process, so ten concurrent decommissions together stay under 15 ScheduleKeyDeletion/s.
 *
 * Slots are handed out evenly spaced (no burst): KMS counts requests per second, and a burst that a
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

export function createKmsRateLimiter(options: RateLimiterOptions = {}): KmsRateLimiter {
  const scale = options.quotaScale ?? 1;
  const utilization = options.utilization ?? 0.97;
  const rates = new Map<KmsOperation, number>();
  for (const [op, quota] of Object.entries(KMS_DEFAULT_QUOTAS) as [KmsOperation, number][]) {
    rates.set(op, options.overrides?.[op] ?? (scale === 0 ? Infinity : quota * scale * utilization));
  }
  const nextSlot = new Map<KmsOperation, number>();

  return {
    rate: (operation) => rates.get(operation) ?? Infinity,
    acquire(operation, signal) {
      const rate = rates.get(operation) ?? Infinity;
      if (!Number.isFinite(rate)) return Promise.resolve();
      const now = performance.now();
      const slot = Math.max(now, nextSlot.get(operation) ?? now);
      nextSlot.set(operation, slot + 1000 / rate);
      const wait = slot - now;
      if (wait <= 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal?.reason);
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, wait);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
