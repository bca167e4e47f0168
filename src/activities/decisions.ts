import type { VerifyDecisionInput, VerifyDecisionResult } from '../shared/decisions';
import type { ActivityDeps } from './deps';

export function createDecisionActivities(deps: ActivityDeps) {
  return {
    /**
     * Verifies a decision's signature (the portal API's JWS) for the workflow, which cannot do I/O or
     * cryptography in an update validator. A bad signature is an answer, not a failure: the workflow refuses
     * the decision with the reason, and the activity is not retried.
     */
    async verifyDecision(input: VerifyDecisionInput): Promise<VerifyDecisionResult> {
      if (!deps.verifyDecision) return { valid: false, reason: 'this worker trusts no decision-signing key (DECISION_VERIFY_JWKS is not set)' };
      return deps.verifyDecision(input);
    },
  };
}
