import type { AwsCallObserver } from '../metrics/worker-metrics';
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
 * A replica that counts more replicas than there are, or sorts later among them, never gets more: its share only
 * shrinks with the number of replicas and with its rank. That is what makes stale views safe (see {@link QuotaShare}).
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

/**
 * Read-only operations whose quotas are two orders of magnitude above the mutating ones (DescribeKey 2,000/s,
 * ListKeys and ListAliases 500/s). Every replica claims them for as long as it runs, so they are split evenly among
 * the replicas: an even share is far more than the callers of one replica use, and claiming them per burst would
 * only delay the DescribeKey that precedes every ScheduleKeyDeletion while the others acknowledge the claim.
 */
export const ALWAYS_CLAIMED_OPERATIONS: ReadonlySet<PacedOperation> = new Set<PacedOperation>(['DescribeKey', 'ListKeys', 'ListAliases']);

/**
 * How far apart a replica's calls at an old pace and another's at a new pace are kept, and the window this replica
 * counts its own recent calls in before it acknowledges a newcomer: the rolling second the pacers cap (and KMS
 * counts) calls in, plus the pacer's guards against transport jitter (25 ms, and 50 ms after a decrease), plus a margin.
 */
const SEPARATION_MS = 1_100;

/** One operation in a replica's quota record: the replica takes (or is about to take) a share of its quota. */
export interface QuotaClaim {
  /** Which stretch of demand this is (a counter of this replica): an acknowledgement names the stretch it saw. */
  epoch: number;
  /**
   * The other claimants this replica counts for the operation, each with the stretch it counted: acknowledgements.
   * Published only once this replica's pace already leaves room for them.
   */
  counts: Record<string, number>;
}

/** What a replica publishes about itself: the operations whose quotas it takes a share of. */
export interface QuotaRecord {
  /** The replica's worker identity (unique per replica: it also decides the rank). */
  identity: string;
  /** Strictly increasing with every publish: readers tell a live record from a silent one by its changes alone. */
  seq: number;
  claims: Partial<Record<PacedOperation, QuotaClaim>>;
  /** Set by a replica that shuts down: its claims end at once. */
  stopped?: boolean;
}

/** One read of who shares the quotas. */
export interface QuotaSnapshot {
  /** Identities of the live replicas (worker heartbeats, or the task queue's recent pollers). */
  live: string[];
  /** Every replica's quota record, when the source has them (worker heartbeats); undefined for the pollers. */
  records?: QuotaRecord[];
  /** `heartbeats` (Temporal's worker heartbeats, ListWorkers) or `pollers` (DescribeTaskQueue's recent pollers). */
  source: string;
}

