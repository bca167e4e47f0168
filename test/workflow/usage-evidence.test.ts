import { EncryptCommand } from '@aws-sdk/client-kms';
import { DecommissionClient } from '../../src/client';
import { workflowIdFor } from '../../src/shared/messages';
import { startHarness, eventually, type Harness } from '../support/harness';
import { fastInput, keyState, mutatingCalls, seedStore, waitForPhase } from '../support/scenario';

/**
 * Usage evidence end to end on the real dev server, against the emulator's KMS and CloudTrail through the
 * AWS SDK: last use at inventory gates the approval, the quiet period disables and watches, attempted use
 * blocks (KEY_IN_USE) in the quiet period and in the waiting period, a cancel restores exactly what the
 * run disabled, and the report carries KMS's DeleteKey events. The emulator enforces AWS's real quotas
 * here (quotaScale 1), so LookupEvents is paced at 2/s for real.
 */

let h: Harness;
let client: DecommissionClient;
const APP = 'arn:aws:iam::111122223333:user/payments-app';

beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 1_500, quotaScale: 1 },
    deps: { policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 } },
  });
  client = new DecommissionClient({ client: h.temporal, taskQueue: h.taskQueue, minimumQuietPeriodMs: 1_000 });
  expect(h.emulator.account).toBe('111122223333');
});
afterEach(async () => {
  await h.emulator.admin.stopAllUsage();
});
afterAll(async () => {
  await h?.close();
});

const watchTiming = { usageCheckInterval: 400, cloudTrailDeliveryLag: 1_000 };

test('a key used within the window stops the run before any change until the approval acknowledges exactly that count', async () => {
  const store = await seedStore(h, { enabled: 3 });
  const [used] = store.enabled;
  // A use just now: within the default 30-day window.
  await h.kms.send(new EncryptCommand({ KeyId: used, Plaintext: Buffer.from('still needed') }));
  await client.startDecommission(fastInput(store.storeId));
  const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  expect(awaiting.usage?.recentlyUsed).toBe(1);
  expect(awaiting.usage?.recentKeys.map((k) => [k.keyId, k.operation])).toEqual([[used, 'Encrypt']]);
  expect(awaiting.usage?.recentKeys[0]?.cloudTrailEventId).toMatch(/^[0-9a-f-]{36}$/);
  expect(awaiting.usage?.classes.NOT_USED_SINCE_TRACKING).toBe(store.keyIds.length - 1);

  await expect(client.approve(store.storeId, { approver: 'bob' })).rejects.toThrow(/acknowledgeRecentlyUsedKeys: must be 1, got nothing/);
  await expect(client.approve(store.storeId, { approver: 'bob', acknowledgeRecentlyUsedKeys: 2 })).rejects.toThrow(/must be 1, got 2/);
  // Nothing changed in KMS while the approval was refused.
  expect(await mutatingCalls(h, store)).toEqual([]);
  expect((await client.getStatus(store.storeId)).phase).toBe('AWAITING_APPROVAL');

  const ack = await client.approve(store.storeId, { approver: 'bob', acknowledgeRecentlyUsedKeys: 1 });
  expect(ack.message).toMatch(/acknowledged 1 recently used key/);
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.keys.find((k) => k.keyId === used)?.usage).toMatchObject({ class: 'USED_RECENTLY', operation: 'Encrypt' });
  expect(report.decisions.find((d) => d.what === 'approved')?.detail).toMatch(/acknowledged 1 recently used key/);
}, 90_000);

