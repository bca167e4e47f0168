import { DecommissionClient, type DecommissionStatus } from '../../src/client';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';

/**
 * Adversarial (issue 11, attempted-use watch): CloudTrail LookupEvents keeps answering AccessDeniedException
 * (a missing cloudtrail:LookupEvents permission). The run must not go on blind, nor fail a workflow task: it
 * blocks STEP_FAILED 'attempted-use check' (retry | proceed); `proceed` is four-eyes and turns the watch off;
 * the run then completes (deletion evidence, also unreadable, is reported plainly, not a failure).
 */

let h: Harness;
let client: DecommissionClient;
/** Status once the run went on without the watch (for the lastError check below). */
let afterProceed: DecommissionStatus | undefined;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 1_500 },
    deps: { policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 } },
  });
  client = new DecommissionClient({ client: h.temporal, taskQueue: h.taskQueue, minimumQuietPeriodMs: 1_000 });
});
afterAll(async () => {
  await h.emulator.admin.clearFaults();
  await h?.close();
});

test('a persistently failing attempted-use check blocks (retry | proceed); proceed by another person turns the watch off and the run completes', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 1, bystanders: 0, aliases: false });
  await h.emulator.admin.setFaults([{ operation: 'LookupEvents', errorRate: 1, errorType: 'AccessDeniedException' }]);
  await client.startDecommission(
    fastInput(store.storeId, {
      quietPeriod: '3s',
      pendingWindowInDays: 7,
      timing: { ...fastInput('x').timing, usageCheckInterval: 500, cloudTrailDeliveryLag: 1_000 },
    }),
  );
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });

  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  expect(blocked.previousPhase).toBe('QUIET_PERIOD');
  expect(blocked.blocker).toMatchObject({ id: 'STEP_FAILED-1', kind: 'STEP_FAILED', step: 'attempted-use check', allowedActions: ['retry', 'proceed'] });
  if (blocked.blocker?.kind !== 'STEP_FAILED') throw new Error('unreachable');
  expect(blocked.blocker.error).toMatch(/AccessDeniedException/);
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Disabled');

  // Four-eyes: the requester may retry, never proceed without the watch.
  await expect(client.resolve(store.storeId, { by: 'alice', action: 'proceed', blockerId: 'STEP_FAILED-1' })).rejects.toThrow(/Four-eyes/);
  await client.resolve(store.storeId, { by: 'alice', action: 'retry', blockerId: 'STEP_FAILED-1' });
  const again = await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.blocker?.id === 'STEP_FAILED-2',
    30_000,
    'the retried check to fail again',
  );
  expect(again.blocker).toMatchObject({ kind: 'STEP_FAILED', step: 'attempted-use check' });
  const proceededAt = Date.now();
  await client.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: 'STEP_FAILED-2', comment: 'CloudTrail permission pending; accepted' });

  const waiting = await waitForPhase(h, store.storeId, ['WAITING', 'VERIFYING', 'DISCONNECTING', 'DELETING', 'COMPLETED'], 30_000);
  expect(waiting.usage?.watch?.stoppedBy).toBe('bob');
  afterProceed = await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.phase === 'WAITING',
    30_000,
    'WAITING',
  );
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.usage?.watch?.stoppedBy).toBe('bob');
  expect(report.notes.some((n) => /bob turned the attempted-use watch off after it failed \(STEP_FAILED-2/.test(n))).toBe(true);
  // Deletion evidence could not be read either: said plainly, and it did not stop the run.
  expect(report.notes.some((n) => /Deletion evidence could not be read from CloudTrail .*AccessDenied/.test(n))).toBe(true);
  expect(report.usage?.deletionEvidence).toMatchObject({ found: 0, of: store.keyIds.length, done: true });

  const history = await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).fetchHistory();
  const events = history.events ?? [];
  expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  // No attempted-use watch was scheduled after the proceed (the checks run inside watchPeriod activities).
  const checks = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'watchPeriod');
  const checksAfterProceed = checks.filter((e) => Number(e.eventTime?.seconds ?? 0) * 1000 > proceededAt + 1_000);
  expect(checksAfterProceed).toEqual([]);
  expect(checks.length).toBe(2);
  expect(report.decisions.filter((d) => d.what === 'resolved').map((d) => `${d.by} ${d.detail}`)).toEqual([
    'alice retry (STEP_FAILED-1)',
    'bob proceed (STEP_FAILED-2): CloudTrail permission pending; accepted',
  ]);
}, 90_000);

// Regression: watchFailed() sets state.lastError; once the operator turned the watch off, status must not keep showing it.
test("once the watch is turned off, status no longer shows the check error as the run's last error", () => {
  expect(afterProceed?.phase).toBe('WAITING');
  expect(afterProceed?.lastError ?? '').not.toMatch(/attempted-use check/);
});

test('a failing check in the waiting period: cancel while it is blocked restores every key the run scheduled', async () => {
  await h.emulator.admin.clearFaults();
  const store = await seedStore(h, { enabled: 2, disabled: 1, bystanders: 0, aliases: false });
  await client.startDecommission(
    fastInput(store.storeId, {
      pendingWindowInDays: 30,
      timing: { ...fastInput('x').timing, driftCheckInterval: '1h', usageCheckInterval: 500, cloudTrailDeliveryLag: 1_000 },
    }),
  );
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING', 30_000);
  await h.emulator.admin.setFaults([{ operation: 'LookupEvents', errorRate: 1, errorType: 'AccessDeniedException' }]);
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  expect(blocked.previousPhase).toBe('WAITING');
  expect(blocked.blocker).toMatchObject({ kind: 'STEP_FAILED', step: 'attempted-use check', allowedActions: ['retry', 'proceed'] });
  const ack = await client.cancel(store.storeId, { by: 'carol', reason: 'no evidence, no deletion' });
  expect(ack.message).toMatch(/deletion of 3 key\(s\) this run scheduled will be cancelled/);
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
  await h.emulator.admin.clearFaults();
}, 90_000);
