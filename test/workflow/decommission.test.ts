import { CancelKeyDeletionCommand, DescribeCustomKeyStoresCommand } from '@aws-sdk/client-kms';
import { InvalidInputError, UpdateRejectedError, type DecommissionReport } from '../../src/client';
import { startHarness, type Harness } from '../support/harness';
import { recordHistory } from '../support/histories';
import { createKeyOutOfBand, fastInput, keyState, mutatingCalls, seedStore, successfulCalls, waitForPhase } from '../support/scenario';

const DAY_MS = 400; // 7-day window = 2.8 s

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: DAY_MS } });
});
// A deployment whose approval policy has no approval step (the worker's setting, not the request's):
// started on first use, for the one test that needs it.
let noApproval: Promise<Harness> | undefined;
const noApprovalHarness = () =>
  (noApproval ??= startHarness({ emulator: { dayMs: DAY_MS }, deps: { policy: { requireApproval: false, allowSelfApproval: false } } }));
afterAll(async () => {
  await h?.close();
  await (await noApproval)?.close();
});

async function approveWhenReady(storeId: string, approver = 'bob'): Promise<void> {
  await waitForPhase(h, storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(storeId, { approver, comment: 'CAB approved' });
}

async function result(storeId: string, recordAs?: string): Promise<DecommissionReport> {
  const report = await h.decommissions.getReport(storeId, { wait: true });
  if (recordAs) recordHistory(`kms-decommission-${storeId}`, recordAs);
  return report;
}

describe('full decommission', () => {
  test('CloudHSM store: schedules every key once, stays connected through every DeletionDate, then disconnects and deletes', async () => {
    const store = await seedStore(h, { enabled: 5, disabled: 2, bystanders: 3 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { ticket: 'CHG-1' }));
    await approveWhenReady(store.storeId);
    const report = await result(store.storeId, 'cloudhsm-completed');

    expect(report.outcome).toBe('COMPLETED');
    expect(report.counts).toMatchObject({ inventoried: 7, scheduled: 7, deleted: 7, remaining: 0, rolledBack: 0 });
    expect(report.storeConnectedThroughout).toBe(true);
    expect(report.possiblyOrphanedKeyArns).toEqual([]);
    expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob']);
    expect(report.keys).toHaveLength(7);
    for (const key of report.keys) {
      expect(key.scheduledBy).toBe('this-run');
      expect(key.confirmedDeletedAt).toBeGreaterThanOrEqual(key.deletionDate as number);
    }
    expect(report.keys.find((k) => k.keyId === store.disabled[0])?.priorState).toBe('Disabled');
    expect(report.keys.find((k) => k.keyId === store.enabled[0])?.aliases).toEqual([`alias/${store.storeId}-enabled-0`]);
    expect(report.notes.join(' ')).toMatch(/backups/);

    // Exactly one successful ScheduleKeyDeletion per store key, none for bystanders.
    const scheduled = await successfulCalls(h, 'ScheduleKeyDeletion');
    const perKey = new Map<string, number>();
    for (const e of scheduled) perKey.set(e.keyId as string, (perKey.get(e.keyId as string) ?? 0) + 1);
    for (const id of store.keyIds) expect(perKey.get(id)).toBe(1);
    for (const id of store.bystanders) expect(perKey.has(id)).toBe(false);
    for (const id of store.bystanders) expect(await keyState(h, id)).toBe('Enabled');

    // Material deleted for every key: the store was CONNECTED at every DeletionDate.
    const deletions = (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
    expect(deletions.map((d) => d.backingKey)).toEqual(Array(7).fill('MATERIAL_DELETED'));

    // Disconnect only after the last key was deleted; then the store is gone.
    const audit = await h.emulator.admin.audit();
    const disconnect = audit.find((e) => e.operation === 'DisconnectCustomKeyStore' && e.customKeyStoreId === store.storeId && e.outcome === 'OK');
    expect(disconnect).toBeDefined();
    expect(Math.max(...deletions.map((d) => d.time))).toBeLessThanOrEqual(disconnect!.time);
    await expect(h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: store.storeId }))).rejects.toMatchObject({
      name: 'CustomKeyStoreNotFoundException',
    });
  });

  test('external key store: completes and reports that external keys remain', async () => {
    const store = await seedStore(h, { type: 'EXTERNAL_KEY_STORE', enabled: 3, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId));
    await approveWhenReady(store.storeId);
    const report = await result(store.storeId);
    expect(report.outcome).toBe('COMPLETED');
    expect(report.counts.deleted).toBe(3);
    expect(report.notes.join(' ')).toMatch(/External keys remain/);
    const deletions = (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
    expect(deletions.map((d) => d.backingKey)).toEqual(Array(3).fill('EXTERNAL_KEY_RETAINED'));
  });

  test('a second start for the same store returns the running decommission', async () => {
    const store = await seedStore(h);
    const first = await h.decommissions.startDecommission(fastInput(store.storeId));
    const second = await h.decommissions.startDecommission(fastInput(store.storeId, { requestedBy: 'carol' }));
    expect(first.alreadyRunning).toBe(false);
    expect(second).toEqual({ workflowId: first.workflowId, runId: first.runId, alreadyRunning: true });
    await expect(h.decommissions.startDecommission(fastInput(store.storeId), { failIfRunning: true })).rejects.toThrow(/already running/);
    await h.decommissions.cancel(store.storeId, { by: 'alice', reason: 'test cleanup' });
    expect((await result(store.storeId)).outcome).toBe('CANCELLED');
  });
});

