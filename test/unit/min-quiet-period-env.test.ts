/**
 * DECOMMISSION_MIN_QUIET_PERIOD: the deployment's shortest quiet period, read by the worker (approval policy)
 * and by the client and CLI (so a request the worker would refuse is refused before it is sent).
 */
import { minQuietPeriodFromEnv } from '../../src/client/env';
import { policyFromEnv } from '../../src/worker-options';

test('unset or empty: no minimum in the policy (the validator default of 1 day applies)', () => {
  expect(policyFromEnv({})).toEqual({ requireApproval: true, allowSelfApproval: false, requireSignedDecisions: false });
  expect(policyFromEnv({})).not.toHaveProperty('minimumQuietPeriodMs');
  expect(policyFromEnv({ DECOMMISSION_MIN_QUIET_PERIOD: '' })).not.toHaveProperty('minimumQuietPeriodMs');
  expect(minQuietPeriodFromEnv({})).toBeUndefined();
});

test.each([
  ['1m', 60_000],
  ['30s', 30_000],
  ['2 hours', 7_200_000],
  ['90d', 90 * 86_400_000],
  ['5000', 5_000],
])('DECOMMISSION_MIN_QUIET_PERIOD=%j → minimumQuietPeriodMs %d', (value, ms) => {
  expect(policyFromEnv({ DECOMMISSION_MIN_QUIET_PERIOD: value })).toEqual({
    requireApproval: true,
    allowSelfApproval: false,
    minimumQuietPeriodMs: ms,
    requireSignedDecisions: false,
  });
  expect(minQuietPeriodFromEnv({ DECOMMISSION_MIN_QUIET_PERIOD: value })).toBe(ms);
});

test.each(['soon', '1 fortnight', '-1m', '0', '0s', '91d', ' '])('DECOMMISSION_MIN_QUIET_PERIOD=%j is refused with the variable and the rule', (value) => {
  const expected = `DECOMMISSION_MIN_QUIET_PERIOD must be a duration greater than 0 and at most 90d, such as "1 day" or "2m", got "${value}"`;
  expect(() => policyFromEnv({ DECOMMISSION_MIN_QUIET_PERIOD: value })).toThrow(expected);
  expect(() => minQuietPeriodFromEnv({ DECOMMISSION_MIN_QUIET_PERIOD: value })).toThrow(expected);
});
