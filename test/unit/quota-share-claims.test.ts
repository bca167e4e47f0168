import { QuotaShare, shareOfRate, type QuotaMembership, type QuotaRecord, type QuotaSnapshot } from '../../src/activities/quota-share';
import { decodeQuotaRecord, encodeQuotaRecord, QUOTA_RECORD_SDK_NAME } from '../../src/activities/quota-share-members';
import { createKmsRateLimiter, type AdjustableKmsRateLimiter, type KmsRateLimiter, type PacedOperation } from '../../src/activities/rate-limiter';
import { quotaShareFromEnv } from '../../src/worker-options';

/**
 * The claim protocol of the quota share (README "Several workers, one quota"), driven step by step: several
 * QuotaShare instances over one in-memory registry (what ListWorkers / RecordWorkerHeartbeat are in the worker),
 * an injected clock, and a pacer model on that clock (the real pacer's cadence and rolling cap), so that every
 * grant is an event the test sees and checks against the account's quota.
 */

const OP: PacedOperation = 'ScheduleKeyDeletion';
const BASE = 15 * 0.97;
/** The quota's whole calls: what no rolling second of the account may exceed. */
const CALLS = 15;

// Failed publishes are part of the tests: their warnings are expected.
beforeAll(() => jest.spyOn(console, 'warn').mockImplementation(() => undefined));
afterAll(() => jest.restoreAllMocks());

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

class Registry {
  readonly records = new Map<string, QuotaRecord>();
  readonly live = new Set<string>();
  snapshot(): QuotaSnapshot {
    return { live: [...this.live], records: [...this.records.values()].map(clone), source: 'test' };
  }
}

interface Grant {
  at: number;
  rate: number;
}

/**
 * The pacer on the test's clock: one grant per `1000 / rate` ms at most, and no more than ceil(rate) grants in any
 * window of 1.025 s (the real pacer's cap with its jitter guard). Callers queue first come first served.
 */
class ModelPacer {
  private readonly queues = new Map<PacedOperation, (() => void)[]>();
  private readonly history = new Map<PacedOperation, number[]>();

  constructor(
    private readonly limiter: AdjustableKmsRateLimiter,
    private readonly clock: { now: number },
  ) {}

  acquire(op: PacedOperation): Promise<void> {
    return new Promise((resolve) => (this.queues.get(op) ?? this.queues.set(op, []).get(op))?.push(resolve));
  }

  /** Grants at most one waiting caller per operation, if the pace allows it now. */
  step(): void {
    const now = this.clock.now;
    for (const [op, queue] of this.queues) {
      if (queue.length === 0) continue;
      const rate = this.limiter.rate(op);
      const history = this.history.get(op) ?? [];
      const last = history[history.length - 1] ?? -Infinity;
      const inCap = history.filter((t) => t > now - 1_025).length;
      if (now - last < 1000 / rate - 1e-9 || inCap >= Math.ceil(rate - 1e-9)) continue;
      history.push(now);
      this.history.set(op, history.slice(-64));
      queue.shift()?.();
    }
  }
}

class Replica {
  readonly limiter: AdjustableKmsRateLimiter;
  readonly share: QuotaShare;
  readonly paced: KmsRateLimiter;
  readonly pacer: ModelPacer;
  readonly grants: Grant[] = [];
  /** Operations this replica has callers for (one caller at a time, a new one each step). */
  readonly wants = new Set<PacedOperation>();
  private readonly outstanding = new Map<PacedOperation, Promise<void>>();
  failPublish = false;
  dead = false;

  constructor(
    readonly id: string,
    readonly clock: { now: number },
    membership: QuotaMembership,
  ) {
    // The real limiter only holds the paces the share sets; the model pacer grants by them.
    this.limiter = createKmsRateLimiter();
    this.share = new QuotaShare(this.limiter, { now: () => clock.now });
    this.pacer = new ModelPacer(this.limiter, clock);
    this.paced = this.share.pacing({ rate: (op) => this.limiter.rate(op), acquire: (op) => this.pacer.acquire(op) });
    this.share.connect(membership, id);
  }

  rate(op: PacedOperation = OP): number {
    return this.limiter.rate(op);
  }

  phase(op: PacedOperation = OP): string | undefined {
    return this.share.status().operations[op]?.phase;
  }

