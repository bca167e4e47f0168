import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { temporalAddress } from '../support/harness';
import {
  RAISED_LAST_USAGE_ENV,
  raisedLastUsageQuota,
  startEmulatorProcess,
  stopAllProcesses,
  SupervisedWorker,
  type EmulatorProcess,
} from '../support/processes';
import { AuditLog, ok, proveScheduledOnce, sleep } from './helpers/audit';
import { printFigures, seconds } from './helpers/figures';
import { seedStoreVia } from './helpers/seed';
import { connectClients, historyStats, waitForPhaseAttr } from './helpers/temporal';

/**
 * The KMS side crashes: the emulator CLI, persisting to `--state`, is SIGKILLed during scheduling and
 * during the waiting period and restarted on the same port and file. Nothing acknowledged may be lost:
 * every key is scheduled exactly once and deleted exactly once, and the run completes on its own.
 */

const SCALE = 10 / 3;

let dir: string;
let closeClients: (() => Promise<void>) | undefined;

afterAll(async () => {
  await stopAllProcesses();
  await closeClients?.();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('emulator SIGKILLed during scheduling and during the wait: nothing lost, every key deleted exactly once', async () => {
  const started = Date.now();
  dir = mkdtempSync(path.join(tmpdir(), 'kms-emulator-restart-'));
  const options = {
    statePath: path.join(dir, 'kms-state.jsonl'),
    dayMs: 2_000,
    quotaScale: SCALE,
    connectMs: 200,
    disconnectMs: 200,
    quotas: raisedLastUsageQuota(SCALE),
  };
  let emulator: EmulatorProcess = await startEmulatorProcess(options);
  const port = emulator.port;
  const store = await seedStoreVia(emulator.admin, { enabled: 400, disabled: 100, bystanders: 10 });
  const keys = new Set(store.keyIds);
  const audit = new AuditLog(() => emulator.admin);
  const taskQueue = `emulator-restart-${store.storeId}`;
  const clients = await connectClients(taskQueue);
  closeClients = clients.close;
  // No approval step: the deployment's approval policy, in the worker's environment.
  const env = { DECOMMISSION_REQUIRE_APPROVAL: 'false', DECOMMISSION_ALLOW_SELF_APPROVAL: 'false', ...RAISED_LAST_USAGE_ENV };
  const worker = new SupervisedWorker(
    { temporalAddress: temporalAddress(), taskQueue, kmsEndpoint: emulator.url, quotaScale: SCALE, env },
    'worker-emulator-restart',
  );
  await worker.start();

  await clients.decommissions.startDecommission({
    customKeyStoreId: store.storeId,
    requestedBy: 'alice',
    pendingWindowInDays: 7, // 14 s
    timing: { storePollInterval: 100, driftCheckInterval: '60s', verifyInterval: 200, verifyPatience: '60s' },
  });

  const crashes: { phase: string; keysScheduledBefore: number; restartS: number; warnings: string[] }[] = [];
  const crash = async (phase: string) => {
    await audit.refresh();
    const before = audit.count(ok('ScheduleKeyDeletion', keys));
    const killedAt = Date.now();
    await emulator.kill('SIGKILL');
    await sleep(1_000);
    emulator = await startEmulatorProcess({ ...options, port });
    crashes.push({
      phase,
      keysScheduledBefore: before,
      restartS: seconds(Date.now() - killedAt),
      warnings: emulator
        .output()
        .split('\n')
        .filter((l) => /warning/i.test(l)),
    });
    await audit.reload();
  };

  await audit.waitForCount('100 keys scheduled', 100, ok('ScheduleKeyDeletion', keys));
  await crash('SCHEDULING');
  await waitForPhaseAttr(clients.temporal, store.storeId, ['WAITING'], 180_000);
  await sleep(2_000);
  await crash('WAITING');

  const report = await clients.decommissions.getReport(store.storeId, { wait: true });
  await audit.reload();
  const proof = proveScheduledOnce(audit.entries, store.keyIds);
  const deletions = (await emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
  const deletedPerKey = new Map<string, number>();
  for (const d of deletions) deletedPerKey.set(d.keyId, (deletedPerKey.get(d.keyId) ?? 0) + 1);
  const history = await historyStats(clients.temporal, store.storeId);
  printFigures('emulator-restart', {
    keysScheduled: proof.scheduledOnce,
    keysExpected: proof.expected,
    duplicateSuccesses: proof.duplicates.length,
    pendingDeletionRejections: proof.pendingDeletionRejections,
    keysDeleted: deletedPerKey.size,
    deletedTwice: [...deletedPerKey.values()].filter((n) => n > 1).length,
    crashes,
    activityRetries: history.retriedByType,
    outcome: report.outcome,
    runS: seconds(Date.now() - started),
  });

  expect(crashes.map((c) => c.phase)).toEqual(['SCHEDULING', 'WAITING']);
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.map((d) => d.what)).toEqual(['requested']);
  expect(report.counts).toMatchObject({ inventoried: 500, deleted: 500, remaining: 0 });
  expect(proof.duplicates).toEqual([]);
  expect(proof.missing).toEqual([]);
  expect(proof.unexpected).toEqual([]);
  expect(new Set(deletedPerKey.keys())).toEqual(keys);
  expect([...deletedPerKey.values()].every((n) => n === 1)).toBe(true);
  expect(deletions.every((d) => d.backingKey === 'MATERIAL_DELETED')).toBe(true);
  expect(history.finalFailures).toEqual([]);
  expect(worker.unexpectedExits).toEqual([]);
}, 240_000);
