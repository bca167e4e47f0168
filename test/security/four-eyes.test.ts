import { workflowIdFor } from '../../src/shared/messages';
import { startHarness, temporalAddress, type Harness } from '../support/harness';
import { runTemporalCli, type CliResult } from '../support/processes';
import { createKeyOutOfBand, keyState, mutatingCalls, successfulCalls, waitForPhase } from '../support/scenario';
import { printFigures } from '../reliability/helpers/figures';
import { seedStoreVia } from '../reliability/helpers/seed';

/**
 * Four-eyes through the path that skips every client-side check: `temporal workflow update execute`
 * straight to the workflow. The requester (in any spelling) can neither approve the plan nor approve
 * deleting keys found later; another person can. The client library (test/workflow) and the operator
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

test('raw Temporal CLI: the requester cannot approve, nor approve deleting keys that appeared later; someone else can', async () => {
  const store = await seedStoreVia(h.emulator.admin, { enabled: 2, disabled: 1 });
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission({ customKeyStoreId: store.storeId, requestedBy: 'alice', pendingWindowInDays: 15, timing: { storePollInterval: 100, driftCheckInterval: 500, verifyInterval: 200, verifyPatience: '60s' } });
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
  expect(blocked.blocker?.kind).toBe('NEW_KEYS');
  const self = await update(workflowId, 'resolve', { by: 'ALICE', action: 'schedule-new-keys' });
  expect(self.code).not.toBe(0);
  expect(text(self)).toMatch(/Four-eyes rule: "ALICE" requested this decommission; another person must approve deleting more keys/);
  expect(await successfulCalls(h, 'ScheduleKeyDeletion', [intruder])).toEqual([]);
  expect(await keyState(h, intruder)).toBe('Enabled');

  const other = await update(workflowId, 'resolve', { by: 'carol', action: 'schedule-new-keys' });
  expect(other.code).toBe(0);
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob', 'resolved:carol']);
  printFigures('security/four-eyes-raw-cli', { selfApprovalsRejected: rejected.length, selfResolveRejected: 1, outcome: report.outcome });
}, 90_000);
