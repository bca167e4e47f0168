import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { DecommissionClient, type DecommissionStatus } from '../../src/client';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase, type SeededStore } from '../support/scenario';

/**
 * Adversarial (issue 11, KEY_IN_USE): what `proceed` acknowledges. A stale or duplicate resolve never
 * answers the next blocker; the requester cannot proceed (four-eyes); after another person proceeds, the
 * SAME caller failing on the SAME key never blocks again, but a DIFFERENT caller on that key, or the same
 * caller on a DIFFERENT key of the store, blocks again (KEY_IN_USE-2, -3). And the case the scream test
 * exists for: one rare attempt (a monthly batch job) while an acknowledged application keeps failing loudly.
 */

const ACCOUNT = '111122223333';
const APP = `arn:aws:iam::${ACCOUNT}:user/payments-app`;
const MONTHLY = `arn:aws:iam::${ACCOUNT}:user/monthly-batch`;

let h: Harness;
let client: DecommissionClient;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    deps: { policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 } },
  });
  client = new DecommissionClient({ client: h.temporal, taskQueue: h.taskQueue, minimumQuietPeriodMs: 1_000 });
});
afterEach(async () => {
  await h.emulator.admin.stopAllUsage();
});
afterAll(async () => {
  await h?.close();
});

/** One failed Encrypt on `keyId`, signed as `arn` (a caller seen once: a monthly job). */
async function attemptAs(arn: string, keyId: string): Promise<string | undefined> {
  const identity = (await h.emulator.admin.identities()).find((i) => i.arn === arn) ?? (await h.emulator.admin.addIdentity({ arn }));
  const kms = new KMSClient({
    endpoint: h.emulator.url,
    region: h.emulator.region,
    credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('month end') }));
    return undefined;
  } catch (err) {
    return (err as Error).name;
  } finally {
    kms.destroy();
  }
}

async function quietPeriodRunning(store: SeededStore, usageCheckInterval: number): Promise<void> {
  await client.startDecommission(
    fastInput(store.storeId, {
      quietPeriod: '10m',
      pendingWindowInDays: 30,
      timing: { ...fastInput('x').timing, usageCheckInterval, cloudTrailDeliveryLag: 1_000 },
    }),
  );
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });
  await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.usage?.quietPeriod?.endsAt !== undefined,
    30_000,
    'every key disabled',
  );
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Disabled');
}

const checks = (s: DecommissionStatus) => s.usage?.watch?.checks ?? 0;

async function keyInUse(store: SeededStore, id: string, timeoutMs = 40_000) {
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', timeoutMs);
  const blocker = blocked.blocker;
  if (blocker?.kind !== 'KEY_IN_USE') throw new Error(`expected ${id}, got ${JSON.stringify(blocker)}`);
  expect(blocker.id).toBe(id);
  return blocker;
}

test('proceed acknowledges that caller on that key only: the same caller keeps failing without blocking; another caller, or another key, blocks again', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 0, bystanders: 0, aliases: false });
  const [keyA, keyB] = store.enabled as [string, string];
  await quietPeriodRunning(store, 1_000);
  await h.emulator.admin.startUsage({ keyId: keyA, everyMs: 300, principal: APP });

  const first = await keyInUse(store, 'KEY_IN_USE-1');
  expect(new Set(first.findings.map((f) => `${f.caller} ${f.keyId}`))).toEqual(new Set([`${APP} ${keyA}`]));
  // A stale id, the requester (four-eyes), an action KEY_IN_USE does not allow: all refused, the blocker stays.
  await expect(client.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: 'KEY_IN_USE-0' })).rejects.toThrow(/blocked on KEY_IN_USE-1/);
  await expect(client.resolve(store.storeId, { by: 'alice', action: 'proceed', blockerId: 'KEY_IN_USE-1' })).rejects.toThrow(/Four-eyes/);
  await expect(client.resolve(store.storeId, { by: 'bob', action: 'retry', blockerId: 'KEY_IN_USE-1' })).rejects.toThrow(/does not resolve KEY_IN_USE/);
  expect((await client.getStatus(store.storeId)).blocker?.id).toBe('KEY_IN_USE-1');
  await client.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: 'KEY_IN_USE-1', comment: 'payments is being migrated' });
  // A late duplicate of the same decision never answers anything else.
  await expect(client.resolve(store.storeId, { by: 'dave', action: 'proceed', blockerId: 'KEY_IN_USE-1' })).rejects.toThrow(/no longer open|blocked on/);

  // The acknowledged caller keeps failing on the same key: several checks later the run is still just waiting.
  const after = checks(await client.getStatus(store.storeId));
  const quiet = await eventually(
    () => client.getStatus(store.storeId),
    (s) => checks(s) >= after + 3 || s.phase === 'BLOCKED',
    30_000,
    'three more checks',
  );
  expect({ phase: quiet.phase, blocker: quiet.blocker?.id }).toEqual({ phase: 'QUIET_PERIOD', blocker: undefined });
  expect(quiet.usage?.watch?.acknowledged).toBe(1);
  expect((await h.emulator.admin.usage())[0]?.outcomes.DisabledException ?? 0).toBeGreaterThan(5);

  // A different caller on the same key.
  expect(await attemptAs(MONTHLY, keyA)).toBe('DisabledException');
  const second = await keyInUse(store, 'KEY_IN_USE-2');
  expect(second.findings.map((f) => `${f.caller} ${f.keyId}`)).toEqual([`${MONTHLY} ${keyA}`]);
  await client.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: 'KEY_IN_USE-2' });

  // The acknowledged caller on a different key of the store.
  expect(await attemptAs(APP, keyB)).toBe('DisabledException');
  const third = await keyInUse(store, 'KEY_IN_USE-3');
  expect(new Set(third.findings.map((f) => `${f.caller} ${f.keyId}`))).toEqual(new Set([`${APP} ${keyB}`]));

  await client.cancel(store.storeId, { by: 'carol', reason: 'still used' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  expect(report.decisions.filter((d) => d.what === 'resolved').map((d) => `${d.by} ${d.detail}`)).toEqual([
    'bob proceed (KEY_IN_USE-1): payments is being migrated',
    'bob proceed (KEY_IN_USE-2)',
  ]);
}, 120_000);

