import { DisconnectCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { PHASE_MACHINE_PATCH } from '../../src/workflows/entry';
import { USAGE_EVIDENCE_PATCH } from '../../src/workflows/decommission';
import { PORTAL_PATCH } from '../../src/workflows/portal';
import { workflowIdFor } from '../../src/shared/messages';
import { startHarness, eventually, type Harness } from '../support/harness';
import { fastInput, keyState, mutatingCalls, seedStore, successfulCalls, waitForPhase } from '../support/scenario';

/**
 * The phase machine end to end on the real dev server: the run loop's transitions, how each run closes
 * in Temporal (a cancelled decommission closes as Canceled, its report still readable), and that no
 * path fails a workflow task.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400 } });
});
afterAll(async () => {
  await h?.close();
});

async function historyOf(storeId: string) {
  const history = await h.temporal.workflow.getHandle(workflowIdFor(storeId)).fetchHistory();
  return history.events ?? [];
}

test('a CloudHSM run completes in runbook order, records the phase-machine marker and never fails a workflow task', async () => {
  const store = await seedStore(h, { connectionState: 'DISCONNECTED' });
  await h.decommissions.startDecommission(fastInput(store.storeId));
  const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  expect(awaiting.policy).toEqual({ requireApproval: true, allowSelfApproval: false, requireSignedDecisions: false, notifications: false });
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.counts.deleted).toBe(store.keyIds.length);
  for (const key of store.keyIds) expect(await keyState(h, key)).toBe('DELETED');
  for (const key of store.bystanders) expect(await keyState(h, key)).toBe('Enabled');
  const events = await historyOf(store.storeId);
  const patches = events
    .flatMap((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads ?? [])
    .map((p) => JSON.parse(Buffer.from(p.data as Uint8Array).toString('utf8')).id);
  expect(patches).toEqual([PHASE_MACHINE_PATCH, USAGE_EVIDENCE_PATCH, PORTAL_PATCH]);
  expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  const description = await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).describe();
  expect(description.status.name).toBe('COMPLETED');
}, 90_000);

test('a cancel while awaiting approval closes the run as Canceled; its report says nothing was changed', async () => {
  const store = await seedStore(h);
  await h.decommissions.startDecommission(fastInput(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  const ack = await h.decommissions.cancel(store.storeId, { by: 'carol', reason: 'wrong store' });
  expect(ack.message).toBe('Cancelling: nothing was changed in KMS');
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  expect(report.reason).toBe('wrong store (by carol)');
  const description = await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).describe();
  expect(description.status.name).toBe('CANCELLED');
  expect(await mutatingCalls(h, store)).toEqual([]);
}, 60_000);

test("Temporal's own cancel during the waiting period rolls back every key, then closes as Canceled", async () => {
  const store = await seedStore(h, { enabled: 4, disabled: 1, pending: 1 });
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING');
  await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).cancel();
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
  // Pending before this run: not ours to cancel.
  for (const key of store.pending) expect(await keyState(h, key)).toBe('PendingDeletion');
  expect(report.counts.rolledBack).toBe(store.enabled.length + store.disabled.length);
  const restored = report.keys.filter((k) => k.rollbackActions?.includes('CancelKeyDeletion'));
  expect(restored.map((k) => k.keyId).sort()).toEqual([...store.enabled, ...store.disabled].sort());
  expect(
    report.keys
      .filter((k) => k.rollbackActions?.includes('EnableKey'))
      .map((k) => k.keyId)
      .sort(),
  ).toEqual([...store.enabled].sort());
  expect((await successfulCalls(h, 'CancelKeyDeletion')).filter((c) => store.pending.includes(c.keyId ?? ''))).toEqual([]);
  await eventually(
    () => h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).describe(),
    (d) => d.status.name === 'CANCELLED',
    10_000,
    'status CANCELLED',
  );
  expect((await historyOf(store.storeId)).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
}, 90_000);

test('an error retrying cannot fix before any change fails the run closed, saying nothing was changed', async () => {
  const store = await seedStore(h, { enabled: 3 });
  await h.decommissions.startDecommission(fastInput(store.storeId, { expectedKeyCount: 5 }));
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('FAILED');
  expect(report.reason).toContain(`Guardrail: expectedKeyCount is 5 but store ${store.storeId} holds ${store.keyIds.length} keys. Nothing was changed in KMS.`);
  const handle = h.temporal.workflow.getHandle(workflowIdFor(store.storeId));
  expect((await handle.describe()).status.name).toBe('FAILED');
  expect((await historyOf(store.storeId)).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  expect(await mutatingCalls(h, store)).toEqual([]);
}, 60_000);

test('a CloudHSM store that disconnects between drift scans is noticed by the connection check and blocks before any DeletionDate', async () => {
  const store = await seedStore(h, { enabled: 2 });
  // Drift scans daily (never, in this run): only the connection watcher can notice the disconnect.
  const input = fastInput(store.storeId, {
    pendingWindowInDays: 30,
    timing: { ...fastInput('x').timing, driftCheckInterval: '1 day', connectionCheckInterval: 200 },
  });
  await h.decommissions.startDecommission(input);
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  const waiting = await waitForPhase(h, store.storeId, 'WAITING');
  const disconnectedAt = Date.now();
  await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: store.storeId }));
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 10_000);
  expect(Date.now() - disconnectedAt).toBeLessThan(5_000);
  expect(blocked.blocker?.kind).toBe('STORE_NOT_CONNECTED');
  const blocker = blocked.blocker as Extract<NonNullable<typeof blocked.blocker>, { connectionState: unknown }>;
  expect(blocker.lastSeenConnectedAt).toBeGreaterThanOrEqual(waiting.startedAt);
  expect(blocker.lastSeenConnectedAt).toBeLessThanOrEqual(disconnectedAt + 1_000);
  expect(blocked.previousPhase).toBe('WAITING');
  expect(blocked.latestDeletionDate).toBeGreaterThan(Date.now());
  await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reconnect', blockerId: blocker.id });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.storeConnectedThroughout).toBe(false);
  expect(report.disconnectedWindows).toHaveLength(1);
  expect(report.disconnectedWindows?.[0]?.from).toBe(blocker.lastSeenConnectedAt);
  expect(report.disconnectedWindows?.[0]?.to).toBeGreaterThan(disconnectedAt);
  expect(report.possiblyOrphanedKeyArns).toEqual([]);
  expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob', 'resolved:bob']);
}, 90_000);
