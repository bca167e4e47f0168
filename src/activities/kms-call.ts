import { Context } from '@temporalio/activity';
import { setMaxListeners } from 'node:events';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps';
import { abortableDelay } from './abortable-delay';
import { classifyKmsError, errorName } from './kms-errors';
import type { PacedOperation } from './rate-limiter';

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

/** Default {@link ActivityDeps.retryBudgetMs}: how long a heartbeating caller keeps retrying one call. */
export const DEFAULT_RETRY_BUDGET_MS = 5 * 60_000;

export interface CallKmsOptions {
  /**
   * Called before every backoff of a throttled or transient call. A caller that heartbeats here (with
   * its own checkpoint) keeps its activity alive while KMS throttles, so the call is retried for as long
   * as {@link ActivityDeps.retryBudgetMs} of continuous failure instead of `maxCallAttempts` attempts.
   */
  keepAlive?: () => void;
  /**
   * Used instead of the activity's cancellation signal: one made by {@link stopSignal}, which also aborts
   * when the activity is cancelled, so a caller can stop its sibling calls after a failure.
   */
  signal?: AbortSignal;
}

/**
 * A signal that aborts when the activity is cancelled or when `stop` is called: lets a fan-out (the
 * inventory scan) stop every sibling call still retrying once one of them failed for good.
 */
export function stopSignal(): { signal: AbortSignal; stop(reason: unknown): void; dispose(): void } {
  const controller = new AbortController();
  setMaxListeners(1_000, controller.signal);
  const activity = currentSignal();
  const follow = () => controller.abort(activity?.reason);
  if (activity?.aborted) follow();
  else activity?.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    stop: (reason) => controller.abort(reason),
    dispose: () => activity?.removeEventListener('abort', follow),
  };
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/**
 * Sends one KMS (or CloudTrail) request under the worker-wide pace, retrying throttling and transient failures with
 * full-jitter backoff. Each retry waits for a new pacing slot, so retries never push the account over
 * its quota. Permanent errors (NotFound, AccessDenied, InvalidState…) are thrown unchanged at once for
 * the caller to interpret by `err.name`. No request is sent once the activity's cancellation arrived.
 *
 * How long it retries: a caller that heartbeats while it waits (`options.keepAlive`) retries until the
 * call has failed continuously for `deps.retryBudgetMs` (default 5 min): a throttling storm must not
 * fail an inventory. Any other caller gives up after `deps.maxCallAttempts` (default 8): without a
 * heartbeat its activity would time out on the server while the call kept retrying here, racing the
 * activity's next attempt. Either way the give-up is a retryable failure whose type is the error's name.
 */
export async function callKms<T>(
  deps: ActivityDeps,
  operation: PacedOperation,
  send: (signal?: AbortSignal) => Promise<T>,
  options: CallKmsOptions = {},
): Promise<T> {
  const signal = options.signal ?? currentSignal();
  const maxAttempts = deps.maxCallAttempts ?? 8;
  const budgetMs = deps.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    throwIfCancelled(signal);
    const leave = await deps.gate?.enter();
    let sent = false;
    try {
      await deps.limiter.acquire(operation, signal);
      // An unpaced operation resolves at once, without looking at the signal.
      throwIfCancelled(signal);
      sent = true;
      const out = await send(signal);
      deps.metrics?.awsCall(operation, 'success', false);
      return out;
    } catch (err) {
      leave?.(); // before the backoff: a sleeping retry must not hold a slot
      if (sent) deps.metrics?.awsCall(operation, errorName(err), classifyKmsError(err) === 'throttled');
      if (signal?.aborted) throw err;
      const kind = classifyKmsError(err);
      if (kind === 'permanent') throw err;
      firstFailure ??= Date.now();
      const failingMs = Date.now() - firstFailure;
      if (options.keepAlive ? failingMs >= budgetMs : attempt >= maxAttempts) {
        // Still retryable: the activity's retry policy takes over with its own, longer backoff.
        throw ApplicationFailure.retryable(
          `${operation} kept failing for ${Math.round(failingMs / 1000)} s (${attempt} attempts): ${errorName(err)}: ${(err as Error).message}`,
          errorName(err),
        );
      }
      options.keepAlive?.();
      const base = kind === 'throttled' ? 500 : 100;
      const cap = Math.min(base * 2 ** Math.min(attempt, 20), 10_000);
      // Never sleep past the budget: the last retry happens at its end, not up to 10 s later.
      const delay = Math.random() * (options.keepAlive ? Math.min(cap, Math.max(0, budgetMs - failingMs)) : cap);
      await abortableDelay(delay, signal);
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
        results[index] = await work(items[index] as I, index); // index < items.length
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(runners);
  if (failure) throw failure.error;
  return results;
}
