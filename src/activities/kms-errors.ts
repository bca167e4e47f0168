import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { classifyAwsErrorName, NON_RETRYABLE_FAILURE_TYPES, type AwsErrorClass } from '../shared/errors';

/*
 * KMS errors are matched by `err.name` (src/shared/errors.ts holds the name sets): unmodelled ones
 * (ThrottlingException, ValidationException, AccessDeniedException) are not exported classes, so
 * `instanceof` cannot see them.
 */

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export type KmsErrorClass = AwsErrorClass;

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
  const byName = classifyAwsErrorName(name);
  if (byName === 'throttled' || byName === 'transient') return byName;
  if (networkCode(err)) return 'transient';
  if (byName === 'permanent') return 'permanent';
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
 * The activity's cancellation, if it was delivered: whatever error a cancelled call surfaced (the SDK's
 * AbortError, a limiter rejection, a failure of a sibling call), the activity must end as cancelled, with
 * the SDK's own CancelledFailure, or Temporal records a failure instead of a cancellation.
 */
export function deliveredCancellation(): CancelledFailure | undefined {
  let signal: AbortSignal;
  try {
    signal = Context.current().cancellationSignal;
  } catch {
    return undefined; // outside an activity (unit tests, scripts)
  }
  if (!signal.aborted) return undefined;
  return signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure(String(signal.reason ?? 'cancelled'));
}

/**
 * Converts a KMS error into an ApplicationFailure whose type is the KMS error name, so the workflow's
 * retry policy and branches can match it. Permanent errors become non-retryable. A delivered
 * cancellation wins over any error: it is returned as the activity's CancelledFailure.
 */
export function toActivityFailure(error: unknown, context: string): ApplicationFailure | CancelledFailure {
  const cancelled = deliveredCancellation();
  if (cancelled) return cancelled;
  if (error instanceof ApplicationFailure || error instanceof CancelledFailure) return error;
  const err = (error ?? {}) as SdkLikeError;
  const name = errorName(error);
  const nonRetryable = classifyKmsError(error) === 'permanent' || NON_RETRYABLE_FAILURE_TYPES.includes(name);
  return ApplicationFailure.create({
    type: name,
    message: `${context}: ${name}: ${err.message ?? String(error)}`,
    nonRetryable,
  });
}
