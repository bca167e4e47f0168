import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { KMSClient } from '@aws-sdk/client-kms';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createActivities, createKmsClient, createKmsRateLimiter, type ActivityDeps, type DecommissionActivities } from '../../src/activities';
import { DecommissionClient } from '../../src/client';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator';
import { WORKER_TUNING } from '../../src/worker-options';

let runtimeInstalled = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundled once per test file: webpack is the slowest part of starting a worker. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '..', '..', 'src', 'workflows', 'index.ts'), logger: new DefaultLogger('WARN') });
  return bundle;
}

export function temporalAddress(): string {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest (its globalSetup starts the dev server)');
  return address;
}

export interface Harness {
  emulator: RunningEmulator;
  /** SDK client for test setup and out-of-band changes ("someone else" in drift tests). */
  kms: KMSClient;
  temporal: Client;
  decommissions: DecommissionClient;
  taskQueue: string;
  worker: Worker;
  /** Stops the worker, then the emulator and connections. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  emulator?: EmulatorOptions;
  deps?: Partial<ActivityDeps>;
  /** Wrap activities to interleave "someone else's" actions at exact points of a run. */
  wrapActivities?: (activities: DecommissionActivities) => DecommissionActivities;
}

/** A real dev server (shared), a fresh in-process emulator and a worker on a task queue of its own. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const emulator = await startEmulator({ quotaScale: 0, connectMs: 200, disconnectMs: 200, ...options.emulator });
  const sdkConfig = { endpoint: emulator.url, region: emulator.region, credentials: emulator.credentials };
  const kms = new KMSClient({ ...sdkConfig, maxAttempts: 1 });
  // Histories of 20,000-key runs are fetched in pages bigger than gRPC's default 4 MB receive limit.
  const connection = await Connection.connect({ address: temporalAddress(), channelArgs: { 'grpc.max_receive_message_length': 64 << 20 } });
  const temporal = new Client({ connection, namespace: 'default' });
  const taskQueue = `test-${randomUUID()}`;
  const decommissions = new DecommissionClient({ client: temporal, taskQueue });
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress() });
  // The emulator serves CloudTrail's LookupEvents on the same URL.
  const cloudTrail = new CloudTrailClient({ ...sdkConfig, maxAttempts: 1 });
  const activities = createActivities({
    kms: createKmsClient(sdkConfig),
    cloudTrail,
    limiter: createKmsRateLimiter({ quotaScale: options.emulator?.quotaScale ?? 0 }),
    ...options.deps,
  });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: options.wrapActivities ? options.wrapActivities(activities) : activities,
    ...WORKER_TUNING,
  });
  const running = worker.run();
  return {
    emulator,
    kms,
    temporal,
    decommissions,
    taskQueue,
    worker,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      kms.destroy();
      cloudTrail.destroy();
      await emulator.close();
    },
  };
}

/** A fresh store ID per test: workflow IDs derive from it, and the dev server is shared by every test. */
export function uniqueStoreId(): string {
  return `cks-${randomUUID().replace(/-/g, '').slice(0, 17)}`;
}

/** Polls `probe` until it returns a value that `done` accepts. */
export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (done(last)) return last;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${String(lastError)}` : ''}`);
}
