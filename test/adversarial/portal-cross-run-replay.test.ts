import { startSignedDeployment, type SignedDeployment } from '../support/signing';
import { workflowIdFor } from '../../src/shared/messages';
import type { DecommissionInput } from '../../src/shared/types';
import type { Harness } from '../support/harness';
import { createKeyOutOfBand, fastInput, keyState, seedStore, waitForPhase } from '../support/scenario';

/**
 * Adversarial (issue 13, signed decisions; the defect found, now fixed: signatures name the decommission's run).
 * A decision signature bound `kind`, `workflowId`, `sub` and the
 * request, but not the *run*. The workflow ID of a store is reused by every decommission of that store
 * (the client starts with `workflowIdReusePolicy: ALLOW_DUPLICATE`), and the `jti` ledger lives in the run's own
 * state, so a new run knows nothing of the signatures an earlier run already used. Within the signatures'
 * 5 minutes (+60 s clock tolerance), someone with only Temporal namespace access (who can read every signed
 * decision in the earlier run's history) replays them into the next run. The README's trust model says they
 * cannot "reuse a signature for another run … or twice".
 *
 * Expected (and asserted here): each replay is refused and nothing is scheduled for deletion.
 */

let h: Harness;
let signed: SignedDeployment['sign'];

beforeAll(async () => {
  ({ h, sign: signed } = await startSignedDeployment({ emulator: { dayMs: 2_000 } }));
});
afterAll(async () => {
  await h?.close();
});

async function signedStart(storeId: string, extra: Partial<DecommissionInput> = {}): Promise<DecommissionInput> {
  return signed('start', storeId, 'alice', fastInput(storeId, extra));
}

/** The outcome of sending an update, as a string (accepted or refused, and why). */
async function outcome(send: () => Promise<{ message: string }>): Promise<string> {
  return send().then(
    (ack) => `accepted: ${ack.message}`,
    (err: Error) => `refused: ${err.message}`,
  );
}

async function endRun(storeId: string): Promise<void> {
  await h.temporal.workflow
    .getHandle(workflowIdFor(storeId))
    .terminate('adversarial test cleanup')
    .catch(() => undefined);
}

test("bob's signed approval of an earlier run is refused by the next run of the same store", async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false });
  // Run 1: alice requests (30-day window), bob approves it, carol (operator) cancels it.
  await h.decommissions.startDecommission(await signedStart(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  const bobsApproval = await signed('approve', store.storeId, 'bob', { approver: 'bob', comment: 'CAB-1: 30-day window' });
  expect(await outcome(() => h.decommissions.approve(store.storeId, bobsApproval))).toMatch(/^accepted: Approved by bob/);
  await waitForPhase(h, store.storeId, 'WAITING');
  await h.decommissions.cancel(store.storeId, await signed('cancel', store.storeId, 'carol', { by: 'carol', reason: 'not this quarter' }));
  expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');

  // Run 2: a new request of alice's (properly signed: she may ask again), with a 7-day window bob never saw.
  await h.decommissions.startDecommission(await signedStart(store.storeId, { pendingWindowInDays: 7 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  try {
    // Bob's approval of run 1, copied from run 1's history and sent again (raw Temporal access, no portal).
    const replay = await outcome(() => h.decommissions.approve(store.storeId, bobsApproval));
    const status = await h.decommissions.getStatus(store.storeId);
    expect({ replay, approvedBy: status.approvedBy }).toEqual({ replay: expect.stringMatching(/^refused: /), approvedBy: undefined });
  } finally {
    await endRun(store.storeId);
  }
}, 120_000);

test('a cancelled decommission cannot be resurrected by replaying its signed start and signed approval', async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false });
  const alicesStart = await signedStart(store.storeId, { pendingWindowInDays: 7 });
  await h.decommissions.startDecommission(alicesStart);
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  const bobsApproval = await signed('approve', store.storeId, 'bob', { approver: 'bob' });
  await h.decommissions.approve(store.storeId, bobsApproval);
  await waitForPhase(h, store.storeId, 'WAITING');
  // The operator stops it: every key is restored.
  await h.decommissions.cancel(store.storeId, await signed('cancel', store.storeId, 'carol', { by: 'carol', reason: 'wrong store' }));
  expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
  expect(await Promise.all(store.keyIds.map((id) => keyState(h, id)))).toEqual(['Enabled', 'Enabled']);

  // Mallory: Temporal namespace access, no portal role. She replays alice's start and bob's approval, both read from run 1's history.
  await h.decommissions.startDecommission(alicesStart);
  try {
    const run2 = await waitForPhase(h, store.storeId, ['FAILED', 'AWAITING_APPROVAL']);
    const replay = run2.phase === 'AWAITING_APPROVAL' ? await outcome(() => h.decommissions.approve(store.storeId, bobsApproval)) : 'not sent';
    const after = await waitForPhase(h, store.storeId, ['FAILED', 'AWAITING_APPROVAL', 'WAITING', 'COMPLETED']);
    expect({
      run2: run2.phase,
      replay,
      after: after.phase,
      keys: await Promise.all(store.keyIds.map((id) => keyState(h, id))),
    }).toEqual({ run2: 'FAILED', replay: 'not sent', after: 'FAILED', keys: ['Enabled', 'Enabled'] });
  } finally {
    await endRun(store.storeId);
  }
}, 120_000);

test("bob's signed resolve (schedule-new-keys, NEW_KEYS-n) of an earlier run is refused for the next run's blocker of the same id", async () => {
  const store = await seedStore(h, { enabled: 1, disabled: 0, bystanders: 0, aliases: false });
  // Run 1: approved; a key appears during the waiting period; bob decides to schedule it too; then carol cancels.
  await h.decommissions.startDecommission(await signedStart(store.storeId, { pendingWindowInDays: 7 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, await signed('approve', store.storeId, 'bob', { approver: 'bob' }));
  await waitForPhase(h, store.storeId, 'WAITING');
  await createKeyOutOfBand(h, store.storeId);
  const blocked1 = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  const blockerId = blocked1.blocker?.id as string;
  const bobsResolve = await signed('resolve', store.storeId, 'bob', { by: 'bob', action: 'schedule-new-keys' as const, blockerId, comment: 'test key, fine' });
  await h.decommissions.resolve(store.storeId, bobsResolve);
  await waitForPhase(h, store.storeId, ['WAITING', 'SCHEDULING']);
  await h.decommissions.cancel(store.storeId, await signed('cancel', store.storeId, 'carol', { by: 'carol', reason: 'postponed' }));
  expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');

  // Run 2, legitimately requested and approved (erin approves this time).
  await h.decommissions.startDecommission(await signedStart(store.storeId, { pendingWindowInDays: 7 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, await signed('approve', store.storeId, 'erin', { approver: 'erin' }));
  await waitForPhase(h, store.storeId, 'WAITING');
  // Someone creates a production key in the store: nobody has decided about this one.
  const production = await createKeyOutOfBand(h, store.storeId);
  try {
    const blocked2 = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
    expect(blocked2.blocker?.id).toBe(blockerId); // blocker ids restart with every run: NEW_KEYS-1 again
    const replay = await outcome(() => h.decommissions.resolve(store.storeId, bobsResolve));
    await new Promise((r) => setTimeout(r, 3_000));
    expect({ replay, production: await keyState(h, production) }).toEqual({ replay: expect.stringMatching(/^refused: /), production: 'Enabled' });
  } finally {
    await endRun(store.storeId);
  }
}, 150_000);
