import type { DecommissionInput } from '../../src/client';
import { workflowIdFor } from '../../src/shared/messages';
import { DecommissionPhaseAttribute } from '../../src/shared/search-attributes';
import type { AuditEntry, FaultSpec } from '../../src/emulator';
import { startHarness, type Harness } from '../support/harness';
import { proveScheduledOnce } from './helpers/audit';
import { printFigures, seconds } from './helpers/figures';
import { reportWithoutManualStep, settle } from './helpers/outcome';
import { seedStoreVia } from './helpers/seed';
import { historyStats } from './helpers/temporal';

/**
 * KMS misbehaves the ways AWS documents: 500s, throttling bursts, latency spikes, dropped connections,
 * eventually consistent reads, and 500s for calls that did execute (the caller cannot tell). Every run
 * must still complete with the right result, no activity may exhaust its retries, and nobody may have
 * to step in.
 */

const SCALE = 10; // ScheduleKeyDeletion 150/s, DescribeCustomKeyStores 50/s
const KEYS = 300;

/**
 * Fast phases; verifyInterval ≥ 2 s because drift confirmations re-read after min(2 s, verifyInterval) to ride out
 * stale reads. No approval step: the harness's worker has that approval policy.
 */
function input(storeId: string): DecommissionInput {
  return {
    customKeyStoreId: storeId,
    requestedBy: 'alice',
    pendingWindowInDays: 7,
    timing: { storePollInterval: 100, driftCheckInterval: 1_000, verifyInterval: 2_000, verifyPatience: '60s' },
  };
}

const harnesses: Harness[] = [];
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
});

async function harness(dayMs: number): Promise<Harness> {
  const h = await startHarness({ emulator: { dayMs, quotaScale: SCALE }, deps: { policy: { requireApproval: false, allowSelfApproval: false } } });
  harnesses.push(h);
  return h;
}

function injected(entries: AuditEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of entries) if (e.injectedFault) counts[e.outcome] = (counts[e.outcome] ?? 0) + 1;
  return counts;
}

/** Every operation a decommission calls except ScheduleKeyDeletion, which each scenario treats on its own. */
const OTHER_OPERATIONS = [
  'ListKeys',
  'DescribeKey',
  'ListAliases',
  'DescribeCustomKeyStores',
  'ConnectCustomKeyStore',
  'DisconnectCustomKeyStore',
  'DeleteCustomKeyStore',
];

/**
 * @param maybeExecuted audit entries of ScheduleKeyDeletion whose answer a fault replaced after the call
 *   ran: the audit shows the injected error although the key may have been scheduled.
 */
async function runUnderFaults(name: string, faults: FaultSpec[], maybeExecuted?: (e: AuditEntry) => boolean): Promise<void> {
  const h = await harness(500); // 7 days = 3.5 s
  const store = await seedStoreVia(h.emulator.admin, { enabled: KEYS - 50, disabled: 50, bystanders: 20, aliases: true });
  await h.emulator.admin.setFaults(faults);
  const started = Date.now();
  await h.decommissions.startDecommission(input(store.storeId));
  const report = await reportWithoutManualStep(h.decommissions, store.storeId);
  const runMs = Date.now() - started;
  await h.emulator.admin.clearFaults();

  const audit = await h.emulator.admin.audit();
  const proof = proveScheduledOnce(audit, store.keyIds, maybeExecuted);
  const deletions = (await h.emulator.admin.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
  const history = await historyStats(h.temporal, store.storeId);
  printFigures(`kms-faults/${name}`, {
    keysScheduled: proof.scheduledOnce + proof.maskedOnly,
    keysExpected: proof.expected,
    keysWhoseOnlyAnswerWasAFault: proof.maskedOnly,
    duplicateSuccesses: proof.duplicates.length,
    pendingDeletionRejections: proof.pendingDeletionRejections,
    kmsRequests: audit.length,
    injectedFaults: injected(audit),
    activityRetries: history.retriedByType,
    activitiesExhausted: history.finalFailures.length,
    outcome: report.outcome,
    runS: seconds(runMs),
  });

  expect(Object.keys(injected(audit)).length).toBeGreaterThan(0);
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.map((d) => d.what)).toEqual(['requested']);
  // A key whose ScheduleKeyDeletion executed but whose answer was lost is found pending on the retry: the run
  // cannot tell its own call from someone else's after approval, and the report says so ('after-approval',
  // counted as already pending). Every other key is 'this-run'. The audit log decides which is which.
  // The same holds for a key an attempt scheduled just before it failed (a sibling's throttling outlasted its
  // in-attempt retries) when that attempt's last heartbeat checkpoint had not reached the server: the retry finds
  // it pending. At most the calls in flight (4) per retried scheduleKeys attempt; the audit proof below still
  // shows exactly one ScheduleKeyDeletion of this run per key.
  expect(report.counts).toMatchObject({ inventoried: KEYS, deleted: KEYS, remaining: 0 });
  expect(report.counts.scheduled + report.counts.alreadyPending).toBe(KEYS);
  expect(report.counts.alreadyPending).toBeGreaterThanOrEqual(proof.maskedOnly);
  expect(report.counts.alreadyPending - proof.maskedOnly).toBeLessThanOrEqual(4 * (history.retriedByType.scheduleKeys ?? 0));
  expect(report.keys.filter((k) => k.scheduledBy !== 'this-run' && k.scheduledBy !== 'after-approval')).toEqual([]);
  expect(proof.duplicates).toEqual([]);
  expect(proof.missing).toEqual([]);
  expect(proof.unexpected).toEqual([]);
  expect(proof.scheduledOnce + proof.maskedOnly).toBe(KEYS);
  expect(new Set(deletions.map((d) => d.keyId))).toEqual(new Set(store.keyIds));
  expect(deletions.every((d) => d.backingKey === 'MATERIAL_DELETED')).toBe(true);
  expect(history.finalFailures).toEqual([]);
  expect(audit.filter((e) => e.mutating && e.keyId !== undefined && store.bystanders.includes(e.keyId))).toEqual([]);
}

