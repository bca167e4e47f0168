/**
 * The one error taxonomy of the project: which AWS errors are worth retrying and which failure types a
 * retry can never fix. Pure data (no imports), so both the activities and the workflow sandbox use it:
 * the activities classify what KMS answers by `err.name`, the workflow's retry policy lists
 * {@link NON_RETRYABLE_FAILURE_TYPES}.
 *
 * AWS errors are matched by name, never by class: the unmodelled ones (ThrottlingException,
 * AccessDeniedException, ValidationException…) are not exported classes of the SDK.
 */

/** KMS (or the AWS front door) asked us to slow down: retry after a longer backoff, paced. */
export const THROTTLING_ERROR_NAMES: readonly string[] = [
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
];

/** The request may not have been served: retry after a short backoff. */
export const TRANSIENT_ERROR_NAMES: readonly string[] = [
  'KMSInternalException',
  'DependencyTimeoutException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'NetworkingError',
  // Not AWS: the DescribeKey worker thread carrying the call died (src/activities/describe-threads.ts).
  'DescribeThreadExited',
];

/**
 * "This identity cannot do this here": a wrong secret, an expired session or a missing permission. A
 * run must stop with a clear failure, not burn retries.
 */
export const AUTH_ERROR_NAMES: readonly string[] = [
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
];

/**
 * AWS errors that retrying the same request cannot fix. Any name in neither {@link THROTTLING_ERROR_NAMES}
 * nor {@link TRANSIENT_ERROR_NAMES} (and not a 5xx/429 or a network failure) is classified permanent too;
 * this list names the known ones, which the workflow's retry policy refuses to retry.
 */
export const PERMANENT_AWS_ERROR_NAMES: readonly string[] = [
  ...AUTH_ERROR_NAMES,
  'NotFoundException',
  'ValidationException',
  'InvalidArnException',
  'CustomKeyStoreNotFoundException',
];

/**
 * ApplicationFailure types the activities throw as non-retryable themselves (besides AWS names):
 * - `InventoryIncomplete`: an inventory could not read a key for a reason retrying cannot fix (fails closed);
 * - `StoreStateTimeout`: a store did not reach the wanted connection state within the step's timeout.
 */
export const ACTIVITY_NON_RETRYABLE_TYPES: readonly string[] = ['InventoryIncomplete', 'StoreStateTimeout', 'CloudTrailNotConfigured'];

/**
 * Failure types a workflow retry policy must never retry (`RetryPolicy.nonRetryableErrorTypes`). The
 * activities already mark these non-retryable; listing them in the policy too protects against an
 * activity that forgets to.
 */
export const NON_RETRYABLE_FAILURE_TYPES: readonly string[] = [...PERMANENT_AWS_ERROR_NAMES, ...ACTIVITY_NON_RETRYABLE_TYPES];

export type AwsErrorClass = 'throttled' | 'transient' | 'permanent';

/**
 * Classifies an AWS error by its name alone: `throttled`, `transient`, or `undefined` when the name says
 * nothing either way (callers then look at the HTTP status and network codes; see `classifyKmsError`).
 * Known permanent names answer `permanent`.
 */
export function classifyAwsErrorName(name: string): AwsErrorClass | undefined {
  if (THROTTLING_ERROR_NAMES.includes(name)) return 'throttled';
  if (TRANSIENT_ERROR_NAMES.includes(name)) return 'transient';
  if (PERMANENT_AWS_ERROR_NAMES.includes(name)) return 'permanent';
  return undefined;
}
