import {
  CLOUDTRAIL_DEFAULT_QUOTAS as CLOUDTRAIL_QUOTAS,
  KMS_DEFAULT_QUOTAS as ACCOUNT_QUOTAS,
  type CloudTrailQuotaOperation,
  type QuotaOperation,
} from '../shared/kms-quotas';

/** The KMS operations the activities call (and pace). */
const KMS_OPERATIONS = [
  'ListKeys',
  'DescribeKey',
  'ListAliases',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'EnableKey',
  'DisableKey',
  'GetKeyLastUsage',
  'DescribeCustomKeyStores',
  'ConnectCustomKeyStore',
  'DisconnectCustomKeyStore',
  'DeleteCustomKeyStore',
] as const satisfies readonly QuotaOperation[];

/** The CloudTrail operations the activities call: paced by the same limiter, under CloudTrail's own quota. */
const CLOUDTRAIL_OPERATIONS = ['LookupEvents'] as const satisfies readonly CloudTrailQuotaOperation[];

export type KmsOperation = (typeof KMS_OPERATIONS)[number];
export type CloudTrailOperation = (typeof CLOUDTRAIL_OPERATIONS)[number];
/** Every operation the limiter paces: KMS's and CloudTrail's (each has a quota of its own). */
export type PacedOperation = KmsOperation | CloudTrailOperation;

/** AWS's default request quotas for the KMS operations the activities call. */
export const KMS_DEFAULT_QUOTAS: Readonly<Record<KmsOperation, number>> = Object.fromEntries(KMS_OPERATIONS.map((op) => [op, ACCOUNT_QUOTAS[op]])) as Record<
  KmsOperation,
  number
>;

/** CloudTrail's request quotas for the operations the activities call (not adjustable in AWS). */
export const CLOUDTRAIL_DEFAULT_QUOTAS: Readonly<Record<CloudTrailOperation, number>> = Object.fromEntries(
  CLOUDTRAIL_OPERATIONS.map((op) => [op, CLOUDTRAIL_QUOTAS[op]]),
) as Record<CloudTrailOperation, number>;

export interface RateLimiterOptions {
  /**
   * Multiplies every KMS quota, for accounts with raised quotas (or an emulator with scaled ones). Default 1;
   * 0 disables pacing (CloudTrail's too). CloudTrail's quotas are not adjustable, so they are not scaled:
   * pace an emulator with other CloudTrail rates through `overrides`.
   */
  quotaScale?: number;
  /** Share of each quota this worker may use; leaves headroom for other callers and clock skew. Default 0.97. */
  utilization?: number;
  /** Per-operation overrides in requests per second (already final: not scaled). */
  overrides?: Partial<Record<PacedOperation, number>>;
  /**
   * Called at every grant with the `performance.now()` the pace counted it at: the instant its rolling-second
   * cap is about. For metrics and for tests that check the cap itself, free of the caller's scheduling noise.
   */
  onGrant?: (operation: PacedOperation, at: number) => void;
}

export interface KmsRateLimiter {
  /** Resolves when the caller may send one request of `operation`; rejects if `signal` aborts first. */
  acquire(operation: PacedOperation, signal?: AbortSignal): Promise<void>;
  /** The pace in requests per second for an operation (Infinity when unpaced). */
  rate(operation: PacedOperation): number;
}

/**
 * A limiter whose paces can change while calls wait: several worker replicas share one account-wide quota
 * (see `quota-share.ts`), so each replica's pace follows how many replicas are alive and whether KMS throttles.
 */
export interface AdjustableKmsRateLimiter extends KmsRateLimiter {
  /** The operations this limiter paces (finite rate at creation). */
  pacedOperations(): PacedOperation[];
  /** The pace the limiter was created with: the whole account's quota × utilization (or the override). */
  baseRate(operation: PacedOperation): number;
  /**
   * Changes an operation's pace at once, for callers already waiting too. No-op for unpaced operations and for
   * rates that are not finite and positive. The rolling-second cap follows the new rate.
   */
  setRate(operation: PacedOperation, rate: number): void;
}

/** KMS counts requests per second: no rolling second may hold more grants than the pace rounded up. */
const WINDOW_MS = 1_000;
/**
 * The cap's window is longer than a second by up to this much, as far as the cadence leaves room: requests reach KMS
 * a few milliseconds apart from when they were granted, so grants exactly a second apart can land in one second.
 * A pace under its rounded-up rate (the 97 % utilization: 15 grants at 14.55/s span 1.03 s) pays nothing for it.
 */
const JITTER_GUARD_MS = 25;

/**
 * After a decrease, the grants made at the old (denser) pace count as this much later: the cadence's slack does not
 * space them, so the cap alone keeps the next grants a second away from them, with this extra guard against jitter.
 * It costs a delay of at most this much at each decrease, and nothing while the pace holds.
 */
const DECREASE_GUARD_MS = 50;

/** The window of the rolling cap for `rate`: a second, plus the guard where the cadence's own slack allows it. */
function capWindow(rate: number): number {
  return WINDOW_MS + Math.max(0, Math.min(JITTER_GUARD_MS, (Math.ceil(rate) / rate) * WINDOW_MS - WINDOW_MS - 1));
}
/**
 * How far behind its cadence a pace may fall and still catch up. Timers fire at best once a millisecond,
 * so fast paces (DescribeKey: a slot every 0.5 ms) must grant a few calls per wake-up; slow ones (15/s)
 * carry one interval, so a stalled event loop never releases a burst of queued calls.
 */
