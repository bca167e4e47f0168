import { log, setHandler } from '@temporalio/workflow';
import { approveUpdate, cancelUpdate, reportKeysQuery, reportQuery, resolveUpdate, statusQuery, type UpdateAck } from '../shared/messages';
import { FINAL_PHASES, REPORT_INLINE_KEYS, type ApproveRequest, type CancelRequest, type ResolveAction, type ResolveRequest } from '../shared/types';
import { rejected } from './failures';
import { checkSignaturePresent, recordSignedDecision, signaturesRequired, verifySignedDecision, type VerifiedDecision } from './portal';
import { formatProblems, samePerson, validateApproveRequest, validateCancelRequest, validateResolveRequest } from '../shared/validation';
import { PHASES } from './phases';
import { count, iso } from './render';
import type { Run } from './run';
import { approvalDeadline } from './steps/approval';
import { recentlyUsedCount } from './steps/usage';
import { formatDuration } from '../shared/duration';

/** Resolutions that delete, or may orphan, key material: someone other than the requester must make them. */
const DELETION_DECISIONS: readonly ResolveAction[] = ['schedule-new-keys', 'reschedule', 'proceed'];

/**
 * What an accepted cancel will do, in words that are true now: the ack is the operator's record of what
 * they set in motion. Computed from the ledger, not from the phase name.
 */
function cancelAck(run: Run): string {
  const candidates = run.ledger.rollbackCandidates();
  const c = run.ledger.counts();
  if (!run.changedKeys()) {
    return run.state.connectRequested
      ? `Cancelling: no key was changed; this run asked KMS to connect the store and leaves it in whatever state that request left it (last read: ${run.state.store?.connectionState ?? 'unknown'})`
      : 'Cancelling: nothing was changed in KMS';
  }
  const parts: string[] = [];
  if (run.state.phase === 'SCHEDULING') parts.push('the scheduling batch in progress stops before its next key');
  const inFlight = run.state.phase === 'QUIET_PERIOD' && run.usage?.quiet?.endsAt === undefined ? run.ledger.disabling().length : 0;
  const disabled = run.ledger.disabledByRun().filter((e) => e.scheduledBy === 'not-scheduled' && !e.attempted).length;
  if (disabled > 0) parts.push(`${count(disabled)} key(s) this run disabled for the quiet period will be re-enabled (each is read first)`);
  if (inFlight > 0)
    parts.push(
      `the disabling batch in progress stops before its next key; every key it disabled (up to ${count(inFlight)}) will be re-enabled, reading each first`,
    );
  const reenableOnly = disabled + inFlight;
  const scheduledCandidates = candidates.filter((k) => !k.reenableOnly);
  if (scheduledCandidates.length > 0) {
    const uncertain = scheduledCandidates.filter((k) => !k.certain).length;
    parts.push(
      `deletion of ${count(scheduledCandidates.length)} key(s) this run scheduled${uncertain ? ` (${count(uncertain)} of them possibly: each is read first)` : ''} will be cancelled and each key restored to its prior state`,
    );
  } else if (reenableOnly === 0) parts.push('no key this run scheduled is still pending deletion, so there is nothing to restore');
  if (c.deleted > 0) parts.push(`${count(c.deleted)} key(s) already deleted by KMS cannot be restored`);
  parts.push('the store will not be disconnected or deleted');
  return `Cancelling: ${parts.join('; ')}`;
}

