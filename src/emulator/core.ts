/**
 * The emulator without HTTP: state, clock, quotas, faults, persistence and the scheduler that fires
 * asynchronous store transitions and key deletions in emulated-time order.
 */
import { EmulatedClock } from './clock';
import { parseInstant, type ResolvedConfig } from './config';
import type { RuntimeSettings } from './context';
import { FaultInjector } from './faults';
import { IdentityRegistry } from './identities';
import { executeDeletion } from './operations/deletion';
import { beginDisconnect, completeTransition, CONNECTION_ERROR_CODES, CONNECTION_STATES, FAST_FAIL_CONNECT_ERRORS } from './operations/stores';
import { MarkerCodec } from './pagination';
import { COMPACT_THRESHOLD_BYTES, Persistence } from './persistence';
import { QuotaManager, validateQuotaOverrides } from './quotas';
import { Rng } from './random';
import { applySeed } from './seed';
import { SnsService } from './sns';
import { EmulatorState, type StoreRecord } from './state';
import { type DeliverySettings, renderRecord } from './trail';
import type {
  CloudTrailAdminEvent,
  CloudTrailInfo,
  DeletionHold,
  EmulatorStats,
  FaultSpec,
  IdentityInfo,
  IdentitySpec,
  SeedResult,
  SeedSpec,
  StoreStateChange,
} from './types';
import { UsageSimulators } from './usage';