const MIN_CATCH_UP_MS = 50;

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * The pace of one operation: evenly spaced grants, handed out first come first served from one queue
 * with one timer (a herd of callers each polling on its own timer cost a quarter of the worker's CPU at
 * DescribeKey rates), and a ring of the last grants that caps every rolling second.
 */
class OperationPace {
  private nextSlot = -Infinity;
  private recent: Float64Array;
  private oldest = 0;
  private readonly queue: Waiter[] = [];
  private queueHead = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private interval: number;
  private catchUp: number;
  private window: number;

  constructor(
    rate: number,
    private readonly onGrant: (at: number) => void = () => undefined,
  ) {
    this.interval = 1000 / rate;
    this.catchUp = Math.max(this.interval, MIN_CATCH_UP_MS);
    this.window = capWindow(rate);
    this.recent = new Float64Array(Math.max(1, Math.ceil(rate))).fill(-Infinity);
  }

  /**
   * A new pace for this and every later grant. The ring keeps the newest grants that fit the new cap, so a
   * rolling second that already holds them is not granted again (a lower rate takes effect at once; the grants
   * kept count {@link DECREASE_GUARD_MS} later); the next slot moves by the difference of the intervals, so the
   * cadence continues from the last grant.
   */
  setRate(rate: number): void {
    const interval = 1000 / rate;
    if (interval === this.interval) return;
    const size = Math.max(1, Math.ceil(rate));
    const chronological = Array.from({ length: this.recent.length }, (_, i) => this.recent[(this.oldest + i) % this.recent.length] as number);
    const guard = interval > this.interval ? DECREASE_GUARD_MS : 0;
    const kept = chronological.slice(-size).map((at) => at + guard);
    this.recent = new Float64Array(size).fill(-Infinity);
    this.recent.set(kept, size - kept.length);
    this.oldest = 0;
    if (this.nextSlot !== -Infinity) this.nextSlot += interval - this.interval;
    this.interval = interval;
    this.catchUp = Math.max(interval, MIN_CATCH_UP_MS);
    this.window = capWindow(rate);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.arm();
    }
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting() === 0 && this.delay(performance.now()) === 0) {
      this.grant(performance.now());
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter, this.queueHead);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.arm();
    });
  }

  private waiting(): number {
    return this.queue.length - this.queueHead;
  }

  /** Milliseconds until the next grant may happen: the later of the cadence and the rolling-second cap. */
  private delay(now: number): number {
    return Math.max(0, this.nextSlot - now, (this.recent[this.oldest] as number) + this.window - now); // oldest < recent.length
  }

  private grant(now: number): void {
    // The very first grant starts the cadence; it does not count as lateness to catch up on.
    const base = this.nextSlot === -Infinity ? now : Math.max(this.nextSlot, now - this.catchUp);
    this.nextSlot = base + this.interval;
    this.recent[this.oldest] = now;
    this.oldest = (this.oldest + 1) % this.recent.length;
    this.onGrant(now);
  }

  private arm(): void {
    if (this.timer !== undefined || this.waiting() === 0) return;
    this.timer = setTimeout(this.release, this.delay(performance.now()));
  }

  private readonly release = (): void => {
    this.timer = undefined;
    const now = performance.now();
    while (this.waiting() > 0 && this.delay(now) === 0) {
      const waiter = this.queue[this.queueHead++] as Waiter; // waiting() > 0: the head is in the queue
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      this.grant(now);
      waiter.resolve();
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.arm();
  };
}

/**
 * Paces KMS (and CloudTrail) calls under the account-wide request quotas. One instance is shared by every
 * activity of a worker process, so ten concurrent decommissions together stay under 15 ScheduleKeyDeletion/s
 * and 2 LookupEvents/s.
 *
 * Calls are granted evenly spaced (no burst): KMS counts requests per second, and a burst that a
 * token bucket would allow can still trip the service's own bucket when network latency bunches calls.
 */
export function createKmsRateLimiter(options: RateLimiterOptions = {}): AdjustableKmsRateLimiter {
  const scale = options.quotaScale ?? 1;
  const utilization = options.utilization ?? 0.97;
  const rates = new Map<PacedOperation, number>();
  const baseRates = new Map<PacedOperation, number>();
  const paces = new Map<PacedOperation, OperationPace>();
  // CloudTrail's quotas are not adjustable: only KMS's follow `quotaScale`.
  const quotas = new Map<PacedOperation, number>([
    ...(Object.entries(KMS_DEFAULT_QUOTAS) as [KmsOperation, number][]).map(([op, quota]) => [op, quota * scale] as const),
    ...(Object.entries(CLOUDTRAIL_DEFAULT_QUOTAS) as [CloudTrailOperation, number][]),
  ]);
  for (const [op, quota] of quotas) {
    const rate = options.overrides?.[op] ?? (scale === 0 ? Infinity : quota * utilization);
    rates.set(op, rate);
    baseRates.set(op, rate);
    const onGrant = options.onGrant;
    if (Number.isFinite(rate)) paces.set(op, new OperationPace(rate, onGrant && ((at) => onGrant(op, at))));
  }

  return {
    rate: (operation) => rates.get(operation) ?? Infinity,
    acquire: (operation, signal) => paces.get(operation)?.acquire(signal) ?? Promise.resolve(),
    pacedOperations: () => [...paces.keys()],
    baseRate: (operation) => baseRates.get(operation) ?? Infinity,
    setRate(operation, rate) {
      const pace = paces.get(operation);
      if (!pace || !Number.isFinite(rate) || rate <= 0) return;
      pace.setRate(rate);
      rates.set(operation, rate);
    },
  };
}
