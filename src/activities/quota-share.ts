import type { AwsCallObserver } from '../metrics/worker-metrics';
import { abortableDelay } from './abortable-delay';
import type { AdjustableKmsRateLimiter, KmsRateLimiter, PacedOperation } from './rate-limiter';

/**
 * This replica's part of an account-wide rate `baseRate` (quota × utilization) when `replicas` replicas share it
 * and this one sorts at `rank` among them.
 *
 * Each replica's pacer caps every rolling second at its rate rounded up, so an even split rounds up N times: two
 * replicas at 7.3/s may each send 8 calls in one second, 16 against a quota of 15. The split is therefore made in
 * whole calls per second first: the account's ceil(baseRate) calls are dealt out as evenly as possible by rank
 * (8 + 7), and each replica paces at baseRate × its calls ÷ all calls, whose rounding up never exceeds its own
 * calls. The caps then add up to exactly what one replica alone would send in its busiest second.
 *
 * An operation whose quota has fewer whole calls per second than there are replicas (LookupEvents: 2/s) cannot
 * be dealt out without starving a replica: each gets an equal fraction, and a rare throttle is left to the
 * backoff.
 */
export function shareOfRate(baseRate: number, replicas: number, rank: number): number {
  if (!Number.isFinite(baseRate) || replicas <= 1) return baseRate;
  const calls = Math.ceil(baseRate - 1e-9);
  if (calls < replicas) return baseRate / replicas;
  const mine = Math.floor(calls / replicas) + (rank < calls % replicas ? 1 : 0);
  return (baseRate * mine) / calls;
}

/** Who shares the quota right now: identities of the live replicas and where that came from. */
export interface LiveReplicas {
  identities: string[];
  /** The live replicas that ran activities recently: only they take a share. */
  busy: string[];
  /**
   * When each busy replica's current busy stretch began (this host's clock), when the source knows. One busy for
   * longer than the notice time paces at a share that may leave out a replica that just started.
   */
  busySince?: Record<string, number>;
  /** `heartbeats` (Temporal's worker heartbeats, ListWorkers) or `pollers` (DescribeTaskQueue's recent pollers). */
  source: string;
}

export interface QuotaShareOptions {
  /** How much of its share an operation's pace regains per second after a throttle (additive increase). Default 0.05. */
  increasePerSecond?: number;
  /** Factor applied to an operation's pace when KMS throttles it (multiplicative decrease). Default 0.5. */
  decreaseFactor?: number;
  /** The pace never drops below this fraction of the share. Default 0.05. */
  minFactor?: number;
  /** Throttles within this time of a decrease belong to the same episode (calls already in flight): one decrease. Default 1 s. */
  episodeMs?: number;
  /** Told when the number of replicas or the membership source changes (the worker logs it). */
  onChange?: (status: QuotaShareStatus) => void;
  /**
   * How long the other replicas need to see that this one has started working (a worker heartbeat plus their
   * membership read, with a margin). Until then a replica that starts working takes no share from busy replicas
   * (it waits) and, when none is busy, counts every live replica. Default 5 s.
   */
  noticeMs?: number;
  /** After this long without a paced call, this replica is idle: its next call starts a new busy stretch. Default 6 s. */
  idleAfterMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

export interface QuotaShareStatus {
  /** Replicas taking a share of the quota (busy ones, or every live one while this one starts), this one included. */
  replicas: number;
  /** Live replicas reported by the membership source. */
  live: number;
  /** This replica's place among them (sorted identities), which decides who gets the odd whole call. */
  rank: number;
  source: string;
  /** Current pace per operation, requests per second. */
  rates: Partial<Record<PacedOperation, number>>;
  /** Operations currently below their share after a throttle, with the fraction of the share they pace at. */
  backedOff: Partial<Record<PacedOperation, number>>;
}

/**
 * Shares the account-wide quotas among the worker replicas: each replica paces at its share of every quota
 * ({@link shareOfRate}), from the live replicas that `members` reports, refreshed periodically. The refresh is
 * always a little stale (a replica that just died still counts, one that just joined does not yet), so an AIMD
 * loop on top is the safety net: a ThrottlingException halves that operation's pace, which then regains 5 % of
 * its share per second.
 */
export class QuotaShare {
  private replicas = 1;
  private rank = 0;
  private source = 'none';
  private self = '';
  private live: readonly string[] = [];
  private busy: readonly string[] = [];
  private reportedLive = 0;
  private othersBusySince: Readonly<Record<string, number>> | undefined;
  private lastDemandAt = -Infinity;
  private busySince = -Infinity;
  private readonly noticeMs: number;
  private readonly idleAfterMs: number;
  private readonly factors = new Map<PacedOperation, number>();
  private readonly lastDecrease = new Map<PacedOperation, number>();
  private readonly increasePerSecond: number;
  private readonly decreaseFactor: number;
  private readonly minFactor: number;
  private readonly episodeMs: number;
  private readonly now: () => number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private lastTick: number;

  constructor(
    private readonly limiter: AdjustableKmsRateLimiter,
    private readonly options: QuotaShareOptions = {},
  ) {
    this.increasePerSecond = options.increasePerSecond ?? 0.05;
    this.decreaseFactor = options.decreaseFactor ?? 0.5;
    this.minFactor = options.minFactor ?? 0.05;
    this.episodeMs = options.episodeMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.noticeMs = options.noticeMs ?? 5_000;
    this.idleAfterMs = options.idleAfterMs ?? 6_000;
    this.lastTick = this.now();
  }

