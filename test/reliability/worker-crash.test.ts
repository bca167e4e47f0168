import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Client } from '@temporalio/client';
import type { DecommissionClient, DecommissionReport } from '../../src/client';
import type { DecommissionInput } from '../../src/shared/types';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { temporalAddress } from '../support/harness';
import { RAISED_LAST_USAGE_ENV, raisedLastUsageQuota, stopAllProcesses, SupervisedWorker, type WorkerKill } from '../support/processes';
import { AuditLog, ok, okPerKey, proveScheduledOnce, sleep } from './helpers/audit';
import { printFigures, seconds } from './helpers/figures';
import { seedStoreVia, type SeededStore } from './helpers/seed';
import { connectClients, historyStats, waitForPhaseAttr } from './helpers/temporal';

/**
 * SIGKILLs a real worker process again and again while two 1,000-key decommissions run, and lets the
 * emulator's audit log testify: every key scheduled exactly once, none missed, the run completes; a run
 * cancelled mid-wait cancels exactly the keys it scheduled.
 *
 * Run A (completes): kills during inventory, twice during scheduling, during the wait and while the
 * store is being disconnected for deletion. Run B (cancelled): a kill during scheduling, then two
 * during the rollback. Both run at once, each with its own emulator and worker process, to keep the
 * wall time down: a killed activity is only retried once its 20 s heartbeat timeout expires.
 */

/**
 * `RELIABILITY_WORKER_CRASH=full`: all eight kills (README "Reliability" has their figures). By default four, one
 * in each kind of place a kill matters most — a scheduling batch, the waiting-period timer, a scheduling batch of
 * the run that is then cancelled, its rollback batch — so the default suite stays within its time budget.
 */
const FULL = process.env.RELIABILITY_WORKER_CRASH === 'full';

/** The deployment's approval policy for these runs (worker environment): no approval step. */
const NO_APPROVAL_ENV = { DECOMMISSION_REQUIRE_APPROVAL: 'false', DECOMMISSION_ALLOW_SELF_APPROVAL: 'false' };

/** ScheduleKeyDeletion ≈ 50/s (15 × 10/3): 1,000 keys take ~21 s, long enough to be interrupted twice. */
const SCALE_A = 10 / 3;
/** Faster for run B, whose rollback (CancelKeyDeletion at 5 × scale per second) would otherwise take minutes. */
const SCALE_B = 10;

interface Run {
  name: string;
  emulator: RunningEmulator;
  worker: SupervisedWorker;
  decommissions: DecommissionClient;
  temporal: Client;
  store: SeededStore;
  audit: AuditLog;
  kills: (WorkerKill & { phase: string; resumeMs?: number })[];
  endedAt: number;
}

const clients: Awaited<ReturnType<typeof connectClients>>[] = [];
const emulators: RunningEmulator[] = [];

afterAll(async () => {
  await stopAllProcesses();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(emulators.map((e) => e.close()));
});

async function prepare(
  name: string,
  scale: number,
  emulatorOptions: Parameters<typeof startEmulator>[0],
  seed: Parameters<typeof seedStoreVia>[1],
): Promise<Run> {
  // GetKeyLastUsage (5/s × scale) would add a minute of 0.3.0's last-use reads before the scheduling this suite
  // kills workers in; the account here has that one quota raised, and the worker is told so.
  const emulator = await startEmulator({ quotaScale: scale, connectMs: 200, quotaOverrides: raisedLastUsageQuota(scale), ...emulatorOptions });
  emulators.push(emulator);
  const store = await seedStoreVia(emulator.admin, seed);
  const taskQueue = `crash-${name}-${store.storeId}`;
  const c = await connectClients(taskQueue);
  clients.push(c);
  const worker = new SupervisedWorker(
    {
      temporalAddress: temporalAddress(),
      taskQueue,
      kmsEndpoint: emulator.url,
      quotaScale: scale,
      env: { ...NO_APPROVAL_ENV, ...RAISED_LAST_USAGE_ENV },
    },
    `worker-${name}`,
  );
  await worker.start();
  return {
    name,
    emulator,
    worker,
    decommissions: c.decommissions,
    temporal: c.temporal,
    store,
    audit: new AuditLog(() => emulator.admin),
    kills: [],
    endedAt: 0,
  };
}

