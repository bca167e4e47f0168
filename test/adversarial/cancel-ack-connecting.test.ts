import { startHarness, type Harness } from '../support/harness';
import { fastInput, seedStore, waitForPhase } from '../support/scenario';
import { sleep } from './support';
import { eventually } from '../support/harness';

/**
 * Adversarial: cancel while the connect activity is in flight (ConnectCustomKeyStore already sent, the
 * store CONNECTING). The contract: "the acknowledgement message is always literally true (never
 * 'nothing was changed' if something was)". Found: the ack looked at a flag set only after the connect
 * activity returned. Now the run records the connect request before sending it.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { connectMs: 6_000 } });
});
afterAll(async () => {
  await h?.close();
});

test('cancel during CONNECTING after ConnectCustomKeyStore was sent: the ack and the report do not claim "nothing was changed in KMS"', async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false, connectionState: 'DISCONNECTED' });
  await h.decommissions.startDecommission(fastInput(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  await eventually(
    async () =>
      (await h.emulator.admin.audit({ operation: 'ConnectCustomKeyStore' })).filter((e) => e.customKeyStoreId === store.storeId && e.outcome === 'OK'),
    (calls) => calls.length > 0,
    20_000,
    'ConnectCustomKeyStore sent',
  );
  await sleep(300);
  const ack = await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'wrong store' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  const connects = (await h.emulator.admin.audit({ operation: 'ConnectCustomKeyStore' })).filter(
    (e) => e.customKeyStoreId === store.storeId && e.outcome === 'OK',
  );
  expect(connects.length).toBeGreaterThan(0); // something WAS changed in KMS: the store is being connected
  expect({ ack: ack.message, notes: report.notes.filter((n) => /nothing was changed in KMS/.test(n)) }).toEqual({
    ack: expect.not.stringMatching(/nothing was changed in KMS/),
    notes: [],
  });
}, 60_000);
