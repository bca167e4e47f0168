import { randomBytes } from 'node:crypto';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { validateFaultSpec } from '../../src/emulator/faults';
import type { FaultSpec } from '../../src/emulator';
import { temporalAddress } from '../support/harness';
import { startWorkerProcess, stopAllProcesses, type ManagedProcess } from '../support/processes';
import { printFigures, seconds } from '../reliability/helpers/figures';
import { seedStoreVia } from '../reliability/helpers/seed';
import { connectClients, historyStats } from '../reliability/helpers/temporal';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy';
import { sourcesContaining } from './helpers/secret-scan';

/**
 * Wrong credentials and missing permissions must stop a decommission at once, with an error that says
 * why, before anything changes: a retry cannot fix them, and a run that half-works with a broken
 * identity is the worst outcome. Workers run as separate processes with the credentials in their
 * environment, as in production.
 */

const ACCESS_KEY = 'AKIARELIABILITYTEST1';
const SECRET = `emuSecret${randomBytes(12).toString('hex')}`;
const WRONG_SECRET = `wrongSecret${randomBytes(12).toString('hex')}`;
/** These runs need no approval step: the deployment's approval policy, in the worker's environment. */
const NO_APPROVAL_ENV = { DECOMMISSION_REQUIRE_APPROVAL: 'false', DECOMMISSION_ALLOW_SELF_APPROVAL: 'false' };

let emulator: RunningEmulator;
let proxy: FaultProxy | undefined;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ quotaScale: 0, accessKey: ACCESS_KEY, secretKey: SECRET, dayMs: 400 });
});
afterAll(async () => {
  await stopAllProcesses();
  await Promise.all(closers.map((c) => c()));
  await proxy?.close();
  await emulator?.close();
});

interface FailedRun {
  reason: string;
  elapsedMs: number;
  worker: ManagedProcess;
  history: Awaited<ReturnType<typeof historyStats>>;
  storeId: string;
}

/** Starts a worker with the given credentials (and endpoint), runs a decommission that needs no approval, and returns how it failed. */
async function runExpectingFailure(
  credentials: { accessKeyId: string; secretAccessKey: string },
  endpoint: string,
  keys: number,
  name: string,
): Promise<FailedRun> {
  const store = await seedStoreVia(emulator.admin, { enabled: keys, bystanders: 5 });
  const taskQueue = `security-${name}-${store.storeId}`;
  const clients = await connectClients(taskQueue);
  closers.push(clients.close);
  const worker = await startWorkerProcess(
    { temporalAddress: temporalAddress(), taskQueue, kmsEndpoint: endpoint, ...credentials, env: NO_APPROVAL_ENV },
    `worker-${name}`,
  );
  const started = Date.now();
  await clients.decommissions.startDecommission({ customKeyStoreId: store.storeId, requestedBy: 'alice', pendingWindowInDays: 7 });
  const report = await clients.decommissions.getReport(store.storeId, { wait: true });
  const elapsedMs = Date.now() - started;
  expect(report.outcome).toBe('FAILED');
  const history = await historyStats(clients.temporal, store.storeId);
  await worker.kill('SIGTERM');
  return { reason: report.reason ?? '', elapsedMs, worker, history, storeId: store.storeId };
}

function auditOf(storeId: string, entries: Awaited<ReturnType<RunningEmulator['admin']['audit']>>) {
  return entries.filter((e) => e.customKeyStoreId === storeId);
}

test.concurrent(
  'wrong AWS secret: the run FAILS at once with a non-retryable InvalidSignatureException, and nothing is changed',
  async () => {
    const run = await runExpectingFailure({ accessKeyId: ACCESS_KEY, secretAccessKey: WRONG_SECRET }, emulator.url, 3, 'wrong-secret');
    expect(run.reason).toMatch(
      /failed in VALIDATING: (DescribeCustomKeyStores \S+: )?InvalidSignatureException: .*The request signature we calculated does not match.*Nothing was changed in KMS/,
    );
    // Non-retryable: one attempt, reported as the activity's final failure, not retried for minutes.
    expect(run.history.maxAttempt).toBe(1);
    expect(run.history.finalFailures.map((f) => f.activityType)).toEqual(['describeStore']);
    const all = await emulator.admin.audit();
    // A request whose signature fails is refused before it is parsed, so its entry names no store: find it by outcome.
    const refused = all.filter((e) => e.outcome === 'InvalidSignatureException');
    expect(refused.map((e) => e.operation)).toEqual(['DescribeCustomKeyStores']);
    const audit = auditOf(run.storeId, all);
    expect(audit.filter((e) => e.mutating)).toEqual([]);
    // Neither the right nor the wrong secret shows up in what the worker printed.
    expect(sourcesContaining({ workerOutput: run.worker.output() }, [SECRET, WRONG_SECRET])).toEqual([]);
    printFigures('security/wrong-secret', {
      failedAfterS: seconds(run.elapsedMs),
      attempts: run.history.maxAttempt,
      kmsCallsRefused: refused.length,
      mutatingCalls: 0,
      error: 'InvalidSignatureException',
    });
  },
  90_000,
);

