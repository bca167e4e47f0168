import { UpdateRejectedError } from '../../src/client';
import { workflowIdFor } from '../../src/shared/messages';
import { runCli } from '../cli/cli-process';
import { eventually, startHarness, temporalAddress, uniqueStoreId, type Harness } from '../support/harness';
import { runTemporalCli } from '../support/processes';
import { fastInput, seedStore, waitForPhase } from '../support/scenario';
import { resolveRequest } from './support';

/**
 * Suspected risks of the 0.2.0 rewrite (beside the reviewed defects): stale or duplicate resolves,
 * a second run for one store under another workflow ID, and what an operator sees of a cancelled run.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 400 } });
});
afterAll(async () => {
  await h?.close();
});

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

test('risk: a resolve naming a wrong, old or already-answered blocker is refused and changes nothing', async () => {
  const store = await seedStore(h, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOGGED_IN', enabled: 2, disabled: 0 });
  // Two connect activities' worth of failures (3 attempts each): the first reconnect fails again.
  await h.emulator.admin.failNextConnects(store.storeId, { count: 6, connectionErrorCode: 'USER_LOCKED_OUT' });
  await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 30 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  const first = await waitForPhase(h, store.storeId, 'BLOCKED');
  expect(first.blocker?.kind).toBe('CONNECT_FAILED');
  const id1 = first.blocker?.id as string;
  const connects = async () =>
    (await h.emulator.admin.audit({ operation: 'ConnectCustomKeyStore' })).filter((e) => e.customKeyStoreId === store.storeId).length;
  const connectsBefore = await connects();

  // Wrong id: another number, another kind.
  for (const blockerId of ['CONNECT_FAILED-99', 'NEW_KEYS-1']) {
    const err = await rejection(h.decommissions.resolve(store.storeId, resolveRequest({ by: 'bob', action: 'reconnect', blockerId })));
    expect(err).toBeInstanceOf(UpdateRejectedError);
  }
  const unchanged = await h.decommissions.getStatus(store.storeId);
  expect(unchanged.phase).toBe('BLOCKED');
  expect(unchanged.blocker?.id).toBe(id1);
  expect(await connects()).toBe(connectsBefore);

  // Two people answer the same blocker at once: exactly one decision lands.
  const both = await Promise.all(
    ['bob', 'carol'].map((by) => rejection(h.decommissions.resolve(store.storeId, resolveRequest({ by, action: 'reconnect', blockerId: id1 })))),
  );
  expect(both.filter((e) => e === undefined)).toHaveLength(1);
  expect(both.filter((e) => e instanceof UpdateRejectedError)).toHaveLength(1);

  // The reconnect fails again: a new blocker. A late replay of the old decision must not answer it.
  const second = await eventually(
    () => h.decommissions.getStatus(store.storeId),
    (s) => s.phase === 'BLOCKED' && s.blocker?.id !== id1,
    30_000,
    'second CONNECT_FAILED',
  );
  const id2 = second.blocker?.id as string;
  expect(second.blocker?.kind).toBe('CONNECT_FAILED');
  const connectsAtSecond = await connects();
  const late = await rejection(h.decommissions.resolve(store.storeId, resolveRequest({ by: 'bob', action: 'reconnect', blockerId: id1 })));
  expect(late).toBeInstanceOf(UpdateRejectedError);
  const stillSecond = await h.decommissions.getStatus(store.storeId);
  expect(stillSecond.phase).toBe('BLOCKED');
  expect(stillSecond.blocker?.id).toBe(id2);
  expect(await connects()).toBe(connectsAtSecond);
  expect([id1, id2]).toEqual([expect.stringMatching(/^CONNECT_FAILED-\d+$/), expect.stringMatching(/^CONNECT_FAILED-\d+$/)]);

  // The right id works; then clean up.
  await h.decommissions.resolve(store.storeId, resolveRequest({ by: 'bob', action: 'reconnect', blockerId: id2 }));
  await waitForPhase(h, store.storeId, 'WAITING');
  await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'test cleanup' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  expect(report.decisions.filter((d) => d.what === 'resolved')).toHaveLength(2);
}, 60_000);

test('risk: a second run for a store under another workflow ID fails with OneDecommissionPerStore before any KMS call', async () => {
  const store = await seedStore(h);
  await h.decommissions.startDecommission(fastInput(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  const rogueIds = [`other-${store.storeId}`, workflowIdFor(uniqueStoreId())];
  try {
    for (const rogueId of rogueIds) {
      const audit = await h.emulator.admin.audit();
      const sinceSeq = audit.length ? audit[audit.length - 1].seq : 0;
      const started = await runTemporalCli(temporalAddress(), [
        'workflow',
        'start',
        '--workflow-id',
        rogueId,
        '--type',
        'decommissionCustomKeyStore',
        '--task-queue',
        h.taskQueue,
        '--input',
        JSON.stringify(fastInput(store.storeId)),
      ]);
      expect(started.code).toBe(0);
      const handle = h.temporal.workflow.getHandle(rogueId);
      const closed = await eventually(
        () => handle.describe(),
        (d) => d.status.name !== 'RUNNING',
        15_000,
        `${rogueId} to close`,
      );
      expect(closed.status.name).toBe('FAILED');
      await expect(handle.result()).rejects.toMatchObject({ cause: { type: 'OneDecommissionPerStore' } });
      // No KMS call about this store or its keys (other tests' runs may still be winding down on this emulator).
      const keys = new Set(store.keyIds);
      const calls = (await h.emulator.admin.audit({ sinceSeq })).filter(
        (e) => e.customKeyStoreId === store.storeId || keys.has(e.keyId ?? '') || e.operation === 'ListKeys',
      );
      expect(calls).toEqual([]);
    }
    // The real run is untouched.
    expect((await h.decommissions.getStatus(store.storeId)).phase).toBe('AWAITING_APPROVAL');
  } finally {
    for (const rogueId of rogueIds)
      await h.temporal.workflow
        .getHandle(rogueId)
        .terminate('test cleanup')
        .catch(() => undefined);
    await h.decommissions.cancel(store.storeId, { by: 'alice', reason: 'test cleanup' });
  }
  expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
}, 60_000);

test('risk: an operator sees a cancelled run as cancelled in `kms-decommission list` (cancel update and Temporal cancel)', async () => {
  const viaUpdate = await seedStore(h);
  const viaTemporal = await seedStore(h);
  for (const store of [viaUpdate, viaTemporal]) {
    await h.decommissions.startDecommission(fastInput(store.storeId));
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  }
  await h.decommissions.cancel(viaUpdate.storeId, { by: 'alice', reason: 'wrong store' });
  await h.temporal.workflow.getHandle(workflowIdFor(viaTemporal.storeId)).cancel();
  for (const store of [viaUpdate, viaTemporal]) expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');

  for (const store of [viaUpdate, viaTemporal]) {
    // Visibility is eventually consistent: wait for the closed row.
    const row = await eventually(
      async () => {
        const out = await runCli(['list', '--store', store.storeId]);
        const line = out.stdout.split('\n').find((l) => l.startsWith(workflowIdFor(store.storeId)));
        return line?.split(/\s{2,}/);
      },
      (cells) => cells !== undefined && cells[3] !== 'RUNNING',
      30_000,
      `list row of ${store.storeId}`,
    );
    // WORKFLOW ID, STORE, PHASE, STATUS, STARTED, CLOSED
    expect(row?.[2]).toBe('CANCELLED');
    expect(row?.[3]).toMatch(/^CANCEL/);
  }
}, 60_000);
