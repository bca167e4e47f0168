import { ListKeysCommand } from '@aws-sdk/client-kms';
import { createKmsRateLimiter } from '../../src/activities';
import { startHarness, type Harness } from '../support/harness';
import { createKeyOutOfBand, fastInput, keyState, seedStore, successfulCalls, waitForPhase } from '../support/scenario';

/** These runs need no approval step: the deployment's policy (a worker setting) says so, not the request. */
const NO_APPROVAL = { policy: { requireApproval: false, allowSelfApproval: false } };

/** Counts successful ScheduleKeyDeletion calls per key: the one number that must be exactly 1. */
async function schedulesPerKey(h: Harness, keyIds: string[]): Promise<Map<string, number>> {
  const perKey = new Map<string, number>(keyIds.map((id) => [id, 0]));
  for (const e of await successfulCalls(h, 'ScheduleKeyDeletion', keyIds)) perKey.set(e.keyId as string, (perKey.get(e.keyId as string) ?? 0) + 1);
  return perKey;
}

describe('KMS throttling', () => {
  let h: Harness;
  beforeAll(async () => {
    // The emulator enforces a fifth of AWS's quotas (ScheduleKeyDeletion 3/s); the worker believes in
    // twice that, as if another caller shared the account: about half its calls get ThrottlingException.
    h = await startHarness({ emulator: { dayMs: 400, quotaScale: 0.2 }, deps: { ...NO_APPROVAL, limiter: createKmsRateLimiter({ quotaScale: 0.4 }) } });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('throttled calls are retried under the pace; every key is scheduled exactly once', async () => {
    const store = await seedStore(h, { enabled: 12, disabled: 0 });
    await h.emulator.admin.setFaults([{ operation: 'ScheduleKeyDeletion', errorRate: 0.3, errorType: 'ThrottlingException', count: 6 }]);
    await h.decommissions.startDecommission(fastInput(store.storeId));
    const report = await h.decommissions.getReport(store.storeId, { wait: true });
    await h.emulator.admin.clearFaults();
    expect(report.outcome).toBe('COMPLETED');
    const stats = await h.emulator.admin.stats();
    console.log(`throttling: ${JSON.stringify(stats.throttled)}`);
    const throttled = (await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => e.outcome === 'ThrottlingException');
    expect(throttled.length).toBeGreaterThan(0);
    for (const [, n] of await schedulesPerKey(h, store.keyIds)) expect(n).toBe(1);
  });
});

describe('eventual consistency and existing state', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ emulator: { dayMs: 400 }, deps: NO_APPROVAL });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('stale reads after writes neither double-schedule nor raise false drift', async () => {
    const store = await seedStore(h, { enabled: 6, disabled: 2 });
    await h.emulator.admin.setFaults([{ operation: 'DescribeKey', staleReadMs: 600 }]);
    try {
      await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 8 }));
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('COMPLETED');
      expect(report.decisions.map((d) => d.what)).toEqual(['requested']); // no BLOCKED/resolve along the way
      for (const [, n] of await schedulesPerKey(h, store.keyIds)) expect(n).toBe(1);
    } finally {
      await h.emulator.admin.clearFaults();
    }
  });

  test('keys already pending deletion count as scheduled with their own DeletionDate and are never scheduled again', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 0, pending: 3 });
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
    const report = await h.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
    expect(report.counts).toMatchObject({ inventoried: 5, scheduled: 2, alreadyPending: 3, deleted: 5 });
    expect(
      report.keys
        .filter((k) => k.scheduledBy === 'before-this-run')
        .map((k) => k.keyId)
        .sort(),
    ).toEqual([...store.pending].sort());
    expect((await successfulCalls(h, 'ScheduleKeyDeletion', store.pending)).length).toBe(0);
    // The pre-existing keys (30-day window) were scheduled before ours (7-day): the wait lasted until the later date.
    expect(report.latestDeletionDate).toBeGreaterThan(report.earliestDeletionDate as number);
  });
});

describe('DeleteCustomKeyStore race', () => {
  let h: Harness;
  let interfered = false;
  beforeAll(async () => {
    h = await startHarness({
      emulator: { dayMs: 400 },
      deps: NO_APPROVAL,
      // Between the last verification and DeleteCustomKeyStore, someone reconnects the store, creates a
      // key and disconnects again: KMS answers CustomKeyStoreHasCMKsException.
      wrapActivities: (acts) => ({
        ...acts,
        async deleteStore(input) {
          if (!interfered) {
            interfered = true;
            await h.emulator.admin.setStoreState(input.customKeyStoreId, { connectionState: 'CONNECTED' });
            await createKeyOutOfBand(h, input.customKeyStoreId);
            await h.emulator.admin.setStoreState(input.customKeyStoreId, { connectionState: 'DISCONNECTED' });
          }
          return acts.deleteStore(input);
        },
      }),
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('HasCMKs sends the run back to verification, which finds the new key and asks before deleting it', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId));
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 60_000);
    expect(blocked.blocker).toMatchObject({ id: 'NEW_KEYS-1', kind: 'NEW_KEYS', keyCount: 1 });
    const intruder = blocked.blocker?.kind === 'NEW_KEYS' ? blocked.blocker.keyIds[0] : '';
    expect(await keyState(h, intruder)).toBe('Unavailable'); // untouched: the store is disconnected
    const deletes = (await h.emulator.admin.audit({ operation: 'DeleteCustomKeyStore' })).filter((e) => e.customKeyStoreId === store.storeId);
    expect(deletes.map((e) => e.outcome)).toEqual(['CustomKeyStoreHasCMKsException']);

    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1' });
    const report = await h.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
    expect(report.counts.deleted).toBe(3);
    // The store had to be reconnected first so KMS could delete the new key's HSM material.
    const deletions = (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
    expect(deletions.map((d) => d.backingKey)).toEqual(['MATERIAL_DELETED', 'MATERIAL_DELETED', 'MATERIAL_DELETED']);
    const listed = await h.kms.send(new ListKeysCommand({ Limit: 1000 }));
    expect(listed.Keys?.some((k) => k.KeyId === intruder)).toBe(false);
  });
});