test.concurrent(
  'unknown access key: the run FAILS at once with a non-retryable UnrecognizedClientException, and nothing is changed',
  async () => {
    const run = await runExpectingFailure({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: SECRET }, emulator.url, 3, 'wrong-key');
    expect(run.reason).toMatch(
      /failed in VALIDATING: (DescribeCustomKeyStores \S+: )?UnrecognizedClientException: .*The security token included in the request is invalid.*Nothing was changed in KMS/,
    );
    expect(run.history.maxAttempt).toBe(1);
    const all = await emulator.admin.audit();
    const refused = all.filter((e) => e.outcome === 'UnrecognizedClientException');
    expect(refused.map((e) => e.operation)).toEqual(['DescribeCustomKeyStores']);
    const audit = auditOf(run.storeId, all);
    expect(audit.filter((e) => e.mutating)).toEqual([]);
    expect(sourcesContaining({ workerOutput: run.worker.output() }, [SECRET])).toEqual([]);
    printFigures('security/unknown-access-key', {
      failedAfterS: seconds(run.elapsedMs),
      attempts: run.history.maxAttempt,
      kmsCallsRefused: refused.length,
      mutatingCalls: 0,
      error: 'UnrecognizedClientException',
    });
  },
  90_000,
);

/** What a real AccessDenied looks like (identity-based policy missing kms:DescribeKey). */
function accessDenied(body: string) {
  const keyId = (JSON.parse(body) as { KeyId?: string }).KeyId ?? '?';
  return {
    status: 400,
    type: 'AccessDeniedException',
    message: `User: arn:aws:sts::111122223333:assumed-role/kms-decommission-worker/i-0abc is not authorized to perform: kms:DescribeKey on resource: arn:aws:kms:us-east-1:111122223333:key/${keyId} because no identity-based policy allows the kms:DescribeKey action`,
  };
}

test.concurrent(
  'one AccessDenied DescribeKey during the inventory (from a proxy in front of KMS): fail closed before any change',
  async () => {
    // The 40th DescribeKey of the account scan is denied: a key the worker may not read might be in the store.
    proxy = await startFaultProxy(emulator.url, (operation, n, body) => (operation === 'DescribeKey' && n === 40 ? accessDenied(body) : undefined));
    const run = await runExpectingFailure({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET }, proxy.url, 60, 'access-denied-proxy');
    expect(proxy.injected).toHaveLength(1);
    expect(run.reason).toMatch(
      /failed in INVENTORY: InventoryIncomplete: Inventory incomplete, nothing was changed: DescribeKey \S+ failed with AccessDeniedException: .*not authorized to perform: kms:DescribeKey/,
    );
    expect(run.reason).toMatch(/Nothing was changed in KMS/);
    expect(run.history.maxAttempt).toBe(1);
    const audit = auditOf(run.storeId, await emulator.admin.audit());
    expect(audit.filter((e) => e.mutating)).toEqual([]);
    expect(audit.some((e) => e.operation === 'ScheduleKeyDeletion')).toBe(false);
    printFigures('security/access-denied-inventory', {
      injectedBy: 'proxy',
      failedAfterS: seconds(run.elapsedMs),
      attempts: run.history.maxAttempt,
      mutatingCalls: 0,
      error: 'AccessDeniedException → InventoryIncomplete',
    });
  },
  90_000,
);

/** The same through the emulator's own fault API (`errorType: 'AccessDeniedException'`, a 400 with the real message). */
const ACCESS_DENIED_FAULT = { operation: 'DescribeKey', errorType: 'AccessDeniedException', errorRate: 1, afterCount: 39, count: 1 } as unknown as FaultSpec;
const emulatorInjectsAccessDenied = (() => {
  try {
    validateFaultSpec(ACCESS_DENIED_FAULT, 0);
    return true;
  } catch {
    return false;
  }
})();

(emulatorInjectsAccessDenied ? test.concurrent : test.skip)(
  'one AccessDenied DescribeKey during the inventory (emulator fault API): fail closed before any change',
  async () => {
    // An emulator of its own: faults are emulator-wide and the other tests run at the same time.
    const own = await startEmulator({ quotaScale: 0, accessKey: ACCESS_KEY, secretKey: SECRET, dayMs: 400 });
    closers.push(() => own.close());
    const store = await seedStoreVia(own.admin, { enabled: 60, bystanders: 5 });
    const taskQueue = `security-access-denied-${store.storeId}`;
    const clients = await connectClients(taskQueue);
    closers.push(clients.close);
    const worker = await startWorkerProcess({
      temporalAddress: temporalAddress(),
      taskQueue,
      kmsEndpoint: own.url,
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET,
      env: NO_APPROVAL_ENV,
    });
    await own.admin.setFaults([ACCESS_DENIED_FAULT]);
    await clients.decommissions.startDecommission({ customKeyStoreId: store.storeId, requestedBy: 'alice', pendingWindowInDays: 7 });
    const report = await clients.decommissions.getReport(store.storeId, { wait: true });
    await worker.kill('SIGTERM');
    expect(report.outcome).toBe('FAILED');
    expect(report.reason).toMatch(/failed in INVENTORY: InventoryIncomplete: .*AccessDeniedException.*Nothing was changed in KMS/);
    const audit = await own.admin.audit();
    expect(audit.filter((e) => e.operation === 'DescribeKey' && e.outcome === 'AccessDeniedException')).toHaveLength(1);
    expect(audit.filter((e) => e.mutating)).toEqual([]);
    printFigures('security/access-denied-inventory', { injectedBy: 'emulator', mutatingCalls: 0 });
  },
  90_000,
);
