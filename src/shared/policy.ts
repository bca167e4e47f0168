/**
 * Who must approve a decommission, and whether the requester may approve it. Pure data, shared by the
 * worker (which owns the setting) and the workflow (which reads it through the `loadPolicy` activity).
 */
export interface ApprovalPolicy {
  /** A run waits for an `approve` before it schedules any key deletion. */
  requireApproval: boolean;
  /** The requester may also be the approver (and resolve decisions that delete or may orphan key material). */
  allowSelfApproval: boolean;
  /**
   * Shortest quiet period a request may ask for (`DECOMMISSION_MIN_QUIET_PERIOD`); 1 day when unset. Test and
   * staging deployments against an emulator lower it; production leaves it.
   */
  minimumQuietPeriodMs?: number;
  /**
   * Decisions (start, approve, cancel, resolve) must carry a signature of the portal API, verified by the
   * worker against `DECISION_VERIFY_JWKS` before the run acts on them: unsigned ones (the raw Temporal CLI)
   * are refused, and four-eyes compares verified subjects. Absent in runs started before 0.4.0.
   */
  requireSignedDecisions?: boolean;
  /**
   * The worker has a notification sink (Slack webhook, SNS topic): the run notifies its transitions. Set by
   * `loadPolicy` from the worker's sinks, not configured on its own. Absent before 0.4.0.
   */
  notifications?: boolean;
}

/**
 * The policy of a worker that was not configured otherwise: four-eyes approval.
 *
 * The approval policy belongs to the deployment, never to the request. It is the control that stops a
 * single person (or a single compromised credential) from destroying key material: if the request could
 * carry it, whoever starts a run could switch the control off for that very run. The worker's operators
 * set it (`DECOMMISSION_REQUIRE_APPROVAL`, `DECOMMISSION_ALLOW_SELF_APPROVAL`), the same way they choose
 * the worker's AWS credentials, and every run on that worker loads it once, at its start, from the
 * `loadPolicy` activity (so the value is recorded in the run's history and replays identically).
 */
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = { requireApproval: true, allowSelfApproval: false };