/**
 * SIGKILL + restart, then the time until the restarted worker's first KMS call. The baseline is read
 * 300 ms after the kill, when requests the dead worker had in flight have been answered.
 */
async function crash(run: Run, phase: string, label: string): Promise<void> {
  let baseline = 0;
  const kill = await run.worker.crash(label, async () => {
    await sleep(300);
    await run.audit.refresh();
    baseline = run.audit.lastSeq;
  });
  const entry: Run['kills'][number] = { ...kill, phase };
  run.kills.push(entry);
  const next = await run.audit.waitFor(`first KMS call after kill "${label}"`, (entries) => entries.find((e) => e.seq > baseline), 180_000);
  entry.resumeMs = next.time - kill.killedAt;
}

function storeKeySet(run: Run): Set<string> {
  return new Set(run.store.keyIds);
}

/** Both runs: no approval step (the worker's policy, see {@link NO_APPROVAL_ENV}), one long timer for the wait (no drift checks inside it), fast polls everywhere else. */
function crashRunInput(run: Run, pendingWindowInDays: number): DecommissionInput {
  return {
    customKeyStoreId: run.store.storeId,
    requestedBy: 'alice',
    pendingWindowInDays,
    timing: { storePollInterval: 100, driftCheckInterval: '60s', verifyInterval: 200, verifyPatience: '60s' },
  };
}

async function driveRunA(run: Run): Promise<DecommissionReport> {
  const keys = storeKeySet(run);
  // Slow DescribeKey down so the inventory lasts long enough (~3 s) to be interrupted mid-scan.
  if (FULL) await run.emulator.admin.setFaults([{ operation: 'DescribeKey', latencyMs: 80 }]);
  await run.decommissions.startDecommission(crashRunInput(run, 7));

  if (FULL) {
    await run.audit.waitForCount('300 inventory DescribeKey calls', 300, (e) => e.operation === 'DescribeKey');
    await crash(run, 'INVENTORY', 'A: mid inventory scan');
  }

  await waitForPhaseAttr(run.temporal, run.store.storeId, ['SCHEDULING', 'WAITING']);
  await run.emulator.admin.clearFaults();

  const first = await run.audit.waitForCount('150 keys scheduled', 150, ok('ScheduleKeyDeletion', keys));
  await crash(run, 'SCHEDULING', `A: scheduling, after ${first} keys`);
  if (FULL) {
    const resumed = run.audit.count(ok('ScheduleKeyDeletion', keys));
    const second = await run.audit.waitForCount('200 more keys scheduled', resumed + 200, ok('ScheduleKeyDeletion', keys));
    await crash(run, 'SCHEDULING', `A: scheduling, after ${second} keys`);
  }

  await waitForPhaseAttr(run.temporal, run.store.storeId, ['WAITING'], 180_000);
  await sleep(1_000);
  await crash(run, 'WAITING', 'A: on the waiting-period timer');

  if (FULL) {
    await waitForPhaseAttr(run.temporal, run.store.storeId, ['DISCONNECTING'], 180_000);
    await run.audit.waitFor('DisconnectCustomKeyStore', (entries) => entries.find((e) => e.operation === 'DisconnectCustomKeyStore' && e.outcome === 'OK'));
    await sleep(500);
    await crash(run, 'DISCONNECTING', 'A: disconnecting the store for deletion');
  }

  const report = await run.decommissions.getReport(run.store.storeId, { wait: true });
  run.endedAt = Date.now();
  return report;
}

