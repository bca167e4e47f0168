import { createConcurrencyGate } from '../../src/activities/concurrency-gate';
import { createKmsRateLimiter, type RateLimiterOptions } from '../../src/activities/rate-limiter';

/** A limiter with the given overrides and the instants its paces counted each grant at (free of caller noise). */
function observedLimiter(overrides: RateLimiterOptions['overrides']) {
  const grants: number[] = [];
  const limiter = createKmsRateLimiter({ overrides, onGrant: (_op, at) => grants.push(at) });
  return { limiter, grants };
}

test('no 1-second window holds more calls than the rate allows, for callers sharing one limiter', async () => {
  const { limiter, grants } = observedLimiter({ ScheduleKeyDeletion: 40 });
  // Three "activities" calling at once share one pace, 20 calls each: 60 calls at 40/s take ≥ 1.475 s.
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let i = 0; i < 20; i++) await limiter.acquire('ScheduleKeyDeletion');
    }),
  );
  expect(grants).toHaveLength(60);
  // Without stalls every grant is on its slot or after it (a late timer may pull one slot in by at most one interval).
  expect((grants[59] as number) - (grants[0] as number)).toBeGreaterThanOrEqual(58 * 25);
  // The rolling cap: any 41 grants span at least a second.
  for (let i = 0; i + 40 < grants.length; i++) expect((grants[i + 40] as number) - (grants[i] as number)).toBeGreaterThanOrEqual(1000);
});

test('a stalled event loop does not release a burst afterwards', async () => {
  const limiter = createKmsRateLimiter({ overrides: { CancelKeyDeletion: 20 } });
  await limiter.acquire('CancelKeyDeletion');
  const waiting = Array.from({ length: 5 }, () => limiter.acquire('CancelKeyDeletion').then(() => performance.now()));
  const stallUntil = performance.now() + 300;
  while (performance.now() < stallUntil); // block the event loop past all five slots
  const granted = (await Promise.all(waiting)).sort((a, b) => a - b);
  // Late by far more than one interval: the five are still spread by one interval each. A pace carries at most one
  // interval of lateness, so two grants may come together after any late timer (the stall, or a loaded machine's
  // timer firing late) but never three: a catch-up burst would put three within one interval and fail both checks.
  for (let i = 2; i < granted.length; i++) expect((granted[i] as number) - (granted[i - 2] as number)).toBeGreaterThanOrEqual(25);
  expect((granted[4] as number) - (granted[1] as number)).toBeGreaterThanOrEqual(3 * 50 - 10);
});

test('a fast pace keeps its rate with a hundred callers queued, granting several calls per timer tick', async () => {
  // 5,000/s is a slot every 0.2 ms, finer than Node's 1 ms timers: a pacer that woke one caller per tick would manage ~1,000/s.
  const { limiter, grants } = observedLimiter({ DescribeKey: 5_000 });
  let next = 0;
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next++ < 6_000) await limiter.acquire('DescribeKey');
    }),
  );
  expect(grants).toHaveLength(6_000);
  const seconds = ((grants[5_999] as number) - (grants[0] as number)) / 1000;
  expect(seconds).toBeGreaterThanOrEqual(0.999);
  expect(seconds).toBeLessThan(1.8);
  for (let i = 0; i + 5_000 < grants.length; i++) expect((grants[i + 5_000] as number) - (grants[i] as number)).toBeGreaterThanOrEqual(1000);
});

test('no rolling second holds more grants than the pace allows, even when the event loop stalls again and again', async () => {
  const { limiter, grants } = observedLimiter({ ScheduleKeyDeletion: 50 });
  let calls = 0;
  await Promise.all(
    [0, 1, 2].map(async (caller) => {
      while (calls++ < 150) {
        await limiter.acquire('ScheduleKeyDeletion');
        // Stalls of 1–2 intervals invite catch-up grants; the rolling cap must absorb them.
        if ((grants.length + caller) % 4 === 0) {
          const stallMs = 25 + (grants.length % 3) * 10;
          setImmediate(() => {
            const until = performance.now() + stallMs;
            while (performance.now() < until);
          });
        }
      }
    }),
  );
  expect(grants).toHaveLength(150);
  // The cap is on the instants the pace granted at (what a caller sends right after); without it, catch-up grants
  // put 51 grants within ~990 ms here.
  for (let i = 0; i + 50 < grants.length; i++) expect((grants[i + 50] as number) - (grants[i] as number)).toBeGreaterThanOrEqual(1000);
});

test('default rates are 97% of AWS quotas, scaled; scale 0 disables pacing', () => {
  expect(createKmsRateLimiter().rate('ScheduleKeyDeletion')).toBeCloseTo(15 * 0.97);
  expect(createKmsRateLimiter().rate('CancelKeyDeletion')).toBeCloseTo(5 * 0.97);
  expect(createKmsRateLimiter({ quotaScale: 0.1 }).rate('DescribeKey')).toBeCloseTo(200 * 0.97);
  expect(createKmsRateLimiter({ quotaScale: 0 }).rate('ScheduleKeyDeletion')).toBe(Infinity);
});

test('a waiting caller is released by its abort signal', async () => {
  const limiter = createKmsRateLimiter({ overrides: { CancelKeyDeletion: 1 } });
  await limiter.acquire('CancelKeyDeletion');
  const controller = new AbortController();
  const waiting = limiter.acquire('CancelKeyDeletion', controller.signal);
  controller.abort(new Error('cancelled'));
  await expect(waiting).rejects.toThrow('cancelled');
});

test('the concurrency gate never lets more than its limit through, and hands slots on in order', async () => {
  const gate = createConcurrencyGate(3);
  let inside = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const leave = await gate.enter();
      inside++;
      peak = Math.max(peak, inside);
      order.push(i);
      await new Promise((r) => setTimeout(r, 5));
      inside--;
      leave();
      leave(); // idempotent: a double release must not open a fourth slot
    }),
  );
  expect(peak).toBe(3);
  expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});