/** Where the replicas find each other: read everyone's records, publish this replica's (see `quota-share-members.ts`). */
export interface QuotaMembership {
  read(): Promise<QuotaSnapshot>;
  publish(record: QuotaRecord): Promise<void>;
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
  /** Told when the live replicas, the membership source or the replicas sharing ScheduleKeyDeletion change (the worker logs it). */
  onChange?: (status: QuotaShareStatus) => void;
  /**
   * How long replicas that publish no record (the pollers fallback, or an older version during a rolling upgrade)
   * need to see a replica that starts calling: a worker heartbeat plus their membership read, with a margin. Default 5 s.
   */
  noticeMs?: number;
  /**
   * A claim ends this long after the operation's last call when no caller waits. At least the rolling second, so
   * the calls this replica made never share a rolling second with those the others make at their raised pace. Default 1 s.
   */
  holdMs?: number;
  /**
   * A record that has not changed for this long belongs to a replica that is gone (SIGKILL, partition): the others
   * count it out. Default 6 s.
   */
  leaseMs?: number;
  /** This replica stops calling when it has not renewed its record for `leaseMs − leaseMarginMs`. Default 1 s. */
  leaseMarginMs?: number;
  /** While a claim waits for acknowledgements, the membership is read this often. Default 100 ms. */
  joinPollMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

type Phase = 'idle' | 'joining' | 'active';
type Mode = 'alone' | 'pending' | 'static' | 'records';

/** One operation's share as {@link QuotaShare.status} reports it. */
export interface OperationShare {
  /** `idle`: no claim; `joining`: claimed, callers wait for the others' acknowledgements; `active`: calling at `rate`. */
  phase: Phase;
  /** Replicas counted for this operation's quota, this one included. */
  replicas: number;
  /** Current pace, requests per second. */
  rate: number;
}

export interface QuotaShareStatus {
  /** Replicas taking a share of at least one quota, this one included. */
  replicas: number;
  /** Live replicas reported by the membership source. */
  live: number;
  /**
   * `records` (claims and acknowledgements), `static` (every live replica shares every quota), `pending` (started,
   * no membership read yet: nothing is admitted) or `alone` (never started: the whole quota, as one worker).
   */
  mode: Mode;
  source: string;
  /** Per paced operation: phase, replicas counted and pace. */
  operations: Partial<Record<PacedOperation, OperationShare>>;
  /** Current pace per operation, requests per second. */
  rates: Partial<Record<PacedOperation, number>>;
  /** Operations currently below their share after a throttle, with the fraction of the share they pace at. */
  backedOff: Partial<Record<PacedOperation, number>>;
}

interface OperationState {
  phase: Phase;
  /** Claimed for as long as the replica runs ({@link ALWAYS_CLAIMED_OPERATIONS}). */
  always: boolean;
  epoch: number;
  /** When the current claim began. */
  claimedAt: number;
  /** Callers inside `acquire` (waiting for admission or for the pacer). */
  waiting: number;
  lastCallerAt: number;
  lastGrantAt: number;
  /** This replica's grants of the last {@link SEPARATION_MS} (oldest first; older ones are trimmed lazily). */
  recentGrants: number[];
  /** Trim beyond this length: twice the grants the whole quota allows in the window. */
  recentLimit: number;
  /** Replicas counted for this operation (sorted, this one included). */
  members: string[];
  /**
   * Other claimants counted, with the epoch counted. `due`: the acknowledgement may be published (this replica
   * counted that claimant before under an earlier claim, or its own grants of the last {@link SEPARATION_MS} fit
   * its current cap).
   */
  acks: Map<string, { epoch: number; due: boolean }>;
  /** Callers waiting for admission. */
  admission: Set<() => void>;
}

interface PeerRecord {
  record: QuotaRecord;
  /** This host's clock when the record last changed: silence is measured here, never against the writer's clock. */
  changedAt: number;
}

/** gRPC codes that mean the server will never take this replica's record (old server, or not permitted). */
const PERMANENT_PUBLISH_CODES = new Set([7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */]);

/**
 * Shares the account-wide quotas among the worker replicas, per operation and by demand: only the replicas whose
 * callers are waiting on an operation's pace take a share of its quota ({@link shareOfRate} among them).
 *
 * Each replica publishes a record of its **claims** (operations it has callers for) and reads everyone's records
 * every `refreshMs`. A claim is admitted (its callers may call) once every other claimant of that operation has
 * acknowledged it in its own record, and a replica acknowledges only after lowering its own pace and once its own
 * recent calls fit the lowered cap; a replica whose read shows its own claim and no other claimant is admitted at
 * once (two replicas that claim together cannot both miss each other). A claim ends {@link SEPARATION_MS} after
 * the operation's last call, and the others raise their pace when they read that. A replica that has not renewed
 * its record for most of the lease stops calling, so that a silent record may be counted out: that is how a
 * SIGKILLed replica's share returns to the others. AIMD on ThrottlingException stays as the safety net. The
 * argument, rule by rule, is in the README ("Several workers, one quota").
 *
 * Without records (the pollers fallback, or a server that refuses them) every live replica shares every quota.
 */
export class QuotaShare {
  private mode: Mode = 'alone';
  private source = 'none';
  private self = '';
  private live: readonly string[] = [];
  private readonly peers = new Map<string, PeerRecord>();
  /** Identities that published a record at some point: a live one without a fresh record is gone, not an old version. */
  private readonly withRecords = new Set<string>();
  private legacy: string[] = [];
  private membership: QuotaMembership | undefined;
  private recordsRefused = false;
  /** This replica's own record as the last read showed it: proof that the read came after a publish. */
  private ownRecord: QuotaRecord | undefined;
  private published = false;
  /** When the last successful publish completed: a read that started later must list this replica's record. */
  private publishedAt = -Infinity;
  private ownRecordMissing = 0;
  private lapseHandled = false;
  private leaseFrom = -Infinity;
  private staticReadyAt = -Infinity;
  private epochs = 0;
  private seq = 0;
  private readonly ops = new Map<PacedOperation, OperationState>();
  private readonly factors = new Map<PacedOperation, number>();
  private readonly lastDecrease = new Map<PacedOperation, number>();
  private readonly increasePerSecond: number;
  private readonly decreaseFactor: number;
  private readonly minFactor: number;
  private readonly episodeMs: number;
  private readonly noticeMs: number;
  private readonly holdMs: number;
  private readonly leaseMs: number;
  private readonly leaseMarginMs: number;
  private readonly joinPollMs: number;
  private readonly now: () => number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private lastTick: number;
  private lastJoinPoll = -Infinity;
  private autoRefresh = false;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private stopped = false;
  private lastReport = '';
  private readFailures = 0;
  private publishFailures = 0;

