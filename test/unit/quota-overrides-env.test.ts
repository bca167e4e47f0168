import { quotaOverridesFromEnv } from '../../src/worker-options';

test('KMS_QUOTA_OVERRIDES: per-operation paces for an account with one raised quota; anything else is refused by name', () => {
  expect(quotaOverridesFromEnv({})).toBeUndefined();
  expect(quotaOverridesFromEnv({ KMS_QUOTA_OVERRIDES: 'GetKeyLastUsage=50, LookupEvents=4' })).toEqual({ GetKeyLastUsage: 50, LookupEvents: 4 });
  for (const bad of ['GetKeyLastUsage', 'GetKeyLastUsage=0', 'GetKeyLastUsage=fast', 'Encrypt=100', '=5']) {
    expect(() => quotaOverridesFromEnv({ KMS_QUOTA_OVERRIDES: bad })).toThrow(/KMS_QUOTA_OVERRIDES must be <operation>=<requests per second>/);
  }
});
