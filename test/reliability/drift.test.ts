import { DeleteCustomKeyStoreCommand, DescribeCustomKeyStoresCommand, DisconnectCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import type { AuditEntry, DeletionEvent } from '../../src/emulator';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, waitForPhase } from '../support/scenario';
import { proveScheduledOnce } from './helpers/audit';
import { printFigures, seconds } from './helpers/figures';
import { seedStoreVia, type SeededStore } from './helpers/seed';

/**
 * Drift the workflow tests do not already cover (new key, out-of-band cancel and out-of-band disconnect
 * with reconnect live in test/workflow/decommission.test.ts): the store FAILED mid-wait, the store
 * disconnected and the operator proceeding knowingly, the store deleted outside the workflow. Each is
 * detected, parked in BLOCKED with a precise message, and resolved by an operator; and in no case is an
 * unapproved key scheduled or the store disconnected for deletion while keys remain.
 */

// Created on first use rather than in beforeAll, which concurrent tests do not reliably wait for.
let waitHarness: Promise<Harness> | undefined;
let lagHarness: Promise<Harness> | undefined;

/** 400 ms per day: a 20-day window lasts 8 s. */
function harness(): Promise<Harness> {
  waitHarness ??= startHarness({ emulator: { dayMs: 400 } });
  return waitHarness;
}

/**
 * 1 s per day, and KMS deleting keys a full day (1 s) after their DeletionDate, as it may. No approval step:
 * the deployment's approval policy (a worker setting) says so.
 */
function laggingHarness(): Promise<Harness> {
  lagHarness ??= startHarness({ emulator: { dayMs: 1_000, deletionLagHours: 24 }, deps: { policy: { requireApproval: false, allowSelfApproval: false } } });
  return lagHarness;
}

afterAll(async () => {
  await Promise.all([waitHarness, lagHarness].map(async (h) => (await h)?.close()));
});

async function storeDeletions(h: Harness, storeId: string): Promise<DeletionEvent[]> {
  return (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === storeId);
}

/**
 * The invariants every drift scenario must keep, read from the audit log:
 * - ScheduleKeyDeletion succeeded only for approved keys;
 * - the workflow's DisconnectCustomKeyStore that prepares deletion (one not followed by a reconnect)
 *   came after the last key of the store was deleted.
 * `external` are sequence numbers of calls the test itself made as "someone else".
 */
function expectSafeOrdering(audit: AuditEntry[], deletions: DeletionEvent[], store: SeededStore, approved: string[], external: Set<number> = new Set()): void {
  // The emulator is shared by concurrent tests: judge only this store's keys and its bystanders.
  const mine = new Set([...store.keyIds, ...store.bystanders]);
  const scheduled = audit.filter((e) => e.operation === 'ScheduleKeyDeletion' && e.outcome === 'OK' && mine.has(e.keyId as string)).map((e) => e.keyId);
  expect(scheduled.filter((k) => !approved.includes(k as string))).toEqual([]);
  const ours = audit.filter((e) => e.customKeyStoreId === store.storeId && !external.has(e.seq));
  const finalDisconnects = ours.filter(
    (e, i) =>
      e.operation === 'DisconnectCustomKeyStore' && e.outcome === 'OK' && !ours.slice(i + 1).some((later) => later.operation === 'ConnectCustomKeyStore'),
  );
  const lastDeletion = Math.max(...deletions.map((d) => d.time));
  for (const d of finalDisconnects) expect(d.time).toBeGreaterThanOrEqual(lastDeletion);
  const deletes = ours.filter((e) => e.operation === 'DeleteCustomKeyStore' && e.outcome === 'OK');
  for (const d of deletes) expect(d.time).toBeGreaterThanOrEqual(lastDeletion);
}

