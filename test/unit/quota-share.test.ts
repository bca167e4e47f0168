import { QuotaShare, shareOfRate } from '../../src/activities/quota-share';
import { createKmsRateLimiter } from '../../src/activities/rate-limiter';

test('shares of a quota: their rolling-second caps add up to what one replica alone may send, never more', () => {
  for (const base of [14.55, 4.85, 1.94, 1_940, 15, 5]) {
    for (let replicas = 1; replicas <= 7; replicas++) {
      const shares = Array.from({ length: replicas }, (_, rank) => shareOfRate(base, replicas, rank));
      const total = shares.reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(base, 6);
      const caps = shares.map((r) => Math.ceil(r - 1e-9)).reduce((a, b) => a + b, 0);
      // Fewer whole calls than replicas (LookupEvents at 2/s, 3 replicas): each gets 1 call, the rest is backoff's job.
      if (Math.ceil(base) >= replicas) expect(caps).toBeLessThanOrEqual(Math.ceil(base));
      else expect(shares.every((r) => r === base / replicas)).toBe(true);
    }
  }
  expect([0, 1].map((rank) => shareOfRate(14.55, 2, rank))).toEqual([(14.55 * 8) / 15, (14.55 * 7) / 15]);
});

test('setRate changes the pace of callers already waiting, and a lower cap counts the grants already made', async () => {
  const limiter = createKmsRateLimiter({ overrides: { ScheduleKeyDeletion: 40 } });
  const times: number[] = [];
  const start = performance.now();
  const callers = Array.from({ length: 30 }, () => limiter.acquire('ScheduleKeyDeletion').then(() => times.push(performance.now() - start)));
  await new Promise((r) => setTimeout(r, 240)); // ~10 granted at 40/s
  limiter.setRate('ScheduleKeyDeletion', 10);
  const switched = performance.now() - start;
  await Promise.all(callers);
  expect(limiter.rate('ScheduleKeyDeletion')).toBe(10);
  expect(limiter.baseRate('ScheduleKeyDeletion')).toBe(40);

  // No rolling second after the switch holds more than 10 grants, counting those made before it.
  for (let i = 0; i + 10 < times.length; i++)
    if ((times[i + 10] as number) > switched + 5) expect((times[i + 10] as number) - (times[i] as number)).toBeGreaterThanOrEqual(995);
  // The 20 calls after the switch are paced at 10/s (at 40/s they would take half a second).
  expect((times[29] as number) - (times[10] as number)).toBeGreaterThanOrEqual(1_700);
});

test('a raised rate takes effect for waiting callers at once', async () => {
  const limiter = createKmsRateLimiter({ overrides: { CancelKeyDeletion: 2 } });
  await limiter.acquire('CancelKeyDeletion');
  const start = performance.now();
  const waiting = Array.from({ length: 10 }, () => limiter.acquire('CancelKeyDeletion'));
  limiter.setRate('CancelKeyDeletion', 100);
  await Promise.all(waiting);
  expect(performance.now() - start).toBeLessThan(400); // at 2/s they would take 5 s
});

test('AIMD: a throttle halves the pace once per episode; the pace regains 5 % of its share per second', () => {
  let now = 0;
  const limiter = createKmsRateLimiter();
  const share = new QuotaShare(limiter, { now: () => now });
  share.setMembers(['b', 'c'], 'a', 'test');
  const base = shareOfRate(limiter.baseRate('ScheduleKeyDeletion'), 3, 0);
  expect(limiter.rate('ScheduleKeyDeletion')).toBeCloseTo(base, 9);
  const observer = share.observer();
  observer.awsCall('ScheduleKeyDeletion', 'ThrottlingException', true);
  observer.awsCall('ScheduleKeyDeletion', 'ThrottlingException', true); // same episode: in flight together
  expect(limiter.rate('ScheduleKeyDeletion')).toBeCloseTo(base / 2, 9);
  expect(limiter.rate('DisableKey')).toBeCloseTo(shareOfRate(limiter.baseRate('DisableKey'), 3, 0), 9); // other operations untouched
  now += 1_500;
  observer.awsCall('ScheduleKeyDeletion', 'ThrottlingException', true);
  expect(limiter.rate('ScheduleKeyDeletion')).toBeCloseTo(base / 4, 9);
  share.tick(); // 1.5 s since construction
  now += 10_000;
  share.tick();
  expect(limiter.rate('ScheduleKeyDeletion')).toBeCloseTo(base * (0.25 + 0.05 * 11.5), 9);
  now += 60_000;
  share.tick();
  expect(limiter.rate('ScheduleKeyDeletion')).toBeCloseTo(base, 9);
  expect(share.status().backedOff).toEqual({});
  // A replica leaving: the survivors take over its share at the next membership read.
  share.setMembers(['b'], 'a', 'test');
  expect(limiter.rate('ScheduleKeyDeletion')).toBeCloseTo(shareOfRate(limiter.baseRate('ScheduleKeyDeletion'), 2, 0), 9);
});

test('after a decrease, the grants made at the old pace count 50 ms later: the next grants keep a guard against transport jitter', async () => {
  const limiter = createKmsRateLimiter({ overrides: { ScheduleKeyDeletion: 14.55 } });
  const times: number[] = [];
  const start = performance.now();
  const callers = Array.from({ length: 24 }, () => limiter.acquire('ScheduleKeyDeletion').then(() => times.push(performance.now() - start)));
  await new Promise((r) => setTimeout(r, 1_100)); // ~16 granted at 14.55/s
  const switched = performance.now() - start;
  limiter.setRate('ScheduleKeyDeletion', (14.55 * 8) / 15); // a second replica claimed: 8 whole calls of 15
  await Promise.all(callers);
  // Nine grants that straddle the switch (the first made before it) span at least 1.075 s: the cap's window of
  // 1.025 s, plus 50 ms for the grants made before the decrease.
  let straddling = 0;
  for (let i = 0; i + 8 < times.length; i++) {
    if ((times[i] as number) >= switched || (times[i + 8] as number) <= switched) continue;
    straddling++;
    expect((times[i + 8] as number) - (times[i] as number)).toBeGreaterThanOrEqual(1_070);
  }
  expect(straddling).toBeGreaterThan(0);
});