  constructor(
    private readonly limiter: AdjustableKmsRateLimiter,
    private readonly options: QuotaShareOptions = {},
  ) {
    this.increasePerSecond = options.increasePerSecond ?? 0.05;
    this.decreaseFactor = options.decreaseFactor ?? 0.5;
    this.minFactor = options.minFactor ?? 0.05;
    this.episodeMs = options.episodeMs ?? 1_000;
    this.noticeMs = options.noticeMs ?? 5_000;
    this.holdMs = Math.max(SEPARATION_MS, options.holdMs ?? SEPARATION_MS);
    this.leaseMs = options.leaseMs ?? 6_000;
    this.leaseMarginMs = options.leaseMarginMs ?? 1_000;
    this.joinPollMs = options.joinPollMs ?? 100;
    this.now = options.now ?? Date.now;
    this.lastTick = this.now();
    for (const op of limiter.pacedOperations()) {
      const always = ALWAYS_CLAIMED_OPERATIONS.has(op);
      this.ops.set(op, {
        phase: 'idle',
        always,
        epoch: 0,
        claimedAt: -Infinity,
        waiting: 0,
        lastCallerAt: -Infinity,
        lastGrantAt: -Infinity,
        recentGrants: [],
        recentLimit: 2 * Math.ceil(Math.min(limiter.baseRate(op), 1e6)) + 16,
        members: [],
        acks: new Map(),
        admission: new Set(),
      });
    }
  }

  /**
   * Static sharing: every replica in `live` (and `self`) takes an equal share of every quota, with no claims. The
   * pollers fallback works this way; tests use it to set a membership directly.
   */
  setMembers(live: readonly string[], self: string, source: string): void {
    this.self = self;
    this.observe({ live: [...live], source }, this.now());
    this.decide();
  }

  /**
   * Attaches the membership without timers: `refresh()` and `housekeeping()` then run only when called (tests drive
   * the protocol step by step with an injected clock). {@link start} does this and adds the timers.
   */
  connect(membership: QuotaMembership, self: string): void {
    this.membership = membership;
    this.self = self;
    this.mode = 'pending';
    for (const [op, state] of this.ops) if (state.always) this.claim(op, state);
  }

