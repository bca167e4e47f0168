import { workflowIdFor } from '../../src/shared/messages';
import { startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, successfulCalls, waitForPhase } from '../support/scenario';
import { resolveRequest, workflowTaskFailures } from './support';

/**
 * Defect 1 (review of 8249dad): a cancel during WAITING whose rollback fails (CancelKeyDeletion
 * AccessDenied) wedged the run RUNNING with WorkflowTaskFailed events forever, keys PendingDeletion.
 * It must park in BLOCKED ROLLBACK_FAILED naming the keys and the error; `resolve retry` finishes it.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400 } });
});
afterAll(async () => {
  await h?.close();
});

test('defect 1: rollback that fails with AccessDenied parks the run in BLOCKED ROLLBACK_FAILED (no WorkflowTaskFailed); resolve retry restores every key', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 1 });
  const ours = [...store.enabled, ...store.disabled];
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING');
  for (const id of ours) expect(await keyState(h, id)).toBe('PendingDeletion');

  await h.emulator.admin.setFaults([{ operation: 'CancelKeyDeletion', errorRate: 1, errorType: 'AccessDeniedException' }]);
  await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'application still in use' });

  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 20_000);
  expect(blocked.blocker?.kind).toBe('ROLLBACK_FAILED');
  const blocker = blocked.blocker as Extract<NonNullable<typeof blocked.blocker>, { kind: 'ROLLBACK_FAILED' }>;
  expect(blocker.id).toMatch(/^ROLLBACK_FAILED-\d+$/);
  expect([...blocker.keyIds].sort()).toEqual([...ours].sort());
  expect(blocker.keyCount).toBe(ours.length);
  expect(blocker.error).toMatch(/AccessDenied/);
  expect(blocker.allowedActions).toEqual(['retry']);
  for (const id of ours) expect(await keyState(h, id)).toBe('PendingDeletion');
  // A domain error never fails a workflow task.
  expect(await workflowTaskFailures(h, workflowId)).toEqual([]);

  // Fix the permission, then retry the rollback.
  await h.emulator.admin.clearFaults();
  await h.decommissions.resolve(store.storeId, resolveRequest({ by: 'bob', action: 'retry', blockerId: blocker.id }));
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
  for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
  expect((await successfulCalls(h, 'CancelKeyDeletion', ours)).map((e) => e.keyId).sort()).toEqual([...ours].sort());
  for (const key of report.keys) expect(key.restoredState).toBe(key.priorState);
  expect(await workflowTaskFailures(h, workflowId)).toEqual([]);
}, 60_000);