  /** Keeps a caller waiting for every wanted operation (as a batch activity does), and lets the pacer grant. */
  call(): void {
    if (this.dead) return;
    this.pacer.step();
    for (const op of this.wants) {
      if (this.outstanding.has(op)) continue;
      const caller = this.paced.acquire(op).then(() => {
        if (op === OP) this.grants.push({ at: this.clock.now, rate: this.limiter.rate(op) });
        this.outstanding.delete(op);
      });
      this.outstanding.set(op, caller);
    }
  }

  waiting(op: PacedOperation = OP): boolean {
    return this.outstanding.has(op);
  }
}

function membershipFor(registry: Registry, replica: () => Replica): QuotaMembership {
  return {
    read: async () => registry.snapshot(),
    publish: async (record) => {
      if (replica().failPublish) throw Object.assign(new Error('unavailable'), { code: 14 });
      registry.records.set(record.identity, clone(record));
    },
  };
}

function cluster(ids: string[]) {
  const clock = { now: 1_000_000 };
  const registry = new Registry();
  const replicas = new Map<string, Replica>();
  for (const id of ids) {
    const r: Replica = new Replica(
      id,
      clock,
      membershipFor(registry, () => r),
    );
    replicas.set(id, r);
    registry.live.add(id);
  }
  const get = (id: string) => replicas.get(id) as Replica;
  /** One refresh of every live replica (read, decide, publish), in the given order. */
  const refreshAll = async (order = ids) => {
    for (const id of order) if (!get(id).dead) await get(id).share.refresh();
    await flush();
  };
  /** Advances the clock by `ms` in steps of `stepMs`: housekeeping, callers, and a refresh every `refreshMs`. */
  const run = async (ms: number, stepMs = 10, refreshMs = 500) => {
    const end = clock.now + ms;
    while (clock.now < end) {
      clock.now += stepMs;
      for (const r of replicas.values()) if (!r.dead) r.share.housekeeping();
      for (const r of replicas.values()) r.call();
      await flush();
      if (clock.now % refreshMs === 0) await refreshAll();
      checkWindow([...replicas.values()], clock.now);
    }
  };
  return { clock, registry, get, refreshAll, run };
}

/**
 * The account's rolling second: all replicas' grants in the second that ends now never exceed the quota's whole
 * calls, through every change of who claims the quota (the pacers alone keep each replica's own second).
 */
function checkWindow(replicas: Replica[], now: number): void {
  let calls = 0;
  for (const r of replicas) for (let i = r.grants.length - 1; i >= 0 && (r.grants[i] as Grant).at > now - 1_000; i--) calls++;
  if (calls > CALLS) throw new Error(`overshoot at ${now}: ${calls} calls in the rolling second > ${CALLS}`);
}

test('one replica with callers takes the whole quota; live replicas without callers take none of it', async () => {
  const c = cluster(['a', 'b', 'c']);
  await c.refreshAll();
  await c.refreshAll();
  c.get('a').wants.add(OP);
  await c.run(2_000);
  expect(c.get('a').phase()).toBe('active');
  expect(c.get('a').rate()).toBeCloseTo(BASE, 9);
  expect(c.get('b').phase()).toBe('idle');
  expect(c.get('a').grants.length).toBeGreaterThan(10);
});

test('demand moves the share: a second replica with callers gets its half once the first has lowered and acknowledged', async () => {
  const c = cluster(['a', 'b']);
  await c.refreshAll();
  await c.refreshAll();
  c.get('a').wants.add(OP);
  await c.run(2_000);
  expect(c.get('a').rate()).toBeCloseTo(BASE, 9);

  c.get('b').wants.add(OP);
  const claimedAt = c.clock.now;
  // Reads and publishes every 50 ms: nothing but the acknowledgement rule keeps b from calling at once.
  await c.run(150, 10, 50);
  // b claimed and a has read it: a already paces at its half, but its calls of the last second (about 14) do not
  // fit its new cap of 8 yet, so it has not acknowledged, and b's callers wait.
  expect(c.get('a').rate()).toBeCloseTo(shareOfRate(BASE, 2, 0), 9);
  expect(c.get('b').phase()).toBe('joining');
  expect(c.get('b').waiting()).toBe(true);
  await c.run(3_000, 10, 50);
  expect(c.get('b').phase()).toBe('active');
  expect(c.get('a').rate()).toBeCloseTo(shareOfRate(BASE, 2, 0), 9);
  expect(c.get('b').rate()).toBeCloseTo(shareOfRate(BASE, 2, 1), 9);
  // a acknowledged once its calls of the last second fit its lowered cap (6 or 7 of them had to age out).
  const bFirst = c.get('b').grants[0]?.at as number;
  expect(bFirst - claimedAt).toBeGreaterThanOrEqual(300);
  expect(bFirst - claimedAt).toBeLessThanOrEqual(800);
  // The busiest rolling second of the account, by grant time, around the handover.
  const all = [...c.get('a').grants, ...c.get('b').grants].map((g) => g.at).sort((x, y) => x - y);
  const busiest = Math.max(...all.map((t) => all.filter((u) => u > t - 1_000 && u <= t).length));
  expect(busiest).toBeLessThanOrEqual(CALLS);
  expect(busiest).toBeGreaterThanOrEqual(CALLS - 1);
});

