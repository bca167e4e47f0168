import { Context } from '@temporalio/activity';
import type { VerifyDecisionInput, VerifyDecisionResult } from '../shared/decisions';
import type { ActivityDeps } from './deps';

export function createDecisionActivities(deps: ActivityDeps) {
  return {
    /**
     * Verifies a decision's signature (the portal API's JWS) for the workflow, which cannot do I/O or
     * cryptography in an update validator. A bad signature is an answer, not a failure: the workflow refuses
     * the decision with the reason, and the activity is not retried.
     *
     * A signed start is good for one decommission: every decommission of a store has the same workflow ID, so
     * a start signed for one could otherwise start another (replayed from the first one's history by someone
     * with namespace access) once the first has ended, within the signature's lifetime.
     */
    async verifyDecision(input: VerifyDecisionInput): Promise<VerifyDecisionResult> {
      if (!deps.verifyDecision) return { valid: false, reason: 'this worker trusts no decision-signing key (DECISION_VERIFY_JWKS is not set)' };
      const result = await deps.verifyDecision(input);
      if (!result.valid || input.kind !== 'start') return result;
      const earlier = await earlierRunWithSignature(input.workflowId, input.signature, result.issuedAt ?? input.receivedAt);
      if (earlier)
        return {
          valid: false,
          reason: `this signed start was already used by an earlier decommission of the store (run ${earlier.runId}, started ${earlier.startTime.toISOString()}): sign a new request`,
        };
      return result;
    },
  };
}

/**
 * Another run of `workflowId`, started since the signature was issued, whose request carried the same signature.
 * Reads the first history event of each such run (at most a handful: runs of one store started within a
 * signature's lifetime). With a payload codec (encrypted payloads) the signature cannot be read there, and only
 * the signature's lifetime limits a replay: the README says so.
 */
async function earlierRunWithSignature(workflowId: string, signature: string, issuedAtMs: number): Promise<{ runId: string; startTime: Date } | undefined> {
  const context = Context.current();
  const self = context.info.workflowExecution?.runId;
  const { client } = context;
  // One second of slack below the issue time: `iat` has second precision.
  const since = new Date(Math.floor(issuedAtMs / 1000) * 1000 - 1000).toISOString();
  const query = `WorkflowId = '${workflowId.replace(/'/g, '')}' AND StartTime >= '${since}'`;
  for await (const run of client.workflow.list({ query })) {
    if (run.runId === self) continue;
    const first = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId: run.runId },
      maximumPageSize: 1,
    });
    const payloads = first.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    if (payloads.some((p) => p.data && Buffer.from(p.data).toString('utf8').includes(signature))) return { runId: run.runId, startTime: run.startTime };
  }
  return undefined;
}
