import { CancellationScope, condition, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DecommissionActivities } from '../activities';
import { withoutSignature, type DecisionKind, type VerifyDecisionResult } from '../shared/decisions';
import { notificationKey, type NotificationInput, type NotificationRecord, type NotifiedTransition } from '../shared/notifications';
import type { ResetGuarded } from '../shared/reset-guard';
import { describeFailure, rejected } from './failures';
import { count } from './render';
import type { Run } from './run';

/**
 * Marker recorded by every run started on 0.4.0 or later: verified identities and notifications. A run that
 * began earlier has no marker and no portal state: it replays, and goes on after a deploy, exactly as before.
 */
export const PORTAL_PATCH = 'decommission-portal-v4';

/** The failure type of a run whose start signature was refused. */
export const UNVERIFIED_DECISION = 'UnverifiedDecision';

/** Most notification records the status shows (a run blocked many times keeps them all in its state). */
const STATUS_NOTIFICATIONS = 20;

/** How long the end of a run waits for a notification still being retried before it closes anyway. */
const FINAL_NOTIFICATION_PATIENCE_MS = 2 * 60_000;

/**
 * A sink that is down is retried for half an hour (backing off to 5 minutes), then the notification is
 * recorded as failed in the status. The run never waits for it, except briefly at its very end.
 */
const notifyStub = proxyActivities<DecommissionActivities>({
  startToCloseTimeout: 60_000,
  scheduleToCloseTimeout: 30 * 60_000,
  retry: { initialInterval: 5_000, backoffCoefficient: 2, maximumInterval: 300_000 },
});

/**
 * Verification is local cryptography: quick, and an operator waits on the answer. A worker that cannot
 * answer within a few attempts fails the decision (the person tries again) rather than holding it for minutes.
 */
const verifyStub = proxyActivities<DecommissionActivities>({
  startToCloseTimeout: 10_000,
  retry: { initialInterval: 500, backoffCoefficient: 2, maximumAttempts: 3 },
});

// -------------------------------------------------------------------------------------------------
// Signed decisions

/** This run must verify every decision's signature: its recorded policy says so (runs started on 0.4.0 on). */
export function signaturesRequired(run: Run): boolean {
  return run.state.portal !== undefined && run.state.policy?.requireSignedDecisions === true;
}

/**
 * The validator's part (no I/O): an unsigned decision is refused where signatures are required. Before a run
 * has loaded its policy (its first activity) nothing requires them: the only decision possible then is a
 * cancel, which ends a run that has changed nothing.
 */
export function checkSignaturePresent(run: Run, kind: DecisionKind, signature: string | undefined): void {
  if (signaturesRequired(run) && !signature)
    throw rejected(
      `This deployment requires signed decisions: ${kind} through the portal API, which signs it for your verified identity (an unsigned ${kind}, e.g. from the Temporal CLI, is refused)`,
    );
}

/** A decision whose signature the worker verified: who made it, as the identity provider said. */
export interface VerifiedDecision {
  subject: string;
  name?: string;
  jti: string;
}

/**
 * The handler's part: verifies the signature in an activity (validators cannot do I/O) and refuses a bad one
 * or one already used. Undefined when this run does not require signatures.
 */
export async function verifySignedDecision(run: Run, kind: DecisionKind, request: object & { signature?: string }): Promise<VerifiedDecision | undefined> {
  if (!signaturesRequired(run)) return undefined;
  const result = await verifyDecision(kind, request, Date.now(), workflowInfo().firstExecutionRunId);
  if (!result.valid) throw rejected(`The ${kind} decision's signature was refused: ${result.reason}. Nothing was changed.`);
  if (run.state.portal?.decisionIds.includes(result.jti)) throw rejected(`This signed ${kind} was already used once (jti ${result.jti}): sign a new decision`);
  return result;
}

/** Records an accepted signed decision, so its signature cannot be used a second time. */
export function recordSignedDecision(run: Run, verified: VerifiedDecision | undefined): void {
  if (verified) run.state.portal?.decisionIds.push(verified.jti);
}

function verifyDecision(kind: DecisionKind, request: object & { signature?: string }, receivedAt: number, run?: string): Promise<VerifyDecisionResult> {
  // Not cancellable: a decision being verified is answered even if the step in progress is cancelled.
  return CancellationScope.nonCancellable(() =>
    verifyStub.verifyDecision.executeWithOptions({ summary: `Verify the signature of the ${kind} decision` }, [
      {
        kind,
        workflowId: workflowInfo().workflowId,
        ...(run !== undefined ? { run } : {}),
        request: withoutSignature(request) as Record<string, unknown>,
        signature: request.signature ?? '',
        receivedAt,
      },
    ]),
  );
}

/**
 * VALIDATING, in deployments that require signed decisions: the request itself must be signed for the
 * requester, before anything is read or changed. Returns why it is refused, or undefined when accepted.
 */
