import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startDevServer, type DevServer } from '../../src/devtools/temporal-dev-server';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { RAISED_LAST_USAGE_ENV, raisedLastUsageQuota, stopAllProcesses, SupervisedWorker } from '../support/processes';
import { AuditLog, ok, proveScheduledOnce, sleep } from './helpers/audit';
import { printFigures, seconds } from './helpers/figures';
import { seedStoreVia } from './helpers/seed';
import { connectClients, historyStats, waitForPhaseAttr } from './helpers/temporal';

/**
 * A dedicated Temporal dev server persisting to a SQLite file is stopped (SIGTERM) during scheduling and
 * killed (SIGKILL) during the waiting period, then restarted on the same port and file each time. The
 * worker process is left alone: it must reconnect by itself (if it exits, it is restarted and the
 * figures say so).
 */

const SCALE = 10 / 3; // ScheduleKeyDeletion ≈ 50/s: 500 keys take ~10 s

let dir: string;
let server: DevServer | undefined;
let emulator: RunningEmulator | undefined;
let closeClients: (() => Promise<void>) | undefined;

afterAll(async () => {
  await stopAllProcesses();
  await closeClients?.();
  await server?.kill();
  await emulator?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('Temporal stopped during scheduling and killed during the wait: the run resumes from its SQLite file and completes', async () => {
  const started = Date.now();
  dir = mkdtempSync(path.join(tmpdir(), 'kms-temporal-restart-'));
  const dbFilename = path.join(dir, 'temporal.db');
  const port = await freePort();
  server = await startDevServer({ port, dbFilename });
  const address = server.address;

  emulator = await startEmulator({ quotaScale: SCALE, dayMs: 2_000, connectMs: 200, disconnectMs: 200, quotaOverrides: raisedLastUsageQuota(SCALE) });
  const em = emulator;
  const store = await seedStoreVia(em.admin, { enabled: 400, disabled: 100, bystanders: 10 });
  const keys = new Set(store.keyIds);
  const audit = new AuditLog(() => em.admin);
  const taskQueue = `temporal-restart-${store.storeId}`;
  const clients = await connectClients(taskQueue, address);
  closeClients = clients.close;
  // No approval step: the deployment's approval policy, in the worker's environment.
  const env = { DECOMMISSION_REQUIRE_APPROVAL: 'false', DECOMMISSION_ALLOW_SELF_APPROVAL: 'false', ...RAISED_LAST_USAGE_ENV };
  const worker = new SupervisedWorker({ temporalAddress: address, taskQueue, kmsEndpoint: em.url, quotaScale: SCALE, env }, 'worker-temporal-restart');
  await worker.start();

  await clients.decommissions.startDecommission({
    customKeyStoreId: store.storeId,
    requestedBy: 'alice',
    pendingWindowInDays: 7, // 14 s at 2 s per day: long enough to restart Temporal inside the wait
    timing: { storePollInterval: 100, driftCheckInterval: '60s', verifyInterval: 200, verifyPatience: '60s' },
  });

  const outages: { how: string; phase: string; downS: number; keysScheduledWhileDown: number; resumedS?: number; workerRestarted: boolean }[] = [];
  const outage = async (how: 'SIGTERM' | 'SIGKILL', phase: string) => {
    await audit.refresh();
    const before = audit.count(ok('ScheduleKeyDeletion', keys));
    const downAt = Date.now();
    await (how === 'SIGTERM' ? server?.stop() : server?.kill());
    await sleep(3_000);
    server = await startDevServer({ port, dbFilename });
    const upAt = Date.now();
    await audit.refresh();
    const record = {
      how,
      phase,
      downS: seconds(upAt - downAt),
      keysScheduledWhileDown: audit.count(ok('ScheduleKeyDeletion', keys)) - before,
      workerRestarted: false,
    };
    outages.push(record);
    return { upAt, record };
  };

  await audit.waitForCount('100 keys scheduled', 100, ok('ScheduleKeyDeletion', keys));
  const first = await outage('SIGTERM', 'SCHEDULING');
  // Resumed: the workflow got the batch results and moved on to the wait.
  await waitForPhaseAttr(clients.temporal, store.storeId, ['WAITING'], 180_000);
  (first.record as { resumedS?: number }).resumedS = seconds(Date.now() - first.upAt);
  first.record.workerRestarted = await worker.ensureRunning();

  await sleep(1_000);
  const second = await outage('SIGKILL', 'WAITING');
  // Resumed: the timer survived the crash and the workflow verified the deletions.
  await waitForPhaseAttr(clients.temporal, store.storeId, ['VERIFYING', 'DISCONNECTING', 'DELETING', 'COMPLETED'], 180_000);
  (second.record as { resumedS?: number }).resumedS = seconds(Date.now() - second.upAt);
  second.record.workerRestarted = await worker.ensureRunning();

  const report = await clients.decommissions.getReport(store.storeId, { wait: true });
  await audit.refresh();
  const proof = proveScheduledOnce(audit.entries, store.keyIds);
  const deletions = (await em.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
  const history = await historyStats(clients.temporal, store.storeId);
  printFigures('temporal-restart', {
    keysScheduled: proof.scheduledOnce,
    keysExpected: proof.expected,
    duplicateSuccesses: proof.duplicates.length,
    pendingDeletionRejections: proof.pendingDeletionRejections,
    outages,
    workerUnexpectedExits: worker.unexpectedExits.length,
    workerLogErrorLines: worker
      .output()
      .split('\n')
      .filter((l) => /ERROR|WARN/.test(l)).length,
    activityRetries: history.retriedByType,
    outcome: report.outcome,
    runS: seconds(Date.now() - started),
  });

  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.map((d) => d.what)).toEqual(['requested']);
  expect(proof.duplicates).toEqual([]);
  expect(proof.missing).toEqual([]);
  expect(proof.unexpected).toEqual([]);
  expect(new Set(deletions.map((d) => d.keyId))).toEqual(keys);
  expect(deletions.every((d) => d.backingKey === 'MATERIAL_DELETED')).toBe(true);
  expect(history.finalFailures).toEqual([]);
  // The worker rode out both outages without being restarted.
  expect(worker.unexpectedExits).toEqual([]);
  expect(outages.map((o) => o.workerRestarted)).toEqual([false, false]);
}, 240_000);