async function driveRunB(run: Run): Promise<DecommissionReport> {
  const keys = storeKeySet(run);
  await run.decommissions.startDecommission(crashRunInput(run, 30));
  const scheduled = await run.audit.waitForCount('300 keys scheduled', 300, ok('ScheduleKeyDeletion', keys));
  await crash(run, 'SCHEDULING', `B: scheduling, after ${scheduled} keys`);

  await waitForPhaseAttr(run.temporal, run.store.storeId, ['WAITING'], 180_000);
  await run.decommissions.cancel(run.store.storeId, { by: 'bob', reason: 'reliability test: cancel mid-wait' });

  const first = await run.audit.waitForCount('200 keys cancelled', 200, ok('CancelKeyDeletion', keys));
  await crash(run, 'ROLLING_BACK', `B: rollback, after ${first} keys`);
  if (FULL) {
    const resumed = run.audit.count(ok('CancelKeyDeletion', keys));
    const second = await run.audit.waitForCount('250 more keys cancelled', resumed + 250, ok('CancelKeyDeletion', keys));
    await crash(run, 'ROLLING_BACK', `B: rollback, after ${second} keys`);
  }

  const report = await run.decommissions.getReport(run.store.storeId, { wait: true });
  run.endedAt = Date.now();
  return report;
}

function killFigures(run: Run) {
  return run.kills.map((k) => ({ label: k.label, phase: k.phase, restartS: seconds(k.restartMs), resumeS: seconds(k.resumeMs ?? NaN) }));
}

