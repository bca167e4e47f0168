import { createKmsRateLimiter } from '../../src/activities';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore } from '../support/scenario';
import { sleep } from './support';

/**
 * Defect 2 (review of 8249dad): Temporal's own cancel during SCHEDULING rolled back while the
 * scheduleKeys activity kept going; 48 of 60 keys ended PendingDeletion. The batch must stop, and the
 * rollback must cover every key any attempt may have scheduled.
 */

const SCHEDULE_PER_SECOND = 4;

let h: Harness;
beforeAll(async () => {
  // A long day: no key may reach its DeletionDate during the test, so PendingDeletion means "left behind".
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    deps: { limiter: createKmsRateLimiter({ quotaScale: 0, overrides: { ScheduleKeyDeletion: SCHEDULE_PER_SECOND } }) },
  });
});
afterAll(async () => {
  await h?.close();
});

test('defect 2: Temporal cancel during SCHEDULING (60 keys, slow ScheduleKeyDeletion) stops the batch and rolls back every key it scheduled', async () => {
  const store = await seedStore(h, { enabled: 45, disabled: 15, pending: 2, bystanders: 2, aliases: false });
  const ours = [...store.enabled, ...store.disabled];
  const ourSet = new Set(ours);
  expect(ours).toHaveLength(60);
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await eventually(
    () => h.decommissions.getStatus(store.storeId),
    (s) => s.phase === 'AWAITING_APPROVAL',
    30_000,
    'AWAITING_APPROVAL',
  );
  await h.decommissions.approve(store.storeId, { approver: 'bob' });

  const scheduledOk = async () =>
    (await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => e.outcome === 'OK' && ourSet.has(e.keyId ?? ''));
  const atCancel = (await eventually(scheduledOk, (entries) => entries.length >= 8, 30_000, '8 keys scheduled')).length;
  const cancelledAt = Date.now();
  await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).cancel();

  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');

  // Anything still running in the background has had ample time to finish (the whole batch takes 15 s).
  await sleep(Math.max(0, cancelledAt + 25_000 - Date.now()));
  const leftPending: string[] = [];
  for (const id of ours) if ((await keyState(h, id)) === 'PendingDeletion') leftPending.push(id);
  expect(leftPending).toEqual([]);
  for (const id of store.pending) expect(await keyState(h, id)).toBe('PendingDeletion'); // pending before the run: not ours
  for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
  for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');

  // The audit log: no ScheduleKeyDeletion took effect after the rollback began.
  const audit = await h.emulator.admin.audit();
  const firstCancel = audit.find((e) => e.operation === 'CancelKeyDeletion' && ourSet.has(e.keyId ?? ''));
  const scheduled = audit.filter((e) => e.operation === 'ScheduleKeyDeletion' && e.outcome === 'OK' && ourSet.has(e.keyId ?? ''));
  expect(scheduled.length).toBeGreaterThanOrEqual(8);
  // "Stops within about a second": at 4 keys/s, allow 3 s (12 keys) for a loaded machine.
  expect(scheduled.length).toBeLessThanOrEqual(atCancel + 3 * SCHEDULE_PER_SECOND);
  expect(firstCancel).toBeDefined();
  expect(scheduled.filter((e) => e.seq > (firstCancel?.seq ?? 0)).map((e) => e.keyId)).toEqual([]);
  expect(audit.filter((e) => e.operation === 'CancelKeyDeletion' && store.pending.includes(e.keyId ?? ''))).toEqual([]);

  // The report tells the same story as the audit log.
  const scheduledIds = new Set(scheduled.map((e) => e.keyId as string));
  expect(report.counts.rolledBack).toBe(scheduledIds.size);
  const thisRun = report.keys.filter((k) => k.scheduledBy === 'this-run').map((k) => k.keyId);
  expect(new Set(thisRun)).toEqual(scheduledIds);
  for (const key of report.keys.filter((k) => scheduledIds.has(k.keyId))) expect(key.restoredState).toBe(key.priorState);
  expect(
    report.keys
      .filter((k) => k.scheduledBy === 'before-this-run')
      .map((k) => k.keyId)
      .sort(),
  ).toEqual([...store.pending].sort());
}, 75_000);