describe('no change without approval', () => {
  test('dry run returns the plan and makes zero mutating calls', async () => {
    const store = await seedStore(h, { enabled: 4, disabled: 1, pending: 1 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { dryRun: true }));
    const report = await result(store.storeId, 'dry-run');
    expect(report.outcome).toBe('DRY_RUN_COMPLETE');
    expect(report.counts).toMatchObject({ inventoried: 6, toSchedule: 5, alreadyPending: 1, scheduled: 0 });
    expect(report.notes[0]).toMatch(/would schedule 5 keys with a 7-day window/);
    expect(await mutatingCalls(h, store)).toEqual([]);
  });

  test('four-eyes: the requester cannot approve; a second approval and approval in the wrong phase are rejected', async () => {
    const store = await seedStore(h);
    await h.decommissions.startDecommission(fastInput(store.storeId));
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
    await expect(h.decommissions.approve(store.storeId, { approver: 'alice' })).rejects.toThrow(UpdateRejectedError);
    await expect(h.decommissions.approve(store.storeId, { approver: ' ALICE ' })).rejects.toThrow(/Four-eyes rule/);
    await expect(h.decommissions.approve(store.storeId, { approver: '' })).rejects.toThrow(InvalidInputError);
    expect(await mutatingCalls(h, store)).toEqual([]);
    await h.decommissions.approve(store.storeId, { approver: 'bob' });
    await expect(h.decommissions.approve(store.storeId, { approver: 'dave' })).rejects.toThrow(
      /Already approved by bob|only accepted in phase AWAITING_APPROVAL/,
    );
    expect((await result(store.storeId)).outcome).toBe('COMPLETED');
  });

  test('no approval within approvalTimeout ends CANCELLED with nothing changed', async () => {
    const store = await seedStore(h);
    await h.decommissions.startDecommission(fastInput(store.storeId, { approvalTimeout: '1s' }));
    const report = await result(store.storeId);
    expect(report.outcome).toBe('CANCELLED');
    expect(report.reason).toMatch(/approval timed out/);
    expect(report.decisions.map((d) => d.what)).toContain('approval-timeout');
    expect(await mutatingCalls(h, store)).toEqual([]);
  });

  test('expectedKeyCount guardrail stops before any change, even where the policy has no approval step', async () => {
    const g = await noApprovalHarness();
    const store = await seedStore(g, { enabled: 3, disabled: 0 });
    await g.decommissions.startDecommission(fastInput(store.storeId, { expectedKeyCount: 2 }));
    const report = await g.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('FAILED');
    expect(report.reason).toMatch(/expectedKeyCount is 2 but store .* holds 3 keys\. Nothing was changed in KMS/);
    expect(await mutatingCalls(g, store)).toEqual([]);
  });

  test('unknown store fails fast with nothing changed', async () => {
    await h.decommissions.startDecommission(fastInput('cks-00000000000000000'));
    const report = await result('cks-00000000000000000');
    expect(report.outcome).toBe('FAILED');
    expect(report.reason).toMatch(/failed in VALIDATING: (DescribeCustomKeyStores \S+: )?CustomKeyStoreNotFoundException: .*Nothing was changed in KMS/);
  });

  test('invalid input is rejected by the client and again by the workflow, naming each field', async () => {
    const bad = { customKeyStoreId: 'cks 1', requestedBy: '', pendingWindowInDays: 31, surprise: true } as never;
    const err = await h.decommissions.startDecommission(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems.map((p) => p.field).sort()).toEqual(['customKeyStoreId', 'pendingWindowInDays', 'requestedBy', 'surprise']);

    // Bypassing the client (as a raw `temporal workflow start` would): the workflow validates again.
    const handle = await h.temporal.workflow.start('decommissionCustomKeyStore', {
      taskQueue: h.taskQueue,
      workflowId: 'kms-decommission-raw-invalid',
      args: [bad],
    });
    await expect(handle.result()).rejects.toMatchObject({
      cause: { type: 'InvalidDecommissionInput', message: expect.stringMatching(/pendingWindowInDays: must be an integer from 7 to 30.*got number 31/) },
    });
  });
});