test(`SIGKILLed workers, ${FULL ? 8 : 4} times across two 1,000-key runs: every key scheduled exactly once, the rollback cancels exactly what was scheduled`, async () => {
  const started = Date.now();
  const [a, b] = await Promise.all([
    prepare('A', SCALE_A, { dayMs: 1_000, disconnectMs: 5_000 }, { enabled: 700, disabled: 300, bystanders: 40, aliases: true }),
    // dayMs 20 s: a 30-day window is 10 min, so no key of run B reaches its DeletionDate before the cancel.
    prepare('B', SCALE_B, { dayMs: 20_000 }, { enabled: 600, disabled: 390, pending: 10, bystanders: 20 }),
  ]);
  expect(a.store.keyIds).toHaveLength(1_000);
  expect(b.store.keyIds).toHaveLength(1_000);

  // Both drives run to their end before anything is judged: a failing one must not leave the other calling
  // Temporal after afterAll closed its connection (its retry timer would then fail whichever suite runs next).
  const [reportA, reportB] = (await Promise.allSettled([driveRunA(a), driveRunB(b)])).map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  const wallMs = Date.now() - started;
  await Promise.all([a.audit.refresh(), b.audit.refresh()]);

  const proofA = proveScheduledOnce(a.audit.entries, a.store.keyIds);
  const deletionsA = (await a.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === a.store.storeId);
  const ours = [...b.store.enabled, ...b.store.disabled];
  const proofB = proveScheduledOnce(b.audit.entries, ours);
  const cancelled = okPerKey(b.audit.entries, 'CancelKeyDeletion');
  const [historyA, historyB] = await Promise.all([historyStats(a.temporal, a.store.storeId), historyStats(b.temporal, b.store.storeId)]);
  printFigures('worker-crash/A', {
    keysScheduled: proofA.scheduledOnce,
    keysExpected: proofA.expected,
    duplicateSuccesses: proofA.duplicates.length,
    pendingDeletionRejections: proofA.pendingDeletionRejections,
    scheduleRequests: proofA.requests,
    keysDeleted: deletionsA.length,
    kills: killFigures(a),
    activityRetries: historyA.retriedByType,
    maxAttempt: historyA.maxAttempt,
    outcome: reportA.outcome,
    reportedScheduled: reportA.counts.scheduled,
    runS: seconds(a.endedAt - started),
  });
  printFigures('worker-crash/B', {
    keysScheduled: proofB.scheduledOnce,
    keysExpected: proofB.expected,
    duplicateSuccesses: proofB.duplicates.length,
    pendingDeletionRejections: proofB.pendingDeletionRejections,
    keysCancelled: cancelled.size,
    duplicateCancels: [...cancelled.values()].filter((n) => n > 1).length,
    cancelAttempts: b.audit.count((e) => e.operation === 'CancelKeyDeletion'),
    kills: killFigures(b),
    activityRetries: historyB.retriedByType,
    outcome: reportB.outcome,
    runS: seconds(b.endedAt - started),
  });
  printFigures('worker-crash/total', { kills: a.kills.length + b.kills.length, wallS: seconds(wallMs) });

  // ---- Run A: COMPLETED, each key scheduled once, none missed, all deleted, disconnect after the last deletion.
  expect(a.kills.map((k) => k.phase)).toEqual(FULL ? ['INVENTORY', 'SCHEDULING', 'SCHEDULING', 'WAITING', 'DISCONNECTING'] : ['SCHEDULING', 'WAITING']);
  expect(reportA.outcome).toBe('COMPLETED');
  expect(reportA.decisions.map((d) => d.what)).toEqual(['requested']); // no operator had to step in
  expect(reportA.counts).toMatchObject({ inventoried: 1_000, deleted: 1_000, remaining: 0 });
  // A key the retried batch found already deleted (its 7 "days" passed while the worker was down) is
  // reported GONE rather than scheduled-by-this-run; the audit log below proves who scheduled it.
  expect(reportA.counts.scheduled + reportA.keys.filter((k) => k.scheduledBy === 'not-scheduled' && k.confirmedDeletedAt !== undefined).length).toBe(1_000);
  expect(proofA.duplicates).toEqual([]);
  expect(proofA.missing).toEqual([]);
  expect(proofA.unexpected).toEqual([]);
  expect(proofA.scheduledOnce).toBe(1_000);
  expect(new Set(deletionsA.map((d) => d.keyId))).toEqual(new Set(a.store.keyIds));
  expect(deletionsA.every((d) => d.backingKey === 'MATERIAL_DELETED')).toBe(true);
  const disconnects = a.audit.entries.filter((e) => e.operation === 'DisconnectCustomKeyStore' && e.outcome === 'OK');
  expect(disconnects.length).toBeGreaterThanOrEqual(1);
  expect(Math.min(...disconnects.map((e) => e.time))).toBeGreaterThanOrEqual(Math.max(...deletionsA.map((d) => d.time)));
  expect(a.audit.count(ok('DeleteCustomKeyStore'))).toBe(1);
  expect(a.audit.entries.filter((e) => e.mutating && e.keyId !== undefined && a.store.bystanders.includes(e.keyId))).toEqual([]);

  // ---- Run B: CANCELLED, each key scheduled once, rollback cancelled exactly the keys this run scheduled.
  expect(b.kills.map((k) => k.phase)).toEqual(FULL ? ['SCHEDULING', 'ROLLING_BACK', 'ROLLING_BACK'] : ['SCHEDULING', 'ROLLING_BACK']);
  expect(reportB.outcome).toBe('CANCELLED');
  expect(proofB.duplicates).toEqual([]);
  expect(proofB.missing).toEqual([]);
  expect(proofB.unexpected).toEqual([]); // the 10 keys pending before the run were not ours to schedule
  expect(new Set(cancelled.keys())).toEqual(new Set(ours));
  expect([...cancelled.values()].filter((n) => n !== 1)).toEqual([]);
  expect(reportB.counts.rolledBack).toBe(ours.length);
  const kms = new KMSClient({ endpoint: b.emulator.url, region: b.emulator.region, credentials: b.emulator.credentials, maxAttempts: 1 });
  try {
    const stateOf = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
    const wrong: string[] = [];
    for (const id of b.store.enabled) if ((await stateOf(id)) !== 'Enabled') wrong.push(`${id} not Enabled`);
    for (const id of b.store.disabled) if ((await stateOf(id)) !== 'Disabled') wrong.push(`${id} not Disabled`);
    for (const id of b.store.pending) if ((await stateOf(id)) !== 'PendingDeletion') wrong.push(`${id} not PendingDeletion`);
    expect(wrong).toEqual([]);
  } finally {
    kms.destroy();
  }

  // No worker process died on its own: every exit was one of our SIGKILLs.
  expect(a.worker.unexpectedExits).toEqual([]);
  expect(b.worker.unexpectedExits).toEqual([]);
}, 420_000);