test('the quiet period disables the Enabled keys, blocks on a DisabledException, and a cancel re-enables exactly those keys', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 1 });
  const [watched] = store.enabled;
  await h.emulator.admin.startUsage({ keyId: watched as string, everyMs: 200, principal: APP, sourceAddress: '127.0.0.23' });
  // The simulator's successful calls make the key "recently used": acknowledged in the approval.
  await eventually(
    async () => (await h.emulator.admin.usage())[0]?.calls ?? 0,
    (calls) => calls > 0,
    10_000,
    'the simulated application to call',
  );
  await client.startDecommission(fastInput(store.storeId, { quietPeriod: '60s', timing: { ...fastInput('x').timing, ...watchTiming } }));
  const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  expect(awaiting.usage?.recentlyUsed).toBe(1);
  await client.approve(store.storeId, { approver: 'bob', acknowledgeRecentlyUsedKeys: 1 });

  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  expect(blocked.previousPhase).toBe('QUIET_PERIOD');
  const blocker = blocked.blocker;
  if (blocker?.kind !== 'KEY_IN_USE') throw new Error(`expected KEY_IN_USE, got ${blocker?.kind}`);
  expect(blocker.allowedActions).toEqual(['proceed']);
  const finding = blocker.findings[0];
  expect(finding).toMatchObject({ caller: APP, sourceIPAddress: '127.0.0.23', keyId: watched, errorCode: 'DisabledException' });
  expect(['Encrypt', 'Decrypt']).toContain(finding?.eventName);
  expect(blocked.usage?.quietPeriod?.disabled).toBe(store.enabled.length);
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Disabled');
  // Nothing was scheduled during the quiet period.
  expect((await mutatingCalls(h, store)).filter((c) => c.operation === 'ScheduleKeyDeletion')).toEqual([]);

  // Four-eyes: the requester cannot decide to delete keys something still uses.
  await expect(client.resolve(store.storeId, { by: 'alice', action: 'proceed', blockerId: blocker.id })).rejects.toThrow(/Four-eyes/);

  const ack = await client.cancel(store.storeId, { by: 'carol', reason: 'payments still uses it' });
  expect(ack.message).toMatch(/3 key\(s\) this run disabled for the quiet period will be re-enabled/);
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  // Disabled before the run: not this run's to enable.
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
  const enableCalls = (await mutatingCalls(h, store)).filter((c) => c.operation === 'EnableKey' && c.outcome === 'OK');
  expect(enableCalls.map((c) => c.keyId).sort()).toEqual([...store.enabled].sort());
  expect(
    report.keys
      .filter((k) => k.disabledByRun)
      .map((k) => k.keyId)
      .sort(),
  ).toEqual([...store.enabled].sort());
  expect(report.attemptedUses?.some((f) => f.caller === APP && f.errorCode === 'DisabledException')).toBe(true);
}, 120_000);

test('attempted use of a key pending deletion blocks the waiting period; another person proceeds and the report carries the DeleteKey events', async () => {
  const store = await seedStore(h, { enabled: 3 });
  const [watched] = store.enabled;
  await client.startDecommission(
    fastInput(store.storeId, { pendingWindowInDays: 7, timing: { ...fastInput('x').timing, driftCheckInterval: '1h', ...watchTiming } }),
  );
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });
  await waitForPhase(h, store.storeId, 'WAITING');
  // An application that was not noticed before: it starts failing once the key is pending deletion.
  await h.emulator.admin.startUsage({ keyId: watched as string, everyMs: 250, principal: APP, sourceAddress: '127.0.0.24' });
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  expect(blocked.previousPhase).toBe('WAITING');
  const blocker = blocked.blocker;
  if (blocker?.kind !== 'KEY_IN_USE') throw new Error(`expected KEY_IN_USE, got ${blocker?.kind}`);
  expect(blocker.findings[0]).toMatchObject({ caller: APP, sourceIPAddress: '127.0.0.24', keyId: watched, errorCode: 'KMSInvalidStateException' });

  const ack = await client.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: blocker.id, comment: 'payments migrated; errors expected' });
  expect(ack.accepted).toBe(true);
  // The acknowledged caller keeps failing on the same key: that no longer blocks.
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.filter((d) => d.what === 'resolved')).toHaveLength(1);
  expect(report.usage?.watch?.acknowledged).toBe(1);
  // The acknowledged caller's later failures are still counted (each once, after CloudTrail delivered it), not listed.
  expect(report.usage?.watch?.findings).toBeGreaterThan(blocker.findingCount);
  expect(report.notes.some((n) => n.includes('decided to proceed although CloudTrail showed attempted use'))).toBe(true);
  expect(report.usage?.deletionEvidence).toMatchObject({ found: store.keyIds.length, of: store.keyIds.length, done: true });
  for (const key of report.keys) expect(key.deletionEvidence?.eventId).toMatch(/^[0-9a-f-]{36}$/);

  // LookupEvents was paced under its real 2/s quota: no call throttled, none failed.
  const lookups = await h.emulator.admin.audit({ operation: 'LookupEvents' });
  expect(lookups.length).toBeGreaterThan(2);
  expect(lookups.filter((e) => e.outcome !== 'OK')).toEqual([]);
  const description = await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).describe();
  expect(description.status.name).toBe('COMPLETED');
}, 120_000);

