import { createDecisionVerifier, generateDecisionKeyPair } from '../../src/decisions/signing';
import { workflowIdFor } from '../../src/shared/messages';
import { validateDecommissionInput } from '../../src/shared/validation';
import type { LedgerChunk } from '../../src/workflows/ledger';
import { initialState, RUN_STATE_SCHEMA_VERSION } from '../../src/workflows/run-state';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, successfulCalls } from '../support/scenario';
import { WORKFLOW_TYPE_FOR_TESTS } from './support';

/**
 * Adversarial (issue 13 trust model: "someone with Temporal namespace access … cannot start a run, approve,
 * resolve or cancel"): src/workflows/entry.ts trusts the continuation argument whenever
 * `workflowInfo().continuedFromExecutionRunId` is set, taking that to mean "the run's own continue-as-new".
 * Temporal also sets it on every run of a **cron** workflow after the first (and on retries), and such runs get
 * the first run's arguments again. So: start the workflow with a cron schedule and a forged carried state
 * (phase SCHEDULING, approved, no portal state so no signature is required). The first run fails at once
 * (continuation state refused), the next cron run accepts the forged state and schedules every key for
 * deletion: no signed start, no approval, on a deployment that requires signed decisions.
 *
 * Expected (asserted): no key of the store is ever scheduled for deletion.
 */

let h: Harness;
beforeAll(async () => {
  const trusted = await generateDecisionKeyPair('api-1');
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    deps: {
      policy: { requireApproval: true, allowSelfApproval: false, requireSignedDecisions: true },
      verifyDecision: createDecisionVerifier(trusted.publicJwks),
    },
  });
});
afterAll(async () => {
  await h?.close();
});

/** A forged continuation: the ledger of the store's keys, in SCHEDULING, approved, with no portal state. */
function forged(store: { storeId: string; keyIds: string[] }) {
  const input = fastInput(store.storeId, { requestedBy: 'mallory' });
  const cfg = validateDecommissionInput(input, { minQuietPeriodMs: 1 }).input!;
  // No `portal` state: the run then requires no signature whatever the deployment's policy says.
  const state = {
    ...initialState(cfg, Date.now()),
    phase: 'SCHEDULING' as const,
    approvedBy: 'nobody',
    policy: { requireApproval: false, allowSelfApproval: true },
  };
  const chunk: LedgerChunk = {
    arnPrefix: 'arn:aws:kms:us-east-1:111122223333:key/',
    rows: store.keyIds.map((id) => [id, '', 'Enabled', '2', 0, '', 0, 0, '', '', '']),
  } as LedgerChunk;
  return [input, { schemaVersion: RUN_STATE_SCHEMA_VERSION, state }, chunk];
}

/** The runs of a workflow ID that closed Failed, refusing the continuation state (newest first). */
async function refusedRuns(workflowId: string): Promise<number> {
  let n = 0;
  for await (const run of h.temporal.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'Failed'` })) if (run.runId) n++;
  return n;
}

test('a forged carried state on a cron workflow is refused by every cron run: nothing is scheduled for deletion', async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false });
  const workflowId = workflowIdFor(store.storeId); // the store's own ID: resumedState() checks it
  const handle = await h.temporal.workflow.start(WORKFLOW_TYPE_FOR_TESTS, {
    taskQueue: h.taskQueue,
    workflowId,
    cronSchedule: '@every 2s',
    args: forged(store),
  });
  try {
    // The second cron run is the one Temporal starts "continued from" the first, with the forged arguments.
    await eventually(
      () => refusedRuns(workflowId),
      (n) => n >= 3,
      30_000,
      'three cron runs refused',
    );
    expect(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).toEqual([]);
    expect(await Promise.all(store.keyIds.map((id) => keyState(h, id)))).toEqual(store.keyIds.map(() => 'Enabled'));
  } finally {
    await handle.terminate('adversarial test cleanup').catch(() => undefined);
  }
}, 60_000);
