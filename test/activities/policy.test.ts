/**
 * The approval policy is the worker's configuration (issue defect 7): `loadPolicy` serves
 * `ActivityDeps.policy` or the four-eyes default, and the worker reads it from
 * DECOMMISSION_REQUIRE_APPROVAL / DECOMMISSION_ALLOW_SELF_APPROVAL, refusing anything but true/false.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, createKmsRateLimiter } from '../../src/activities';
import { DEFAULT_APPROVAL_POLICY, type ApprovalPolicy } from '../../src/shared/policy';
import { activitiesFromEnv, policyFromEnv } from '../../src/worker-options';

const kms = new KMSClient({ region: 'us-east-1' });
afterAll(() => kms.destroy());

const loadPolicy = (policy?: ApprovalPolicy) =>
  new MockActivityEnvironment().run(createActivities({ kms, limiter: createKmsRateLimiter({ quotaScale: 0 }), policy }).loadPolicy) as Promise<ApprovalPolicy>;

test('the default is four-eyes: approval required, never by the requester', () => {
  expect(DEFAULT_APPROVAL_POLICY).toEqual({ requireApproval: true, allowSelfApproval: false });
});

test('loadPolicy serves the deployment policy, or the default when the worker sets none', async () => {
  await expect(loadPolicy()).resolves.toEqual({ requireApproval: true, allowSelfApproval: false });
  await expect(loadPolicy({ requireApproval: false, allowSelfApproval: true })).resolves.toEqual({ requireApproval: false, allowSelfApproval: true });
  // A copy: a caller changing its result cannot change the worker's default.
  const served = await loadPolicy();
  served.requireApproval = false;
  expect(DEFAULT_APPROVAL_POLICY.requireApproval).toBe(true);
});

test.each([
  [{}, { requireApproval: true, allowSelfApproval: false }],
  [
    { DECOMMISSION_REQUIRE_APPROVAL: '', DECOMMISSION_ALLOW_SELF_APPROVAL: '' },
    { requireApproval: true, allowSelfApproval: false },
  ],
  [{ DECOMMISSION_REQUIRE_APPROVAL: 'false' }, { requireApproval: false, allowSelfApproval: false }],
  [{ DECOMMISSION_ALLOW_SELF_APPROVAL: 'true' }, { requireApproval: true, allowSelfApproval: true }],
  [
    { DECOMMISSION_REQUIRE_APPROVAL: 'true', DECOMMISSION_ALLOW_SELF_APPROVAL: 'false' },
    { requireApproval: true, allowSelfApproval: false },
  ],
])('env %j → %j', (env, policy) => expect(policyFromEnv(env)).toEqual(policy));

test.each([
  ['DECOMMISSION_REQUIRE_APPROVAL', 'yes'],
  ['DECOMMISSION_REQUIRE_APPROVAL', 'TRUE'],
  ['DECOMMISSION_ALLOW_SELF_APPROVAL', '1'],
  ['DECOMMISSION_ALLOW_SELF_APPROVAL', ' true'],
])('%s=%j is refused with the variable and the rule', (name, value) => {
  expect(() => policyFromEnv({ [name]: value })).toThrow(`${name} must be "true" or "false", got "${value}"`);
});

test('the worker wires the env policy into loadPolicy, and refuses to build with an invalid one', async () => {
  const env = { KMS_DESCRIBE_THREADS: '0', AWS_REGION: 'us-east-1', DECOMMISSION_ALLOW_SELF_APPROVAL: 'true' };
  const wired = activitiesFromEnv(env);
  try {
    await expect(new MockActivityEnvironment().run(wired.activities.loadPolicy)).resolves.toEqual({ requireApproval: true, allowSelfApproval: true });
  } finally {
    await wired.close();
  }
  expect(() => activitiesFromEnv({ ...env, DECOMMISSION_REQUIRE_APPROVAL: 'no' })).toThrow(/DECOMMISSION_REQUIRE_APPROVAL must be "true" or "false"/);
});