test('a dry run shows every class of last use: recent, before the window, never since tracking, unknown (older than tracking)', async () => {
  const day = 86_400_000;
  const { nowMs } = await h.emulator.admin.now();
  const store = await seedStore(h, { enabled: 1, disabled: 0 });
  const seeded = await h.emulator.admin.seed({
    keys: [
      { count: 2, customKeyStoreId: store.storeId, creationDate: nowMs - 90 * day, lastUsage: { at: nowMs - 60 * day, operation: 'Decrypt' } },
      { count: 1, customKeyStoreId: store.storeId, creationDate: nowMs - 400 * day },
      { count: 1, customKeyStoreId: store.storeId, creationDate: nowMs - 2 * day, lastUsage: { at: nowMs - day, operation: 'GenerateDataKey' } },
    ],
  });
  const [usedBefore, old, recent] = seeded.keyIds as [string[], string[], string[]];
  await h.emulator.admin.setKeyUsageTrackingStart(nowMs - 200 * day);
  try {
    await client.startDecommission(fastInput(store.storeId, { dryRun: true }));
    const report = await client.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('DRY_RUN_COMPLETE');
    expect(report.usage?.classes).toEqual({ USED_RECENTLY: 1, USED_BEFORE_WINDOW: 2, NOT_USED_SINCE_TRACKING: 1, UNKNOWN: 1 });
    const byKey = new Map(report.keys.map((k) => [k.keyId, k.usage]));
    for (const key of usedBefore) expect(byKey.get(key)).toMatchObject({ class: 'USED_BEFORE_WINDOW', operation: 'Decrypt' });
    expect(byKey.get(old[0] as string)?.class).toBe('UNKNOWN');
    expect(byKey.get(recent[0] as string)).toMatchObject({ class: 'USED_RECENTLY', operation: 'GenerateDataKey' });
    expect(report.notes.some((n) => n.includes('created before KMS began tracking usage'))).toBe(true);
    expect(await mutatingCalls(h, store)).toEqual([]);
  } finally {
    await h.emulator.admin.setKeyUsageTrackingStart(null);
  }
}, 60_000);

test("a quiet period shorter than the deployment's minimum fails the run before any change, naming the field", async () => {
  const store = await seedStore(h, { enabled: 2 });
  // Straight to Temporal, past the client's own check: the workflow enforces the deployment's minimum itself.
  const handle = await h.temporal.workflow.start('decommissionCustomKeyStore', {
    taskQueue: h.taskQueue,
    workflowId: workflowIdFor(store.storeId),
    args: [fastInput(store.storeId, { quietPeriod: 500 })],
  });
  await expect(handle.result()).rejects.toThrow();
  const failure = await handle.result().catch((err: { cause?: { type?: string; message?: string } }) => err.cause);
  expect(failure?.type).toBe('InvalidDecommissionInput');
  expect(failure?.message).toMatch(/quietPeriod: must be between 1s and 90d \(this deployment's minimum\), got 500ms/);
  expect(await mutatingCalls(h, store)).toEqual([]);
}, 60_000);

test('after a quiet period nobody noticed, a cancel in the waiting period restores the keys it disabled to Enabled', async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 1 });
  await client.startDecommission(
    fastInput(store.storeId, { quietPeriod: '2s', pendingWindowInDays: 30, timing: { ...fastInput('x').timing, ...watchTiming } }),
  );
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  const ack = await client.approve(store.storeId, { approver: 'bob' });
  expect(ack.message).toMatch(/disabling 2 Enabled key\(s\) for a quiet period of 2s, then scheduling 3 keys/);
  await waitForPhase(h, store.storeId, 'WAITING', 30_000);
  for (const key of store.keyIds) expect(await keyState(h, key)).toBe('PendingDeletion');
  await client.cancel(store.storeId, { by: 'carol', reason: 'change window moved' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
  const byKey = new Map(report.keys.map((k) => [k.keyId, k]));
  for (const key of store.enabled) expect(byKey.get(key)).toMatchObject({ priorState: 'Enabled', disabledByRun: true, restoredState: 'Enabled' });
  expect(byKey.get(store.disabled[0] as string)).toMatchObject({ priorState: 'Disabled', restoredState: 'Disabled' });
  expect(byKey.get(store.disabled[0] as string)?.disabledByRun).toBeUndefined();
}, 90_000);
