import { createKmsRateLimiter } from '../../src/activities';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';

/**
 * Defect 6 (review of 8249dad): a rollback whose CancelKeyDeletion took effect but lost its response
 * left the key Disabled (its prior state was Enabled) and reported it NOT_PENDING / not scheduled.
 * Rollback must converge each key to its prior state by reading it first.
 *
 * One KMS call per key at a time (mutateConcurrency 1), one attempt per call inside an activity
 * (maxCallAttempts 1: a lost response fails the activity attempt, so the activity itself is retried),
 * and ScheduleKeyDeletion paced at one every 2 s so a batch can be caught in flight.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    deps: { mutateConcurrency: 1, maxCallAttempts: 1, limiter: createKmsRateLimiter({ quotaScale: 0, overrides: { ScheduleKeyDeletion: 0.5 } }) },
  });
});
afterAll(async () => {
  await h?.close();
});

test('defect 6: CancelKeyDeletion takes effect but its response is lost (rollback after a cancel mid-batch): the key ends Enabled and the report says this run scheduled and restored it', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 0, aliases: false });
  const ourSet = new Set(store.enabled);
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });

  // The first key is scheduled; the next one waits ~2 s for its slot: the batch is in flight.
  const [first] = await eventually(
    async () => (await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => e.outcome === 'OK' && ourSet.has(e.keyId ?? '')),
    (entries) => entries.length >= 1,
    30_000,
    'first key scheduled',
  );
  const k1 = first.keyId as string;
  expect(await keyState(h, k1)).toBe('PendingDeletion');
  // The next CancelKeyDeletion is executed by KMS, but the caller gets a 500 instead of the answer.
  await h.emulator.admin.setFaults([{ operation: 'CancelKeyDeletion', errorRate: 1, when: 'after', count: 1 }]);
  await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).cancel();

  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  const lost = (await h.emulator.admin.audit({ operation: 'CancelKeyDeletion' })).filter((e) => e.injectedFault);
  expect(lost.map((e) => e.keyId)).toEqual([k1]); // the fault did hit k1's cancel

  expect(await keyState(h, k1)).toBe('Enabled');
  const entry = report.keys.find((k) => k.keyId === k1);
  expect(entry).toMatchObject({ scheduledBy: 'this-run', priorState: 'Enabled', restoredState: 'Enabled' });
  for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
}, 60_000);
