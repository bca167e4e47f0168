import { InvalidInputError, UpdateRejectedError } from '../../src/client';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, temporalAddress, type Harness } from '../support/harness';
import { runTemporalCli } from '../support/processes';
import { fastInput, mutatingCalls, seedStore, waitForPhase } from '../support/scenario';
import { resolveRequest } from './support';

/**
 * Defect 7 (review of 8249dad): four-eyes could be switched off by the requester (`requireApproval:
 * false` / `allowSelfApproval: true` in the request), and `proceed` (which may orphan HSM key
 * material) was not a four-eyes decision. The approval policy is the worker's; every `proceed` needs
 * someone other than the requester.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400 } });
});
afterAll(async () => {
  await h?.close();
});

describe('defect 7a: the request cannot carry the approval policy', () => {
  test.each([
    ['requireApproval', false],
    ['allowSelfApproval', true],
  ])('client: %s=%s is rejected (InvalidInputError naming the field) before anything starts', async (field, value) => {
    const store = await seedStore(h);
    const err = await h.decommissions.startDecommission({ ...fastInput(store.storeId), [field]: value } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    const problem = (err as InvalidInputError).problems.find((p) => p.field === field);
    expect(problem?.rule).toMatch(/polic/i);
    expect(await mutatingCalls(h, store)).toEqual([]);
    await expect(h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).describe()).rejects.toThrow();
  });

  test.each([
    ['requireApproval', false],
    ['allowSelfApproval', true],
  ])('raw `temporal workflow start` with %s=%s: the run fails naming the field, no mutating KMS call', async (field, value) => {
    const store = await seedStore(h);
    const workflowId = workflowIdFor(store.storeId);
    const input = { ...fastInput(store.storeId), [field]: value };
    const started = await runTemporalCli(temporalAddress(), [
      'workflow',
      'start',
      '--workflow-id',
      workflowId,
      '--type',
      'decommissionCustomKeyStore',
      '--task-queue',
      h.taskQueue,
      '--input',
      JSON.stringify(input),
    ]);
    expect(started.code).toBe(0);
    const handle = h.temporal.workflow.getHandle(workflowId);
    // A run that ignored the field would sit in AWAITING_APPROVAL (or, with requireApproval=false, delete the keys).
    const description = await eventually(
      () => handle.describe(),
      (d) => d.status.name !== 'RUNNING',
      15_000,
      `${workflowId} to close`,
    );
    expect(description.status.name).toBe('FAILED');
    await expect(handle.result()).rejects.toMatchObject({ cause: { type: 'InvalidDecommissionInput', message: expect.stringContaining(field) } });
    expect(await mutatingCalls(h, store)).toEqual([]);
  });
});

test('defect 7b: after bob approved, the requester cannot resolve CONNECT_FAILED with proceed (four-eyes); carol can', async () => {
  const store = await seedStore(h, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOGGED_IN', enabled: 2, disabled: 0 });
  await h.emulator.admin.failNextConnects(store.storeId, { count: 3, connectionErrorCode: 'USER_LOCKED_OUT' });
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
  expect(blocked.blocker).toMatchObject({ kind: 'CONNECT_FAILED' });
  const blockerId = blocked.blocker?.id as string;

  for (const by of ['alice', ' ALICE ']) {
    const err = await h.decommissions.resolve(store.storeId, resolveRequest({ by, action: 'proceed', blockerId })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpdateRejectedError);
    expect((err as Error).message).toMatch(/Four-eyes/);
  }
  const still = await h.decommissions.getStatus(store.storeId);
  expect(still.phase).toBe('BLOCKED');
  expect(still.blocker?.id).toBe(blockerId);
  expect((await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => store.keyIds.includes(e.keyId ?? ''))).toEqual([]);

  await h.decommissions.resolve(store.storeId, resolveRequest({ by: 'carol', action: 'proceed', blockerId }));
  // Proceeding means scheduling with the store not connected.
  await eventually(
    async () =>
      (await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter((e) => e.outcome === 'OK' && store.keyIds.includes(e.keyId ?? '')).length,
    (n) => n === store.keyIds.length,
    20_000,
    'keys scheduled after carol proceeded',
  );
  await h.decommissions.cancel(store.storeId, { by: 'carol', reason: 'test cleanup' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.decisions.filter((d) => d.what === 'resolved').map((d) => d.by)).toEqual(['carol']);
}, 60_000);

describe('defect 7c: the worker policy decides', () => {
  let selfOk: Harness;
  beforeAll(async () => {
    selfOk = await startHarness({ emulator: { dayMs: 400 }, deps: { policy: { requireApproval: true, allowSelfApproval: true } } as never });
  });
  afterAll(async () => {
    await selfOk?.close();
  });

  test('with the worker policy allowSelfApproval the requester may approve', async () => {
    const store = await seedStore(selfOk, { enabled: 2, disabled: 0 });
    await selfOk.decommissions.startDecommission(fastInput(store.storeId));
    await waitForPhase(selfOk, store.storeId, 'AWAITING_APPROVAL');
    await selfOk.decommissions.approve(store.storeId, { approver: 'alice' });
    expect((await selfOk.decommissions.getStatus(store.storeId)).policy).toEqual({
      requireApproval: true,
      allowSelfApproval: true,
      requireSignedDecisions: false,
      notifications: false,
    });
    const report = await selfOk.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
    expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:alice']);
  }, 60_000);

  test('default policy: the requester still cannot approve (control for the test above)', async () => {
    const store = await seedStore(h, { enabled: 1, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId));
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
    await expect(h.decommissions.approve(store.storeId, { approver: 'alice' })).rejects.toThrow(/Four-eyes/);
    expect((await h.decommissions.getStatus(store.storeId)).policy).toEqual({
      requireApproval: true,
      allowSelfApproval: false,
      requireSignedDecisions: false,
      notifications: false,
    });
    await h.decommissions.cancel(store.storeId, { by: 'alice', reason: 'test cleanup' });
    expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
  }, 30_000);
});
