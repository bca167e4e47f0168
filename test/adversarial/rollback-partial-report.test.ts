import { startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, successfulCalls, waitForPhase } from '../support/scenario';

/**
 * Adversarial: a rollback activity restores some keys, then fails on another (AccessDenied) →
 * ROLLBACK_FAILED → the operator fixes it and retries. Found: the failed activity's outcomes were lost and
 * the retry read the already-restored keys as NOT_PENDING with no actions. Now the failure carries what
 * the activity finished and the workflow records it before blocking: the report says what this run did.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 60_000 } });
});
afterAll(async () => {
  await h?.close();
});

test('rollback that fails part-way then is retried: the report keeps what the first attempt restored', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 0, bystanders: 0, aliases: false });
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING');

  // The first two CancelKeyDeletion calls work, the third is denied.
  await h.emulator.admin.setFaults([{ operation: 'CancelKeyDeletion', errorRate: 1, errorType: 'AccessDeniedException', afterCount: 2 }]);
  await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'still in use' });
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  expect(blocked.blocker?.kind).toBe('ROLLBACK_FAILED');
  await h.emulator.admin.clearFaults();
  await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'retry', blockerId: blocked.blocker!.id });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');

  for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
  const cancelled = (await successfulCalls(h, 'CancelKeyDeletion', store.keyIds)).map((e) => e.keyId).sort();
  expect(cancelled).toEqual([...store.keyIds].sort()); // KMS: this run cancelled the deletion of all three

  // The report must say so for all three keys.
  expect({
    rolledBack: report.counts.rolledBack,
    keys: report.keys
      .map((k) => ({ keyId: k.keyId, restoredState: k.restoredState, cancelled: k.rollbackActions?.includes('CancelKeyDeletion') ?? false }))
      .sort((a, b) => a.keyId.localeCompare(b.keyId)),
  }).toEqual({
    rolledBack: 3,
    keys: [...store.keyIds].sort().map((keyId) => ({ keyId, restoredState: 'Enabled', cancelled: true })),
  });
}, 90_000);
