import { startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';
import { scheduleOutOfBand } from './support';

/**
 * Adversarial: after approval, someone else schedules one of the store's keys (their own decision, their
 * own window). The batch finds it ALREADY_PENDING. Found: the report claimed this run scheduled it. The
 * run cannot tell that case from its own lost response, so the report now says 'after-approval'; a cancel
 * still restores the approved state (the safe side: a deletion is the one change that cannot be undone).
 */

let target: string | undefined;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    wrapActivities: (activities) => ({
      ...activities,
      scheduleKeys: async (input) => {
        if (target) await scheduleOutOfBand(h, target, 30);
        target = undefined;
        return activities.scheduleKeys(input);
      },
    }),
  });
});
afterAll(async () => {
  await h?.close();
});

test("a key someone else scheduled after approval is reported as pending after approval (not as this run's), and a cancel restores the approved state", async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 0, bystanders: 0, aliases: false });
  const theirs = store.enabled[0];
  target = theirs;
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 7 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING');
  const ours = (await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => e.outcome === 'OK' && e.keyId === theirs);
  expect(ours).toHaveLength(1); // only the out-of-band call: this run never scheduled it

  await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'abandon' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  const cancels = (await h.emulator.admin.audit({ operation: 'CancelKeyDeletion' })).filter((e) => e.keyId === theirs).map((e) => e.outcome);
  // A deletion cannot be undone and an unneeded restore can be redone: the rollback restores the state the
  // approver saw, and the report says truthfully how the key came to be pending.
  expect({ state: await keyState(h, theirs), cancels, scheduledBy: report.keys.find((k) => k.keyId === theirs)?.scheduledBy }).toEqual({
    state: 'Enabled',
    cancels: ['OK'],
    scheduledBy: 'after-approval',
  });
  expect(report.keys.filter((k) => k.keyId !== theirs).map((k) => k.scheduledBy)).toEqual(['this-run', 'this-run']);
}, 60_000);