  /**
   * Attaches the membership, publishes this replica's first record and reads the others' (so the first activity
   * already paces at its share), then refreshes every `refreshMs` and runs the housekeeping (claims that end,
   * the lease, the AIMD increase) every 100 ms. A failed read or publish keeps the last view; the lease decides how
   * long this replica may keep calling without one.
   */
  async start(membership: QuotaMembership, self: string, refreshMs: number): Promise<void> {
    this.connect(membership, self);
    this.autoRefresh = true;
    // Publish, then read again: claims nobody else holds are admitted by that second read.
    this.poke();
    await this.refreshing;
    const refreshTimer = setInterval(() => this.poke(), refreshMs);
    const houseTimer = setInterval(() => this.housekeeping(), 100);
    refreshTimer.unref();
    houseTimer.unref();
    this.timers.push(refreshTimer, houseTimer);
  }

  /** Stops the timers and tells the others this replica's claims have ended (best effort). */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.stopped = true;
    if (this.mode === 'records' && this.membership) {
      await this.refreshing?.catch(() => undefined);
      await this.membership.publish({ identity: this.self, seq: this.nextSeq(), claims: {}, stopped: true }).catch(() => undefined);
    }
  }

  /**
   * The limiter the activities use. A caller of an operation this replica has no claim on starts one; callers wait
   * until the claim is admitted, then for the pacer; a grant that arrives after admission was lost (the lease ran
   * out meanwhile) is not used: the caller waits for admission again and takes a new grant.
   */
  pacing(limiter: KmsRateLimiter): KmsRateLimiter {
    return {
      rate: (operation) => limiter.rate(operation),
      acquire: async (operation, signal) => {
        const state = this.ops.get(operation);
        if (!state) return limiter.acquire(operation, signal);
        state.waiting++;
        state.lastCallerAt = this.now();
        try {
          for (;;) {
            if (state.phase === 'idle') this.claim(operation, state);
            if (!this.admitted(state)) await this.admission(state, signal);
            await limiter.acquire(operation, signal);
            if (this.admitted(state)) {
              this.noteGrant(state);
              return;
            }
          }
        } finally {
          state.waiting--;
          state.lastCallerAt = this.now();
        }
      },
    };
  }

  private noteGrant(state: OperationState): void {
    const now = this.now();
    state.lastGrantAt = now;
    state.recentGrants.push(now);
    // Amortized: DescribeKey is granted up to 2,000 times a second.
    if (state.recentGrants.length > state.recentLimit) this.trimGrants(state, now);
  }

  private trimGrants(state: OperationState, now: number): void {
    let old = 0;
    while (old < state.recentGrants.length && (state.recentGrants[old] as number) <= now - SEPARATION_MS) old++;
    if (old > 0) state.recentGrants.splice(0, old);
  }

  /**
   * When this replica's grants of the last second fit the cap of its current pace (now, or when enough of them
   * have left the window). From then on its pacer keeps every rolling second within that cap, so a newcomer's calls
   * at its own share add up with this replica's to no more than the quota's whole calls.
   */
  private fitsCapAt(op: PacedOperation, state: OperationState, now: number): number {
    this.trimGrants(state, now);
    const cap = Math.max(1, Math.ceil(this.limiter.rate(op) - 1e-9));
    const excess = state.recentGrants.length - cap;
    return excess <= 0 ? now : (state.recentGrants[excess - 1] as number) + SEPARATION_MS;
  }

  /** Whether callers of this operation may call now. */
  private admitted(state: OperationState): boolean {
    if (this.mode === 'alone') return true;
    if (state.phase !== 'active') return false;
    return this.mode !== 'records' || this.leaseHeld();
  }

  private leaseHeld(): boolean {
    return this.now() - this.leaseFrom <= this.leaseMs - this.leaseMarginMs;
  }

  private admission(state: OperationState, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        state.admission.delete(admit);
        reject(signal?.reason);
      };
      const admit = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      state.admission.add(admit);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private admitWaiting(): void {
    for (const state of this.ops.values()) {
      if (state.admission.size === 0 || !this.admitted(state)) continue;
      const waiting = [...state.admission];
      state.admission.clear();
      for (const admit of waiting) admit();
    }
  }

