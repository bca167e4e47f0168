/**
 * The worker as an orchestrator and Prometheus see it: a real worker process (`src/worker.ts`) against the
 * jest dev server and the harness's emulator. `/metrics` is scraped during and after a decommission (our
 * counters, the runs-by-phase gauge and the SDK runtime's own metrics, in one text-format answer);
 * `/readyz` answers 200 only while the worker polls and 503 from SIGTERM on, while the in-flight batch
 * drains; the drained batch is not re-run by the next worker (every key scheduled exactly once).
 */
import { createServer } from 'node:net';
import { DecommissionClient } from '../../src/client';
import { OPEN_PHASES } from '../../src/metrics';
import { startHarness, eventually, temporalAddress, type Harness } from '../support/harness';
import { startWorkerProcess, stopAllProcesses, waitForOutput, type ManagedProcess } from '../support/processes';
import { fastInput, seedStore, successfulCalls } from '../support/scenario';
import { randomUUID } from 'node:crypto';

let h: Harness;

beforeAll(async () => {
  // One emulated day = 300 ms: a 7-day window lasts about 2 s.
  h = await startHarness({ emulator: { dayMs: 300, connectMs: 0, disconnectMs: 0 } });
});

afterAll(async () => {
  await stopAllProcesses();
  await h?.close();
});