test.concurrent(
  'store FAILED during the wait: BLOCKED with its ConnectionErrorCode, nothing changed until the operator reconnects, then completes',
  async () => {
    const h = await harness();
    const store = await seedStoreVia(h.emulator.admin, { enabled: 3, disabled: 1, bystanders: 2 });
    const t0 = Date.now();
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 20 }));
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
    await h.decommissions.approve(store.storeId, { approver: 'bob' });
    await waitForPhase(h, store.storeId, 'WAITING');

    const failedAt = Date.now();
    const seqBefore = Math.max(0, ...(await h.emulator.admin.audit()).map((e) => e.seq));
    await h.emulator.admin.setStoreState(store.storeId, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOCKED_OUT' });
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
    const detectedMs = Date.now() - failedAt;
    expect(blocked.blocker).toMatchObject({
      id: 'STORE_NOT_CONNECTED-1',
      kind: 'STORE_NOT_CONNECTED',
      connectionState: 'FAILED',
      connectionErrorCode: 'USER_LOCKED_OUT',
      allowedActions: ['reconnect', 'proceed'],
    });
    expect(blocked.previousPhase).toBe('WAITING');
    expect(blocked.blocker).toMatchObject({ lastSeenConnectedAt: expect.any(Number) });
    expect(blocked.blocker?.message).toMatch(
      /Store is FAILED \(USER_LOCKED_OUT\); it was last seen CONNECTED at \S+\. If it is not CONNECTED when a key's DeletionDate passes, KMS cannot delete that key's HSM material/,
    );
    expect(blocked.blocker?.message).toMatch(/orphaned/);
    // Parked: no KMS change of any kind before the operator decides.
    await new Promise((r) => setTimeout(r, 1_000));
    const whileBlocked = (await h.emulator.admin.audit({ sinceSeq: seqBefore })).filter((e) => e.mutating && e.customKeyStoreId === store.storeId);
    expect(whileBlocked).toEqual([]);

    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reconnect', blockerId: 'STORE_NOT_CONNECTED-1', comment: 'kmsuser unlocked' });
    const report = await h.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
    expect(report.storeConnectedThroughout).toBe(false);
    expect(report.decisions.map((d) => d.what)).toEqual(['requested', 'approved', 'resolved']);

    const audit = await h.emulator.admin.audit();
    const after = audit.filter((e) => e.seq > seqBefore && e.customKeyStoreId === store.storeId && e.outcome === 'OK');
    // KMS refuses to connect a FAILED store: the reconnect is Disconnect (of the FAILED store), then Connect.
    expect(
      after
        .map((e) => e.operation)
        .filter((o) => o === 'DisconnectCustomKeyStore' || o === 'ConnectCustomKeyStore')
        .slice(0, 2),
    ).toEqual(['DisconnectCustomKeyStore', 'ConnectCustomKeyStore']);
    const deletions = await storeDeletions(h, store.storeId);
    expect(deletions.map((d) => d.backingKey)).toEqual(Array(4).fill('MATERIAL_DELETED'));
    expect(proveScheduledOnce(audit, store.keyIds).duplicates).toEqual([]);
    expectSafeOrdering(audit, deletions, store, store.keyIds);
    printFigures('drift/store-failed', {
      detectedS: seconds(detectedMs),
      blocker: blocked.blocker?.kind,
      code: blocked.blocker?.kind === 'STORE_NOT_CONNECTED' ? blocked.blocker.connectionErrorCode : undefined,
      mutatingWhileBlocked: whileBlocked.length,
      orphaned: deletions.filter((d) => d.backingKey === 'ORPHANED').length,
      outcome: report.outcome,
      runS: seconds(Date.now() - t0),
    });
  },
  90_000,
);

test.concurrent(
  'store disconnected during the wait and the operator proceeds: completes, and the report lists exactly the keys KMS orphaned',
  async () => {
    const h = await harness();
    const store = await seedStoreVia(h.emulator.admin, { enabled: 3, disabled: 2 });
    const t0 = Date.now();
    await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 15 }));
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
    await h.decommissions.approve(store.storeId, { approver: 'bob' });
    await waitForPhase(h, store.storeId, 'WAITING');
    await h.emulator.admin.setStoreState(store.storeId, { connectionState: 'DISCONNECTED' });
    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
    expect(blocked.blocker).toMatchObject({
      id: 'STORE_NOT_CONNECTED-1',
      kind: 'STORE_NOT_CONNECTED',
      connectionState: 'DISCONNECTED',
      allowedActions: ['reconnect', 'proceed'],
    });
    const blockerId = 'STORE_NOT_CONNECTED-1';
    await expect(h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reschedule', blockerId })).rejects.toThrow(
      /does not resolve STORE_NOT_CONNECTED; allowed: reconnect, proceed/,
    );
    // Going on without the store may orphan HSM key material: the requester cannot decide that alone.
    await expect(h.decommissions.resolve(store.storeId, { by: ' Alice ', action: 'proceed', blockerId })).rejects.toThrow(/Four-eyes/);
    expect((await h.decommissions.getStatus(store.storeId)).blocker?.id).toBe(blockerId);
    const proceedSeq = Math.max(...(await h.emulator.admin.audit()).map((e) => e.seq));
    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId, comment: 'cluster retired; orphaned material is accepted' });
    const report = await h.decommissions.getReport(store.storeId, { wait: true });

    expect(report.outcome).toBe('COMPLETED');
    expect(report.storeConnectedThroughout).toBe(false);
    const deletions = await storeDeletions(h, store.storeId);
    const orphanedByKms = deletions
      .filter((d) => d.backingKey === 'ORPHANED')
      .map((d) => d.keyArn)
      .sort();
    expect(orphanedByKms).toHaveLength(store.keyIds.length);
    expect([...(report.possiblyOrphanedKeyArns ?? [])].sort()).toEqual(orphanedByKms);
    expect(report.notes.join(' ')).toMatch(/may be orphaned in cluster .* label = key ARN/);
    const audit = await h.emulator.admin.audit();
    // "proceed" means: do not reconnect.
    expect(audit.filter((e) => e.seq > proceedSeq && e.operation === 'ConnectCustomKeyStore' && e.customKeyStoreId === store.storeId)).toEqual([]);
    expectSafeOrdering(audit, deletions, store, store.keyIds);
    printFigures('drift/disconnected-proceed', {
      orphanedReported: report.possiblyOrphanedKeyArns?.length,
      orphanedByKms: orphanedByKms.length,
      outcome: report.outcome,
      runS: seconds(Date.now() - t0),
    });
  },
  90_000,
);

