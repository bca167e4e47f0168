import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { DecommissionClient } from '../../src/client';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, seedStore, waitForPhase } from '../support/scenario';

/**
 * Adversarial (issue 11, CloudTrail delivery lag): events become visible to LookupEvents only after the
 * emulator's delivery delay. Shorter than the run's `cloudTrailDeliveryLag`: a single attempted use made
 * between two checks is still found (the next window reaches back by the lag), and KMS's DeleteKey events
 * are found within the bounded wait. Longer than the wait: the run completes and says plainly for how many
 * keys evidence was found.
 */

const ACCOUNT = '111122223333';
const MONTHLY = `arn:aws:iam::${ACCOUNT}:user/monthly-batch`;

let h: Harness;
let client: DecommissionClient;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 1_500 },
    deps: { policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 } },
  });
  client = new DecommissionClient({ client: h.temporal, taskQueue: h.taskQueue, minimumQuietPeriodMs: 1_000 });
});
afterEach(async () => {
  await h.emulator.admin.setCloudTrailDelivery({ delayMs: 0, jitterMs: 0 });
});
afterAll(async () => {
  await h?.close();
});

test('an attempted use delivered 2.5 s late (lag 4 s, checks every 1 s) is still found: KEY_IN_USE', async () => {
  await h.emulator.admin.setCloudTrailDelivery({ delayMs: 2_500 });
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false });
  await client.startDecommission(
    fastInput(store.storeId, {
      quietPeriod: '5m',
      pendingWindowInDays: 30,
      timing: { ...fastInput('x').timing, usageCheckInterval: 1_000, cloudTrailDeliveryLag: 4_000 },
    }),
  );
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });
  const quiet = await eventually(
    () => client.getStatus(store.storeId),
    (s) => (s.usage?.watch?.checks ?? 0) >= 2,
    30_000,
    'two checks in the quiet period',
  );
  expect(quiet.phase).toBe('QUIET_PERIOD');

  const identity = await h.emulator.admin.addIdentity({ arn: MONTHLY });
  const kms = new KMSClient({
    endpoint: h.emulator.url,
    region: h.emulator.region,
    credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
    maxAttempts: 1,
  });
  await expect(kms.send(new EncryptCommand({ KeyId: store.enabled[0], Plaintext: Buffer.from('once') }))).rejects.toMatchObject({ name: 'DisabledException' });
  kms.destroy();
  // Not visible at once: CloudTrail delivers it 2.5 s later.
  expect((await h.emulator.admin.cloudTrail()).undelivered).toBeGreaterThan(0);

  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  if (blocked.blocker?.kind !== 'KEY_IN_USE') throw new Error(`expected KEY_IN_USE, got ${JSON.stringify(blocked.blocker)}`);
  expect(blocked.blocker.findings.map((f) => [f.caller, f.keyId, f.errorCode])).toEqual([[MONTHLY, store.enabled[0], 'DisabledException']]);
  await client.cancel(store.storeId, { by: 'carol', reason: 'monthly job' });
  expect((await client.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
}, 90_000);

test('DeleteKey events delivered 3 s late are found within the bounded wait (lag 6 s): found for all keys', async () => {
  await h.emulator.admin.setCloudTrailDelivery({ delayMs: 3_000 });
  const store = await seedStore(h, { enabled: 3, disabled: 1, bystanders: 0, aliases: false });
  await client.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 7, timing: { ...fastInput('x').timing, cloudTrailDeliveryLag: 6_000 } }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.usage?.deletionEvidence).toMatchObject({ found: store.keyIds.length, of: store.keyIds.length, done: true });
  for (const key of report.keys) expect(key.deletionEvidence?.eventId).toMatch(/^[0-9a-f-]{36}$/);
  expect(report.notes.some((n) => /DeleteKey CloudTrail event was found for all 4 deleted key/.test(n))).toBe(true);
}, 90_000);

test('DeleteKey events delayed beyond the wait (30 s, lag 2 s): the run completes and says "found for 0 of 4", not a failure', async () => {
  await h.emulator.admin.setCloudTrailDelivery({ delayMs: 30_000 });
  const store = await seedStore(h, { enabled: 3, disabled: 1, bystanders: 0, aliases: false });
  await client.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 7, timing: { ...fastInput('x').timing, cloudTrailDeliveryLag: 2_000 } }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.usage?.deletionEvidence).toMatchObject({ found: 0, of: 4, done: true });
  expect(report.notes.find((n) => n.startsWith('Deletion evidence'))).toMatch(/found for 0 of 4 deleted key\(s\).*confirmed deleted by DescribeKey/);
  // The DeleteKey events do exist (undelivered): the report did not invent their absence.
  const pending = (await h.emulator.admin.cloudTrailEvents()).filter((e) => !e.delivered && (e.record as { eventName?: string }).eventName === 'DeleteKey');
  expect(pending.length).toBeGreaterThanOrEqual(4);
}, 90_000);