  /**
   * Sets who shares the quota: the live replicas, and among them the busy ones (running activities). Only busy
   * replicas take a share, so one that has nothing to do leaves its share to the others; `self` always counts.
   */
  setMembers(live: readonly string[], self: string, source: string, busy: readonly string[] = live, busySince?: Readonly<Record<string, number>>): void {
    this.live = live;
    this.busy = busy;
    this.othersBusySince = busySince;
    this.self = self;
    this.source = source;
    this.recount();
  }

  /**
   * The limiter the activities use: it notes this replica's demand, and holds a call back while this replica has
   * just started working and busy replicas have not yet had time to see it (they still pace at shares without it).
   */
  pacing(limiter: KmsRateLimiter): KmsRateLimiter {
    return {
      rate: (operation) => limiter.rate(operation),
      acquire: async (operation, signal) => {
        this.noteDemand();
        const wait = this.deferral();
        if (wait > 0) await abortableDelay(wait, signal);
        return limiter.acquire(operation, signal);
      },
    };
  }

  private noteDemand(): void {
    const now = this.now();
    const idle = now - this.lastDemandAt > this.idleAfterMs;
    this.lastDemandAt = now;
    if (idle) {
      this.busySince = now;
      this.recount();
    }
  }

  private fresh(): boolean {
    return this.now() - this.busySince < this.noticeMs;
  }

  /**
   * Milliseconds to hold a call back (see {@link pacing}): only while this replica is fresh and another has been
   * busy for longer than the notice time (a replica in its own fresh stretch counts every live one, this included).
   */
  private deferral(): number {
    if (!this.fresh() || !this.othersBusySince) return 0;
    const since = this.othersBusySince;
    const now = this.now();
    if (!this.busy.some((id) => id !== this.self && now - (since[id] ?? -Infinity) >= this.noticeMs)) return 0;
    return this.busySince + this.noticeMs - now;
  }

  private recount(): void {
    // Just started working, nobody else busy: the others may be starting too and have not seen this one, so
    // count every live replica until they have had time to (then only the busy ones).
    const members = this.fresh() && !this.busy.some((id) => id !== this.self) ? this.live : this.busy;
    const all = [...new Set([...members, this.self])].sort();
    const changed = all.length !== this.replicas || this.live.length !== this.reportedLive;
    this.reportedLive = this.live.length;
    this.replicas = all.length;
    this.rank = all.indexOf(this.self);
    this.apply();
    if (changed) this.options.onChange?.(this.status());
  }

  /** A ThrottlingException for `operation`: halve its pace, once per episode. */
  throttled(operation: PacedOperation): void {
    const now = this.now();
    if (now - (this.lastDecrease.get(operation) ?? -Infinity) < this.episodeMs) return;
    this.lastDecrease.set(operation, now);
    this.factors.set(operation, Math.max(this.minFactor, (this.factors.get(operation) ?? 1) * this.decreaseFactor));
    this.applyOne(operation);
  }

  /** Additive increase for every backed-off operation, by the time since the last tick. */
  tick(): void {
    const now = this.now();
    const seconds = Math.max(0, now - this.lastTick) / 1000;
    this.lastTick = now;
    for (const [op, factor] of this.factors) {
      const next = Math.min(1, factor + this.increasePerSecond * seconds);
      if (next >= 1) this.factors.delete(op);
      else this.factors.set(op, next);
      this.applyOne(op);
    }
  }

  /** An observer that tells `inner` (the worker's metrics) every call and feeds throttles to the AIMD loop. */
  observer(inner?: AwsCallObserver): AwsCallObserver {
    return {
      awsCall: (operation, outcome, throttled) => {
        inner?.awsCall(operation, outcome, throttled);
        if (throttled) this.throttled(operation);
      },
    };
  }

  /**
   * Reads the membership now (so the first activity already paces at its share), then every `refreshMs`; ticks
   * the additive increase every second. A failed read keeps the last membership: the AIMD loop covers the gap.
   */
  async start(members: () => Promise<LiveReplicas>, self: string, refreshMs: number): Promise<void> {
    const refresh = async () => {
      try {
        const live = await members();
        this.setMembers(live.identities, self, live.source, live.busy, live.busySince);
      } catch (err) {
        console.warn(`quota share: could not read the live replicas (${(err as Error).message}); keeping ${this.replicas}`);
      }
    };
    await refresh();
    let refreshing = false;
    const refreshTimer = setInterval(() => {
      if (refreshing) return;
      refreshing = true;
      void refresh().finally(() => (refreshing = false));
    }, refreshMs);
    const tickTimer = setInterval(() => {
      this.tick();
      // The end of this replica's fresh stretch changes who counts, between two membership reads.
      if (this.busySince + this.noticeMs <= this.now() && this.busySince + this.noticeMs > this.now() - 1_000) this.recount();
    }, 1_000);
    refreshTimer.unref();
    tickTimer.unref();
    this.timers.push(refreshTimer, tickTimer);
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  status(): QuotaShareStatus {
    const rates: QuotaShareStatus['rates'] = {};
    for (const op of this.limiter.pacedOperations()) rates[op] = this.limiter.rate(op);
    return {
      replicas: this.replicas,
      live: this.live.length,
      rank: this.rank,
      source: this.source,
      rates,
      backedOff: Object.fromEntries(this.factors),
    };
  }

  private apply(): void {
    for (const op of this.limiter.pacedOperations()) this.applyOne(op);
  }

  private applyOne(operation: PacedOperation): void {
    const share = shareOfRate(this.limiter.baseRate(operation), this.replicas, this.rank);
    this.limiter.setRate(operation, share * (this.factors.get(operation) ?? 1));
  }
}
