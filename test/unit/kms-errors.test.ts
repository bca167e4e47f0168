import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KMSServiceException, NotFoundException, KMSInternalException } from '@aws-sdk/client-kms';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { classifyKmsError, toActivityFailure } from '../../src/activities/kms-errors';
import {
  ACTIVITY_NON_RETRYABLE_TYPES,
  AUTH_ERROR_NAMES,
  classifyAwsErrorName,
  NON_RETRYABLE_FAILURE_TYPES,
  PERMANENT_AWS_ERROR_NAMES,
  THROTTLING_ERROR_NAMES,
  TRANSIENT_ERROR_NAMES,
} from '../../src/shared/errors';

const root = path.resolve(__dirname, '..', '..');
const sdkError = (name: string, status: number) =>
  new KMSServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });

test.each([
  [sdkError('ThrottlingException', 400), 'throttled'],
  [sdkError('TooManyRequestsException', 400), 'throttled'],
  [sdkError('SomethingNew', 429), 'throttled'],
  [new KMSInternalException({ $metadata: { httpStatusCode: 500 }, message: 'x' }), 'transient'],
  [sdkError('DependencyTimeoutException', 500), 'transient'],
  [sdkError('SomethingNew', 503), 'transient'],
  [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'transient'],
  [Object.assign(new Error('DescribeKey thread exited'), { name: 'DescribeThreadExited' }), 'transient'],
  [new NotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'gone' }), 'permanent'],
  [sdkError('AccessDeniedException', 400), 'permanent'],
  [sdkError('ValidationException', 400), 'permanent'],
  [sdkError('UnrecognizedClientException', 400), 'permanent'],
  [sdkError('ExpiredTokenException', 400), 'permanent'],
  [sdkError('KMSInvalidStateException', 400), 'permanent'],
])('%s is %s', (err, kind) => expect(classifyKmsError(err)).toBe(kind));

test('every name is in exactly one class; the retry policy never lists a throttling or transient name', () => {
  const classes = [THROTTLING_ERROR_NAMES, TRANSIENT_ERROR_NAMES, PERMANENT_AWS_ERROR_NAMES];
  const all = classes.flat();
  expect(new Set(all).size).toBe(all.length);
  for (const name of THROTTLING_ERROR_NAMES) expect(classifyAwsErrorName(name)).toBe('throttled');
  for (const name of TRANSIENT_ERROR_NAMES) expect(classifyAwsErrorName(name)).toBe('transient');
  for (const name of PERMANENT_AWS_ERROR_NAMES) expect(classifyAwsErrorName(name)).toBe('permanent');
  expect(classifyAwsErrorName('SomethingNew')).toBeUndefined();
  for (const name of [...THROTTLING_ERROR_NAMES, ...TRANSIENT_ERROR_NAMES]) expect(NON_RETRYABLE_FAILURE_TYPES).not.toContain(name);
  expect(NON_RETRYABLE_FAILURE_TYPES).toEqual(
    expect.arrayContaining([...AUTH_ERROR_NAMES, 'NotFoundException', 'CustomKeyStoreNotFoundException', 'StoreStateTimeout', 'InventoryIncomplete']),
  );
  // The two lists that used to disagree (0.1.0's workflow retry policy and the activities' auth list) are both covered.
  expect(NON_RETRYABLE_FAILURE_TYPES).toEqual(
    expect.arrayContaining(['IncompleteSignatureException', 'InvalidClientTokenId', 'ValidationException', 'InvalidArnException']),
  );
});

test('every failure type the activities throw non-retryably is in NON_RETRYABLE_FAILURE_TYPES', () => {
  const dir = path.join(root, 'src', 'activities');
  const thrown = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(path.join(dir, file), 'utf8');
    for (const match of source.matchAll(/ApplicationFailure\.nonRetryable\([\s\S]*?,\s*'(\w+)',?\s*\)/g)) thrown.add(match[1]);
  }
  expect(thrown.size).toBeGreaterThanOrEqual(3);
  for (const type of thrown) expect(NON_RETRYABLE_FAILURE_TYPES).toContain(type);
  for (const type of ACTIVITY_NON_RETRYABLE_TYPES.filter((t) => !PERMANENT_AWS_ERROR_NAMES.includes(t))) expect(thrown).toContain(type);
});

test('src/shared/errors.ts is pure (safe in the workflow sandbox): no imports but types', () => {
  const source = readFileSync(path.join(root, 'src', 'shared', 'errors.ts'), 'utf8');
  const imports = source.split('\n').filter((line) => /^\s*import\s/.test(line) && !/^\s*import\s+type\s/.test(line));
  expect(imports).toEqual([]);
  expect(source).not.toMatch(/\brequire\(/);
});

test('activity failures carry the KMS error name as type; permanent ones are non-retryable', () => {
  const denied = toActivityFailure(sdkError('AccessDeniedException', 400), 'DescribeKey k1');
  expect(denied).toMatchObject({ type: 'AccessDeniedException', nonRetryable: true });
  expect(denied.message).toMatch(/DescribeKey k1: AccessDeniedException/);
  expect(toActivityFailure(sdkError('ThrottlingException', 400), 'x')).toMatchObject({ type: 'ThrottlingException', nonRetryable: false });
  expect(toActivityFailure(sdkError('KMSInternalException', 500), 'x')).toMatchObject({ nonRetryable: false });
  const retryable = ApplicationFailure.retryable('kept failing', 'ThrottlingException');
  expect(toActivityFailure(retryable, 'x')).toBe(retryable);
});

test('a cancellation stays a cancellation: a delivered cancel wins over whatever error the cancelled call surfaced', async () => {
  const cancelled = new CancelledFailure('CANCELLED');
  expect(toActivityFailure(cancelled, 'x')).toBe(cancelled);
  const env = new MockActivityEnvironment();
  env.cancel();
  const abortError = Object.assign(new Error('Request aborted'), { name: 'AbortError' });
  const converted = await env.run(async () => toActivityFailure(abortError, 'ScheduleKeyDeletion'));
  expect(converted).toBeInstanceOf(CancelledFailure);
});
