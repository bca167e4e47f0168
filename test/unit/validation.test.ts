import { parseDuration, formatDuration } from '../../src/shared/duration';
import { generateKeyPair, SignJWT } from 'jose';
import { validateApproveRequest, validateCancelRequest, validateDecommissionInput, validateResolveRequest } from '../../src/shared/validation';

const valid = { customKeyStoreId: 'cks-1234567890abcdef0', requestedBy: 'alice' };

describe('decommission input', () => {
  test('defaults', () => {
    const { input, problems } = validateDecommissionInput(valid);
    expect(problems).toEqual([]);
    expect(input).toEqual({
      customKeyStoreId: 'cks-1234567890abcdef0',
      requestedBy: 'alice',
      pendingWindowInDays: 30,
      dryRun: false,
      approvalTimeoutMs: 7 * 86_400_000,
      expectedKeyCount: undefined,
      reconnect: true,
      ticket: undefined,
      recentUseWindowMs: 30 * 86_400_000,
      watchUsage: true,
      timing: {
        storePollIntervalMs: 30_000,
        driftCheckIntervalMs: 86_400_000,
        verifyIntervalMs: 3_600_000,
        verifyPatienceMs: 26 * 3_600_000,
        connectionCheckIntervalMs: 300_000,
        usageCheckIntervalMs: 15 * 60_000,
        cloudTrailDeliveryLagMs: 20 * 60_000,
      },
    });
  });

  test('usage evidence: a quiet period within the bounds, acknowledgements as whole numbers', () => {
    expect(validateDecommissionInput({ ...valid, quietPeriod: '14 days', recentUseWindow: '7d' }).input).toMatchObject({
      quietPeriodMs: 14 * 86_400_000,
      recentUseWindowMs: 7 * 86_400_000,
    });
    expect(validateDecommissionInput({ ...valid, quietPeriod: '12h' }).problems).toEqual([
      { field: 'quietPeriod', rule: 'must be between 1d and 90d, got "12h"' },
    ]);
    expect(validateDecommissionInput({ ...valid, quietPeriod: '91 days' }).problems[0]?.field).toBe('quietPeriod');
    expect(validateDecommissionInput({ ...valid, quietPeriod: '2s' }, { minQuietPeriodMs: 1_000 }).input?.quietPeriodMs).toBe(2_000);
    expect(validateDecommissionInput({ ...valid, quietPeriod: '2d', watchUsage: false }).problems).toEqual([
      { field: 'watchUsage', rule: 'must not be false with a quietPeriod: the quiet period is the watch for attempted use' },
    ]);
    expect(validateApproveRequest({ approver: 'bob', acknowledgeRecentlyUsedKeys: 3 }).request).toEqual({
      approver: 'bob',
      comment: undefined,
      acknowledgeRecentlyUsedKeys: 3,
    });
    expect(validateApproveRequest({ approver: 'bob', acknowledgeRecentlyUsedKeys: '3' }).problems[0]?.field).toBe('acknowledgeRecentlyUsedKeys');
    expect(validateApproveRequest({ approver: 'bob', acknowledgeRecentlyUsedKeys: 1.5 }).problems[0]?.field).toBe('acknowledgeRecentlyUsedKeys');
  });

  test('durations as strings and numbers', () => {
    const { input } = validateDecommissionInput({
      ...valid,
      approvalTimeout: '1 day',
      timing: { storePollInterval: '30s', verifyInterval: 5000, verifyPatience: '2h', connectionCheckInterval: '1m' },
    });
    expect(input?.approvalTimeoutMs).toBe(86_400_000);
    expect(input?.timing).toMatchObject({
      storePollIntervalMs: 30_000,
      verifyIntervalMs: 5_000,
      verifyPatienceMs: 7_200_000,
      connectionCheckIntervalMs: 60_000,
    });
  });

  test.each([
    ['the shortest', 100, 100],
    ['a string', '250ms', 250],
    ['the longest', '60 days', 60 * 86_400_000],
  ])('timing.connectionCheckInterval: %s (%p) is accepted', (_name, value, ms) => {
    const { input, problems } = validateDecommissionInput({ ...valid, timing: { connectionCheckInterval: value } });
    expect(problems).toEqual([]);
    expect(input?.timing.connectionCheckIntervalMs).toBe(ms);
  });

  test.each([
    ['below 100 ms', 99, 'must be between 100 ms and 60 days, got number 99'],
    ['above 60 days', '61 days', 'must be between 100 ms and 60 days'],
    ['zero', 0, 'must be between 100 ms and 60 days'],
    ['not a duration', 'often', 'must be milliseconds or a duration such as'],
    ['negative', -1_000, 'must be milliseconds or a duration such as'],
  ])('timing.connectionCheckInterval %s (%p) is rejected naming the field and the bound', (_name, value, rule) => {
    const { input, problems } = validateDecommissionInput({ ...valid, timing: { connectionCheckInterval: value } });
    expect(input).toBeUndefined();
    expect(problems).toEqual([{ field: 'timing.connectionCheckInterval', rule: expect.stringContaining(rule) }]);
  });

  // The approval policy is the deployment's (worker configuration): a request that tries to set it is refused
  // outright, whatever the value, so no requester can switch four-eyes off for their own decommission.
  test.each([
    ['requireApproval', false, 'DECOMMISSION_REQUIRE_APPROVAL'],
    ['requireApproval', true, 'DECOMMISSION_REQUIRE_APPROVAL'],
    ['allowSelfApproval', true, 'DECOMMISSION_ALLOW_SELF_APPROVAL'],
    ['allowSelfApproval', false, 'DECOMMISSION_ALLOW_SELF_APPROVAL'],
    ['allowSelfApproval', 'yes', 'DECOMMISSION_ALLOW_SELF_APPROVAL'],
  ])("%s: %p is refused as the deployment's policy, naming the field and %s", (field, value, setting) => {
    const { input, problems } = validateDecommissionInput({ ...valid, [field]: value });
    expect(input).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0].field).toBe(field);
    expect(problems[0].rule).toContain("is the deployment's approval policy, not part of a request");
    expect(problems[0].rule).toContain(setting);
    expect(problems[0].rule).not.toContain('is not a known field');
  });

  test('both policy fields at once: each is named', () => {
    const { problems } = validateDecommissionInput({ ...valid, requireApproval: false, allowSelfApproval: true });
    expect(problems.map((p) => p.field)).toEqual(['requireApproval', 'allowSelfApproval']);
  });

  // Each case: the input, the field that must be named, and a fragment of the rule.
  test.each([
    ['not an object', 'x', '(input)', 'must be a JSON object'],
    ['array', [], '(input)', 'must be a JSON object'],
    ['null', null, '(input)', 'must be a JSON object'],
    ['missing store', { requestedBy: 'a' }, 'customKeyStoreId', 'is required'],
    ['empty store', { ...valid, customKeyStoreId: '' }, 'customKeyStoreId', 'must not be empty'],
    ['store with spaces', { ...valid, customKeyStoreId: 'cks 123' }, 'customKeyStoreId', 'letters, digits and hyphens'],
    ['store of 65 characters', { ...valid, customKeyStoreId: 'c'.repeat(65) }, 'customKeyStoreId', 'at most 64 characters, got 65'],
    ['store as number', { ...valid, customKeyStoreId: 42 }, 'customKeyStoreId', 'must be a string, got number 42'],
    ['missing requester', { customKeyStoreId: 'cks-1' }, 'requestedBy', 'is required'],
    ['blank requester', { ...valid, requestedBy: '   ' }, 'requestedBy', 'must not be empty'],
    ['oversized requester', { ...valid, requestedBy: 'a'.repeat(257) }, 'requestedBy', 'at most 256 characters'],
    ['requester with newline', { ...valid, requestedBy: 'a\nb' }, 'requestedBy', 'control characters'],
    ['window 6', { ...valid, pendingWindowInDays: 6 }, 'pendingWindowInDays', 'integer from 7 to 30'],
    ['window 31', { ...valid, pendingWindowInDays: 31 }, 'pendingWindowInDays', 'got number 31'],
    ['window "7"', { ...valid, pendingWindowInDays: '7' }, 'pendingWindowInDays', 'got "7"'],
    ['window 7.5', { ...valid, pendingWindowInDays: 7.5 }, 'pendingWindowInDays', 'got number 7.5'],
    ['dryRun as string', { ...valid, dryRun: 'yes' }, 'dryRun', 'must be true or false'],
    ['requireApproval as number', { ...valid, requireApproval: 0 }, 'requireApproval', 'DECOMMISSION_REQUIRE_APPROVAL'],
    ['allowSelfApproval null', { ...valid, allowSelfApproval: null }, 'allowSelfApproval', 'DECOMMISSION_ALLOW_SELF_APPROVAL'],
    ['reconnect as string', { ...valid, reconnect: 'false' }, 'reconnect', 'must be true or false'],
    ['bad approvalTimeout', { ...valid, approvalTimeout: 'soon' }, 'approvalTimeout', 'duration such as'],
    ['approvalTimeout too long', { ...valid, approvalTimeout: '60 days' }, 'approvalTimeout', 'between'],
    ['negative expectedKeyCount', { ...valid, expectedKeyCount: -1 }, 'expectedKeyCount', 'integer from 0'],
    ['fractional expectedKeyCount', { ...valid, expectedKeyCount: 1.5 }, 'expectedKeyCount', 'integer from 0'],
    ['ticket too long', { ...valid, ticket: 'x'.repeat(129) }, 'ticket', 'at most 128 characters'],
    ['unknown field', { ...valid, window: 7 }, 'window', 'is not a known field'],
    ['timing not an object', { ...valid, timing: 5 }, 'timing', 'must be an object'],
    ['unknown timing field', { ...valid, timing: { pollEvery: '1s' } }, 'timing.pollEvery', 'is not a known field'],
    ['timing too fast', { ...valid, timing: { storePollInterval: 10 } }, 'timing.storePollInterval', 'between 100 ms'],
    ['timing negative', { ...valid, timing: { verifyInterval: -5 } }, 'timing.verifyInterval', 'duration such as'],
    ['timing unit unknown', { ...valid, timing: { verifyPatience: '3 fortnights' } }, 'timing.verifyPatience', 'duration such as'],
  ])('%s', (_name, raw, field, rule) => {
    const { input, problems } = validateDecommissionInput(raw);
    expect(input).toBeUndefined();
    const problem = problems.find((p) => p.field === field);
    expect(problem?.rule).toContain(rule);
  });

  test('every problem is reported at once', () => {
    const { problems } = validateDecommissionInput({ customKeyStoreId: 'a b', pendingWindowInDays: 1, extra: 1 });
    expect(problems.map((p) => p.field).sort()).toEqual(['customKeyStoreId', 'extra', 'pendingWindowInDays', 'requestedBy']);
  });
});

