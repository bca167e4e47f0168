import { EncryptCommand } from '@aws-sdk/client-kms';
import { startHarness, type Harness } from '../support/harness';
import { fastInput, mutatingCalls, seedStore, waitForPhase } from '../support/scenario';

/**
 * A deployment whose policy needs no approval still stops before any change when keys were used within
 * the window: only an approval that acknowledges them lets the run go on. Without recent use it goes
 * straight on, as the policy says.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400 }, deps: { policy: { requireApproval: false, allowSelfApproval: false } } });
});
afterAll(async () => {
  await h?.close();
});

test('no approval required: a run with a recently used key still waits for an acknowledging approval', async () => {
  const store = await seedStore(h, { enabled: 2 });
  await h.kms.send(new EncryptCommand({ KeyId: store.enabled[1], Plaintext: Buffer.from('x') }));
  await h.decommissions.startDecommission(fastInput(store.storeId));
  const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  expect(awaiting.usage?.recentlyUsed).toBe(1);
  expect(awaiting.nextAction).toMatch(/acknowledgeRecentlyUsedKeys: 1/);
  expect(await mutatingCalls(h, store)).toEqual([]);
  await expect(h.decommissions.approve(store.storeId, { approver: 'alice', acknowledgeRecentlyUsedKeys: 1 })).rejects.toThrow(/Four-eyes/);
  await h.decommissions.approve(store.storeId, { approver: 'bob', acknowledgeRecentlyUsedKeys: 1 });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.notes.some((n) => n.includes('does not require approval, but 1 key(s) were used recently'))).toBe(true);
}, 60_000);

test('no approval required and no recent use: the run goes straight on', async () => {
  const store = await seedStore(h, { enabled: 2 });
  await h.decommissions.startDecommission(fastInput(store.storeId));
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.map((d) => d.what)).toEqual(['requested']);
  expect(report.usage?.recentlyUsed).toBe(0);
}, 60_000);