describe('cancel and rollback', () => {
  test('cancel before approval: CANCELLED, nothing changed', async () => {
    const store = await seedStore(h);
    await h.decommissions.startDecommission(fastInput(store.storeId));
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
    const ack = await h.decommissions.cancel(store.storeId, { by: 'alice', reason: 'wrong store' });
    expect(ack.message).toMatch(/nothing was changed/);
    const report = await result(store.storeId);
    expect(report.outcome).toBe('CANCELLED');
    expect(report.reason).toBe('wrong store (by alice)');
    expect(await mutatingCalls(h, store)).toEqual([]);
  });

  test('cancel during the waiting period cancels exactly the keys this run scheduled and restores their states', async () => {
    const store = await seedStore(h, { enabled: 3, disabled: 2, pending: 1 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
    await approveWhenReady(store.storeId);
    await waitForPhase(h, store.storeId, 'WAITING');
    await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'application still in use' });
    const report = await result(store.storeId, 'cancel-during-wait');
    expect(report.outcome).toBe('CANCELLED');
    expect(report.counts.rolledBack).toBe(5);

    const cancelled = await successfulCalls(h, 'CancelKeyDeletion', store.keyIds);
    expect(cancelled.map((e) => e.keyId).sort()).toEqual([...store.enabled, ...store.disabled].sort());
    for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
    for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
    expect(await keyState(h, store.pending[0])).toBe('PendingDeletion'); // was pending before this run: not ours to cancel
    expect(
      report.keys
        .filter((k) => k.restoredState)
        .map((k) => `${k.priorState}->${k.restoredState}`)
        .sort(),
    ).toEqual(['Disabled->Disabled', 'Disabled->Disabled', 'Enabled->Enabled', 'Enabled->Enabled', 'Enabled->Enabled']);
  });

  test('Temporal workflow cancel has the same effect as the cancel update', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
    await approveWhenReady(store.storeId);
    await waitForPhase(h, store.storeId, 'WAITING');
    await h.temporal.workflow.getHandle(`kms-decommission-${store.storeId}`).cancel();
    const report = await result(store.storeId);
    expect(report.outcome).toBe('CANCELLED');
    for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
  });
});