describe('update arguments', () => {
  test.each([
    [validateApproveRequest, 'not json', '(approve)'],
    [validateApproveRequest, {}, 'approver'],
    [validateApproveRequest, { approver: '' }, 'approver'],
    [validateApproveRequest, { approver: 'bob', note: 'x' }, 'note'],
    [validateApproveRequest, { approver: 7 }, 'approver'],
    [validateCancelRequest, { by: 'bob' }, 'reason'],
    [validateCancelRequest, { reason: 'x' }, 'by'],
    [validateResolveRequest, { by: 'bob', action: 'delete-everything', blockerId: 'NEW_KEYS-1' }, 'action'],
    [validateResolveRequest, { by: 'bob', blockerId: 'NEW_KEYS-1' }, 'action'],
    [validateResolveRequest, { action: 'retry', blockerId: 'STEP_FAILED-1' }, 'by'],
    [validateResolveRequest, { by: 'bob', action: 'retry' }, 'blockerId'],
  ] as const)('%p rejects %j naming %s', (validate, raw, field) => {
    const { problems } = (validate as (r: unknown) => { problems: { field: string }[] })(raw);
    expect(problems.map((p) => p.field)).toContain(field);
  });

  test('valid update arguments are trimmed', () => {
    expect(validateApproveRequest({ approver: ' bob ' }).request).toEqual({ approver: 'bob', comment: undefined });
    expect(validateResolveRequest({ by: 'bob', action: 'retry', blockerId: 'STEP_FAILED-1' }).request).toEqual({
      by: 'bob',
      action: 'retry',
      blockerId: 'STEP_FAILED-1',
      comment: undefined,
    });
  });
});

