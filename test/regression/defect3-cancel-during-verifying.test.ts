import { CancelKeyDeletionCommand, DescribeCustomKeyStoresCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { UpdateRejectedError } from '../../src/client';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';

/**
 * Defect 3 (review of 8249dad): a cancel accepted during VERIFYING was acknowledged with "Cancelling:
 * nothing was changed in KMS", then the run disconnected and deleted the store and ended COMPLETED.
 * Must: a true acknowledgement, no DisconnectCustomKeyStore/DeleteCustomKeyStore, CANCELLED, the
 * report names the keys KMS already deleted, keys still pending are restored. Once DISCONNECTING
 * began, the cancel update is refused ("every key is deleted").
 *
 * Day = 400 ms: a 7-day window is 2.8 s. No drift scan during the wait (driftCheckInterval 1 h), so
 * after the scheduling the only ListKeys is verification's final inventory: a ListKeys latency fault
 * set once the run waits holds the run in VERIFYING after every key was confirmed deleted.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400, disconnectMs: 4_000 } });
});
afterAll(async () => {
  await h?.close();
});

const input = (storeId: string) =>
  fastInput(storeId, { pendingWindowInDays: 7, timing: { storePollInterval: 100, driftCheckInterval: '1h', verifyInterval: 200, verifyPatience: 20_000 } });

async function storeCalls(storeId: string, operation: string) {
  return (await h.emulator.admin.audit({ operation })).filter((e) => e.customKeyStoreId === storeId);
}

test('defect 3: cancel in VERIFYING after KMS deleted every key: true ack, no disconnect/delete, CANCELLED, report names the deleted keys', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 1 });
  const ours = [...store.enabled, ...store.disabled];
  await h.decommissions.startDecommission(input(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING');
  await h.emulator.admin.setFaults([{ operation: 'ListKeys', latencyMs: 6_000 }]);

  const verifying = await eventually(
    () => h.decommissions.getStatus(store.storeId),
    (s) => s.phase === 'VERIFYING' && s.counts.deleted === ours.length,
    20_000,
    'VERIFYING with every key confirmed deleted',
  );
  expect(verifying.counts.deleted).toBe(4);
  const ack = await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'changed my mind' });
  expect(ack.message).not.toMatch(/nothing was changed/i);
  expect(ack.message).toMatch(/deleted/i);

  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  await h.emulator.admin.clearFaults();
  expect(report.outcome).toBe('CANCELLED');
  expect(await storeCalls(store.storeId, 'DisconnectCustomKeyStore')).toEqual([]);
  expect(await storeCalls(store.storeId, 'DeleteCustomKeyStore')).toEqual([]);
  const described = await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: store.storeId }));
  expect(described.CustomKeyStores?.[0]?.ConnectionState).toBe('CONNECTED');
  expect(report.counts.deleted).toBe(4);
  for (const id of ours) expect(report.keys.find((k) => k.keyId === id)?.confirmedDeletedAt).toBeDefined();
  expect(report.notes.join(' ')).not.toMatch(/nothing was changed/i);
}, 60_000);

test('defect 3 (partial): cancel in VERIFYING with keys deleted and one still pending: that key is restored, the deleted ones are reported', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 0 });
  const [late, ...deletedOnTime] = store.enabled;
  await h.decommissions.startDecommission(input(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING');
  // Someone pushes one key's DeletionDate out (cancel + schedule again, 30 days): the run still expects it pending.
  await h.kms.send(new CancelKeyDeletionCommand({ KeyId: late }));
  await h.kms.send(new ScheduleKeyDeletionCommand({ KeyId: late, PendingWindowInDays: 30 }));

  await eventually(
    () => h.decommissions.getStatus(store.storeId),
    (s) => s.phase === 'VERIFYING' && s.counts.deleted === deletedOnTime.length,
    20_000,
    'VERIFYING with two keys deleted, one pending',
  );
  expect(await keyState(h, late)).toBe('PendingDeletion');
  const ack = await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'changed my mind' });
  expect(ack.message).not.toMatch(/nothing was changed/i);

  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  expect(await keyState(h, late)).toBe('Enabled');
  expect(report.keys.find((k) => k.keyId === late)).toMatchObject({ scheduledBy: 'this-run', restoredState: 'Enabled' });
  for (const id of deletedOnTime) expect(report.keys.find((k) => k.keyId === id)?.confirmedDeletedAt).toBeDefined();
  expect(report.counts.deleted).toBe(2);
  expect(await storeCalls(store.storeId, 'DisconnectCustomKeyStore')).toEqual([]);
  expect(await storeCalls(store.storeId, 'DeleteCustomKeyStore')).toEqual([]);
}, 60_000);

test('defect 3 (teardown): cancel during DISCONNECTING and DELETING is refused ("every key is deleted"); Temporal cancel is recorded and the teardown finishes', async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0 });
  await h.decommissions.startDecommission(input(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'DISCONNECTING', 30_000); // the emulator takes 4 s to disconnect
  await h.emulator.admin.setFaults([{ operation: 'DeleteCustomKeyStore', latencyMs: 4_000 }]); // and 4 s to delete
  const refused = await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'too late?' }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(UpdateRejectedError);
  expect((refused as Error).message).toMatch(/every key\b.*\bdeleted/i);

  await waitForPhase(h, store.storeId, 'DELETING', 30_000);
  const refusedAgain = await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'too late?' }).catch((e: unknown) => e);
  expect(refusedAgain).toBeInstanceOf(UpdateRejectedError);
  expect((refusedAgain as Error).message).toMatch(/every key\b.*\bdeleted/i);
  await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).cancel();

  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  await h.emulator.admin.clearFaults();
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.map((d) => d.what)).toContain('cancel-ignored');
  await expect(h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: store.storeId }))).rejects.toMatchObject({
    name: 'CustomKeyStoreNotFoundException',
  });
}, 60_000);