/** Registers the updates and queries. Validators read the phase table: one rule per phase, in one place. */
export function registerHandlers(run: Run): void {
  const s = run.state;

  setHandler(statusQuery, () => run.status());
  setHandler(reportQuery, () => run.finalReport);
  setHandler(reportKeysQuery, ({ offset = 0, limit = REPORT_INLINE_KEYS } = {}) => {
    const size = Math.max(1, Math.min(limit, REPORT_INLINE_KEYS));
    const keys = run.ledger.reportKeys(offset, size);
    const next = offset + keys.length;
    return { keys, total: run.ledger.size, nextOffset: next < run.ledger.size ? next : undefined };
  });

  /** Approve: everything the validator checks, run again after a signature's verification (the run may have moved on meanwhile). */
  const checkApprove = (request: ApproveRequest): void => {
    const { request: r, problems } = validateApproveRequest(request);
    if (!r) throw rejected(`Invalid approve request: ${formatProblems(problems)}`);
    if (s.approvedBy) throw rejected(`Already approved by ${s.approvedBy}`);
    if (run.displayPhase() !== 'AWAITING_APPROVAL') throw rejected(`approve is only accepted in phase AWAITING_APPROVAL; this run is in ${run.displayPhase()}`);
    if (s.cancel) throw rejected(`The run is being cancelled by ${s.cancel.by}`);
    // Workflow time is the start of this task: with the worker down across the deadline, an approval
    // delivered in the same activation as the deadline's timer is still refused.
    const deadline = approvalDeadline(run);
    if (Date.now() >= deadline)
      throw rejected(`The approval deadline (${iso(deadline)}) has passed: this run ends CANCELLED without changing anything; start a new decommission`);
    if (!run.policy.allowSelfApproval && samePerson(r.approver, run.cfg.requestedBy)) {
      throw rejected(`Four-eyes rule: approver "${r.approver}" requested this decommission; another person must approve`);
    }
    const recentlyUsed = recentlyUsedCount(run);
    if (recentlyUsed > 0 && r.acknowledgeRecentlyUsedKeys !== recentlyUsed) {
      throw rejected(
        `acknowledgeRecentlyUsedKeys: must be ${recentlyUsed}, got ${r.acknowledgeRecentlyUsedKeys ?? 'nothing'}: ${count(recentlyUsed)} key(s) of the store were used within the last ${formatDuration(run.cfg.recentUseWindowMs as number)} (status.usage.recentKeys); approving deletes them, so the approval must acknowledge exactly that count`,
      );
    }
    if (recentlyUsed === 0 && r.acknowledgeRecentlyUsedKeys !== undefined && r.acknowledgeRecentlyUsedKeys !== 0) {
      throw rejected(`acknowledgeRecentlyUsedKeys: must be 0 or absent, got ${r.acknowledgeRecentlyUsedKeys}: no key of the store was used within the window`);
    }
  };

  const applyApprove = (request: ApproveRequest, verified?: VerifiedDecision): UpdateAck => {
    const r = validateApproveRequest(request).request as NonNullable<ReturnType<typeof validateApproveRequest>['request']>;
    const approver = r.approver;
    const recentlyUsed = recentlyUsedCount(run);
    const acknowledged = recentlyUsed > 0 ? `acknowledged ${count(recentlyUsed)} recently used key(s)` : undefined;
    recordSignedDecision(run, verified);
    s.approvedBy = approver;
    s.decisions.push({
      what: 'approved',
      by: approver,
      at: Date.now(),
      detail: [acknowledged, r.comment].filter(Boolean).join(': ') || undefined,
      ...verifiedFields(verified),
    });
    log.info('decommission approved', { approver });
    const toSchedule = count(run.ledger.counts().toSchedule);
    const plan =
      run.cfg.quietPeriodMs !== undefined && run.usage
        ? `disabling ${count(run.ledger.toDisable().length)} Enabled key(s) for a quiet period of ${formatDuration(run.cfg.quietPeriodMs)}, then scheduling ${toSchedule} keys for deletion`
        : `scheduling ${toSchedule} keys for deletion`;
    return { accepted: true, phase: run.displayPhase(), message: `Approved by ${approver}${acknowledged ? ` (${acknowledged})` : ''}: ${plan}` };
  };

  setHandler(approveUpdate, (request) => decide(run, 'approve', request, checkApprove, applyApprove), {
    validator: (request) => {
      checkApprove(request);
      checkSignaturePresent(run, 'approve', signatureOf(request));
    },
    description:
      'Approve the inventoried plan: {approver, comment?, acknowledgeRecentlyUsedKeys?, signature?}. Before the approval deadline, by someone other than the requester; acknowledgeRecentlyUsedKeys must equal status.usage.recentlyUsed when it is not 0; signed by the portal API where the deployment requires it.',
  });

  const checkCancel = (request: CancelRequest): void => {
    const { request: r, problems } = validateCancelRequest(request);
    if (!r) throw rejected(`Invalid cancel request: ${formatProblems(problems)}`);
    if (FINAL_PHASES.includes(s.phase)) throw rejected(`The run already ended in ${s.phase}`);
    if (s.cancel) throw rejected(`Already cancelled by ${s.cancel.by}`);
    const rule = PHASES[s.phase].cancel;
    if (!rule.accepted) throw rejected(`cancel is refused in phase ${s.phase}: ${rule.reason}`);
  };

  const applyCancel = (request: CancelRequest, verified?: VerifiedDecision): UpdateAck => {
    const r = validateCancelRequest(request).request as { by: string; reason: string };
    const message = cancelAck(run);
    recordSignedDecision(run, verified);
    run.acceptCancel(r.by, r.reason, verifiedFields(verified));
    return { accepted: true, phase: run.displayPhase(), message };
  };

  setHandler(cancelUpdate, (request) => decide(run, 'cancel', request, checkCancel, applyCancel), {
    validator: (request) => {
      checkCancel(request);
      checkSignaturePresent(run, 'cancel', signatureOf(request));
    },
    description:
      'Cancel: {by, reason, signature?}. Restores every key this run scheduled; refused once every key is deleted (DISCONNECTING, DELETING); signed by the portal API where the deployment requires it.',
  });

  const checkResolve = (request: ResolveRequest): void => {
    const { request: r, problems } = validateResolveRequest(request);
    if (!r) throw rejected(`Invalid resolve request: ${formatProblems(problems)}`);
    const blocker = s.blocker;
    if (!blocker) throw rejected(`resolve is only accepted while BLOCKED; this run is in ${run.displayPhase()} (blocker ${r.blockerId} is no longer open)`);
    if (r.blockerId !== blocker.id)
      throw rejected(`resolve names blocker ${r.blockerId}, but the run is blocked on ${blocker.id}: read status.blocker and decide on that one`);
    if (run.hasPendingResolution()) throw rejected(`${blocker.id} is already resolved`);
    if (!blocker.allowedActions.includes(r.action)) {
      throw rejected(`action "${r.action}" does not resolve ${blocker.kind}; allowed: ${blocker.allowedActions.join(', ')}`);
    }
    if (DELETION_DECISIONS.includes(r.action) && !run.policy.allowSelfApproval && samePerson(r.by, run.cfg.requestedBy)) {
      throw rejected(`Four-eyes rule: "${r.by}" requested this decommission; "${r.action}" deletes or may orphan key material, so another person must decide`);
    }
  };

  const applyResolve = (request: ResolveRequest, verified?: VerifiedDecision): UpdateAck => {
    const r = validateResolveRequest(request).request as NonNullable<ReturnType<typeof validateResolveRequest>['request']>;
    recordSignedDecision(run, verified);
    run.acceptResolution({ by: r.by, action: r.action, blockerId: r.blockerId, comment: r.comment }, verifiedFields(verified));
    return { accepted: true, phase: run.displayPhase(), message: `Resolved ${r.blockerId} with ${r.action}` };
  };

  setHandler(resolveUpdate, (request) => decide(run, 'resolve', request, checkResolve, applyResolve), {
    validator: (request) => {
      checkResolve(request);
      checkSignaturePresent(run, 'resolve', signatureOf(request));
    },
    description:
      'Resolve a BLOCKED run: {by, action, blockerId, comment?, signature?}; the blocker id must be the current one and the action one it allows; signed by the portal API where the deployment requires it.',
  });
}

/** The request's signature, if any (the portal API adds it; the Temporal CLI does not). */
function signatureOf(request: object): string | undefined {
  const signature = (request as { signature?: unknown }).signature;
  return typeof signature === 'string' ? signature : undefined;
}

/** The audit record's fields of a verified decision. */
function verifiedFields(verified: VerifiedDecision | undefined): { verified?: true; name?: string } {
  return verified ? { verified: true, ...(verified.name ? { name: verified.name } : {}) } : {};
}

/**
 * One decision: applied at once where signatures are not required (synchronously, exactly as before 0.4.0);
 * otherwise verified first, then checked again — the run may have moved on while the signature was verified
 * (another approval, a deadline, a cancel) — and only then applied. A refusal at any point changes nothing.
 */
function decide<R extends object>(
  run: Run,
  kind: 'approve' | 'cancel' | 'resolve',
  request: R,
  check: (request: R) => void,
  apply: (request: R, verified?: VerifiedDecision) => UpdateAck,
): UpdateAck | Promise<UpdateAck> {
  if (!signaturesRequired(run)) return apply(request);
  return verifySignedDecision(run, kind, request).then((verified) => {
    check(request);
    return apply(request, verified);
  });
}