describe('resolve blockerId', () => {
  // The id a resolve answers: without it (or with a malformed one) nothing reaches the workflow.
  test.each([
    ['missing', undefined, 'is required: the id of the blocker this decision answers (status.blocker.id, e.g. "CONNECT_FAILED-1")'],
    ['null', null, 'is required'],
    ['empty', '', 'must look like KIND-n (e.g. "CONNECT_FAILED-1"), got ""'],
    ['lower case', 'connect_failed-1', 'must look like KIND-n'],
    ['without a number', 'CONNECT_FAILED', 'must look like KIND-n'],
    ['without the kind', '-1', 'must look like KIND-n'],
    ['a bare number', 1, 'must look like KIND-n (e.g. "CONNECT_FAILED-1"), got number 1'],
    ['with spaces', ' CONNECT_FAILED-1', 'must look like KIND-n'],
    ['a negative count', 'CONNECT_FAILED--1', 'must look like KIND-n'],
    ['an absurd count', 'CONNECT_FAILED-1234567', 'must look like KIND-n'],
    ['an object', { id: 'CONNECT_FAILED-1' }, 'must look like KIND-n'],
  ])('%s (%p) is refused naming blockerId', (_name, blockerId, rule) => {
    const raw = blockerId === undefined ? { by: 'bob', action: 'reconnect' } : { by: 'bob', action: 'reconnect', blockerId };
    const { request, problems } = validateResolveRequest(raw);
    expect(request).toBeUndefined();
    expect(problems).toEqual([{ field: 'blockerId', rule: expect.stringContaining(rule) }]);
  });

  test.each(['CONNECT_FAILED-1', 'NEW_KEYS-2', 'ROLLBACK_FAILED-17', 'STORE_NOT_CONNECTED-999999'])('%s is accepted', (blockerId) => {
    const { request, problems } = validateResolveRequest({ by: 'bob', action: 'reconnect', blockerId });
    expect(problems).toEqual([]);
    expect(request).toEqual({ by: 'bob', action: 'reconnect', blockerId, comment: undefined });
  });

  test('the example in the shape error shows a blockerId', () => {
    expect(validateResolveRequest('reconnect').problems[0].rule).toContain('"blockerId":"CONNECT_FAILED-1"');
  });
});

