import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { startSignedDeployment, type SignedDeployment } from '../support/signing';
import { workflowIdFor } from '../../src/shared/messages';
import type { Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';

/**
 * Adversarial (issue 13 trust model). The README's table says someone with Temporal namespace access can *stop* a
 * run but cannot approve, resolve or cancel. It does not mention `temporal workflow reset`, which the same
 * access allows: resetting a run to the workflow task right after a (genuine, signed) approval, excluding the
 * updates that came later from re-application, replays the approval from history and runs the decommission
 * again, with the operator's signed cancel gone. It works on a run that already closed CANCELLED, any time
 * later (no 5-minute signature window is involved: nothing is verified again), and no signature is needed.
 *
 * Expected (asserted): after an operator's accepted cancel, no key of the store is scheduled for deletion again.
 */

let h: Harness;
let signed: SignedDeployment['sign'];

beforeAll(async () => {
  ({ h, sign: signed } = await startSignedDeployment({ emulator: { dayMs: 2_000 } }));
});
afterAll(async () => {
  await h?.close();
});

test("an operator's signed cancel of a closed run cannot be undone by resetting the run to just after the approval", async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false });
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission(await signed('start', store.storeId, 'alice', fastInput(store.storeId, { pendingWindowInDays: 7 })));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, await signed('approve', store.storeId, 'bob', { approver: 'bob' }));
  await waitForPhase(h, store.storeId, 'WAITING');
  await h.decommissions.cancel(store.storeId, await signed('cancel', store.storeId, 'carol', { by: 'carol', reason: 'do not delete: still in use' }));
  expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
  expect(await Promise.all(store.keyIds.map((id) => keyState(h, id)))).toEqual(['Enabled', 'Enabled']);

  // Mallory (namespace access, no portal role): reset the closed run to the workflow task that applied bob's approval.
  const handle = h.temporal.workflow.getHandle(workflowId);
  const { runId } = await handle.describe();
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const approveDone = events.findIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
  const taskCompleted = events
    .slice(0, approveDone)
    .reverse()
    .find((e) => e.workflowTaskCompletedEventAttributes);
  expect(taskCompleted).toBeDefined();
  await h.temporal.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId, runId },
    reason: 'mallory',
    workflowTaskFinishEventId: taskCompleted?.eventId,
    requestId: randomUUID(),
    resetReapplyExcludeTypes: [temporal.api.enums.v1.ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE],
  });
  try {
    // The reset run replays bob's approval and goes on to schedule: the activity refuses a reset run, so it blocks.
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 60_000);
    expect(blocked.blocker).toMatchObject({ kind: 'STEP_FAILED', allowedActions: ['retry'] });
    expect(blocked.blocker?.message).toMatch(/ResetRunRefused|This run was reset/);
    expect(await Promise.all(store.keyIds.map((id) => keyState(h, id)))).toEqual(['Enabled', 'Enabled']);
    // Retrying changes nothing: the refusal is the run's, not a transient error.
    await h.decommissions.resolve(
      store.storeId,
      await signed('resolve', store.storeId, 'carol', { by: 'carol', action: 'retry' as const, blockerId: blocked.blocker?.id as string }),
    );
    const again = await waitForPhase(h, store.storeId, 'BLOCKED', 60_000);
    expect(again.blocker?.id).not.toBe(blocked.blocker?.id);
    expect(await Promise.all(store.keyIds.map((id) => keyState(h, id)))).toEqual(['Enabled', 'Enabled']);
    // The way out is a cancel: it ends the reset run without touching a key.
    await h.decommissions.cancel(store.storeId, await signed('cancel', store.storeId, 'carol', { by: 'carol', reason: 'reset by mistake' }));
    expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
    expect(await Promise.all(store.keyIds.map((id) => keyState(h, id)))).toEqual(['Enabled', 'Enabled']);
  } finally {
    await handle.terminate('adversarial test cleanup').catch(() => undefined);
  }
}, 120_000);