describe('a decommission completes under KMS faults, with no manual step', () => {
  test.concurrent(
    '~10% 500s (KMSInternalException, DependencyTimeoutException), some after ScheduleKeyDeletion executed',
    async () => {
      await runUnderFaults(
        'server-errors',
        [
          // "after": the call executes and is persisted, then answered 500 — the caller cannot know it worked.
          // Only this rule injects KMSInternalException into ScheduleKeyDeletion, so the audit can tell the two apart.
          { operation: 'ScheduleKeyDeletion', errorRate: 0.05, errorType: 'KMSInternalException', when: 'after' },
          { operation: 'ScheduleKeyDeletion', errorRate: 0.05, errorType: 'DependencyTimeoutException' },
          ...OTHER_OPERATIONS.flatMap((operation): FaultSpec[] => [
            { operation, errorRate: 0.05, errorType: 'KMSInternalException' },
            { operation, errorRate: 0.05, errorType: 'DependencyTimeoutException' },
          ]),
        ],
        (e) => e.injectedFault === true && e.outcome === 'KMSInternalException',
      );
    },
    180_000,
  );

  test.concurrent(
    'throttling bursts and latency spikes',
    async () => {
      await runUnderFaults('throttling-latency', [
        { operation: 'ScheduleKeyDeletion', errorRate: 1, errorType: 'ThrottlingException', afterCount: 50, count: 30 },
        { operation: 'DescribeKey', errorRate: 1, errorType: 'ThrottlingException', afterCount: 200, count: 60 },
        { operation: 'DescribeCustomKeyStores', errorRate: 1, errorType: 'ThrottlingException', afterCount: 2, count: 8 },
        // A spike: 30 calls, each delayed 1–2 s, partway through the run.
        { operation: '*', latencyMs: 1_000, jitterMs: 1_000, afterCount: 400, count: 30 },
      ]);
    },
    180_000,
  );

  test.concurrent(
    'connection resets (before and after execution) and stale DescribeKey reads',
    async () => {
      await runUnderFaults(
        'resets-stale-reads',
        [
          // ScheduleKeyDeletion executes, then the socket is destroyed before the answer.
          { operation: 'ScheduleKeyDeletion', resetRate: 0.1, when: 'after' },
          ...OTHER_OPERATIONS.map((operation): FaultSpec => ({ operation, resetRate: 0.05 })),
          { operation: 'DescribeKey', staleReadMs: 1_000 },
        ],
        (e) => e.injectedFault === true && e.outcome === 'ConnectionReset',
      );
    },
    180_000,
  );
});

/**
 * Found by this suite (now fixed): the store-deletion step was not idempotent. When DeleteCustomKeyStore executes
 * but its answer is lost (a 500 after the fact, a reset, a worker crash before the activity reports),
 * the retry meets CustomKeyStoreNotFoundException, which `deleteStore` reports as ALREADY_GONE and the
 * workflow parks in BLOCKED STORE_DELETED ("deleted outside this workflow"), waiting for an operator.
 * The same happens when DescribeCustomKeyStores is briefly stale right after the delete (the activity
 * throws StoreStillListed, its retry meets NotFound). Fixed: a NotFound on a retried attempt is our own
 * deletion, and the activity re-reads for a few seconds before giving up on a stale listing.
 */