describe('durations', () => {
  test.each([
    [1500, 1500],
    ['30s', 30_000],
    ['1h', 3_600_000],
    ['1 day', 86_400_000],
    ['7 days', 604_800_000],
    ['250ms', 250],
    ['1.5h', 5_400_000],
    ['5000', 5000],
  ])('%p = %p ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  test.each([['soon'], ['-1s'], [-5], [NaN], [{}], ['1 lightyear']])('%p is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());
  test('formats', () => {
    expect(formatDuration(90_061_000)).toBe('1d 1h');
    expect(formatDuration(45_000)).toBe('45s');
    expect(formatDuration(350)).toBe('350ms');
  });
});

describe('signature', () => {
  // What the portal API adds to a request: a compact JWS (here a real one, signed like the API's).
  let jws: string;
  beforeAll(async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    jws = await new SignJWT({ kind: 'approve', request: { approver: 'bob' } }).setProtectedHeader({ alg: 'EdDSA', kid: 'decisions-1' }).sign(privateKey);
  });
  const requests: [string, (raw: unknown) => { problems: { field: string; rule: string }[] }, Record<string, unknown>][] = [
    ['start', (raw) => validateDecommissionInput(raw), valid],
    ['approve', validateApproveRequest, { approver: 'bob' }],
    ['cancel', validateCancelRequest, { by: 'bob', reason: 'wrong store' }],
    ['resolve', validateResolveRequest, { by: 'bob', action: 'retry', blockerId: 'STEP_FAILED-1' }],
  ];

  test.each(requests)('%s: a signed request is accepted and keeps its signature for the verification', (_kind, validate, request) => {
    const result = validate({ ...request, signature: jws }) as { problems: unknown[]; request?: { signature?: string } };
    expect(result.problems).toEqual([]);
    if (result.request) expect(result.request.signature).toBe(jws);
  });

  test('start: the normalized input carries no signature (it is verified from the request as sent)', () => {
    expect(validateDecommissionInput({ ...valid, signature: jws }).input).not.toHaveProperty('signature');
  });

  const bad: [string, unknown, string][] = [
    ['empty', '', 'must not be empty'],
    ['two parts', 'eyJh.eyJr', 'must be a compact JWS: three base64url parts separated by dots, got a string of 9 characters'],
    ['four parts', 'a.b.c.d', 'must be a compact JWS'],
    ['an empty payload (detached)', 'a..c', 'must be a compact JWS'],
    ['standard base64', 'ab+/.cd.ef', 'must be a compact JWS'],
    ['padding', 'ab.cd.ef==', 'must be a compact JWS'],
    ['surrounding space', ' a.b.c', 'must be a compact JWS'],
    ['too long', `${'a'.repeat(8_190)}.b.c`, 'must be at most 8192 characters, got 8194'],
    ['a number', 42, 'must be a compact JWS string, got number 42'],
    ['null', null, 'must be a compact JWS string, got null'],
    ['an object', { jws: 'a.b.c' }, 'must be a compact JWS string, got an object'],
  ];
  test.each(requests)('%s: a malformed signature is refused naming `signature`, without echoing it', (_kind, validate, request) => {
    for (const [, signature, rule] of bad) {
      const { problems } = validate({ ...request, signature });
      expect(problems).toEqual([{ field: 'signature', rule: expect.stringContaining(rule) }]);
      if (typeof signature === 'string' && signature.length > 0) expect(problems[0].rule).not.toContain(signature);
    }
  });

  test('listed among the allowed fields', () => {
    expect(validateCancelRequest({ by: 'bob', reason: 'x', note: 1 }).problems).toEqual([
      { field: 'note', rule: 'is not a known field (allowed: by, reason, signature)' },
    ]);
  });
});

