import { ApplicationFailure } from '@temporalio/common';

/**
 * KMS errors are matched by `err.name`: unmodelled ones (ThrottlingException, ValidationException,
 * AccessDeniedException) are not exported classes, so `instanceof` cannot see them.
 */
const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

const TRANSIENT_NAMES = new Set([
  'KMSInternalException',
  'DependencyTimeoutException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'NetworkingError',
  // Not KMS: the DescribeKey worker thread carrying the call died (src/activities/describe-threads.ts).
  'DescribeThreadExited',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/**
 * Errors that mean "this identity cannot do this here", never fixed by retrying: a wrong secret or a
 * missing permission must stop the run with a clear failure, not burn retries.
 */
export const NON_RETRYABLE_AUTH_ERRORS = [
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
] as const;

export type KmsErrorClass = 'throttled' | 'transient' | 'permanent';

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

function networkCode(err: SdkLikeError): string | undefined {
  if (err.code && NETWORK_CODES.has(err.code)) return err.code;
  const cause = err.cause as SdkLikeError | undefined;
  if (cause?.code && NETWORK_CODES.has(cause.code)) return cause.code;
  return undefined;
}

/** Throttling and transient errors are worth retrying; everything else (NotFound, AccessDenied, Validation…) is not. */
export function classifyKmsError(error: unknown): KmsErrorClass {
  const err = (error ?? {}) as SdkLikeError;
  const name = err.name ?? '';
  if (THROTTLING_NAMES.has(name)) return 'throttled';
  if (TRANSIENT_NAMES.has(name) || networkCode(err)) return 'transient';
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return 'transient';
  if (status === 429) return 'throttled';
  // No HTTP status at all and no KMS error name: the request never got an answer (socket hang up, parse error).
  if (status === undefined && !/Exception$/.test(name) && /socket|hang up|network|ECONN|EPIPE|timeout/i.test(err.message ?? '')) return 'transient';
  return 'permanent';
}

export function errorName(error: unknown): string {
  return ((error ?? {}) as SdkLikeError).name ?? 'Error';
}

/**
 * Converts a KMS error into an ApplicationFailure whose type is the KMS error name, so the workflow's
 * retry policy and branches can match it. Permanent errors become non-retryable.
 */
export function toActivityFailure(error: unknown, context: string): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const err = (error ?? {}) as SdkLikeError;
  const name = errorName(error);
  const nonRetryable = classifyKmsError(error) === 'permanent';
  return ApplicationFailure.create({
    type: name,
    message: `${context}: ${name}: ${err.message ?? String(error)}`,
    nonRetryable,
  });
}
