/**
 * The approval policy is the worker's configuration (issue defect 7): `loadPolicy` serves
 * `ActivityDeps.policy` or the four-eyes default, and the worker reads it from
 * DECOMMISSION_REQUIRE_APPROVAL / DECOMMISSION_ALLOW_SELF_APPROVAL, refusing anything but true/false.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, createKmsRateLimiter } from '../../src/activities';
import { generateDecisionKeyPair } from '../../src/decisions/signing';
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
  await expect(loadPolicy()).resolves.toEqual({ requireApproval: true, allowSelfApproval: false, requireSignedDecisions: false, notifications: false });
  await expect(loadPolicy({ requireApproval: false, allowSelfApproval: true, requireSignedDecisions: true })).resolves.toEqual({
    requireApproval: false,
    allowSelfApproval: true,
    requireSignedDecisions: true,
    notifications: false,
  });
  // A copy: a caller changing its result cannot change the worker's default.
  const served = await loadPolicy();
  served.requireApproval = false;
  expect(DEFAULT_APPROVAL_POLICY.requireApproval).toBe(true);
});

/** What 0.4.0 adds to the worker's policy: decisions need no signature unless configured. */
const unsigned = { requireSignedDecisions: false };

test.each([
  [{}, { requireApproval: true, allowSelfApproval: false, ...unsigned }],
  [
    { DECOMMISSION_REQUIRE_APPROVAL: '', DECOMMISSION_ALLOW_SELF_APPROVAL: '' },
    { requireApproval: true, allowSelfApproval: false, ...unsigned },
  ],
  [{ DECOMMISSION_REQUIRE_APPROVAL: 'false' }, { requireApproval: false, allowSelfApproval: false, ...unsigned }],
  [{ DECOMMISSION_ALLOW_SELF_APPROVAL: 'true' }, { requireApproval: true, allowSelfApproval: true, ...unsigned }],
  [
    { DECOMMISSION_REQUIRE_APPROVAL: 'true', DECOMMISSION_ALLOW_SELF_APPROVAL: 'false' },
    { requireApproval: true, allowSelfApproval: false, ...unsigned },
  ],
  [{ DECOMMISSION_REQUIRE_SIGNED_DECISIONS: 'true' }, { requireApproval: true, allowSelfApproval: false, requireSignedDecisions: true }],
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
    await expect(new MockActivityEnvironment().run(wired.activities.loadPolicy)).resolves.toEqual({
      requireApproval: true,
      allowSelfApproval: true,
      requireSignedDecisions: false,
      notifications: false,
    });
  } finally {
    await wired.close();
  }
  expect(() => activitiesFromEnv({ ...env, DECOMMISSION_REQUIRE_APPROVAL: 'no' })).toThrow(/DECOMMISSION_REQUIRE_APPROVAL must be "true" or "false"/);
});

test('a worker that must verify signed decisions refuses to start without the public JWKS, or with a private key in it', async () => {
  const env = { KMS_DESCRIBE_THREADS: '0', AWS_REGION: 'us-east-1', DECOMMISSION_REQUIRE_SIGNED_DECISIONS: 'true' };
  expect(() => activitiesFromEnv(env)).toThrow(/DECOMMISSION_REQUIRE_SIGNED_DECISIONS=true needs DECISION_VERIFY_JWKS/);
  const { privateJwk, publicJwks } = await generateDecisionKeyPair('k1');
  expect(() => activitiesFromEnv({ ...env, DECISION_VERIFY_JWKS: JSON.stringify({ keys: [privateJwk] }) })).toThrow(/holds a private key/);
  expect(() => activitiesFromEnv({ ...env, DECISION_VERIFY_JWKS: '{not json' })).toThrow(/DECISION_VERIFY_JWKS must be a JSON Web Key Set/);
  expect(() => activitiesFromEnv({ ...env, DECISION_VERIFY_JWKS: '{"keys":[]}' })).toThrow(/at least one key/);
  const wired = activitiesFromEnv({ ...env, DECISION_VERIFY_JWKS: JSON.stringify(publicJwks) });
  try {
    await expect(new MockActivityEnvironment().run(wired.activities.loadPolicy)).resolves.toMatchObject({ requireSignedDecisions: true });
    // The wired verifier answers (a forged signature is refused with a reason, not thrown).
    const answer = await new MockActivityEnvironment().run(wired.activities.verifyDecision, {
      kind: 'approve' as const,
      workflowId: 'kms-decommission-cks-1234567890abcdef0',
      request: { approver: 'bob' },
      signature: 'e30.e30.AAAA',
      receivedAt: Date.now(),
    });
    expect(answer).toEqual({ valid: false, reason: expect.stringMatching(/^signature not accepted/) });
  } finally {
    await wired.close();
  }
});

test('loadPolicy says whether the worker has a notification sink (recorded at the start of each run)', async () => {
  const withSink = createActivities({
    kms,
    limiter: createKmsRateLimiter({ quotaScale: 0 }),
    notify: { sinks: [{ name: 'slack', send: async () => undefined }] },
  });
  await expect(new MockActivityEnvironment().run(withSink.loadPolicy)).resolves.toMatchObject({ notifications: true });
  await expect(loadPolicy()).resolves.toMatchObject({ notifications: false });
});
