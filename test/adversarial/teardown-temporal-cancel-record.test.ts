import { workflowIdFor } from '../../src/shared/messages';
import { startHarness, type Harness } from '../support/harness';
import { createKeyOutOfBand, fastInput, seedStore, waitForPhase } from '../support/scenario';

/**
 * Adversarial: Temporal's cancel arrives during DISCONNECTING (refused there: every key is deleted), and
 * a key created just before the disconnect makes DeleteCustomKeyStore answer HasCMKs, so the run goes
 * back to VERIFYING, a phase that would accept a cancel. Found: the record said the teardown finished,
 * then the same cancel was honoured in VERIFYING. Now an ignored Temporal cancel is used up: the run goes
 * on to the new key's blocker, and the record says only what happened.
 */

let armed = true;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 400 },
    wrapActivities: (activities) => ({
      ...activities,
      disconnectStore: async (input) => {
        if (armed) {
          armed = false;
          await createKeyOutOfBand(h, input.customKeyStoreId); // someone creates a key right after the final inventory
          await h.temporal.workflow.getHandle(workflowIdFor(input.customKeyStoreId)).cancel();
          await new Promise((r) => setTimeout(r, 500));
        }
        return activities.disconnectStore(input);
      },
    }),
  });
});
afterAll(async () => {
  await h?.close();
});

test('Temporal cancel in DISCONNECTING is recorded and used up: after a HasCMKs round trip the run blocks on the new key instead of ending CANCELLED', async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false });
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 7 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 60_000);
  expect(blocked.blocker?.kind).toBe('NEW_KEYS');
  await h.decommissions.resolve(store.storeId, { by: 'carol', action: 'schedule-new-keys', blockerId: blocked.blocker?.id as string });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  const ignored = report.decisions.filter((d) => d.what === 'cancel-ignored').map((d) => d.detail ?? '');
  expect(ignored).toEqual([expect.stringMatching(/^Temporal cancel requested in DISCONNECTING: every key was already deleted.*recorded and not acted on/)]);
  expect((await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).describe()).status.name).toBe('COMPLETED');
}, 90_000);
