/**
 * Signed decisions: the contract between the portal API (which signs) and the worker (which verifies).
 * Workflow-safe: types and pure functions only (the JWS code lives in `src/decisions/`, outside the sandbox).
 *
 * A decision made through the API carries `signature`: a compact JWS (a JWT) over {@link DecisionClaims},
 * signed by the API's key. When the deployment's policy says `requireSignedDecisions`, the workflow verifies
 * it in the `verifyDecision` activity before it acts, and the verified subject is the identity four-eyes
 * compares. The signed `request` must equal the request the workflow received, field by field, so a
 * signature cannot be moved to another request, another run or another kind of decision.
 */

/** The decisions a person makes about a run. */
export type DecisionKind = 'start' | 'approve' | 'cancel' | 'resolve';

/** The `iss` of decision signatures: the portal API. */
export const DECISION_ISSUER = 'kms-decommission-api';

/** The `aud` of decision signatures: the decommission workers. */
export const DECISION_AUDIENCE = 'kms-decommission-worker';

/** How long a signed decision may take to reach the workflow. */
export const DECISION_TTL_SECONDS = 300;

/** The claims of a decision signature (besides `iss`, `aud`, `iat`, `exp`, `jti`). */
export interface DecisionClaims {
  kind: DecisionKind;
  /** The run the decision is about (`kms-decommission-<store id>`). */
  workflowId: string;
  /**
   * Approve, cancel, resolve: the run chain (its first run ID, `status.firstRunId`) the decision is about. A store's
   * workflow ID is reused by every decommission of it: without this, a decision signed for one run would be
   * accepted by the next run of the same store.
   */
  run?: string;
  /** The verified subject (the identity provider's `sub`) of the person deciding. */
  sub: string;
  /** For people to read: the display name or email the identity provider gave. */
  name?: string;
  /** The request exactly as sent to the workflow, without `signature`. */
  request: Record<string, unknown>;
}

/** Input of the `verifyDecision` activity. */
export interface VerifyDecisionInput {
  kind: DecisionKind;
  workflowId: string;
  /** The receiving run's chain (its first run ID): required of every decision but the start. */
  run?: string;
  /** The request as the workflow received it, without `signature`. */
  request: Record<string, unknown>;
  signature: string;
  /** When the workflow received it (workflow time, epoch ms): expiry is judged at arrival, not at verification. */
  receivedAt: number;
}

/** What the `verifyDecision` activity answers. Never throws for a bad signature: the reason is the answer. */
export type VerifyDecisionResult = { valid: true; subject: string; name?: string; jti: string; issuedAt?: number } | { valid: false; reason: string };

/** The request field that names the person deciding: it must be the signature's verified subject. */
export const DECISION_SUBJECT_FIELD: Readonly<Record<DecisionKind, string>> = { start: 'requestedBy', approve: 'approver', cancel: 'by', resolve: 'by' };

/** The request without its `signature` field: what was signed. */
export function withoutSignature<T extends object>(request: T): Omit<T, 'signature'> {
  const { signature: _ignored, ...rest } = request as T & { signature?: unknown };
  return rest;
}

/** JSON with object keys sorted at every level: two requests are the same decision iff these strings are equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