/**
 * KMS refuses DeleteCustomKeyStore while the store holds any key (even pending deletion) or is not
 * DISCONNECTED, so "deleted externally" can only happen once every key is gone: between KMS deleting the
 * last key and the workflow disconnecting the store. A deletion lag of one day (KMS may take up to 24 h
 * after the DeletionDate) makes the workflow wait in VERIFYING, and "someone else" deletes the store then.
 * A store deleted while keys remain cannot happen in real KMS and is not tested.
 */
test.concurrent(
  'store deleted outside the workflow after its keys are gone: BLOCKED STORE_DELETED, proceed completes without touching it',
  async () => {
    const h = await laggingHarness();
    const store = await seedStoreVia(h.emulator.admin, { enabled: 2 });
    const t0 = Date.now();
    await h.decommissions.startDecommission(
      fastInput(store.storeId, {
        pendingWindowInDays: 7,
        timing: { storePollInterval: 100, driftCheckInterval: '60s', verifyInterval: 3_000, verifyPatience: '60s' },
      }),
    );
    await waitForPhase(h, store.storeId, 'VERIFYING', 30_000);
    // The keys are past their DeletionDate but not yet deleted: KMS is lagging. Wait for it, then act.
    await eventually(
      () => storeDeletions(h, store.storeId),
      (d) => d.length === 2,
      10_000,
      'KMS deleting both keys',
    );
    const external = new Set<number>();
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: store.storeId }));
    await eventually(
      async () => (await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: store.storeId }))).CustomKeyStores?.[0]?.ConnectionState,
      (s) => s === 'DISCONNECTED',
      5_000,
      'store DISCONNECTED',
    );
    await h.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: store.storeId }));
    for (const e of await h.emulator.admin.audit())
      if (e.customKeyStoreId === store.storeId && (e.operation === 'DisconnectCustomKeyStore' || e.operation === 'DeleteCustomKeyStore')) external.add(e.seq);
    const phaseWhenDeleted = (await h.decommissions.getStatus(store.storeId)).phase;

    const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 15_000);
    expect(blocked.blocker).toMatchObject({ id: 'STORE_DELETED-1', kind: 'STORE_DELETED', allowedActions: ['proceed'] });
    expect(blocked.blocker?.message).toMatch(/no longer exists .*: it was deleted outside this workflow, which KMS only allows once the store holds no keys/);
    await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: 'STORE_DELETED-1' });
    const report = await h.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
    expect(report.counts).toMatchObject({ deleted: 2, remaining: 0 });
    expect(report.notes.join(' ')).toMatch(/deleted outside this workflow/);
    const audit = await h.emulator.admin.audit();
    // The workflow itself never disconnected or deleted the store: the only such calls are the external ones.
    const storeChanges = audit.filter((e) => e.customKeyStoreId === store.storeId && e.mutating && e.operation.endsWith('CustomKeyStore'));
    expect(storeChanges.map((e) => e.seq).sort((x, y) => x - y)).toEqual([...external].sort((x, y) => x - y));
    expectSafeOrdering(audit, await storeDeletions(h, store.storeId), store, store.keyIds, external);
    printFigures('drift/store-deleted', {
      phaseWhenDeleted,
      blocker: blocked.blocker?.kind,
      workflowStoreCalls: storeChanges.length - external.size,
      outcome: report.outcome,
      runS: seconds(Date.now() - t0),
    });
  },
  90_000,
);
