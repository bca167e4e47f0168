import { KMSServiceException, NotFoundException, KMSInternalException } from '@aws-sdk/client-kms';
import { classifyKmsError, toActivityFailure } from '../../src/activities/kms-errors';

const sdkError = (name: string, status: number) =>
  new KMSServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });

test.each([
  [sdkError('ThrottlingException', 400), 'throttled'],
  [new KMSInternalException({ $metadata: { httpStatusCode: 500 }, message: 'x' }), 'transient'],
  [sdkError('DependencyTimeoutException', 500), 'transient'],
  [sdkError('SomethingNew', 503), 'transient'],
  [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'transient'],
  [new NotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'gone' }), 'permanent'],
  [sdkError('AccessDeniedException', 400), 'permanent'],
  [sdkError('ValidationException', 400), 'permanent'],
  [sdkError('UnrecognizedClientException', 400), 'permanent'],
])('%s is %s', (err, kind) => expect(classifyKmsError(err)).toBe(kind));

test('activity failures carry the KMS error name as type; permanent ones are non-retryable', () => {
  const denied = toActivityFailure(sdkError('AccessDeniedException', 400), 'DescribeKey k1');
  expect(denied).toMatchObject({ type: 'AccessDeniedException', nonRetryable: true });
  expect(denied.message).toMatch(/DescribeKey k1: AccessDeniedException/);
  expect(toActivityFailure(sdkError('ThrottlingException', 400), 'x').nonRetryable).toBe(false);
});
