import { createKmsRateLimiter } from '../../src/activities/rate-limiter';

test('paces calls evenly under the quota, shared by all callers', async () => {
  const limiter = createKmsRateLimiter({ overrides: { ScheduleKeyDeletion: 50 } });
  const times: number[] = [];
  const start = performance.now();
  // Two "activities" calling at once share one pace.
  await Promise.all(
    [0, 1].map(async () => {
      for (let i = 0; i < 10; i++) {
        await limiter.acquire('ScheduleKeyDeletion');
        times.push(performance.now() - start);
      }
    }),
  );
  times.sort((a, b) => a - b);
  // 20 calls at 50/s: the last one cannot start before 19 × 20 ms.
  expect(times[19]).toBeGreaterThanOrEqual(19 * 20 - 5);
  // No 1-second window (here: any 10 consecutive calls span ≥ 9 intervals) exceeds the rate.
  for (let i = 9; i < times.length; i++) expect(times[i] - times[i - 9]).toBeGreaterThanOrEqual(9 * 20 - 5);
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
