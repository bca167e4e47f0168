import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/workflow';

/** The ApplicationFailure type behind an activity failure (the KMS error name, for KMS errors). */
export function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** The `details` of the ApplicationFailure behind an activity failure (what the activity attached to it). */
export function failureDetails(err: unknown): unknown[] {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure || cause instanceof CancelledFailure ? (cause.details ?? []) : [];
}

/** "Type: message" of the failure's root cause, for status, blockers and the run's own failure. */
export function describeFailure(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  // Activities already name the AWS error in their message ("rollback: AccessDeniedException: …"): say it once.
  if (cause instanceof ApplicationFailure) return cause.type && !cause.message.includes(`${cause.type}:`) ? `${cause.type}: ${cause.message}` : cause.message;
  return cause instanceof Error ? cause.message : String(cause);
}

/** An update validator's (or handler's) refusal: non-retryable, so clients do not present it as something to try again. */
export function rejected(reason: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(reason, 'UpdateRejected');
}