test('an idle replica releases its share: the other raises to the whole quota about a second after the last call', async () => {
  const c = cluster(['a', 'b']);
  await c.refreshAll();
  await c.refreshAll();
  c.get('a').wants.add(OP);
  c.get('b').wants.add(OP);
  await c.run(4_000);
  expect(c.get('a').rate()).toBeCloseTo(shareOfRate(BASE, 2, 0), 9);
  expect(c.get('b').rate()).toBeCloseTo(shareOfRate(BASE, 2, 1), 9);

  c.get('a').wants.delete(OP);
  const stoppedAt = c.clock.now;
  await c.run(900);
  expect(c.get('a').phase()).toBe('active'); // held for the rolling second
  expect(c.get('b').rate()).toBeCloseTo(shareOfRate(BASE, 2, 1), 9);
  await c.run(700);
  expect(c.get('a').phase()).toBe('idle');
  expect(c.get('b').rate()).toBeCloseTo(BASE, 9);
  const raisedAt = c.get('b').grants.find((g) => g.at > stoppedAt && g.rate > shareOfRate(BASE, 2, 1) + 1e-9)?.at as number;
  expect(raisedAt - stoppedAt).toBeLessThanOrEqual(1_600);
});

test('two replicas that claim at the same moment each wait for the other: never both at the whole quota', async () => {
  const c = cluster(['a', 'b']);
  await c.refreshAll();
  await c.refreshAll();
  c.get('a').wants.add(OP);
  c.get('b').wants.add(OP);
  c.get('a').call();
  c.get('b').call();
  await flush();
  // Both publish their claim before either reads: both see the other and need its acknowledgement.
  await c.refreshAll(['a', 'b']);
  expect(c.get('a').phase()).toBe('joining');
  expect(c.get('b').phase()).toBe('joining');
  await c.refreshAll(['a', 'b']);
  await c.refreshAll(['b', 'a']);
  expect(c.get('a').phase()).toBe('active');
  expect(c.get('b').phase()).toBe('active');
  expect(c.get('a').rate() + c.get('b').rate()).toBeCloseTo(BASE, 9);
});

test('a SIGKILLed replica: its record goes silent, the other takes over its share after the lease (6 s), not before', async () => {
  const c = cluster(['a', 'b']);
  await c.refreshAll();
  await c.refreshAll();
  c.get('a').wants.add(OP);
  c.get('b').wants.add(OP);
  await c.run(4_000);
  c.get('b').dead = true;
  c.registry.live.delete('b');
  const killedAt = c.clock.now;
  await c.run(5_000);
  expect(c.get('a').rate()).toBeCloseTo(shareOfRate(BASE, 2, 0), 9);
  await c.run(2_500);
  expect(c.get('a').rate()).toBeCloseTo(BASE, 9);
  const takeover = (c.get('a').grants.find((g) => g.at > killedAt && g.rate > shareOfRate(BASE, 2, 0) + 1e-9)?.at as number) - killedAt;
  // The lease counts from when a read saw the record change last (a refresh every 500 ms here).
  expect(takeover).toBeGreaterThanOrEqual(6_000);
  expect(takeover).toBeLessThanOrEqual(7_100);
});

