import { Context } from '@temporalio/activity';
import { setMaxListeners } from 'node:events';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps';
import { abortableDelay } from './abortable-delay';
import { classifyKmsError, errorName } from './kms-errors';
import type { KmsOperation } from './rate-limiter';

const listenerBudgets = new WeakSet<AbortSignal>();

function currentSignal(): AbortSignal | undefined {
  try {
    const signal = Context.current().cancellationSignal;
    // Dozens of concurrent KMS calls of one activity legitimately listen on its cancellation signal.
    if (!listenerBudgets.has(signal)) {
      setMaxListeners(1_000, signal);
      listenerBudgets.add(signal);
    }
    return signal;
  } catch {
    return undefined; // called outside an activity (unit tests, scripts)
  }
}

/**
 * Sends one KMS request under the worker-wide pace, retrying throttling and transient failures with
 * full-jitter backoff. Each retry waits for a new pacing slot, so retries never push the account over
 * its quota. Permanent errors (NotFound, AccessDenied, InvalidState…) are thrown unchanged at once for
 * the caller to interpret by `err.name`.
 */
export async function callKms<T>(deps: ActivityDeps, operation: KmsOperation, send: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  const signal = currentSignal();
  const maxAttempts = deps.maxCallAttempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    const leave = await deps.gate?.enter();
    try {
      await deps.limiter.acquire(operation, signal);
      return await send(signal);
    } catch (err) {
      leave?.(); // before the backoff: a sleeping retry must not hold a slot
      if (signal?.aborted) throw err;
      const kind = classifyKmsError(err);
      if (kind === 'permanent') throw err;
      if (attempt >= maxAttempts) {
        // Still retryable: the activity's retry policy takes over with its own, longer backoff.
        throw ApplicationFailure.retryable(`${operation} kept failing after ${attempt} attempts: ${errorName(err)}: ${(err as Error).message}`, errorName(err));
      }
      const base = kind === 'throttled' ? 500 : 100;
      await abortableDelay(Math.random() * Math.min(base * 2 ** attempt, 10_000), signal);
    } finally {
      leave?.();
    }
  }
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight, preserving result order. After a
 * failure no new item starts, and the call rejects only once the items in flight have settled: a
 * sibling still retrying in the background would race the activity's next attempt.
 */
export async function mapWithConcurrency<I, O>(items: readonly I[], concurrency: number, work: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const runners = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        results[index] = await work(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(runners);
  if (failure) throw failure.error;
  return results;
}
