/**
 * The `notify` activity: tells every configured sink about a transition, each exactly once.
 *
 * Every sink is tried in each attempt, so a failing one does not hold back the others; each sink that accepts
 * is checkpointed at once in the heartbeat details, and the next attempt skips it. The attempt then fails
 * (retryably, naming the sinks that failed and why, never their URL) if any sink did not accept. What is
 * left is the window between a sink accepting and the checkpoint reaching the server (a worker crash right
 * there): the key travels in every message, and SNS FIFO topics drop the repeat by it.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { NotificationInput, NotifyResult } from '../shared/notifications';
import { notificationLinks, renderNotification } from './notify-message';
import { describeSinkError, type NotificationSink } from './notify-sinks';

/** Default time one sink gets to accept a message, per attempt. */
export const DEFAULT_NOTIFY_SEND_TIMEOUT_MS = 10_000;

/** The ApplicationFailure type of an attempt in which a sink did not accept the notification (retryable). */
export const NOTIFICATION_SINK_FAILED = 'NotificationSinkFailed';

/** Where notifications go and what they link to (see `notify-config.ts` for the environment). */
export interface NotifyActivityOptions {
  /** The configured sinks, by distinct name; none: `notify` returns `{ delivered: [] }` at once. */
  sinks: NotificationSink[];
  links?: {
    /** Base of the ops portal: the approval page is `${portalUrl}/decommissions/${workflowId}`. */
    portalUrl?: string;
    /** Base of the Temporal Web UI: the run is `${temporalUiUrl}/namespaces/${namespace}/workflows/${workflowId}`. */
    temporalUiUrl?: string;
    /** Namespace for the Web UI link when the activity does not know its workflow's (it always does on a real worker). */
    namespace?: string;
  };
  /** Time one sink gets to accept a message, per attempt; default {@link DEFAULT_NOTIFY_SEND_TIMEOUT_MS}. */
  sendTimeoutMs?: number;
}

/** The heartbeat checkpoint: the sinks that accepted this notification in earlier attempts. */
export interface NotifyCheckpoint {
  key: string;
  delivered: string[];
}

/** The previous attempt's checkpoint, when it is one for this notification. */
function priorCheckpoint(details: unknown, key: string): string[] {
  const c = details as Partial<NotifyCheckpoint> | undefined;
  if (!c || c.key !== key || !Array.isArray(c.delivered)) return [];
  return c.delivered.filter((s): s is string => typeof s === 'string');
}

/** Builds the `notify` activity around its sinks (tests pass their own; the worker's come from the environment). */
export function createNotifyActivities(options: NotifyActivityOptions) {
  const names = options.sinks.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new Error(`notification sinks need distinct names, got ${names.join(', ')}`);
  const timeoutMs = options.sendTimeoutMs ?? DEFAULT_NOTIFY_SEND_TIMEOUT_MS;

  return {
    /**
     * Sends one notification to every configured sink that has not accepted it yet. Resolves with every sink
     * that accepted it (in this attempt or an earlier one); throws a retryable `NotificationSinkFailed`
     * naming each failed sink and the HTTP status or error name otherwise.
     */
    async notify(input: NotificationInput): Promise<NotifyResult> {
      if (options.sinks.length === 0) return { delivered: [] };
      const context = Context.current();
      const delivered = new Set(priorCheckpoint(context.info.heartbeatDetails, input.key));
      const pending = options.sinks.filter((s) => !delivered.has(s.name));
      if (pending.length > 0) {
        const namespace = context.info.workflowNamespace ?? options.links?.namespace ?? 'default';
        const message = renderNotification(input, notificationLinks(options.links ?? {}, namespace, input.workflowId));
        const failures: { sink: string; reason: string }[] = [];
        await Promise.all(
          pending.map(async (sink) => {
            const signal = AbortSignal.any([context.cancellationSignal, AbortSignal.timeout(timeoutMs)]);
            try {
              await sink.send(message, signal);
            } catch (err) {
              const timedOut = signal.aborted && !context.cancellationSignal.aborted;
              failures.push({ sink: sink.name, reason: timedOut ? `no answer within ${timeoutMs} ms` : describeSinkError(err) });
              return;
            }
            delivered.add(sink.name);
            // The checkpoint: a retry must not send here again.
            context.heartbeat({ key: input.key, delivered: [...delivered] } satisfies NotifyCheckpoint);
            log.info('notification delivered', { key: input.key, sink: sink.name });
          }),
        );
        // Cancelled (the run was cancelled, or the worker is shutting down): report the cancellation, not the sinks it cut short.
        context.cancellationSignal.throwIfAborted();
        if (failures.length > 0) {
          failures.sort((a, b) => names.indexOf(a.sink) - names.indexOf(b.sink));
          const failed = failures.map((f) => `${f.sink} (${f.reason})`).join(', ');
          const done = names.filter((n) => delivered.has(n));
          log.warn('notification not delivered', { key: input.key, failed, delivered: done });
          throw ApplicationFailure.create({
            type: NOTIFICATION_SINK_FAILED,
            message: `notification ${input.key} not delivered to ${failed}${done.length > 0 ? `; already delivered to ${done.join(', ')}` : ''}`,
            details: [{ failed: failures, delivered: done }],
          });
        }
      }
      return { delivered: names.filter((n) => delivered.has(n)) };
    },
  };
}

/** The activity interface `createNotifyActivities` builds. */
export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
