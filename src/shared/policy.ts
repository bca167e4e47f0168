/**
 * Who may approve a decommission is the deployment's decision, never the request's: a requester who
 * could set `requireApproval: false` in their own request could switch four-eyes off. The worker
 * reads it from its configuration; each run loads it once, at its start, through an activity (so the
 * value is recorded in history and replays identically).
 */
export interface ApprovalPolicy {
  /** Wait for an `approve` by someone before changing anything. */
  requireApproval: boolean;
  /** Let the requester approve (and make other deletion decisions on) their own decommission. */
  allowSelfApproval: boolean;
}

/** Four-eyes: approval required, and never by the requester. */
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = { requireApproval: true, allowSelfApproval: false };
