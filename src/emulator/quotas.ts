/**
 * Request quotas (reference §7): one token bucket per operation at AWS's default rate × scale, burst =
 * one second of rate. Buckets run on real time — quotas are about request rate, not emulated days.
 */

import { KMS_DEFAULT_QUOTAS } from '../shared/kms-quotas';

/** AWS default requests/second per operation: the same table the worker paces under. */
export const DEFAULT_RATES: Readonly<Record<string, number>> = KMS_DEFAULT_QUOTAS;

/**
 * Hot-key limit for Enable/DisableKey volleys on one key (reference §3.6 mentions it without numbers;
 * these values are the emulator's choice): burst 3, refill 1 per second, × scale.
 */
export const HOT_KEY_RATE = 1;
export const HOT_KEY_BURST = 3;

class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(capacity: number, now: number) {
    this.tokens = capacity;
    this.last = now;
  }

  take(now: number, rate: number, capacity: number): boolean {
    this.tokens = Math.min(capacity, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class QuotaManager {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly hotKeys = new Map<string, TokenBucket>();

  constructor(
    private scale: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get quotaScale(): number {
    return this.scale;
  }

  /** Changes the scale; buckets restart full so the new rate applies at once. */
  setScale(scale: number): void {
    if (!Number.isFinite(scale) || scale < 0) throw new RangeError('quota scale must be a finite number >= 0');
    this.scale = scale;
    this.buckets.clear();
    this.hotKeys.clear();
  }

  /** Consumes one request of `operation`; false = throttle. Unlisted operations are never throttled. */
  tryTake(operation: string): boolean {
    const base = DEFAULT_RATES[operation];
    if (this.scale === 0 || base === undefined) return true;
    const rate = base * this.scale;
    // A capacity below one token would throttle every call forever.
    const capacity = Math.max(1, rate);
    let bucket = this.buckets.get(operation);
    const now = this.now();
    if (!bucket) this.buckets.set(operation, (bucket = new TokenBucket(capacity, now)));
    return bucket.take(now, rate, capacity);
  }

  /** Per-key Enable/Disable budget (shared by both operations). */
  tryTakeHotKey(keyId: string): boolean {
    if (this.scale === 0) return true;
    const rate = HOT_KEY_RATE * this.scale;
    const capacity = Math.max(1, HOT_KEY_BURST * this.scale);
    let bucket = this.hotKeys.get(keyId);
    const now = this.now();
    if (!bucket) this.hotKeys.set(keyId, (bucket = new TokenBucket(capacity, now)));
    return bucket.take(now, rate, capacity);
  }

  /** Forget idle per-key buckets (they refill completely within a few seconds anyway). */
  pruneHotKeys(): void {
    if (this.hotKeys.size > 10_000) this.hotKeys.clear();
  }
}