  /** A new claim (a new epoch): published at the next refresh, which is asked for now. */
  private claim(operation: PacedOperation, state: OperationState): void {
    state.phase = 'joining';
    state.epoch = ++this.epochs;
    state.claimedAt = this.now();
    if (this.mode === 'static' || this.mode === 'alone') this.decideOne(operation, state);
    this.poke();
  }

  private poke(): void {
    if (!this.autoRefresh || this.stopped) return;
    this.refreshAgain = true;
    if (!this.refreshing) this.refreshing = this.refreshLoop().finally(() => (this.refreshing = undefined));
  }

  private async refreshLoop(): Promise<void> {
    while (this.refreshAgain && !this.stopped) {
      this.refreshAgain = false;
      await this.refresh();
    }
  }

  /**
   * One membership round: read everyone's records, set this replica's paces (lower ones first, so an
   * acknowledgement is never published before the pace it promises), then publish this replica's record. Exposed
   * for tests; the worker's timers call it.
   */
  async refresh(): Promise<void> {
    const membership = this.membership;
    if (!membership) return;
    const readStartedAt = this.now();
    let snapshot: QuotaSnapshot;
    try {
      snapshot = await membership.read();
      this.readFailures = 0;
    } catch (err) {
      if (this.readFailures++ % 50 === 0) console.warn(`quota share: could not read the replicas (${(err as Error).message}); keeping the last view`);
      return;
    }
    this.observe(snapshot, readStartedAt);
    this.decide();
    if (this.mode !== 'records' || this.stopped) return;
    const record = this.record();
    const sentAt = this.now();
    try {
      await membership.publish(record);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number' && PERMANENT_PUBLISH_CODES.has(code)) {
        console.warn(`quota share: the server does not take this replica's record (${(err as Error).message}): every live replica shares every quota`);
        this.recordsRefused = true;
      } else if (this.publishFailures++ % 50 === 0) {
        console.warn(`quota share: could not publish this replica's record (${(err as Error).message})`);
      }
      return;
    }
    this.publishFailures = 0;
    this.published = true;
    this.publishedAt = this.now();
    this.leaseFrom = sentAt;
    this.lapseHandled = false;
    this.admitWaiting();
    // A claim just published is admitted by a read that shows it: ask for that read now.
    if ([...this.ops.entries()].some(([op, s]) => s.phase === 'joining' && this.ownRecord?.claims[op]?.epoch !== s.epoch)) this.poke();
  }

  /** Who is live and who claims what, from one read. */
  private observe(snapshot: QuotaSnapshot, at: number): void {
    const now = this.now();
    this.source = snapshot.source;
    this.live = snapshot.live;
    const previousMode = this.mode;
    this.mode = snapshot.records !== undefined && !this.recordsRefused && this.membership ? 'records' : 'static';
    if (this.mode === 'records') {
      this.ownRecord = snapshot.records?.find((r) => r.identity === this.self && !r.stopped);
      // A server that takes records but never lists them would leave every claim waiting: share statically instead.
      if (this.ownRecord) this.ownRecordMissing = 0;
      else if (this.published && at > this.publishedAt) this.ownRecordMissing++;
      if (this.ownRecordMissing >= 5) {
        console.warn("quota share: this replica's record does not show in the server's list: every live replica shares every quota");
        this.recordsRefused = true;
        this.mode = 'static';
      }
    }
    if (this.mode === 'records') {
      const listed = new Set<string>();
      for (const record of snapshot.records ?? []) {
        if (record.identity === this.self) continue;
        listed.add(record.identity);
        this.withRecords.add(record.identity);
        const known = this.peers.get(record.identity);
        if (!known || known.record.seq !== record.seq) this.peers.set(record.identity, { record, changedAt: now });
      }
      // A silent record stays known (so that the same record, read again, is not taken for a new one) but counts no
      // more; one missing from a read (a server restart empties the registry) still counts until its lease ends.
      for (const [identity, peer] of this.peers) if (!listed.has(identity) && !this.counts(peer, now)) this.peers.delete(identity);
      // Forget identities that are neither live nor known (each deploy brings new ones); one that comes back without a
      // record then counts as an older version, which only lowers this replica's shares.
      for (const identity of this.withRecords) if (!this.peers.has(identity) && !this.live.includes(identity)) this.withRecords.delete(identity);
      this.legacy = this.live.filter((id) => id !== this.self && !this.withRecords.has(id));
    } else {
      this.legacy = [];
      if (previousMode !== 'static') {
        // Replicas already calling must first see this one: it waits for them once, at its start.
        this.staticReadyAt = this.live.some((id) => id !== this.self) ? at + this.noticeMs : at;
      }
    }
  }

  /** Whether another replica's record still counts: not stopped, and changed within the lease. */
  private counts(peer: PeerRecord, now: number): boolean {
    return !peer.record.stopped && now - peer.changedAt <= this.leaseMs;
  }

  /** Members, paces, acknowledgements and admissions of every operation, from the current view. */
  private decide(): void {
    for (const [op, state] of this.ops) this.decideOne(op, state);
    this.scheduleAcks();
    this.admitWaiting();
    this.report();
  }

  private decideOne(op: PacedOperation, state: OperationState): void {
    const now = this.now();
    if (this.mode === 'alone' || this.mode === 'pending') {
      state.members = [this.self];
      if (this.mode === 'alone' && state.phase === 'joining') state.phase = 'active';
      this.applyOne(op);
      return;
    }
    if (this.mode === 'static') {
      state.members = [...new Set([...this.live, this.self])].sort();
      state.acks.clear();
      this.applyOne(op);
      if (state.phase === 'joining' && now >= this.staticReadyAt) state.phase = 'active';
      return;
    }
    // Other claimants: replicas whose fresh record claims the operation, and live replicas that publish no record
    // (an older version): those claim every operation.
    const claimants = new Map<string, number | undefined>();
    for (const [identity, peer] of this.peers) {
      if (!this.counts(peer, now)) continue;
      const claim = peer.record.claims[op];
      if (claim) claimants.set(identity, claim.epoch);
    }
    for (const identity of this.legacy) claimants.set(identity, undefined);
    state.members = [...new Set([...claimants.keys(), this.self])].sort();
    // Lower (or raise) the pace first: every acknowledgement published below is already true.
    this.applyOne(op);
    for (const identity of state.acks.keys()) if (!claimants.has(identity)) state.acks.delete(identity);
    for (const [identity, epoch] of claimants) {
      if (epoch === undefined) continue;
      const ack = state.acks.get(identity);
      if (ack?.epoch === epoch) continue;
      // Counted already under an earlier claim: this pace already left room for it. Newly counted: due once this
      // replica's calls of the last second fit its lowered cap (see fitsCapAt).
      state.acks.set(identity, { epoch, due: ack !== undefined });
    }
    // Admission needs a read that shows this claim: any replica that claimed before that read is in it.
    if (state.phase !== 'joining' || this.ownRecord?.claims[op]?.epoch !== state.epoch) return;
    let admitted = true;
    for (const [identity, epoch] of claimants) {
      if (epoch === undefined) admitted &&= now >= state.claimedAt + this.noticeMs;
      else admitted &&= this.peers.get(identity)?.record.claims[op]?.counts[this.self] === state.epoch;
    }
    if (admitted) state.phase = 'active';
  }

  /** This replica's record: its claims, each with the acknowledgements that are due. */
  private record(): QuotaRecord {
    const now = this.now();
    const claims: QuotaRecord['claims'] = {};
    for (const [op, state] of this.ops) {
      if (state.phase === 'idle') continue;
      const fits = this.fitsCapAt(op, state, now) <= now;
      const counts: Record<string, number> = {};
      for (const [identity, ack] of state.acks) {
        if (!ack.due && fits) ack.due = true;
        if (ack.due) counts[identity] = ack.epoch;
      }
      claims[op] = { epoch: state.epoch, counts };
    }
    return { identity: this.self, seq: this.nextSeq(), claims };
  }

  private nextSeq(): number {
    this.seq = Math.max(this.seq + 1, this.now());
    return this.seq;
  }

  /** Publishes acknowledgements when they fall due (between two refreshes). */
  private scheduleAcks(): void {
    if (!this.autoRefresh) return;
    const now = this.now();
    let next = Infinity;
    for (const [op, state] of this.ops) {
      if (state.phase === 'idle' || ![...state.acks.values()].some((ack) => !ack.due)) continue;
      const at = this.fitsCapAt(op, state, now);
      if (at > now) next = Math.min(next, at);
    }
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (next < Infinity) {
      this.ackTimer = setTimeout(() => this.poke(), next - now + 1);
      this.ackTimer.unref();
    }
  }

  /**
   * Ends claims whose last call is `holdMs` old with no caller waiting, drops the claims when the lease ran out,
   * polls faster while a claim waits for acknowledgements, and runs the AIMD increase. Every 100 ms in the worker.
   */
  housekeeping(): void {
    const now = this.now();
    let changed = false;
    // The others may count this replica out from now on: every claim starts again, as a newcomer's (once per lapse;
    // an acknowledgement of an earlier claim is then never taken for one of the new claim).
    const lapsed = this.mode === 'records' && this.published && !this.leaseHeld() && !this.lapseHandled;
    if (lapsed) this.lapseHandled = true;
    for (const [op, state] of this.ops) {
      if (state.phase === 'idle') continue;
      if (lapsed) {
        state.phase = 'idle';
        if (state.waiting > 0 || state.always) this.claim(op, state);
        changed = true;
      } else if (!state.always && state.waiting === 0 && now - state.lastCallerAt >= this.holdMs && now - state.lastGrantAt >= this.holdMs) {
        state.phase = 'idle';
        state.acks.clear();
        changed = true;
      }
    }
    const joining = [...this.ops.values()].some((s) => s.phase === 'joining');
    if (joining && this.mode === 'static') {
      // Static claims wait only for the start-up notice: no read needed.
      for (const [op, state] of this.ops) if (state.phase === 'joining') this.decideOne(op, state);
      this.admitWaiting();
    } else if (changed || (joining && now - this.lastJoinPoll >= this.joinPollMs)) {
      this.lastJoinPoll = now;
      this.poke();
    }
    if (now - this.lastTick >= 1_000) this.tick();
    if (changed) this.report();
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

  status(): QuotaShareStatus {
    const rates: QuotaShareStatus['rates'] = {};
    const operations: QuotaShareStatus['operations'] = {};
    const sharing = new Set<string>([this.self]);
    for (const op of this.limiter.pacedOperations()) {
      rates[op] = this.limiter.rate(op);
      const state = this.ops.get(op);
      if (!state) continue;
      const members = state.members.length > 0 ? state.members : [this.self];
      operations[op] = { phase: state.phase, replicas: members.length, rate: this.limiter.rate(op) };
      for (const id of members) sharing.add(id);
    }
    return {
      replicas: sharing.size,
      live: this.live.length,
      mode: this.mode,
      source: this.source,
      operations,
      rates,
      backedOff: Object.fromEntries(this.factors),
    };
  }

  private report(): void {
    if (!this.options.onChange) return;
    const status = this.status();
    const key = `${status.live}/${status.source}/${status.mode}/${status.operations.ScheduleKeyDeletion?.replicas}`;
    if (key === this.lastReport) return;
    this.lastReport = key;
    this.options.onChange(status);
  }

  private applyOne(operation: PacedOperation): void {
    const members = this.ops.get(operation)?.members ?? [];
    const rank = Math.max(0, members.indexOf(this.self));
    const share = shareOfRate(this.limiter.baseRate(operation), Math.max(1, members.length), rank);
    this.limiter.setRate(operation, share * (this.factors.get(operation) ?? 1));
  }
}
