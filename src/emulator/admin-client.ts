/**
 * Typed client for the emulator's admin API (`/__admin/*`). Uses Node's global fetch; every method is
 * one HTTP call and throws an Error carrying the server's message on a non-2xx answer.
 */
import type {
  AuditEntry,
  AuditQuery,
  ClockInfo,
  DeletionEvent,
  DeletionHold,
  EmulatorStats,
  FailNextConnects,
  CloudTrailAdminEvent,
  CloudTrailInfo,
  FaultSpec,
  IdentityInfo,
  IdentitySpec,
  KeyUsageTracking,
  QuotaInfo,
  SeedResult,
  SeedSpec,
  StoreStateChange,
  UsageSimulatorInfo,
  UsageSimulatorSpec,
} from './types';
import type { SnsPublishedMessage, SnsTopicInfo } from './sns';

export class EmulatorAdminClient {
  private readonly baseUrl: string;

  /** @param baseUrl the emulator URL, e.g. `http://127.0.0.1:4599` (a trailing slash is fine). */
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}/__admin/${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // Not JSON: keep the raw text.
      }
      throw new Error(`KMS emulator admin ${method} /__admin/${path} failed (${response.status}): ${message}`);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Creates stores, keys and aliases in bulk (no quotas, no CONNECTED requirement); all-or-nothing. */
  seed(spec: SeedSpec): Promise<SeedResult> {
    return this.call('POST', 'seed', spec);
  }

  /** Emulated now (epoch ms) and the configured day length. */
  now(): Promise<ClockInfo> {
    return this.call('GET', 'clock');
  }

  /** Moves the emulated clock forward; due transitions and deletions fire before this resolves. */
  advance(ms: number): Promise<ClockInfo> {
    return this.call('POST', 'clock/advance', { ms });
  }

  /** Replaces every fault rule. */
  async setFaults(faults: FaultSpec[]): Promise<void> {
    await this.call('PUT', 'faults', faults);
  }

  async clearFaults(): Promise<void> {
    await this.call('DELETE', 'faults');
  }

  /** Forces a store into a connection state (out-of-band event, e.g. FAILED + USER_LOCKED_OUT). */
  async setStoreState(id: string, change: StoreStateChange): Promise<void> {
    await this.call('POST', `stores/${encodeURIComponent(id)}/state`, change);
  }

  /** The next `count` ConnectCustomKeyStore calls on the store go CONNECTING → FAILED with the code. */
  async failNextConnects(id: string, options: FailNextConnects): Promise<void> {
    await this.call('POST', `stores/${encodeURIComponent(id)}/fail-next-connects`, options);
  }

  /** Audit log entries, optionally only those after `sinceSeq` and/or of one operation. */
  audit(options: AuditQuery = {}): Promise<AuditEntry[]> {
    const query = new URLSearchParams();
    if (options.sinceSeq !== undefined) query.set('sinceSeq', String(options.sinceSeq));
    if (options.operation !== undefined) query.set('operation', options.operation);
    const qs = query.toString();
    return this.call('GET', `audit${qs ? `?${qs}` : ''}`);
  }

  /** Every key deletion so far with its backing-key outcome. */
  deletions(): Promise<DeletionEvent[]> {
    return this.call('GET', 'deletions');
  }

  stats(): Promise<EmulatorStats> {
    return this.call('GET', 'stats');
  }

  /**
   * Test-only fault injection: no key is deleted before the emulated instant `until` (epoch ms); keys due
   * meanwhile are deleted at `until`. Simulates KMS lagging beyond the documented 24 h; lifted by
   * {@link releaseDeletions} or `reset`.
   */
  holdDeletions(until: number): Promise<DeletionHold> {
    return this.call('PUT', 'deletion-hold', { until });
  }

  /** Lifts the deletion hold: keys already due are deleted before this resolves. */
  releaseDeletions(): Promise<DeletionHold> {
    return this.call('DELETE', 'deletion-hold');
  }

  /** The current deletion hold (`until: null` when none). */
  deletionHold(): Promise<DeletionHold> {
    return this.call('GET', 'deletion-hold');
  }

  /** Changes the quota multiplier at runtime (`0` disables throttling). */
  async setQuotaScale(scale: number): Promise<void> {
    await this.call('POST', 'quota', { scale });
  }

  /** The quota scale and every quota's rate before scaling. */
  quotas(): Promise<QuotaInfo> {
    return this.call('GET', 'quota');
  }

  /**
   * Replaces every per-quota override (requests per second before the scale), e.g.
   * `{ GetKeyLastUsage: 10, LookupEvents: 4 }`; `{}` restores AWS's defaults.
   */
  setQuotaOverrides(overrides: Record<string, number>): Promise<QuotaInfo> {
    return this.call('PUT', 'quota/overrides', overrides);
  }

  /**
   * GetKeyLastUsage tracking start (emulated epoch ms or ISO 8601; `null` = tracking predates every key).
   * Keys created before it report it as their TrackingStartDate; uses before it are not reported.
   */
  setKeyUsageTrackingStart(startDate: number | string | null): Promise<KeyUsageTracking> {
    return this.call('PUT', 'key-usage-tracking', { startDate });
  }

  keyUsageTracking(): Promise<KeyUsageTracking> {
    return this.call('GET', 'key-usage-tracking');
  }

  /**
   * Registers another caller: give an ARN (IAM user, role session or root of the emulator's account), get
   * back its access key and secret (generated unless given). It signs KMS and CloudTrail requests like
   * the configured key and appears in CloudTrail as that principal. Removed by `reset`.
   */
  addIdentity(spec: IdentitySpec): Promise<IdentityInfo> {
    return this.call('POST', 'identities', spec);
  }

  identities(): Promise<IdentityInfo[]> {
    return this.call('GET', 'identities');
  }

  async removeIdentity(accessKeyId: string): Promise<void> {
    await this.call('DELETE', `identities/${encodeURIComponent(accessKeyId)}`);
  }

  /**
   * Starts "an application still using key X": a periodic caller inside the emulator that runs the
   * operations (default Encrypt then Decrypt) on the key every `everyMs` real ms as `principal`, through the
   * real SDK client — its successes and failures (DisabledException, KMSInvalidStateException, …) land in
   * CloudTrail. Stopped by {@link stopUsage}, `reset` or closing the emulator.
   */
  startUsage(spec: UsageSimulatorSpec): Promise<UsageSimulatorInfo> {
    return this.call('POST', 'usage', spec);
  }

  /** Running simulators with their call counts per outcome. */
  usage(): Promise<UsageSimulatorInfo[]> {
    return this.call('GET', 'usage');
  }

  /** Stops one simulator (after its round in flight); resolves to its final counts. */
  stopUsage(id: string): Promise<UsageSimulatorInfo> {
    return this.call('DELETE', `usage/${encodeURIComponent(id)}`);
  }

  async stopAllUsage(): Promise<void> {
    await this.call('DELETE', 'usage');
  }

  /** CloudTrail delivery settings and event counts. */
  cloudTrail(): Promise<CloudTrailInfo> {
    return this.call('GET', 'cloudtrail');
  }

  /**
   * Changes CloudTrail delivery for events recorded from now on: `delayMs` (emulated ms until LookupEvents
   * returns an event), `jitterMs`, `maxEvents`. `reset` restores the options.
   */
  setCloudTrailDelivery(change: { delayMs?: number; jitterMs?: number; maxEvents?: number }): Promise<Omit<CloudTrailInfo, 'events' | 'undelivered'>> {
    return this.call('PUT', 'cloudtrail/delivery', change);
  }

  /** Every stored CloudTrail event with `seq > sinceSeq`, delivered or not, as its record (no quota, no delay). */
  cloudTrailEvents(sinceSeq = 0): Promise<CloudTrailAdminEvent[]> {
    return this.call('GET', `cloudtrail/events?sinceSeq=${sinceSeq}`);
  }

  /** Messages delivered to SNS topics, oldest first (FIFO duplicates are counted on the first, not repeated). */
  snsMessages(topicArn?: string): Promise<SnsPublishedMessage[]> {
    return this.call('GET', `sns/messages${topicArn === undefined ? '' : `?topicArn=${encodeURIComponent(topicArn)}`}`);
  }

  /** SNS topics (created, or published to) with their delivered and duplicate counts. */
  snsTopics(): Promise<SnsTopicInfo[]> {
    return this.call('GET', 'sns/topics');
  }

  /** Forgets the delivered SNS messages; topics and their deduplication history stay. */
  async clearSnsMessages(): Promise<void> {
    await this.call('DELETE', 'sns/messages');
  }

  /** Empties stores, keys, aliases, audit log, deletion events and faults; resets the clock offset. */
  async reset(): Promise<void> {
    await this.call('POST', 'reset');
  }
}
