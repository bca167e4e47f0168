import { WorkflowUpdateStage } from '@temporalio/client';
import { approveUpdate, workflowIdFor } from '../../src/shared/messages';
import { startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, mutatingCalls, seedStore, waitForPhase } from '../support/scenario';
import { sleep, startWorker, stopHarnessWorker } from './support';

/**
 * Defect 4 (review of 8249dad): with the worker down across the approval deadline, an approve sent
 * after the deadline reached the workflow in the same activation as the deadline's timer and was
 * accepted: keys were scheduled on an expired approval. `approve` must be refused at or after
 * startedAt + approvalTimeout (workflow time), whatever the order of events in one activation.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400 } });
});
afterAll(async () => {
  await h?.close();
});

test('defect 4: an approve that arrives after approvalTimeout while the worker was down is refused; the run ends CANCELLED (approval timed out), nothing changed', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 1 });
  let second: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    await h.decommissions.startDecommission(fastInput(store.storeId, { approvalTimeout: '3s' }));
    const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
    await stopHarnessWorker(h);

    // Past the deadline (workflow time: the run's startedAt + 3 s) with no worker to fire the timer.
    await sleep(Math.max(0, awaiting.startedAt + 3_000 + 2_000 - Date.now()));
    const handle = h.temporal.workflow.getHandle(workflowIdFor(store.storeId));
    const approval = handle
      .startUpdate(approveUpdate, { args: [{ approver: 'bob', comment: 'late' }], waitForStage: WorkflowUpdateStage.ACCEPTED })
      .then((u) => u.result())
      .then(
        (ack) => ({ accepted: true as const, ack }),
        (err: unknown) => ({ accepted: false as const, err }),
      );
    await sleep(1_000); // the update is with the server before any worker polls
    second = await startWorker(h);

    const outcome = await approval;
    expect(outcome.accepted).toBe(false);
    const report = await h.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('CANCELLED');
    expect(report.reason).toMatch(/approval timed out/);
    expect(report.decisions.map((d) => d.what)).not.toContain('approved');
    expect((await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => store.keyIds.includes(e.keyId ?? ''))).toEqual([]);
    expect(await mutatingCalls(h, store)).toEqual([]);
    for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
  } finally {
    await second?.stop();
  }
}, 60_000);