describe('store connection', () => {
  test('a DISCONNECTED CloudHSM store is connected before any key is scheduled', async () => {
    const store = await seedStore(h, { connectionState: 'DISCONNECTED' });
    await h.decommissions.startDecommission(fastInput(store.storeId));
    await approveWhenReady(store.storeId);
    const report = await result(store.storeId);
    expect(report.outcome).toBe('COMPLETED');
    const audit = (await h.emulator.admin.audit()).filter((e) => e.customKeyStoreId === store.storeId || store.keyIds.includes(e.keyId ?? ''));
    const connectAt = audit.findIndex((e) => e.operation === 'ConnectCustomKeyStore' && e.outcome === 'OK');
    const firstSchedule = audit.findIndex((e) => e.operation === 'ScheduleKeyDeletion');
    expect(connectAt).toBeGreaterThanOrEqual(0);
    expect(connectAt).toBeLessThan(firstSchedule);
    const deletions = (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
    expect(deletions.every((d) => d.backingKey === 'MATERIAL_DELETED')).toBe(true);
  });

  test('a store that cannot connect is BLOCKED with its ConnectionErrorCode; reconnect after the fix completes', async () => {
    const store = await seedStore(h, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOGGED_IN' });
    await h.emulator.admin.failNextConnects(store.storeId, { count: 3, connectionErrorCode: 'USER_LOCKED_OUT' });
    await h.decommissions.startDecommission(fastInput(store.storeId));
    await approveWhenReady(store.storeId);
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
    expect(blocked.blocker).toMatchObject({
      id: 'CONNECT_FAILED-1',
      kind: 'CONNECT_FAILED',
      connectionErrorCode: 'USER_LOCKED_OUT',
      allowedActions: ['reconnect', 'proceed'],
    });
    expect(blocked.previousPhase).toBe('CONNECTING');
    expect(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).toEqual([]);
    await expect(h.decommissions.resolve(store.storeId, { by: 'bob', action: 'keep-waiting', blockerId: 'CONNECT_FAILED-1' })).rejects.toThrow(
      /does not resolve CONNECT_FAILED; allowed: reconnect, proceed/,
    );
    // A resolve naming any blocker but the current one is refused, and changes nothing.
    await expect(h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reconnect', blockerId: 'CONNECT_FAILED-2' })).rejects.toThrow(
      UpdateRejectedError,
    );
    expect((await h.decommissions.getStatus(store.storeId)).blocker?.id).toBe('CONNECT_FAILED-1');
    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reconnect', blockerId: 'CONNECT_FAILED-1' });
    const report = await result(store.storeId, 'connect-failed-resolved');
    expect(report.outcome).toBe('COMPLETED');
    expect(report.storeConnectedThroughout).toBe(true);
  });
});

describe('drift during the waiting period', () => {
  test('a key created in the store during the wait blocks; a second person schedules it; the run completes', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 10 }));
    await approveWhenReady(store.storeId);
    await waitForPhase(h, store.storeId, 'WAITING');
    const intruder = await createKeyOutOfBand(h, store.storeId);
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
    expect(blocked.blocker).toMatchObject({ id: 'NEW_KEYS-1', kind: 'NEW_KEYS', keyIds: [intruder], keyCount: 1 });
    expect(blocked.previousPhase).toBe('WAITING');
    expect(blocked.blocker?.message).toMatch(/appeared in the store after approval/);
    expect(await keyState(h, intruder)).toBe('Enabled'); // not deleted without a decision
    await expect(h.decommissions.resolve(store.storeId, { by: 'alice', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1' })).rejects.toThrow(/Four-eyes/);
    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1' });
    await waitForPhase(h, store.storeId, 'WAITING');

    // A second key: the run's second blocker, counted from 1. Replaying the first decision is refused:
    // it cannot delete the second key without someone deciding about it.
    const second = await createKeyOutOfBand(h, store.storeId);
    const again = await waitForPhase(h, store.storeId, 'BLOCKED');
    expect(again.blocker).toMatchObject({ id: 'NEW_KEYS-2', kind: 'NEW_KEYS', keyIds: [second] });
    await expect(h.decommissions.resolve(store.storeId, { by: 'bob', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1' })).rejects.toThrow(
      UpdateRejectedError,
    );
    expect(await keyState(h, second)).toBe('Enabled');
    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-2' });
    const report = await result(store.storeId, 'drift-new-key-resolved');
    expect(report.outcome).toBe('COMPLETED');
    expect(report.counts.deleted).toBe(4);
    expect(report.decisions.map((d) => d.what)).toEqual(['requested', 'approved', 'resolved', 'resolved']);
  });

  test('a key whose deletion someone cancelled blocks; reschedule completes', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 10 }));
    await approveWhenReady(store.storeId);
    await waitForPhase(h, store.storeId, 'WAITING');
    await h.kms.send(new CancelKeyDeletionCommand({ KeyId: store.enabled[1] }));
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
    expect(blocked.blocker).toMatchObject({ id: 'KEYS_NOT_PENDING-1', kind: 'KEYS_NOT_PENDING', keyIds: [store.enabled[1]], allowedActions: ['reschedule'] });
    // Rescheduling deletes the key again: four-eyes.
    await expect(h.decommissions.resolve(store.storeId, { by: 'alice', action: 'reschedule', blockerId: 'KEYS_NOT_PENDING-1' })).rejects.toThrow(/Four-eyes/);
    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reschedule', blockerId: 'KEYS_NOT_PENDING-1' });
    const report = await result(store.storeId);
    expect(report.outcome).toBe('COMPLETED');
    const scheduled = await successfulCalls(h, 'ScheduleKeyDeletion', [store.enabled[1]]);
    expect(scheduled).toHaveLength(2);
  });

  test('the store disconnected by someone else blocks (HSM material would be orphaned); reconnect completes with no orphans', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 10 }));
    await approveWhenReady(store.storeId);
    await waitForPhase(h, store.storeId, 'WAITING');
    await h.emulator.admin.setStoreState(store.storeId, { connectionState: 'DISCONNECTED' });
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
    expect(blocked.blocker).toMatchObject({ id: 'STORE_NOT_CONNECTED-1', kind: 'STORE_NOT_CONNECTED', connectionState: 'DISCONNECTED' });
    expect(blocked.blocker?.message).toMatch(/orphaned/);
    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reconnect', blockerId: 'STORE_NOT_CONNECTED-1' });
    const report = await result(store.storeId);
    expect(report.outcome).toBe('COMPLETED');
    const deletions = (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
    expect(deletions.every((d) => d.backingKey === 'MATERIAL_DELETED')).toBe(true);
    expect(report.storeConnectedThroughout).toBe(false);
  });
});