describe('one rule per field, fast on hostile input', () => {
  test('a field that breaks several rules is named once, with the first rule it broke', () => {
    expect(validateApproveRequest({ approver: `${'a'.repeat(300)}\u0001` }).problems).toEqual([
      { field: 'approver', rule: 'must be at most 256 characters, got 301' },
    ]);
    expect(validateDecommissionInput({ ...valid, pendingWindowInDays: -1.5 }).problems).toEqual([
      { field: 'pendingWindowInDays', rule: 'must be an integer from 7 to 30 (KMS waiting period in days), got number -1.5' },
    ]);
  });

  test('whole numbers beyond 2^53 are whole (the rule is Number.isInteger, as before)', () => {
    expect(validateApproveRequest({ approver: 'bob', acknowledgeRecentlyUsedKeys: 2 ** 60 }).problems).toEqual([]);
  });

  // A duration string that almost matches is refused in linear time: the workflow validates the input inside a
  // workflow task, which must not spend seconds on one request.
  test('a long almost-duration is refused at once', () => {
    const started = performance.now();
    const { problems } = validateDecommissionInput({ ...valid, approvalTimeout: `1${' '.repeat(200_000)}!` });
    expect(problems).toEqual([{ field: 'approvalTimeout', rule: expect.stringContaining('got a string of 200002 characters') }]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