/** A TCP port free right now (for the SDK exporter, whose bound port the worker cannot report). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface OpsWorker {
  proc: ManagedProcess;
  url: string;
  taskQueue: string;
  client: DecommissionClient;
}

async function startOpsWorker(env: Record<string, string> = {}): Promise<OpsWorker> {
  const taskQueue = `ops-${randomUUID()}`;
  const proc = await startWorkerProcess({
    temporalAddress: temporalAddress(),
    taskQueue,
    kmsEndpoint: h.emulator.url,
    region: h.emulator.region,
    accessKeyId: h.emulator.credentials.accessKeyId,
    secretAccessKey: h.emulator.credentials.secretAccessKey,
    env: {
      AWS_ENDPOINT_URL_CLOUDTRAIL: h.emulator.url,
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      SDK_METRICS_BIND_ADDRESS: `127.0.0.1:${await freePort()}`,
      ...env,
    },
  });
  const [, url] = await waitForOutput(proc, /\/livez on (http:\/\/\S+)/);
  return { proc, url, taskQueue, client: new DecommissionClient({ client: h.temporal, taskQueue }) };
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** The value of one series in a text-format answer (`undefined` when absent). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = m[2] ? m[2].split(',') : [];
    if (want.every((w) => got.includes(w)) && got.length === want.length) return Number(m[3]);
  }
  return undefined;
}

describe('worker operations endpoint', () => {
  test('/metrics during and after a decommission: keys, AWS calls by operation and outcome, throttles, runs by phase, SDK metrics', async () => {
    const w = await startOpsWorker();
    expect((await get(`${w.url}/readyz`)).status).toBe(200);
    expect((await get(`${w.url}/livez`)).status).toBe(200);
    const store = await seedStore(h, { enabled: 3, disabled: 1 });
    // Two throttled ScheduleKeyDeletion answers: retried by the gateway, counted as throttles.
    await h.emulator.admin.setFaults([{ operation: 'ScheduleKeyDeletion', errorRate: 1, errorType: 'ThrottlingException', count: 2 }]);
    await w.client.startDecommission(fastInput(store.storeId));
    await eventually(
      () => w.client.getStatus(store.storeId),
      (s) => s.phase === 'AWAITING_APPROVAL',
      30_000,
      'AWAITING_APPROVAL',
    );
    // During the run, while it waits for approval: the visibility-backed gauge (refreshed at most every 15 s)
    // counts it, and the inventory's calls are already counted.
    const during = await eventually(
      () => get(`${w.url}/metrics`),
      (r) => (value(r.text, 'kms_decommission_runs', { phase: 'AWAITING_APPROVAL' }) ?? 0) >= 1,
      40_000,
      'a scrape that counts the run in AWAITING_APPROVAL',
    );
    expect(during.status).toBe(200);
    for (const phase of OPEN_PHASES)
      expect({ phase, present: value(during.text, 'kms_decommission_runs', { phase }) !== undefined }).toEqual({ phase, present: true });
    expect(value(during.text, 'kms_decommission_aws_calls_total', { service: 'kms', operation: 'GetKeyLastUsage', outcome: 'success' })).toBe(4);
    expect(value(during.text, 'kms_decommission_keys_scheduled_total')).toBe(0);
    await w.client.approve(store.storeId, { approver: 'bob' });

    await eventually(
      () => w.client.getStatus(store.storeId),
      (s) => s.phase === 'COMPLETED',
      60_000,
      'COMPLETED',
    );
    await h.emulator.admin.clearFaults();
    const { status, text } = await get(`${w.url}/metrics`);
    expect(status).toBe(200);
    expect(text).toMatch(/^# TYPE kms_decommission_keys_scheduled_total counter$/m);
    expect(value(text, 'kms_decommission_keys_scheduled_total')).toBe(4);
    expect(value(text, 'kms_decommission_keys_confirmed_deleted_total')).toBe(4);
    expect(value(text, 'kms_decommission_keys_rolled_back_total')).toBe(0);
    // Every attempt that reached KMS, by outcome: the two throttled ones and the four that went through.
    expect(value(text, 'kms_decommission_aws_calls_total', { service: 'kms', operation: 'ScheduleKeyDeletion', outcome: 'success' })).toBe(4);
    expect(value(text, 'kms_decommission_aws_calls_total', { service: 'kms', operation: 'ScheduleKeyDeletion', outcome: 'ThrottlingException' })).toBe(2);
    expect(value(text, 'kms_decommission_aws_throttles_total', { service: 'kms', operation: 'ScheduleKeyDeletion' })).toBe(2);
    expect(value(text, 'kms_decommission_aws_calls_total', { service: 'kms', operation: 'DescribeKey', outcome: 'success' })).toBeGreaterThan(0);
    expect(value(text, 'kms_decommission_aws_calls_total', { service: 'kms', operation: 'DeleteCustomKeyStore', outcome: 'success' })).toBe(1);
    // The emulator's audit log agrees with the counter.
    expect(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).toHaveLength(4);
    expect(value(text, 'kms_decommission_worker_ready')).toBe(1);
    // The SDK runtime's Prometheus exporter, appended to the same answer.
    expect(value(text, 'kms_decommission_sdk_metrics_up')).toBe(1);
    expect(text).toMatch(/^temporal_\w+(\{[^}]*\})? \S+$/m);
    expect(text).toMatch(/^temporal_\w*activity\w*(\{[^}]*task_queue="[^"]*"[^}]*\})? \S+$/m);
    expect((await get(`${w.url}/nope`)).status).toBe(404);
    await w.proc.kill('SIGTERM');
  });

  test('SIGTERM: /readyz answers 503 at once, the batch in flight drains, the worker exits 0; the next worker never re-sends a key', async () => {
    // Paced at 0.2 × 15/s: the 20-key scheduling batch takes about 7 s, so SIGTERM lands in it.
    const w = await startOpsWorker({ KMS_QUOTA_SCALE: '0.2', SDK_METRICS_BIND_ADDRESS: '' }); // the default: a free loopback port
    await eventually(
      () => get(`${w.url}/readyz`),
      (r) => r.status === 200,
      10_000,
      '/readyz 200',
    );
    const store = await seedStore(h, { enabled: 20, disabled: 0, bystanders: 0 });
    await w.client.startDecommission(fastInput(store.storeId));
    await eventually(
      () => w.client.getStatus(store.storeId),
      (s) => s.phase === 'AWAITING_APPROVAL',
      30_000,
      'AWAITING_APPROVAL',
    );
    await w.client.approve(store.storeId, { approver: 'bob' });
    await eventually(
      () => successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds),
      (calls) => calls.length >= 2,
      30_000,
      'scheduling under way',
    );

    w.proc.child.kill('SIGTERM');
    const shuttingDown = await eventually(
      () => get(`${w.url}/readyz`),
      (r) => r.status === 503,
      5_000,
      '/readyz 503 after SIGTERM',
    );
    expect(shuttingDown.text).toMatch(/shutting down/);
    expect((await get(`${w.url}/livez`)).status).toBe(200); // draining is healthy: not a reason to kill it
    expect(w.proc.alive()).toBe(true);
    const exit = await w.proc.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(w.proc.output()).toMatch(/worker stopped: in-flight tasks drained/);
    // The batch ran to its end inside the grace time: every key was scheduled before the worker left.
    expect(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).toHaveLength(20);

    // A replacement worker on the same task queue finishes the run without scheduling anything again.
    const next = await startOpsWorker({ TASK_QUEUE: w.taskQueue });
    try {
      const done = await eventually(
        () => w.client.getStatus(store.storeId),
        (s) => s.phase === 'COMPLETED',
        60_000,
        'COMPLETED',
      );
      expect(done.counts.scheduled).toBe(20);
      const scheduled = await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds);
      expect(new Set(scheduled.map((c) => c.keyId)).size).toBe(20);
      expect(scheduled).toHaveLength(20);
    } finally {
      await next.proc.kill('SIGTERM');
    }
  });
});
