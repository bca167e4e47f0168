import { workflowIdFor } from '../../src/shared/messages';
import { startHarness, temporalAddress, type Harness } from '../support/harness';
import { runTemporalCli, type CliResult } from '../support/processes';
import { createKeyOutOfBand, keyState, mutatingCalls, successfulCalls, waitForPhase } from '../support/scenario';
import { printFigures } from '../reliability/helpers/figures';
import { seedStoreVia } from '../reliability/helpers/seed';

/**
 * Four-eyes through the path that skips every client-side check: `temporal workflow update execute`
 * straight to the workflow. The requester (in any spelling) can neither approve the plan, nor approve
 * deleting keys found later, nor decide to go on without the store connected (proceed); another person can. The client library (test/workflow) and the operator
 * CLI (test/cli) are covered elsewhere.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400 } });
});
afterAll(async () => {
  await h?.close();
});

const cli = (args: string[]) => runTemporalCli(temporalAddress(), args);
const text = (r: CliResult) => `${r.stdout}\n${r.stderr}`.replace(/\\"/g, '"');

function update(workflowId: string, name: string, input: unknown): Promise<CliResult> {
  return cli(['workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', name, '--input', JSON.stringify(input)]);
}

test('raw Temporal CLI: the requester cannot approve, nor approve deleting keys that appeared later, nor proceed past a disconnected store; someone else can', async () => {
  const store = await seedStoreVia(h.emulator.admin, { enabled: 2, disabled: 1 });
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission({
    customKeyStoreId: store.storeId,
    requestedBy: 'alice',
    pendingWindowInDays: 30,
    timing: { storePollInterval: 100, driftCheckInterval: 500, verifyInterval: 200, verifyPatience: '60s', connectionCheckInterval: 200 },
  });
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');

  const spellings = ['alice', 'Alice', ' ALICE ', 'alice\t'];
  const rejected: string[] = [];
  for (const approver of spellings) {
    const r = await update(workflowId, 'approve', { approver, comment: 'self-approval attempt' });
    expect(r.code).not.toBe(0);
    expect(text(r)).toMatch(/Four-eyes rule: approver ".*" requested this decommission; another person must approve/);
    rejected.push(approver);
  }
  expect(await mutatingCalls(h, store)).toEqual([]);
  expect((await h.decommissions.getStatus(store.storeId)).approvedBy).toBeUndefined();

  const ok = await update(workflowId, 'approve', { approver: 'bob' });
  expect(ok.code).toBe(0);
  await waitForPhase(h, store.storeId, 'WAITING');

  // A key created during the wait is a new deletion decision: four-eyes again.
  const intruder = await createKeyOutOfBand(h, store.storeId);
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
  expect(blocked.blocker).toMatchObject({ id: 'NEW_KEYS-1', kind: 'NEW_KEYS' });
  const self = await update(workflowId, 'resolve', { by: 'ALICE', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1' });
  expect(self.code).not.toBe(0);
  expect(text(self)).toMatch(
    /Four-eyes rule: "ALICE" requested this decommission; "schedule-new-keys" deletes or may orphan key material, so another person must decide/,
  );
  expect(await successfulCalls(h, 'ScheduleKeyDeletion', [intruder])).toEqual([]);
  expect(await keyState(h, intruder)).toBe('Enabled');

  const other = await update(workflowId, 'resolve', { by: 'carol', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1' });
  expect(other.code).toBe(0);
  await waitForPhase(h, store.storeId, 'WAITING');

  // The store disconnected during the wait: going on without it ("proceed") may orphan HSM key material,
  // so it is a decision the requester cannot take alone either. The run's second blocker.
  await h.emulator.admin.setStoreState(store.storeId, { connectionState: 'DISCONNECTED' });
  const disconnected = await waitForPhase(h, store.storeId, 'BLOCKED');
  expect(disconnected.blocker).toMatchObject({ id: 'STORE_NOT_CONNECTED-2', kind: 'STORE_NOT_CONNECTED', allowedActions: expect.arrayContaining(['proceed']) });
  const selfProceed = await update(workflowId, 'resolve', { by: 'Alice', action: 'proceed', blockerId: 'STORE_NOT_CONNECTED-2' });
  expect(selfProceed.code).not.toBe(0);
  expect(text(selfProceed)).toMatch(/Four-eyes rule: "Alice" requested this decommission; "proceed" deletes or may orphan key material/);
  expect((await h.decommissions.getStatus(store.storeId)).blocker?.id).toBe('STORE_NOT_CONNECTED-2');
  const reconnect = await update(workflowId, 'resolve', { by: 'carol', action: 'reconnect', blockerId: 'STORE_NOT_CONNECTED-2' });
  expect(reconnect.code).toBe(0);

  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob', 'resolved:carol', 'resolved:carol']);
  // Reconnected before any DeletionDate: no HSM key material was orphaned.
  const deletions = (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
  expect(deletions.map((d) => d.backingKey)).toEqual(Array(4).fill('MATERIAL_DELETED'));
  printFigures('security/four-eyes-raw-cli', { selfApprovalsRejected: rejected.length, selfResolvesRejected: 2, outcome: report.outcome });
}, 90_000);