export async function verifyStartSignature(run: Run): Promise<string | undefined> {
  if (!signaturesRequired(run)) return undefined;
  const signature = (run.rawInput as { signature?: unknown }).signature;
  if (signature !== undefined && typeof signature !== 'string') return 'signature: must be a compact JWS string';
  if (!signature)
    return 'this deployment requires signed decisions: start the decommission through the portal API, which signs the request for your verified identity (an unsigned start, e.g. from the Temporal CLI, is refused)';
  // Expiry is judged when the server received the start, not when a (possibly backed-up) worker first ran it.
  const result = await verifyDecision('start', run.rawInput, workflowInfo().runStartTime.getTime());
  if (!result.valid) return `the request's signature was refused: ${result.reason}`;
  const portal = run.state.portal as NonNullable<typeof run.state.portal>;
  portal.requester = { subject: result.subject, ...(result.name ? { name: result.name } : {}) };
  portal.decisionIds.push(result.jti);
  const requested = run.state.decisions.find((d) => d.what === 'requested');
  if (requested) Object.assign(requested, { verified: true as const, ...(result.name ? { name: result.name } : {}) });
  return undefined;
}

// -------------------------------------------------------------------------------------------------
// Reset

/**
 * What the activities that delete, disable or tear down check (`src/shared/reset-guard.ts`): the run's original
 * run ID. Only the input of commands this run issues anew carries it, and activity inputs are not part of replay.
 */
export function resetGuard(): ResetGuarded {
  return { originalRunId: workflowInfo().originalExecutionRunId };
}

// -------------------------------------------------------------------------------------------------
// Notifications

/**
 * Notifies the deployment's sinks of a transition that needs a person or ends the run, once per transition:
 * the record in the run's state is the dedupe ledger (it survives retries, worker crashes and
 * continue-as-new), and the activity checkpoints each sink. Never awaited by the run: a failing sink is
 * retried in the background and its failure shown in the status.
 */
export function notifyTransition(run: Run, transition: NotifiedTransition): void {
  const portal = run.state.portal;
  if (!portal || run.state.policy?.notifications !== true) return;
  // A start refused for its signature was never a verified request: notifying it would let anyone with namespace
  // access post a message in the channel that reads like one (requester, ticket) at will.
  if (transition === 'FAILED' && run.state.failure?.type === UNVERIFIED_DECISION) return;
  const { workflowId } = workflowInfo();
  const blocker = transition === 'BLOCKED' ? run.state.blocker : undefined;
  // A store's workflow ID is reused by each decommission of it: the run chain makes the key unique per run.
  const key = notificationKey(workflowId, workflowInfo().firstExecutionRunId, transition, blocker?.id);
  if (portal.notifications.some((r) => r.key === key)) return;
  const record: NotificationRecord = { key, transition, at: Date.now(), status: 'pending' };
  portal.notifications.push(record);
  const input: NotificationInput = {
    key,
    workflowId,
    customKeyStoreId: run.cfg.customKeyStoreId,
    transition,
    summary: notificationSummary(run, transition),
    requestedBy: run.cfg.requestedBy,
    ...(run.cfg.ticket ? { ticket: run.cfg.ticket } : {}),
    ...(blocker ? { blocker: { id: blocker.id, kind: blocker.kind, message: blocker.message, allowedActions: [...blocker.allowedActions] } } : {}),
    at: record.at,
  };
  const sending = CancellationScope.nonCancellable(() =>
    notifyStub.notify.executeWithOptions({ summary: `Notify: ${transition}${blocker ? ` ${blocker.id}` : ''}` }, [input]),
  ).then(
    (result) => {
      record.status = 'delivered';
      record.delivered = result.delivered;
    },
    (err: unknown) => {
      record.status = 'failed';
      record.error = describeFailure(err);
      log.warn('notification failed', { key, error: record.error });
    },
  );
  run.trackNotification(sending);
}

/** Waits for notifications still being sent: before continue-as-new (fully) and at the end of the run (briefly). */
export async function settleNotifications(run: Run, patienceMs?: number): Promise<void> {
  if (!run.notificationsPending()) return;
  const settled = await CancellationScope.nonCancellable(() => condition(() => !run.notificationsPending(), patienceMs ?? FINAL_NOTIFICATION_PATIENCE_MS));
  if (!settled) run.state.notes.push('A notification was still being retried when the run closed: see status.notifications.');
}

/** The notifications as the status shows them: the latest ones. */
export function notificationsForStatus(run: Run): NotificationRecord[] | undefined {
  const n = run.state.portal?.notifications;
  return n && n.length > 0 ? n.slice(-STATUS_NOTIFICATIONS) : undefined;
}

/** One line for people; built from the run's own state, never from configuration (no secret can slip in). */
function notificationSummary(run: Run, transition: NotifiedTransition): string {
  const store = run.cfg.customKeyStoreId;
  const c = run.ledger.counts();
  switch (transition) {
    case 'AWAITING_APPROVAL': {
      const recent = run.usage?.classes.USED_RECENTLY ?? 0;
      return `Decommission of ${store} awaits approval: ${count(c.toSchedule)} key(s) to schedule for deletion${recent > 0 ? `, ${count(recent)} of them used recently` : ''}; requested by ${run.cfg.requestedBy}`;
    }
    case 'BLOCKED':
      return `Decommission of ${store} is BLOCKED and needs an operator: ${run.state.blocker?.message ?? 'see the run'}`;
    case 'COMPLETED':
      return `Decommission of ${store} COMPLETED: ${count(c.deleted)} key(s) deleted, the store disconnected and deleted`;
    case 'CANCELLED':
      return `Decommission of ${store} CANCELLED${run.state.cancel ? ` by ${run.state.cancel.by}: ${run.state.cancel.reason}` : run.state.endReason ? `: ${run.state.endReason}` : ''}`;
    case 'FAILED':
      return `Decommission of ${store} FAILED: ${run.state.failure?.message ?? run.state.lastError ?? 'see the run'}`;
  }
}
