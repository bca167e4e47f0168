import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, createKmsClient, createKmsRateLimiter } from '../../src/activities';
import { DecommissionClient, type DecommissionStatus } from '../../src/client';
import { startDevServer, type DevServer } from '../../src/devtools/temporal-dev-server';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { workflowIdFor } from '../../src/shared/messages';
import { WORKER_TUNING } from '../../src/worker-options';
import { eventually, workflowBundle } from '../support/harness';
import { fastInput, seedStoreVia } from '../support/scenario';

/**
 * Adversarial (issue 11, continue-as-new in the quiet period): a dedicated dev server suggests
 * continue-as-new after 40 history events, so the quiet period's watch loop continues as new every few
 * checks. What must survive: the keys this run disabled (the rollback re-enables exactly those), the
 * watch cursor (checks, checkedUntil never go back), the acknowledged callers (an acknowledged caller that
 * keeps failing never blocks again), and the quiet period's end.
 */

const APP = 'arn:aws:iam::111122223333:user/payments-app';

let server: DevServer;
let emulator: RunningEmulator;
let worker: Worker;
let running: Promise<void>;
let native: NativeConnection;
let connection: Connection;
let cloudTrail: CloudTrailClient;
let client: DecommissionClient;

beforeAll(async () => {
  server = await startDevServer({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 40 } });
  emulator = await startEmulator({ quotaScale: 0, dayMs: 60_000, connectMs: 100, disconnectMs: 100 });
  native = await NativeConnection.connect({ address: server.address });
  const sdk = { endpoint: emulator.url, region: emulator.region, credentials: emulator.credentials };
  cloudTrail = new CloudTrailClient({ ...sdk, maxAttempts: 1 });
  worker = await Worker.create({
    connection: native,
    taskQueue: 'usage-continue-as-new',
    workflowBundle: await workflowBundle(),
    activities: createActivities({
      kms: createKmsClient(sdk),
      cloudTrail,
      limiter: createKmsRateLimiter({ quotaScale: 0 }),
      policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 },
    }),
    ...WORKER_TUNING,
  });
  running = worker.run();
  connection = await Connection.connect({ address: server.address });
  client = new DecommissionClient({ client: new Client({ connection }), taskQueue: 'usage-continue-as-new', minimumQuietPeriodMs: 1_000 });
}, 60_000);
afterAll(async () => {
  await emulator?.admin.stopAllUsage();
  worker?.shutdown();
  await running;
  await native?.close();
  await connection?.close();
  cloudTrail?.destroy();
  await emulator?.close();
  await server?.stop();
});

async function keyState(keyId: string): Promise<string | undefined> {
  const kms = new KMSClient({ endpoint: emulator.url, region: emulator.region, credentials: emulator.credentials, maxAttempts: 1 });
  try {
    return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
  } finally {
    kms.destroy();
  }
}

test('continue-as-new during the quiet period keeps the disabled keys, the watch cursor and the acknowledged callers', async () => {
  const store = await seedStoreVia(emulator.admin, { enabled: 3, disabled: 1 });
  const [keyA] = store.enabled as [string];
  await client.startDecommission(
    fastInput(store.storeId, {
      quietPeriod: '5m',
      pendingWindowInDays: 30,
      timing: { ...fastInput('x').timing, usageCheckInterval: 300, cloudTrailDeliveryLag: 1_000 },
    }),
  );
  await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.phase === 'AWAITING_APPROVAL',
    30_000,
    'AWAITING_APPROVAL',
  );
  await client.approve(store.storeId, { approver: 'bob' });
  const quiet = await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.usage?.quietPeriod?.endsAt !== undefined,
    30_000,
    'every key disabled',
  );
  const endsAt = quiet.usage?.quietPeriod?.endsAt;
  expect(quiet.usage?.quietPeriod?.disabled).toBe(3);

  await emulator.admin.startUsage({ keyId: keyA, everyMs: 300, principal: APP });
  const blocked = await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.phase === 'BLOCKED',
    30_000,
    'KEY_IN_USE-1',
  );
  expect(blocked.blocker).toMatchObject({ id: 'KEY_IN_USE-1', kind: 'KEY_IN_USE' });
  await client.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: 'KEY_IN_USE-1' });

  // The acknowledged caller keeps failing across at least two continue-as-new: the run never blocks again.
  const seen: DecommissionStatus[] = [];
  const from = (await client.getStatus(store.storeId)).continuedAsNew;
  const last = await eventually(
    async () => {
      const s = await client.getStatus(store.storeId);
      seen.push(s);
      return s;
    },
    (s) => s.continuedAsNew >= from + 2 || s.phase === 'BLOCKED',
    60_000,
    'two continue-as-new after the proceed',
  );
  expect({ phase: last.phase, blocker: last.blocker?.id }).toEqual({ phase: 'QUIET_PERIOD', blocker: undefined });
  expect(last.usage?.watch?.acknowledged).toBe(1);
  expect(last.usage?.quietPeriod).toMatchObject({ disabled: 3, endsAt });
  // The watch cursor only moves forward across runs.
  const cursor = seen.map((s) => [s.usage?.watch?.checks ?? 0, s.usage?.watch?.checkedUntil ?? 0] as const);
  for (let i = 1; i < cursor.length; i++) {
    expect(cursor[i]?.[0]).toBeGreaterThanOrEqual(cursor[i - 1]?.[0] as number);
    expect(cursor[i]?.[1]).toBeGreaterThanOrEqual(cursor[i - 1]?.[1] as number);
  }
  expect(last.usage?.watch?.findings).toBeGreaterThan(blocked.usage?.watch?.findings ?? 0);

  // The rollback after a continue-as-new re-enables exactly the keys this run disabled.
  await emulator.admin.stopAllUsage();
  await client.cancel(store.storeId, { by: 'carol', reason: 'done watching' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const key of store.enabled) expect(await keyState(key)).toBe('Enabled');
  for (const key of store.disabled) expect(await keyState(key)).toBe('Disabled');
  const audit = (await emulator.admin.audit()).filter((e) => store.keyIds.includes(e.keyId ?? '') && e.outcome === 'OK');
  const ok = (op: string) => [...new Set(audit.filter((e) => e.operation === op).map((e) => e.keyId))].sort();
  expect(ok('EnableKey')).toEqual(ok('DisableKey'));
  expect(ok('DisableKey')).toEqual([...store.enabled].sort());
  expect(
    report.keys
      .filter((k) => k.disabledByRun)
      .map((k) => k.keyId)
      .sort(),
  ).toEqual([...store.enabled].sort());
  expect(report.usage?.watch?.acknowledged).toBe(1);
  expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob', 'resolved:bob', 'cancelled:carol']);
  const history = await client.client.workflow.getHandle(workflowIdFor(store.storeId)).fetchHistory();
  expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  expect(report.notes.filter((n) => /decided to proceed although CloudTrail showed attempted use/.test(n))).toHaveLength(1);
}, 120_000);
