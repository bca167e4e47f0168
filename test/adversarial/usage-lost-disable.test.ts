import { createKmsRateLimiter } from '../../src/activities';
import { DecommissionClient } from '../../src/client';
import type { AuditEntry } from '../../src/emulator';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore, waitForPhase, type SeededStore } from '../support/scenario';

/**
 * Adversarial (issue 11, quiet period): one DisableKey executes in KMS but its answer is lost (emulator fault
 * `when: 'after'`). With one call attempt per activity attempt (maxCallAttempts 1) the disableKeys attempt
 * fails and Temporal retries it: the retry must read the key Disabled and, from its checkpoint, still count
 * it as disabled by this run. Then (a) a cancel re-enables it; (b) a cancel while the activity waits for its
 * retry re-enables it; (c) without a cancel the run goes on and the report says disabledByRun.
 */

let h: Harness;
let client: DecommissionClient;
beforeAll(async () => {
  h = await startHarness({
    emulator: { dayMs: 1_500 },
    deps: {
      policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 },
      limiter: createKmsRateLimiter({ quotaScale: 0, overrides: { DisableKey: 4 } }),
      maxCallAttempts: 1,
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

const timing = { ...fastInput('x').timing, usageCheckInterval: 1_000, cloudTrailDeliveryLag: 1_000 };
const ofStore = (store: SeededStore, entries: AuditEntry[]) => entries.filter((e) => store.keyIds.includes(e.keyId ?? ''));

/** Starts and approves a run whose second DisableKey executes but answers KMSInternalException; returns the key it hit. */
async function lostDisable(store: SeededStore, quietPeriod: string): Promise<string> {
  await h.emulator.admin.setFaults([{ operation: 'DisableKey', errorRate: 1, errorType: 'KMSInternalException', when: 'after', afterCount: 1, count: 1 }]);
  await client.startDecommission(fastInput(store.storeId, { quietPeriod, pendingWindowInDays: 7, timing }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await client.approve(store.storeId, { approver: 'bob' });
  const faulted = await eventually(
    async () => ofStore(store, await h.emulator.admin.audit({ operation: 'DisableKey' })).filter((e) => e.injectedFault),
    (entries) => entries.length === 1,
    30_000,
    'the DisableKey whose answer is lost',
  );
  const lost = faulted[0]?.keyId as string;
  // The call took effect in KMS: only its answer was lost.
  expect(await keyState(h, lost)).toBe('Disabled');
  return lost;
}

async function disableAttempts(store: SeededStore): Promise<number> {
  const history = await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== undefined).length;
}

test('a lost DisableKey answer, the retry completes the batch, then a cancel in the quiet period re-enables that key too', async () => {
  const store = await seedStore(h, { enabled: 5, disabled: 1, bystanders: 0, aliases: false });
  const lost = await lostDisable(store, '5m');
  const quiet = await eventually(
    () => client.getStatus(store.storeId),
    (s) => s.usage?.quietPeriod?.endsAt !== undefined,
    30_000,
    'every key disabled',
  );
  expect(quiet.usage?.quietPeriod?.disabled).toBe(store.enabled.length);
  expect(await disableAttempts(store)).toBeGreaterThan(0);
  await client.cancel(store.storeId, { by: 'carol', reason: 'payments objected' });
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  expect({ lost: await keyState(h, lost), report: report.keys.find((k) => k.keyId === lost) }).toEqual({
    lost: 'Enabled',
    report: expect.objectContaining({ disabledByRun: true, priorState: 'Enabled', restoredState: 'Enabled' }),
  });
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
  const audit = ofStore(store, await h.emulator.admin.audit());
  const ok = (op: string) => [...new Set(audit.filter((e) => e.operation === op && e.outcome === 'OK').map((e) => e.keyId))].sort();
  // The lost call counts: KMS executed it (the audit says KMSInternalException, injected after the fact).
  const disabled = [...new Set(audit.filter((e) => e.operation === 'DisableKey' && (e.outcome === 'OK' || e.injectedFault)).map((e) => e.keyId))].sort();
  expect(ok('EnableKey')).toEqual(disabled);
  expect(disabled).toEqual([...store.enabled].sort());
}, 90_000);

test('a lost DisableKey answer, then a cancel while disableKeys waits for its retry: that key is re-enabled', async () => {
  const store = await seedStore(h, { enabled: 5, disabled: 1, bystanders: 0, aliases: false });
  const lost = await lostDisable(store, '5m');
  // Temporal retries the activity after 2 s: the cancel lands in that gap (or right after the retry began).
  const ack = await client.cancel(store.storeId, { by: 'carol', reason: 'abandon' });
  expect(ack.accepted).toBe(true);
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  expect(await keyState(h, lost)).toBe('Enabled');
  for (const key of store.enabled) expect(await keyState(h, key)).toBe('Enabled');
  for (const key of store.disabled) expect(await keyState(h, key)).toBe('Disabled');
  const audit = ofStore(store, await h.emulator.admin.audit());
  expect(audit.filter((e) => store.disabled.includes(e.keyId ?? '') && (e.operation === 'EnableKey' || e.operation === 'DisableKey'))).toEqual([]);
  expect(report.keys.find((k) => k.keyId === lost)).toMatchObject({ disabledByRun: true, restoredState: 'Enabled' });
}, 90_000);

test('a lost DisableKey answer without a cancel: the run goes on, schedules every key, and still reports the key as disabled by this run', async () => {
  const store = await seedStore(h, { enabled: 4, disabled: 1, bystanders: 0, aliases: false });
  const lost = await lostDisable(store, '2s');
  const report = await client.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  const key = report.keys.find((k) => k.keyId === lost);
  expect(key).toMatchObject({ disabledByRun: true, priorState: 'Enabled', scheduledBy: 'this-run' });
  expect(report.usage?.quietPeriod?.disabled).toBe(store.enabled.length);
  expect(
    report.keys
      .filter((k) => k.disabledByRun)
      .map((k) => k.keyId)
      .sort(),
  ).toEqual([...store.enabled].sort());
  const description = await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).describe();
  expect(description.status.name).toBe('COMPLETED');
  const history = await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).fetchHistory();
  expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
}, 90_000);
