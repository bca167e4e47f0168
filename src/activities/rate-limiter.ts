import { KMS_DEFAULT_QUOTAS as ACCOUNT_QUOTAS, type QuotaOperation } from '../shared/kms-quotas';
import { abortableDelay } from './abortable-delay';

/** The KMS operations the activities call (and pace). */
const KMS_OPERATIONS = [
  'ListKeys',
  'DescribeKey',
  'ListAliases',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'EnableKey',
  'DisableKey',
  'DescribeCustomKeyStores',
  'ConnectCustomKeyStore',
  'DisconnectCustomKeyStore',
  'DeleteCustomKeyStore',
] as const satisfies readonly QuotaOperation[];

export type KmsOperation = (typeof KMS_OPERATIONS)[number];

/** AWS's default request quotas for the operations the activities call. */
export const KMS_DEFAULT_QUOTAS: Readonly<Record<KmsOperation, number>> = Object.fromEntries(
  KMS_OPERATIONS.map((op) => [op, ACCOUNT_QUOTAS[op]]),
) as Record<KmsOperation, number>;

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

/**
 * Paces KMS calls under the account-wide request quotas. One instance is shared by every activity of
 * a worker process, so ten concurrent decommissions together stay under 15 ScheduleKeyDeletion/s.
 *
 * Calls are granted evenly spaced (no burst): KMS counts requests per second, and a burst that a
 * token bucket would allow can still trip the service's own bucket when network latency bunches calls.
 */
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
        await abortableDelay(wait, signal);
      }
    },
  };
}