test('a replica that cannot renew its record stops calling before the others count it out', async () => {
  const c = cluster(['a', 'b']);
  await c.refreshAll();
  await c.refreshAll();
  c.get('a').wants.add(OP);
  c.get('b').wants.add(OP);
  await c.run(4_000);
  c.get('b').failPublish = true;
  const cutAt = c.clock.now;
  await c.run(8_000);
  const bLast = Math.max(...c.get('b').grants.map((g) => g.at));
  const aRaised = c.get('a').grants.find((g) => g.at > cutAt && g.rate > shareOfRate(BASE, 2, 0) + 1e-9)?.at as number;
  expect(bLast - cutAt).toBeLessThanOrEqual(5_100);
  expect(aRaised - bLast).toBeGreaterThanOrEqual(1_000);
  // Reachable again: b claims anew and waits for a's acknowledgement, then both share again.
  c.get('b').failPublish = false;
  await c.run(4_000);
  expect(c.get('b').phase()).toBe('active');
  expect(c.get('a').rate() + c.get('b').rate()).toBeCloseTo(BASE, 9);
});

test('no overshoot while demand comes and goes, reads are late, and replicas die and return (randomized, seeded)', async () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    let state = seed;
    const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const clock = { now: 2_000_000 };
    const registry = new Registry();
    const ids = ['a', 'b', 'c'];
    const replicas: Replica[] = [];
    const pending: { due: number; run: () => void }[] = [];
    const delay = () => clock.now + Math.floor(random() * 26) * 10; // 0–250 ms
    for (const id of ids) {
      const r: Replica = new Replica(id, clock, {
        // A read captures the registry now and answers later; a publish lands later and answers after that.
        read: () => {
          const snapshot = registry.snapshot();
          return new Promise((resolve) => pending.push({ due: delay(), run: () => resolve(snapshot) }));
        },
        publish: (record) =>
          new Promise((resolve, reject) => {
            const copy = clone(record);
            pending.push({
              due: delay(),
              run: () => {
                if (r.failPublish) return reject(Object.assign(new Error('unavailable'), { code: 14 }));
                registry.records.set(copy.identity, copy);
                resolve();
              },
            });
          }),
      });
      replicas.push(r);
      registry.live.add(id);
    }
    const refreshing = new Set<Replica>();
    let demandMs = 0;
    const CHAOS = 3_000;
    for (let step = 0; step < CHAOS + 1_000; step++) {
      clock.now += 10;
      if (step === CHAOS) {
        // Calm after the storm: everyone back, reachable and calling. Within the lease and a few rounds, all three
        // must be admitted and split the whole quota: no claim stays stuck.
        for (const r of replicas) {
          r.dead = false;
          r.failPublish = false;
          r.wants.add(OP);
          registry.live.add(r.id);
        }
      }
      const calm = step >= CHAOS;
      if (!calm && replicas.some((r) => !r.dead && r.wants.has(OP))) demandMs += 10;
      for (const r of replicas) {
        if (calm) {
          r.share.housekeeping();
          r.call();
          if (!refreshing.has(r) && random() < 0.06) {
            refreshing.add(r);
            void r.share.refresh().finally(() => refreshing.delete(r));
          }
          continue;
        }
        if (r.dead) {
          if (random() < 0.002) {
            r.dead = false; // back (a restart keeps the identity; its claims start again)
            registry.live.add(r.id);
          }
          continue;
        }
        if (random() < 0.002) {
          if (r.wants.has(OP)) r.wants.delete(OP);
          else r.wants.add(OP);
        }
        if (random() < 0.0008) {
          r.dead = true;
          r.wants.delete(OP);
          registry.live.delete(r.id);
          continue;
        }
        // Temporal unreachable for this replica now and then, for about a second.
        r.failPublish = r.failPublish ? random() > 0.01 : random() < 0.0005;
        r.share.housekeeping();
        r.call();
        if (!refreshing.has(r) && random() < 0.06) {
          refreshing.add(r);
          void r.share.refresh().finally(() => refreshing.delete(r));
        }
      }
      for (const p of pending.splice(0).sort((x, y) => x.due - y.due)) {
        if (p.due <= clock.now) p.run();
        else pending.push(p);
      }
      await flush();
      await flush();
      checkWindow(replicas, clock.now);
    }
    // And work got done: joins, releases, deaths and outages cost time, but not most of it.
    for (const r of replicas) expect(r.phase()).toBe('active');
    expect(replicas.reduce((sum, r) => sum + r.rate(), 0)).toBeCloseTo(BASE, 9);
    const lastSecond = replicas.reduce((n, r) => n + r.grants.filter((g) => g.at > clock.now - 1_000).length, 0);
    expect(lastSecond).toBeGreaterThanOrEqual(CALLS - 3); // 4.85/s each, granted on 10 ms steps
    const calls = replicas.reduce((n, r) => n + r.grants.filter((g) => g.at <= 2_000_000 + CHAOS * 10).length, 0);
    expect(calls).toBeGreaterThan(0.4 * (demandMs / 1000) * BASE);
  }
});

