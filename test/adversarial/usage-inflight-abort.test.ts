import { DecommissionClient } from '../../src/client';
import type { AuditEntry } from '../../src/emulator';
import { startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase, type SeededStore } from '../support/scenario';
import { sleep } from './support';

/**
 * Adversarial (issue 11, quiet period, and the scheduling that follows it): the batch is slowed by network
 * latency (emulator `latencyMs` + `jitterMs` fault: the request is on its way, KMS executes it up to 5.5 s later) and a cancel
 * arrives while requests are in flight. The activity aborts its in-flight HTTP requests on cancellation
 * (callKms passes the activity's cancellation signal to `kms.send`), but an aborted request that already
 * left the client still takes effect. If the rollback reads the key before it lands, the key ends
 * Disabled (or PendingDeletion) behind the rollback's back.
 */

const LATENCY_MS = 500;
/** Uneven latency: while some requests are still on their way, others complete and heartbeat (which delivers the cancel). */
const JITTER_MS = 5_000;
let started: (() => void) | undefined;

let h: Harness;
let client: DecommissionClient;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    deps: { policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 } },
    wrapActivities: (activities) => ({
      ...activities,
      disableKeys: async (input) => {
        started?.();
        return activities.disableKeys(input);
      },
      scheduleKeys: async (input) => {
        started?.();
        return activities.scheduleKeys(input);
      },
    }),
  });
  client = new DecommissionClient({ client: h.temporal, taskQueue: h.taskQueue, minimumQuietPeriodMs: 1_000 });
});
afterEach(async () => {
  await h.emulator.admin.clearFaults();
});
afterAll(async () => {
  await h?.close();
});

const ofStore = (store: SeededStore, entries: AuditEntry[]) => entries.filter((e) => store.keyIds.includes(e.keyId ?? ''));

async function cancelWhileInFlight(store: SeededStore, quietPeriod: boolean, operation: 'DisableKey' | 'ScheduleKeyDeletion'): Promise<void> {
  const batchStarted = new Promise<void>((resolve) => (started = resolve));
  await client.startDecommission(
    fastInput(store.storeId, {
      ...(quietPeriod ? { quietPeriod: '5m' } : {}),
      pendingWindowInDays: 30,
      timing: { ...fastInput('x').timing, usageCheckInterval: 1_000, cloudTrailDeliveryLag: 1_000 },
    }),
  );
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.emulator.admin.setFaults([{ operation, latencyMs: LATENCY_MS, jitterMs: JITTER_MS }]);
  await client.approve(store.storeId, { approver: 'bob' });
  await batchStarted;
  started = undefined;
  // The first requests (DescribeKey is fast) are on their way and will land LATENCY_MS after they were sent.
  await sleep(1_000);
  await client.cancel(store.storeId, { by: 'carol', reason: 'stop' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  // Whatever was in flight has landed by now.
  await sleep(LATENCY_MS + JITTER_MS + 1_000);
}

// Regression (found by review, fixed in 0.3.0): a DisableKey aborted client-side lands after the rollback read the key Enabled: the key stays Disabled.
test('cancel while DisableKey requests are in flight (0.5–5.5 s network latency): no key that was Enabled before the run is left Disabled', async () => {
  const store = await seedStore(h, { enabled: 6, disabled: 1, bystanders: 0, aliases: false });
  await cancelWhileInFlight(store, true, 'DisableKey');
  const audit = ofStore(store, await h.emulator.admin.audit());
  const landed = [...new Set(audit.filter((e) => e.operation === 'DisableKey' && e.outcome === 'OK').map((e) => e.keyId as string))].sort();
  expect(landed.length).toBeGreaterThan(0);
  const states: Record<string, string | undefined> = {};
  for (const key of store.enabled) states[key] = await keyState(h, key);
  expect({ landed: landed.length, leftDisabled: store.enabled.filter((k) => states[k] !== 'Enabled') }).toEqual({ landed: landed.length, leftDisabled: [] });
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
}, 60_000);

// Regression (found by review, fixed in 0.3.0; same mechanism, the irreversible one): a ScheduleKeyDeletion aborted client-side lands after the
// rollback read the key: it stays PendingDeletion and KMS deletes it at its DeletionDate.
test('cancel while ScheduleKeyDeletion requests are in flight (0.5–5.5 s network latency): no key is left pending deletion', async () => {
  const store = await seedStore(h, { enabled: 6, disabled: 1, bystanders: 0, aliases: false });
  await cancelWhileInFlight(store, false, 'ScheduleKeyDeletion');
  const audit = ofStore(store, await h.emulator.admin.audit());
  const landed = audit.filter((e) => e.operation === 'ScheduleKeyDeletion' && e.outcome === 'OK').length;
  expect(landed).toBeGreaterThan(0);
  const leftPending: string[] = [];
  for (const key of store.keyIds) if ((await keyState(h, key)) === 'PendingDeletion') leftPending.push(key);
  expect({ landed, leftPending }).toEqual({ landed, leftPending: [] });
}, 60_000);
