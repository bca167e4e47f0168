/**
 * Notifications: the contract between the workflow (which decides when a person must be told) and the `notify`
 * activity (which tells the configured sinks: a Slack-compatible webhook, Amazon SNS).
 * Workflow-safe: types and pure functions only (the sinks live in `src/activities/notify.ts`).
 *
 * Exactly one notification per transition: the workflow sends each {@link NotificationInput} once, keyed by
 * {@link notificationKey}; the activity checkpoints each sink that accepted it so a retry never resends there,
 * and the key travels with every message so a receiver can drop a duplicate a crash still let through.
 */

/** The transitions that need a person or end the run. */
export type NotifiedTransition = 'AWAITING_APPROVAL' | 'BLOCKED' | 'COMPLETED' | 'CANCELLED' | 'FAILED';

/** What the workflow asks the `notify` activity to send. Carries no secrets: it is in the workflow history. */
export interface NotificationInput {
  /** Dedupe key, unique per run and transition: `${workflowId}/${transition}` or `${workflowId}/BLOCKED/${blocker.id}` */
  key: string;
  workflowId: string;
  customKeyStoreId: string;
  transition: NotifiedTransition;
  /** one line for people, no secrets */
  summary: string;
  requestedBy: string;
  ticket?: string;
  /** The blocker a person must resolve (BLOCKED only). */
  blocker?: { id: string; kind: string; message: string; allowedActions: string[] };
  /** workflow time, epoch ms */
  at: number;
}

/** What the `notify` activity answers once every configured sink accepted the notification. */
export interface NotifyResult {
  /** sink names, e.g. 'slack', 'sns' (empty when no sink is configured) */
  delivered: string[];
}

/** A notification as the run's status shows it: a failing sink is visible there, never fatal to the run. */
export interface NotificationRecord {
  key: string;
  transition: NotifiedTransition;
  at: number;
  status: 'pending' | 'delivered' | 'failed';
  /** Sink names that accepted it. */
  delivered?: string[];
  /** Why the last attempt failed: the sink and the HTTP status or error name, never a URL or credential. */
  error?: string;
}

/**
 * The dedupe key of a transition: `${workflowId}/${run}/${transition}`, or `${workflowId}/${run}/BLOCKED/${blockerId}`
 * for a blocker, since one run can be blocked several times and each blocker needs its own notification. `run` is
 * the run chain (its first run ID): every decommission of a store has the same workflow ID, and a FIFO topic (or
 * a consumer) dropping repeated keys must not drop the next decommission's messages.
 */
export function notificationKey(workflowId: string, run: string, transition: NotifiedTransition, blockerId?: string): string {
  const base = `${workflowId}/${run}`;
  return transition === 'BLOCKED' && blockerId !== undefined ? `${base}/BLOCKED/${blockerId}` : `${base}/${transition}`;
}
