/**
 * Request quotas (reference §7): one token bucket per operation at AWS's default rate × scale, burst =
 * one second of rate. Buckets run on real time — quotas are about request rate, not emulated days.
 */

import { KMS_DEFAULT_QUOTAS } from '../shared/kms-quotas';

/** Quota shared by Encrypt, Decrypt, GenerateDataKey and GenerateDataKeyWithoutPlaintext on symmetric keys. */
export const SYMMETRIC_CRYPTO_QUOTA = 'CryptographicOperationsSymmetric';
/** Per custom key store quota for cryptographic operations on its keys (1,800/s, not adjustable in AWS). */
export const CUSTOM_KEY_STORE_QUOTA = 'CustomKeyStoreCryptographicOperations';

/**
 * Quotas the worker never paces, so its shared table does not list them: custom key store cryptographic
 * operations, 1,800 per store. GetKeyLastUsage (KMS quotas page, 5) and CloudTrail's LookupEvents (2 per
 * second per account and Region) are listed here too and in the shared tables; the shared table wins for
 * any operation it names, so the two agree.
 */
export const EMULATOR_ONLY_RATES: Readonly<Record<string, number>> = {
  GetKeyLastUsage: 5,
  [CUSTOM_KEY_STORE_QUOTA]: 1800,
  LookupEvents: 2,
};

/** AWS default requests/second per operation: the same table the worker paces under, plus the above. */
export const DEFAULT_RATES: Readonly<Record<string, number>> = { ...EMULATOR_ONLY_RATES, ...KMS_DEFAULT_QUOTAS };

/** Operations counted against a shared quota instead of one of their own. */
export const QUOTA_GROUPS: Readonly<Record<string, string>> = {
  Encrypt: SYMMETRIC_CRYPTO_QUOTA,
  Decrypt: SYMMETRIC_CRYPTO_QUOTA,
  GenerateDataKey: SYMMETRIC_CRYPTO_QUOTA,
  GenerateDataKeyWithoutPlaintext: SYMMETRIC_CRYPTO_QUOTA,
};

/** "Cryptographic operations (symmetric) request rate" by Region (KMS quotas page). */
export function symmetricCryptoRate(region: string): number {
  if (['us-east-1', 'us-west-2', 'eu-west-1'].includes(region)) return 100_000;
  if (['us-east-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-northeast-1', 'eu-central-1', 'eu-west-2'].includes(region)) return 20_000;
  return 10_000;
}

/** Every quota name and its default rate in `region` (what `quotaOverrides` may name). */
export function defaultRates(region: string): Record<string, number> {
  return { ...DEFAULT_RATES, [SYMMETRIC_CRYPTO_QUOTA]: symmetricCryptoRate(region) };
}

/** Throws a RangeError naming the problem when `overrides` names an unknown quota or a bad rate. */
export function validateQuotaOverrides(overrides: unknown, region: string): Record<string, number> {
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))
    throw new RangeError('quota overrides must be an object of quota name to requests per second');
  const known = defaultRates(region);
  const out: Record<string, number> = {};
  for (const [name, rate] of Object.entries(overrides as Record<string, unknown>)) {
    if (!(name in known)) throw new RangeError(`unknown quota ${name}; known: ${Object.keys(known).sort().join(', ')}`);
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) throw new RangeError(`quota ${name} must be a number > 0 (requests per second)`);
    out[name] = rate;
  }
  return out;
}

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
  private readonly stores = new Map<string, TokenBucket>();
  private rates: Record<string, number>;

  constructor(
    private scale: number,
    private readonly now: () => number = () => performance.now(),
    private readonly region = 'us-east-1',
    overrides: Record<string, number> = {},
  ) {
    this.rates = { ...defaultRates(region), ...overrides };
  }

  /** The rate (before scale) of every quota. */
  get currentRates(): Record<string, number> {
    return { ...this.rates };
  }

  /** Replaces the per-quota overrides (validated by the caller); buckets restart full. */
  setOverrides(overrides: Record<string, number>): void {
    this.rates = { ...defaultRates(this.region), ...overrides };
    this.buckets.clear();
    this.stores.clear();
  }

  get quotaScale(): number {
    return this.scale;
  }

  /** Changes the scale; buckets restart full so the new rate applies at once. */
  setScale(scale: number): void {
    if (!Number.isFinite(scale) || scale < 0) throw new RangeError('quota scale must be a finite number >= 0');
    this.scale = scale;
    this.buckets.clear();
    this.hotKeys.clear();
    this.stores.clear();
  }

  /**
   * Consumes one request of `operation` (or of the shared quota it belongs to); false = throttle.
   * Unlisted operations are never throttled.
   */
  tryTake(operation: string): boolean {
    const quota = QUOTA_GROUPS[operation] ?? operation;
    const base = this.rates[quota];
    if (this.scale === 0 || base === undefined) return true;
    const rate = base * this.scale;
    // A capacity below one token would throttle every call forever.
    const capacity = Math.max(1, rate);
    let bucket = this.buckets.get(quota);
    const now = this.now();
    if (!bucket) this.buckets.set(quota, (bucket = new TokenBucket(capacity, now)));
    return bucket.take(now, rate, capacity);
  }

  /** The per-store budget of cryptographic operations on keys in custom key store `storeId`. */
  tryTakeStore(storeId: string): boolean {
    const base = this.rates[CUSTOM_KEY_STORE_QUOTA];
    if (this.scale === 0 || base === undefined) return true;
    const rate = base * this.scale;
    const capacity = Math.max(1, rate);
    let bucket = this.stores.get(storeId);
    const now = this.now();
    if (!bucket) this.stores.set(storeId, (bucket = new TokenBucket(capacity, now)));
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