describe('a lost DeleteCustomKeyStore answer needs no manual step', () => {
  async function deleteStep(faults: FaultSpec[]) {
    const h = await harness(200);
    const store = await seedStoreVia(h.emulator.admin, { enabled: 3 });
    await h.emulator.admin.setFaults(faults);
    await h.decommissions.startDecommission({
      ...input(store.storeId),
      timing: { storePollInterval: 100, driftCheckInterval: 1_000, verifyInterval: 200, verifyPatience: '60s' },
    });
    const status = await settle(h.decommissions, store.storeId);
    printFigures('kms-faults/delete-store-answer-lost', {
      faults: faults.map((f) => `${f.operation}:${f.errorType ?? ''}${f.staleReadMs ? `stale${f.staleReadMs}` : ''}`),
      phase: status.phase,
      blocker: status.blocker?.kind,
    });
    if (status.phase === 'BLOCKED' && status.blocker)
      await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: status.blocker.id });
    expect(status.phase).toBe('COMPLETED');
  }

  test.concurrent(
    'DeleteCustomKeyStore executed but answered 500: completes without an operator',
    async () => {
      await deleteStep([{ operation: 'DeleteCustomKeyStore', errorRate: 1, count: 1, errorType: 'KMSInternalException', when: 'after' }]);
    },
    120_000,
  );

  test.concurrent(
    'DescribeCustomKeyStores stale for 2 s after the delete: completes without an operator',
    async () => {
      await deleteStep([{ operation: 'DescribeCustomKeyStores', staleReadMs: 2_000 }]);
    },
    120_000,
  );
});

/**
 * Same family: connecting a FAILED store starts with DisconnectCustomKeyStore. When that call executes but
 * its answer is lost, callKms re-sends it, KMS answers CustomKeyStoreInvalidStateException (the store is
 * already DISCONNECTING), `connectStore` rethrows it as non-retryable and the run parks in BLOCKED
 * STEP_FAILED until an operator says `retry`. Fixed: both paths share `sendDisconnect`, which treats that
 * answer as the state asked for.
 */
describe('a lost DisconnectCustomKeyStore answer while reconnecting a FAILED store needs no manual step', () => {
  test.concurrent(
    'DisconnectCustomKeyStore executed but answered 500 during the reconnect: completes without an operator',
    async () => {
      const h = await harness(200);
      const store = await seedStoreVia(h.emulator.admin, { enabled: 3 });
      await h.emulator.admin.setStoreState(store.storeId, { connectionState: 'FAILED', connectionErrorCode: 'NETWORK_ERRORS' });
      await h.emulator.admin.setFaults([{ operation: 'DisconnectCustomKeyStore', errorRate: 1, count: 1, errorType: 'KMSInternalException', when: 'after' }]);
      await h.decommissions.startDecommission({
        ...input(store.storeId),
        timing: { storePollInterval: 100, driftCheckInterval: 1_000, verifyInterval: 200, verifyPatience: '60s' },
      });
      const status = await settle(h.decommissions, store.storeId);
      printFigures('kms-faults/reconnect-disconnect-answer-lost', { phase: status.phase, blocker: status.blocker?.kind, lastError: status.lastError });
      if (status.phase === 'BLOCKED') await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'test cleanup' });
      expect(status.phase).toBe('COMPLETED');
    },
    120_000,
  );
});

/**
 * Found by this suite (now fixed): the inventory and drift scans heartbeated once per ListKeys page (500–1,000 keys).
 * When DescribeKey is slow but healthy — here every call takes 1.5 s, so a 500-key page at concurrency 32
 * takes ~24 s — no heartbeat reaches Temporal within the 20 s heartbeat timeout: the attempt is timed out
 * and retried from the start of the same page, which times out again, until the retries are exhausted.
 * Fixed: the scans heartbeat after every DescribeKey with a frozen copy of the state before the page.
 */
describe('a slow DescribeKey page keeps the scan alive', () => {
  test.concurrent(
    'every DescribeKey takes 1.5 s: the inventory still finishes in its first attempt',
    async () => {
      const h = await harness(1_000);
      const store = await seedStoreVia(h.emulator.admin, { enabled: 500 });
      await h.emulator.admin.setFaults([{ operation: 'DescribeKey', latencyMs: 1_500 }]);
      await h.decommissions.startDecommission(input(store.storeId));
      const handle = h.temporal.workflow.getHandle(workflowIdFor(store.storeId));
      let attempt = 1;
      let phase = 'INVENTORY';
      const started = Date.now();
      try {
        while (attempt === 1 && phase === 'INVENTORY' && Date.now() - started < 60_000) {
          await new Promise((r) => setTimeout(r, 500));
          const d = await handle.describe();
          phase = d.typedSearchAttributes.get(DecommissionPhaseAttribute) ?? phase;
          const scan = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'inventoryScan');
          attempt = scan?.attempt ?? attempt;
        }
      } finally {
        await handle.terminate('test cleanup');
        await h.emulator.admin.clearFaults();
      }
      printFigures('kms-faults/slow-describe-heartbeat', { inventoryAttempt: attempt, phase, afterS: seconds(Date.now() - started) });
      expect(attempt).toBe(1);
      expect(phase).not.toBe('INVENTORY');
    },
    120_000,
  );
});
