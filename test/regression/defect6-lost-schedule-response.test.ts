import { startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';

/**
 * Defect 6, lost-schedule-result variant (a guard: 8249dad already passed it). A ScheduleKeyDeletion
 * takes effect but its response is lost; with one attempt per call (maxCallAttempts 1) the activity
 * attempt fails and the batch is retried, which finds the key already pending. A cancel must then
 * restore every key exactly. Who scheduled such a key is ambiguous to the run (its own lost call, or
 * someone else after approval): the contract reports it 'after-approval' or 'this-run', never as
 * untouched or as pending before the run, and the rollback says it cancelled the deletion.
 */

let v: Harness;
beforeAll(async () => {
  v = await startHarness({ emulator: { dayMs: 60_000 }, deps: { mutateConcurrency: 1, maxCallAttempts: 1 } });
});
afterAll(async () => {
  await v?.close();
});

test('defect 6 (variant): a lost ScheduleKeyDeletion response makes the batch retry; a cancel then restores every key exactly', async () => {
  const h = v;
  const store = await seedStore(h, { enabled: 2, disabled: 1, aliases: false });
  const ours = [...store.enabled, ...store.disabled];
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  // The first ScheduleKeyDeletion takes effect, its response is lost: the activity attempt fails and is retried.
  await h.emulator.admin.setFaults([{ operation: 'ScheduleKeyDeletion', errorRate: 1, when: 'after', count: 1 }]);
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING', 40_000);
  const audit = await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' });
  const lost = audit.filter((e) => e.injectedFault && ours.includes(e.keyId ?? ''));
  expect(lost).toHaveLength(1);
  // Each key's deletion was scheduled once: the retried batch did not send a second ScheduleKeyDeletion that took effect.
  for (const id of ours) expect(audit.filter((e) => e.keyId === id && (e.outcome === 'OK' || e.injectedFault))).toHaveLength(1);
  for (const id of ours) expect(await keyState(h, id)).toBe('PendingDeletion');

  await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'wrong store' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
  for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
  for (const id of ours) {
    const entry = report.keys.find((k) => k.keyId === id);
    expect(['this-run', 'after-approval']).toContain(entry?.scheduledBy);
    expect(entry?.rollbackActions).toContain('CancelKeyDeletion');
  }
  for (const key of report.keys) expect(key.restoredState).toBe(key.priorState);
  expect(report.counts.rolledBack).toBe(ours.length);
}, 60_000);
