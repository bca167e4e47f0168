import { createKmsRateLimiter } from '../../src/activities';
import { DecommissionClient } from '../../src/client';
import type { AuditEntry } from '../../src/emulator';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase, type SeededStore } from '../support/scenario';

/**
 * Adversarial (issue 11, quiet period on a DISCONNECTED CloudHSM store): at inventory every key reads
 * Unavailable, so the run does not know which were Enabled. It connects first, then the quiet period reads
 * each key and disables only the Enabled ones. A cancel must re-enable exactly those — also when the
 * disabling batch failed part-way (AccessDenied on a later key) and the operator cancels from STEP_FAILED.
 */

let h: Harness;
let client: DecommissionClient;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 60_000 },
    deps: {
      policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 },
      // One key at a time: the fault below hits exactly the third DisableKey, after two went through.
      mutateConcurrency: 1,
      limiter: createKmsRateLimiter({ quotaScale: 0 }),
    },
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
const okKeys = (entries: AuditEntry[], operation: string) =>
  [...new Set(entries.filter((e) => e.operation === operation && e.outcome === 'OK').map((e) => e.keyId as string))].sort();

async function start(store: SeededStore): Promise<void> {
  await client.startDecommission(
    fastInput(store.storeId, {
      quietPeriod: '5m',
      pendingWindowInDays: 30,
      timing: { ...fastInput('x').timing, usageCheckInterval: 1_000, cloudTrailDeliveryLag: 1_000 },
    }),
  );
  const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  expect(awaiting.store?.connectionState).toBe('DISCONNECTED');
  const ack = await client.approve(store.storeId, { approver: 'bob' });
  // At inventory every key read Unavailable: the plan can only say "up to" that many.
  expect(ack.message).toMatch(/disabling \d+ Enabled key\(s\) for a quiet period/);
}

test('DISCONNECTED store: the run connects, disables only the keys that read Enabled, and a cancel re-enables exactly those', async () => {
  const store = await seedStore(h, { enabled: 3, disabled: 2, bystanders: 0, aliases: false, connectionState: 'DISCONNECTED' });
  await start(store);
  const quiet = await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.usage?.quietPeriod?.endsAt !== undefined,
    30_000,
    'the quiet period to begin waiting',
  );
  expect(quiet.store?.connectionState).toBe('CONNECTED');
  expect(quiet.usage?.quietPeriod?.disabled).toBe(3);
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Disabled');
  const ack = await client.cancel(store.storeId, { by: 'carol', reason: 'abandon' });
  expect(ack.message).toMatch(/3 key\(s\) this run disabled for the quiet period will be re-enabled/);
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
  const audit = ofStore(store, await h.emulator.admin.audit());
  expect(okKeys(audit, 'DisableKey')).toEqual([...store.enabled].sort());
  expect(okKeys(audit, 'EnableKey')).toEqual([...store.enabled].sort());
  expect(audit.filter((e) => store.disabled.includes(e.keyId ?? '') && (e.operation === 'EnableKey' || e.operation === 'DisableKey'))).toEqual([]);
  const byKey = new Map(report.keys.map((k) => [k.keyId, k]));
  for (const key of store.enabled) expect(byKey.get(key)).toMatchObject({ disabledByRun: true, priorState: 'Enabled', restoredState: 'Enabled' });
  for (const key of store.disabled) expect(byKey.get(key)?.disabledByRun).toBeUndefined();
}, 60_000);

// Regression (found by review, fixed in 0.3.0): the batch disabled two keys, then failed (AccessDenied on the third). run.attempt() blocks on the
// failure and drops what the activity did; every key of the batch stays quiet='attempted' with inventoryState
// 'Unavailable', so rollbackCandidates() marks them uncertain and rollbackKeys() leaves a key that reads
// Disabled alone: the two keys this run disabled stay Disabled after the cancel.
test('DISCONNECTED store: the disabling batch fails part-way (AccessDenied), the operator cancels: the keys it did disable are re-enabled', async () => {
  const store = await seedStore(h, { enabled: 4, disabled: 0, bystanders: 0, aliases: false, connectionState: 'DISCONNECTED' });
  await h.emulator.admin.setFaults([{ operation: 'DisableKey', errorRate: 1, errorType: 'AccessDeniedException', afterCount: 2 }]);
  await start(store);
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  expect(blocked.blocker).toMatchObject({ kind: 'STEP_FAILED', step: 'disable keys' });
  const disabledByRun = okKeys(ofStore(store, await h.emulator.admin.audit()), 'DisableKey');
  expect(disabledByRun).toHaveLength(2);
  await h.emulator.admin.clearFaults();
  await client.cancel(store.storeId, { by: 'carol', reason: 'permissions are wrong, abandon' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  const states: Record<string, string | undefined> = {};
  for (const key of store.enabled) states[key] = await keyState(h, key);
  // Every key was Enabled before the run (Unavailable only because the store was disconnected).
  expect({ disabledByRun, leftDisabled: store.enabled.filter((k) => states[k] !== 'Enabled') }).toEqual({ disabledByRun, leftDisabled: [] });
}, 60_000);
