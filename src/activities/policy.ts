import { DEFAULT_APPROVAL_POLICY, type ApprovalPolicy } from '../shared/policy';
import type { ActivityDeps } from './deps';

export function createPolicyActivities(deps: ActivityDeps) {
  return {
    /**
     * The worker's approval policy (its deployment configuration, `DEFAULT_APPROVAL_POLICY` unless set):
     * a run reads it once at its start, so the value is recorded in the run's history.
     */
    async loadPolicy(): Promise<ApprovalPolicy> {
      const policy = deps.policy ?? DEFAULT_APPROVAL_POLICY;
      return {
        requireApproval: policy.requireApproval,
        allowSelfApproval: policy.allowSelfApproval,
        ...(policy.minimumQuietPeriodMs !== undefined ? { minimumQuietPeriodMs: policy.minimumQuietPeriodMs } : {}),
        requireSignedDecisions: policy.requireSignedDecisions ?? false,
        // Whether the worker has a sink is its configuration too: recorded here, so replays agree on it.
        notifications: (deps.notify?.sinks.length ?? 0) > 0,
      };
    },
  };
}