// Regression (found by review, fixed in 0.3.0): findAttemptedUse returns only the newest 50 findings (DEFAULT_MAX_FINDINGS) and the workflow drops the
// acknowledged ones from those 50 only; a new caller's single attempt older than the 50 newest failures of an
// acknowledged, noisy application is never looked at, and the next window (from checkedUntil − lag) no longer
// covers it. Exactly the infrequent workload the quiet period exists to find.
test('a rare caller that fails once, behind an acknowledged application that keeps failing loudly, still blocks (KEY_IN_USE-2)', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 0, bystanders: 0, aliases: false });
  const [keyA] = store.enabled as [string];
  await quietPeriodRunning(store, 4_000);
  // A busy application: two simulators, each failing twice per 50 ms round.
  for (let i = 0; i < 2; i++) await h.emulator.admin.startUsage({ keyId: keyA, everyMs: 50, principal: APP, operations: ['Encrypt', 'GenerateDataKey'] });
  const first = await keyInUse(store, 'KEY_IN_USE-1');
  expect(first.findingCount).toBeGreaterThan(first.findings.length);
  await client.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: 'KEY_IN_USE-1', comment: 'payments errors expected' });

  // Right after a check completes, the monthly job fails once on the same key.
  const before = checks(await client.getStatus(store.storeId));
  await eventually(
    () => client.getStatus(store.storeId),
    (s) => checks(s) > before,
    // The checks run inside watchPeriod activities; status takes in their progress once per slice of 6 checks.
    60_000,
    'a check after the proceed',
  );
  expect(await attemptAs(MONTHLY, keyA)).toBe('DisabledException');
  const attemptedAt = Date.now();
  type Record = { userIdentity?: { arn?: string }; additionalEventData?: { customKeyStoreId?: string } };
  const trail = (await h.emulator.admin.cloudTrailEvents()).filter(
    (e) => (e.record as Record).userIdentity?.arn === MONTHLY && (e.record as Record).additionalEventData?.customKeyStoreId === store.storeId,
  );
  expect(trail).toHaveLength(1);

  // Three more checks: each window overlaps the last by the delivery lag, so the attempt was in at least one.
  const atAttempt = checks(await client.getStatus(store.storeId));
  const status = await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.phase === 'BLOCKED' || checks(s) >= atAttempt + 3,
    90_000,
    'KEY_IN_USE-2 or three more checks',
  );
  const simulated = (await h.emulator.admin.usage()).reduce((n, u) => n + (u.outcomes.DisabledException ?? 0), 0);
  expect({
    phase: status.phase,
    blocker: status.blocker?.id,
    callers: status.blocker?.kind === 'KEY_IN_USE' ? status.blocker.findings.map((f) => f.caller) : undefined,
    // Context for the failure message: how loud the acknowledged application was, and when the rare attempt was made.
    context: { simulatedFailures: simulated, secondsSinceAttempt: Math.round((Date.now() - attemptedAt) / 1000) },
  }).toEqual({ phase: 'BLOCKED', blocker: 'KEY_IN_USE-2', callers: [MONTHLY], context: expect.anything() });

  await client.cancel(store.storeId, { by: 'carol', reason: 'monthly job still needs the key' });
  expect((await client.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
}, 240_000);
