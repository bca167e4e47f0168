import { ApplicationFailure } from '@temporalio/common';
import { startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';
import { disableOutOfBand } from './support';

/**
 * Adversarial: a scheduling batch fails before it touched any key (STEP_FAILED); meanwhile the security
 * team disabled one of the store's keys (Enabled at inventory). The operator cancels. Every key of the
 * batch was only "attempted" (uncertain), none was scheduled by this run; rollback must leave them
 * alone. Found: an uncertain key that read Disabled (priorState Enabled) got EnableKey. Now only a key
 * this run certainly scheduled or cancelled is re-enabled; the others are reported as they are.
 */

let target: string | undefined;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    wrapActivities: (activities) => ({
      ...activities,
      scheduleKeys: async () => {
        if (target) await disableOutOfBand(h, target); // someone else, between approval and scheduling
        target = undefined;
        // The batch fails before its first ScheduleKeyDeletion (as an AccessDenied on DescribeKey would).
        throw ApplicationFailure.nonRetryable('User is not authorized to perform: kms:DescribeKey', 'AccessDeniedException');
      },
    }),
  });
});
afterAll(async () => {
  await h?.close();
});

test('cancel after a failed batch that scheduled nothing: rollback leaves alone a key someone else disabled', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 0, bystanders: 0, aliases: false });
  const victim = store.enabled[2];
  target = victim;
  await h.decommissions.startDecommission(fastInput(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
  expect(blocked.blocker?.kind).toBe('STEP_FAILED');
  expect(await keyState(h, victim)).toBe('Disabled');
  expect((await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => store.keyIds.includes(e.keyId ?? ''))).toEqual([]);

  await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'abandon' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');

  const enableCalls = (await h.emulator.admin.audit({ operation: 'EnableKey' })).filter((e) => e.keyId === victim).map((e) => `${e.operation} ${e.outcome}`);
  // This run never scheduled the victim: it must stay as its owner left it, untouched.
  expect({ state: await keyState(h, victim), enableCalls, actions: report.keys.find((k) => k.keyId === victim)?.rollbackActions }).toEqual({
    state: 'Disabled',
    enableCalls: [],
    actions: undefined,
  });
}, 60_000);