/** A request to the admin API that cannot be honoured (answered with 4xx). */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export class EmulatorCore {
  readonly clock: EmulatedClock;
  readonly state = new EmulatorState();
  readonly quotas: QuotaManager;
  readonly faults: FaultInjector;
  readonly markers = new MarkerCodec();
  readonly rng: Rng;
  readonly requests = new Map<string, number>();
  readonly throttled = new Map<string, number>();
  /** Runtime-changeable settings (admin API); start from the options, not persisted. */
  readonly settings: RuntimeSettings;
  /** Callers (access key → secret and principal) for SigV4 and CloudTrail. */
  readonly identities: IdentityRegistry;
  /** "Applications still using a key" (periodic callers). */
  readonly usage: UsageSimulators;
  /** SNS topics and the messages published to them (not persisted). */
  readonly sns: SnsService;
  private readonly persistence: Persistence | undefined;
  private timer: NodeJS.Timeout | undefined;
  private compacting = false;
  /** Test-only fault injection ({@link setDeletionHold}): no key is deleted before this emulated instant. */
  private deletionHoldUntil: number | undefined;

  constructor(readonly config: ResolvedConfig) {
    this.clock = new EmulatedClock(config.dayMs);
    this.quotas = new QuotaManager(config.quotaScale, undefined, config.region, config.quotaOverrides);
    this.settings = { trackingStartDate: config.trackingStartDate };
    this.identities = new IdentityRegistry(config.account, config.identities);
    this.usage = new UsageSimulators(this.identities, config.account, config.region);
    this.sns = new SnsService(config.region, config.account, () => this.clock.now());
    Object.assign(this.state.trail.settings, this.configuredDelivery());
    this.state.trail.seedJitter(config.seed);
    this.faults = new FaultInjector(config.seed === undefined ? undefined : config.seed ^ 0x5eed);
    this.rng = new Rng(config.seed);
    this.persistence = config.statePath ? new Persistence(config.statePath) : undefined;
  }

  /** Loads persisted state (if any), compacts it, fires whatever became due while stopped, starts the tick. */
  start(): string[] {
    let warnings: string[] = [];
    if (this.persistence) {
      this.persistence.lock();
      try {
        const loaded = this.persistence.load(this.state, (offset) => this.clock.restore(offset));
        warnings = loaded.warnings;
        if (loaded.markerSecret) this.markers.rotate(loaded.markerSecret);
        this.persistence.compactSync(this.state, this.clock.offsetMs, this.markers.secretValue);
      } catch (e) {
        this.persistence.abandon();
        throw e;
      }
    }
    this.processDue();
    const interval = Math.max(50, Math.min(this.config.dayMs / 100, 1000));
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
    return warnings;
  }

  private configuredDelivery(): DeliverySettings {
    return { delayMs: this.config.cloudTrailDelayMs, jitterMs: this.config.cloudTrailDelayJitterMs, maxEvents: this.config.cloudTrailMaxEvents };
  }

  private tick(): void {
    try {
      this.processDue();
      this.state.trail.prune(this.clock.now());
      this.state.pruneHistory();
      this.quotas.pruneHotKeys();
      const p = this.persistence;
      if (p) {
        p.flushLazily();
        if (p.journalSize > COMPACT_THRESHOLD_BYTES && !this.compacting) void this.compact();
      }
    } catch (e) {
      process.stderr.write(`kms-emulator: background tick failed: ${(e as Error).stack ?? String(e)}\n`);
    }
  }

  /**
   * Applies every store transition and key deletion that is due on the emulated clock, in time order —
   * a deletion's backing-key outcome depends on the store state at that very moment.
   */
  processDue(): void {
    const now = this.clock.now();
    const queue = this.state.deletionQueue;
    for (;;) {
      let store: StoreRecord | undefined;
      for (const s of this.state.stores.values()) {
        if (s.transition && s.transition.at <= now && (!store || s.transition.at < (store.transition as { at: number }).at)) store = s;
      }
      let next = queue.peek();
      while (next && this.state.keys.get(next.id)?.deletion?.deleteAt !== next.at) {
        queue.pop();
        next = queue.peek();
      }
      // A deletion held back by the deletion hold happens at the hold's end, after the transitions before it.
      const deleteAt = next ? Math.max(next.at, this.deletionHoldUntil ?? -Infinity) : Infinity;
      const deletion = next && deleteAt <= now ? next : undefined;
      if (!store && !deletion) break;
      if (store && (!deletion || (store.transition as { at: number }).at <= deleteAt)) {
        completeTransition(this.state, store);
      } else if (deletion) {
        queue.pop();
        const key = this.state.keys.get(deletion.id);
        if (key) executeDeletion(this.state, this.config, key, deleteAt);
      }
    }
    this.commit(true);
  }

  /** Journals the recorded changes as one line. */
  commit(durable: boolean): void {
    const changes = this.state.drainChanges();
    if (this.persistence && changes.length > 0) {
      this.persistence.append(changes, this.state.currentSeq, durable && changes.some((c) => c.k !== 'audit'));
    }
  }

  /** Resolves once every acknowledged-to-be change is on disk. */
  durable(): Promise<void> {
    return this.persistence ? this.persistence.waitDurable() : Promise.resolve();
  }

  private async compact(): Promise<void> {
    if (!this.persistence) return;
    this.compacting = true;
    try {
      await this.persistence.compact(this.state, this.clock.offsetMs, this.markers.secretValue);
    } finally {
      this.compacting = false;
    }
  }

  // ---- admin operations -------------------------------------------------------------------------

  async seed(spec: SeedSpec): Promise<SeedResult> {
    this.processDue();
    const result = applySeed({ state: this.state, clock: this.clock, config: this.config, rng: this.rng }, spec);
    // Seeded records are not journaled; a snapshot makes them durable in one write.
    await this.compact();
    return result;
  }

  async advance(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new AdminError(400, 'ms must be a finite number >= 0');
    this.clock.advance(ms);
    this.state.recordClock(this.clock.offsetMs);
    this.processDue();
    await this.durable();
  }

  setFaults(specs: FaultSpec[]): void {
    this.faults.set(specs);
    this.state.setHistoryWindow(this.faults.maxStaleReadMs());
  }

  clearFaults(): void {
    this.setFaults([]);
  }

  private requireStore(id: string): StoreRecord {
    const store = this.state.stores.get(id);
    if (!store) throw new AdminError(404, `custom key store ${id} does not exist`);
    return store;
  }

  /** Forces a connection state, as an out-of-band event (e.g. the HSM locked kmsuser out). */
  async setStoreState(id: string, change: StoreStateChange): Promise<void> {
    this.processDue();
    const store = this.requireStore(id);
    const state = change?.connectionState;
    if (!CONNECTION_STATES.includes(state)) throw new AdminError(400, `connectionState must be one of ${CONNECTION_STATES.join(', ')}`);
    const code = change.connectionErrorCode;
    if (code !== undefined && state !== 'FAILED') throw new AdminError(400, 'connectionErrorCode is only allowed with connectionState FAILED');
    if (code !== undefined && !CONNECTION_ERROR_CODES.includes(code))
      throw new AdminError(400, `connectionErrorCode must be one of ${CONNECTION_ERROR_CODES.join(', ')}`);
    if (state === 'DISCONNECTING') {
      beginDisconnect(this, store);
    } else {
      const next: StoreRecord = { ...store, connectionState: state };
      delete next.transition;
      delete next.connectionErrorCode;
      if (state === 'FAILED') next.connectionErrorCode = code ?? 'INTERNAL_ERROR';
      if (state === 'CONNECTING') next.transition = { to: 'CONNECTED', at: this.clock.now() + this.config.connectMs };
      this.state.putStore(next);
    }
    this.commit(true);
    await this.durable();
  }

  async failNextConnects(id: string, count: number, errorCode: string): Promise<void> {
    this.processDue();
    const store = this.requireStore(id);
    if (!Number.isInteger(count) || count < 0) throw new AdminError(400, 'count must be an integer >= 0');
    if (!CONNECTION_ERROR_CODES.includes(errorCode) && !(errorCode in FAST_FAIL_CONNECT_ERRORS)) {
      throw new AdminError(400, `connectionErrorCode must be one of ${[...CONNECTION_ERROR_CODES, ...Object.keys(FAST_FAIL_CONNECT_ERRORS)].join(', ')}`);
    }
    const next: StoreRecord = { ...store };
    if (count > 0) next.failNextConnects = { count, errorCode };
    else delete next.failNextConnects;
    this.state.putStore(next);
    this.commit(true);
    await this.durable();
  }

  /**
   * Test-only fault injection: holds every key deletion until the emulated instant `until` (epoch ms), or
   * lifts the hold (`null`). Keys that become due meanwhile are deleted at `until`, in due order, with the
   * store state of that moment. Simulates KMS lagging beyond the documented 24 h (deletionLagHours' cap).
   * Not persisted, like faults; `reset` lifts it.
   */
  setDeletionHold(until: number | null): void {
    if (until !== null && (typeof until !== 'number' || !Number.isFinite(until) || until < 0)) {
      throw new AdminError(400, 'until must be an epoch millisecond number >= 0, or null to lift the hold');
    }
    this.deletionHoldUntil = until ?? undefined;
    this.processDue();
  }

  get deletionHold(): DeletionHold {
    return { until: this.deletionHoldUntil ?? null };
  }

  setQuotaScale(scale: number): void {
    if (typeof scale !== 'number' || !Number.isFinite(scale) || scale < 0) throw new AdminError(400, 'scale must be a finite number >= 0');
    this.quotas.setScale(scale);
  }

  /**
   * GetKeyLastUsage tracking start (emulated epoch ms or ISO 8601), or `null` for "before every key".
   * Not persisted: a restart goes back to the `trackingStartDate` option.
   */
  setTrackingStartDate(value: number | string | null): void {
    if (value === null) {
      this.settings.trackingStartDate = undefined;
      return;
    }
    const ms = parseInstant(value);
    if (ms === undefined) throw new AdminError(400, 'startDate must be epoch milliseconds, an ISO 8601 date, or null');
    this.settings.trackingStartDate = ms;
  }

  /** Replaces every per-quota override (requests per second before the scale); `{}` restores the defaults. */
  setQuotaOverrides(overrides: unknown): void {
    try {
      this.quotas.setOverrides(validateQuotaOverrides(overrides, this.config.region));
    } catch (e) {
      throw new AdminError(400, (e as Error).message);
    }
  }

  /** Registers a caller at runtime (admin API); removed again by `reset`. */
  addIdentity(spec: IdentitySpec): IdentityInfo {
    try {
      return { ...this.identities.add(spec) };
    } catch (e) {
      throw new AdminError(400, (e as Error).message);
    }
  }

  removeIdentity(accessKeyId: string): void {
    let removed: boolean;
    try {
      removed = this.identities.remove(accessKeyId);
    } catch (e) {
      throw new AdminError(400, (e as Error).message);
    }
    if (!removed) throw new AdminError(404, `no identity with access key ${accessKeyId}`);
  }

  /** CloudTrail delivery: only events recorded afterwards get the new delay. Not persisted; `reset` restores the options. */
  setCloudTrailDelivery(change: Partial<DeliverySettings>): DeliverySettings {
    if (change === null || typeof change !== 'object') throw new AdminError(400, 'body must be an object');
    const next = { ...this.state.trail.settings };
    for (const name of ['delayMs', 'jitterMs', 'maxEvents'] as const) {
      const v = change[name];
      if (v === undefined) continue;
      const min = name === 'maxEvents' ? 1 : 0;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new AdminError(400, `${name} must be an integer >= ${min}`);
      next[name] = v;
    }
    Object.assign(this.state.trail.settings, next);
    return { ...next };
  }

  cloudTrailInfo(): CloudTrailInfo {
    const now = this.clock.now();
    let undelivered = 0;
    for (const e of this.state.trail.all()) if (e.deliverAt > now) undelivered++;
    return { ...this.state.trail.settings, events: this.state.trail.size, undelivered };
  }

  /** Every stored event as its CloudTrail record, oldest first, delivered or not (admin view, no quota). */
  cloudTrailEvents(sinceSeq = 0): CloudTrailAdminEvent[] {
    const now = this.clock.now();
    return this.state.trail
      .all()
      .filter((e) => e.seq > sinceSeq)
      .map((e) => ({ seq: e.seq, deliverAt: e.deliverAt, delivered: e.deliverAt <= now, record: renderRecord(e, this.config) }));
  }

  stats(): EmulatorStats {
    return {
      stores: this.state.stores.size,
      keys: this.state.keys.size,
      requests: Object.fromEntries(this.requests),
      throttled: Object.fromEntries(this.throttled),
    };
  }

  /** Empties everything: state, audit, deletions, SNS topics and messages, faults, counters, clock offset; old markers stop working. */
  async reset(): Promise<void> {
    await this.usage.stopAll();
    this.identities.resetToPermanent();
    Object.assign(this.state.trail.settings, this.configuredDelivery());
    this.state.clear();
    this.sns.reset();
    this.clock.reset();
    this.clearFaults();
    this.deletionHoldUntil = undefined;
    this.settings.trackingStartDate = this.config.trackingStartDate;
    this.markers.rotate();
    this.quotas.setScale(this.quotas.quotaScale);
    this.requests.clear();
    this.throttled.clear();
    await this.compact();
  }

  async close(): Promise<void> {
    await this.usage.stopAll();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.persistence) {
      this.commit(true);
      await this.persistence.close(this.state, this.clock.offsetMs, this.markers.secretValue);
    }
  }
}