test('without records (pollers, or a server that refuses them) every live replica shares every quota; a new one waits for the notice', async () => {
  const clock = { now: 5_000_000 };
  const live = ['a', 'b'];
  const limiter = createKmsRateLimiter();
  const share = new QuotaShare(limiter, { now: () => clock.now, noticeMs: 5_000 });
  share.connect({ read: async () => ({ live, source: 'pollers' }), publish: async () => undefined }, 'b');
  await share.refresh();
  expect(share.status().mode).toBe('static');
  expect(limiter.rate(OP)).toBeCloseTo(shareOfRate(BASE, 2, 1), 9);
  let granted = false;
  void share
    .pacing({ rate: () => 1, acquire: async () => undefined })
    .acquire(OP)
    .then(() => (granted = true));
  await flush();
  expect(granted).toBe(false);
  clock.now += 4_900;
  share.housekeeping();
  await flush();
  expect(granted).toBe(false);
  clock.now += 200;
  share.housekeeping();
  await flush();
  expect(granted).toBe(true);
});

test('a live replica that publishes no record (the previous version, mid-upgrade) counts for every quota; a claim waits the notice for it', async () => {
  const c = cluster(['a']);
  c.registry.live.add('old'); // heartbeats, no record
  await c.refreshAll();
  await c.refreshAll();
  expect(c.get('a').share.status().operations.ScheduleKeyDeletion?.replicas).toBe(2);
  c.get('a').wants.add(OP);
  await c.run(4_500);
  expect(c.get('a').grants).toEqual([]);
  await c.run(1_100);
  expect(c.get('a').grants.length).toBeGreaterThan(0);
  expect(c.get('a').rate()).toBeCloseTo(shareOfRate(BASE, 2, 0), 9);
});

test('a record survives the trip through a worker heartbeat; other heartbeats and unreadable claims are no claims', () => {
  const record: QuotaRecord = {
    identity: '12@host-a',
    seq: 1_796_013_770_123,
    claims: { ScheduleKeyDeletion: { epoch: 7, counts: { '9@host-b': 3 } }, DescribeKey: { epoch: 1, counts: {} } },
  };
  const hb = encodeQuotaRecord(record, 'queue');
  expect(hb.sdkName).toBe(QUOTA_RECORD_SDK_NAME);
  expect(hb.taskQueue).toBe('queue');
  expect(decodeQuotaRecord(hb)).toEqual({ ...record, stopped: false });
  expect(decodeQuotaRecord(encodeQuotaRecord({ ...record, stopped: true }, 'queue'))?.stopped).toBe(true);
  expect(decodeQuotaRecord({ ...hb, sdkName: 'temporal-typescript' })).toBeUndefined();
  expect(decodeQuotaRecord({ ...hb, sdkVersion: '2' })).toBeUndefined();
  const garbled = decodeQuotaRecord({
    ...hb,
    plugins: [
      { name: 'quota-claim/ScheduleKeyDeletion', version: '{not json' },
      { name: 'other', version: '1' },
    ],
  });
  expect(garbled?.claims).toEqual({});
});

test('the share settings from the environment: defaults, and a refresh too slow for the lease is refused', () => {
  expect(quotaShareFromEnv({})).toEqual({ refreshMs: 500, heartbeatMs: 2_000, heartbeatStaleMs: 6_000, leaseMs: 6_000, noticeMs: 5_000 });
  expect(quotaShareFromEnv({ KMS_QUOTA_SHARE_REFRESH_MS: '2000' }).refreshMs).toBe(2_000);
  expect(() => quotaShareFromEnv({ KMS_QUOTA_SHARE_REFRESH_MS: '2500' })).toThrow(/KMS_QUOTA_SHARE_REFRESH_MS must be at most/);
  expect(() => quotaShareFromEnv({ KMS_QUOTA_SHARE_REFRESH_MS: '50' })).toThrow(/at least 100/);
  expect(() => quotaShareFromEnv({ KMS_QUOTA_SHARE_HEARTBEAT_MS: '500' })).toThrow(/between 1000 and 60000/);
});
