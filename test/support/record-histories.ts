// Recording scenarios for the phase-machine workflow (src/workflows/; phases.ts is the phase table):
// one real run per history of test/histories/<package.json version>/, against the real dev server and an
// in-process emulator. Not a test suite: the file name does not match jest's testMatch (**/*.test.ts), so
// `npm test` never runs it. Record (from the repository root; jest's globalSetup starts the dev server):
//
//   RECORD_HISTORIES=1 TEMPORAL_CLI_PATH=$HOME/.cache/kms-decommission/temporal-cli-1.9.1/temporal npx jest --testMatch '**/test/support/record-histories.ts' --runInBand
//
// Without RECORD_HISTORIES=1 every scenario runs and checks itself, and nothing is written. One scenario:
// append -t 'records cancel-waiting$'. Each scenario asserts the outcome its name claims (a run that
// silently did something else fails rather than being recorded), that no workflow task failed, and that
// the exported history replays on the current bundle; then recordHistory files it (it refuses to
// overwrite a recorded history; checked before the run too). Record once the workflow code is final. If a
// scenario fails while recording, the ones before it are filed already: re-run only the failed ones with -t.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { DescribeCustomKeyStoresCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { execFileSync } from 'node:child_process';
import { createActivities, createCloudTrailClient, createKmsClient, createKmsRateLimiter } from '../../src/activities';
import { DecommissionClient, type DecommissionInput, type DecommissionReport, type DecommissionStatus, type UpdateAck } from '../../src/client';
import { historyStats } from '../../src/devtools/history-stats';
import { startDevServer } from '../../src/devtools/temporal-dev-server';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, workflowBundle, type Harness, type HarnessOptions } from './harness';
import { assertNotRecorded, exportHistory, recordHistory, writeHistory } from './histories';
import {
  createDecisionVerifier,
  generateDecisionKeyPair,
  importDecisionSigningKey,
  type DecisionSigningKey,
  type DecisionVerifier,
} from '../../src/decisions/signing';
import type { DecisionKind } from '../../src/shared/decisions';
import { signedAsPortal } from './signing';
import { slackWebhookSink } from '../../src/activities/notify-sinks';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver';
import { createKeyOutOfBand, fastInput, keyState, mutatingCalls, seedStore, successfulCalls, waitForPhase, type SeededStore } from './scenario';

interface HistoryEvent {
  eventType?: string;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string };
}

interface History {
  events: HistoryEvent[];
}

const recording = Boolean(process.env.RECORD_HISTORIES);
const CLOSED = {
  COMPLETED: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
  CANCELED: 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED',
  CONTINUED_AS_NEW: 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
} as const;

const activities = (events: HistoryEvent[], name: string) => events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;

/** The checks every recording gets: the run closed as claimed, no workflow task failed, it replays on this code. */
async function checkHistory(json: string, workflowId: string, closes: keyof typeof CLOSED): Promise<HistoryEvent[]> {
  const history = JSON.parse(json) as History;
  const types = history.events.map((e) => e.eventType);
  expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_TASK_FAILED')).toEqual([]);
  expect(types[types.length - 1]).toBe(CLOSED[closes]);
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
  return history.events;
}

interface Scenario {
  /** A function when the options need something started first (the portal's keys, a webhook receiver). */
  harness?: HarnessOptions | (() => HarnessOptions);
  /** How the run closes in Temporal (a cancelled decommission closes as Canceled). */
  closes: keyof typeof CLOSED;
  timeoutMs?: number;
  /** Runs the scenario to its end, asserting the outcome; returns the store ID. */
  run(h: Harness): Promise<string>;
  /** What the exported history must show (e.g. how many rollbackKeys activities). */
  expectHistory?(events: HistoryEvent[]): void;
}

/** A small store: 2 enabled keys with aliases, 1 disabled, 1 bystander of the default store. */
const small = (h: Harness, extra: Parameters<typeof seedStore>[1] = {}) => seedStore(h, { enabled: 2, disabled: 1, bystanders: 1, ...extra });
const ours = (store: SeededStore) => [...store.enabled, ...store.disabled];

/** Timings of a run that must not drift-scan while it waits (keeps the history small and its shape fixed). */
function quiet(storeId: string, extra: Partial<DecommissionInput> = {}): DecommissionInput {
  return fastInput(storeId, {
    ...extra,
    timing: { storePollInterval: 100, driftCheckInterval: '1h', verifyInterval: 200, verifyPatience: 20_000, ...extra.timing },
  });
}

async function startAndApprove(h: Harness, input: DecommissionInput): Promise<DecommissionStatus> {
  await h.decommissions.startDecommission(input);
  const awaiting = await waitForPhase(h, input.customKeyStoreId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(input.customKeyStoreId, { approver: 'bob', comment: 'CAB approved' });
  return awaiting;
}

/** Waits until the run has an activity of this type in flight (Temporal's own view of the run). */
async function pendingActivity(h: Harness, storeId: string, type: string, timeoutMs = 30_000): Promise<void> {
  const handle = h.temporal.workflow.getHandle(workflowIdFor(storeId));
  await eventually(
    async () => ((await handle.describe()).raw.pendingActivities ?? []).map((a) => a.activityType?.name),
    (names) => names.includes(type),
    timeoutMs,
    `a pending ${type} activity of ${storeId}`,
  );
}

async function storeCalls(h: Harness, storeId: string, operation: string, outcome = 'OK') {
  return (await h.emulator.admin.audit({ operation })).filter((e) => e.customKeyStoreId === storeId && e.outcome === outcome);
}

async function storeState(h: Harness, storeId: string): Promise<string> {
  try {
    const out = await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }));
    return out.CustomKeyStores?.[0]?.ConnectionState ?? 'UNKNOWN';
  } catch (err) {
    if ((err as Error).name === 'CustomKeyStoreNotFoundException') return 'DELETED';
    throw err;
  }
}

/** A run that ended COMPLETED: every key of the store deleted, the store disconnected and deleted. */
async function expectCompleted(h: Harness, store: SeededStore, report: DecommissionReport, keys: number): Promise<void> {
  expect(report.outcome).toBe('COMPLETED');
  expect(report.counts).toMatchObject({ inventoried: keys, scheduled: keys, deleted: keys, remaining: 0, rolledBack: 0 });
  expect(await storeState(h, store.storeId)).toBe('DELETED');
  // The teardown: one disconnect after the last key was scheduled (a FAILED store is also disconnected before each connect).
  const lastSchedule = Math.max(...(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).map((e) => e.seq));
  expect((await storeCalls(h, store.storeId, 'DisconnectCustomKeyStore')).filter((e) => e.seq > lastSchedule)).toHaveLength(1);
  expect(await storeCalls(h, store.storeId, 'DeleteCustomKeyStore')).toHaveLength(1);
  for (const id of store.bystanders) expect(await keyState(h, id)).toBe('Enabled');
}

/** Cancelled before anything changed: CANCELLED, not a single mutating KMS call on the store or its keys. */
async function expectNothingChanged(h: Harness, store: SeededStore, report: DecommissionReport): Promise<void> {
  expect(report.outcome).toBe('CANCELLED');
  expect(report.counts).toMatchObject({ scheduled: 0, rolledBack: 0, deleted: 0 });
  expect(await mutatingCalls(h, store)).toEqual([]);
  for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
  for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
}

/** Cancelled after scheduling: every key this run scheduled is back in its prior state, the store is kept. */
async function expectRolledBack(h: Harness, store: SeededStore, report: DecommissionReport, rolledBack: number): Promise<void> {
  expect(report.outcome).toBe('CANCELLED');
  expect(report.counts.rolledBack).toBe(rolledBack);
  for (const key of report.keys.filter((k) => k.scheduledBy === 'this-run')) expect(key.restoredState).toBe(key.priorState);
  const restored = new Set((await successfulCalls(h, 'CancelKeyDeletion', ours(store))).map((e) => e.keyId));
  expect(restored.size).toBe(rolledBack);
  expect(await storeCalls(h, store.storeId, 'DisconnectCustomKeyStore')).toEqual([]);
  expect(await storeCalls(h, store.storeId, 'DeleteCustomKeyStore')).toEqual([]);
  expect(await storeState(h, store.storeId)).not.toBe('DELETED');
}

/** A cancel accepted in `phase`: the ack names that phase (BLOCKED while blocked). */
async function cancelIn(h: Harness, storeId: string, phase: string, reason: string): Promise<UpdateAck> {
  const ack = await h.decommissions.cancel(storeId, { by: 'bob', reason });
  expect(ack).toMatchObject({ accepted: true, phase });
  return ack;
}

/** 0.4.0: the portal API's signing key (the workers trust its public half) and a Slack-compatible webhook. */
let portalKey: DecisionSigningKey;
let trustPortal: DecisionVerifier;
let webhook: WebhookReceiver;
beforeAll(async () => {
  const pair = await generateDecisionKeyPair('portal-api');
  portalKey = await importDecisionSigningKey(pair.privateJwk);
  trustPortal = createDecisionVerifier(pair.publicJwks);
  webhook = await startWebhookReceiver();
});
afterAll(() => webhook?.close());

/** A deployment that requires signed decisions and notifies a webhook. */
const portalDeployment = (): HarnessOptions => ({
  emulator: { dayMs: 1_500 },
  deps: {
    policy: { requireApproval: true, allowSelfApproval: false, requireSignedDecisions: true },
    verifyDecision: trustPortal,
    notify: { sinks: [slackWebhookSink(webhook.url)], links: { portalUrl: 'https://portal.example.com', temporalUiUrl: 'http://localhost:8233' } },
  },
});

/** What the portal API sends for `sub`. */
function signedBy<R extends object>(h: Harness, kind: DecisionKind, storeId: string, sub: string, request: R): Promise<R & { signature: string }> {
  return signedAsPortal(h, portalKey, kind, storeId, sub, request);
}

/** The webhook messages of one run, by dedupe key. */
const notified = (storeId: string) =>
  webhook
    .accepted()
    .map((r) => r.body)
    .filter((b) => b.includes(workflowIdFor(storeId)))
    .map((b) => (b.match(/kms-decommission-cks-[0-9a-z]+\/[0-9a-f-]{36}\/([A-Z_]+(?:\/[A-Z_]+-\d+)?)/) ?? ['', ''])[1]);

const SCENARIOS: Record<string, Scenario> = {
  // 501 keys (SCHEDULE_BATCH = 500: two scheduleKeys), a DISCONNECTED CloudHSM store connected first,
  // approved by a second person; a 7-day window of 7 × 1 s with the connection watcher every 250 ms and
  // drift scans every 3 s; verification, disconnect, delete.
  'completed-cloudhsm-two-schedule-batches': {
    harness: { emulator: { dayMs: 1_000 } },
    closes: 'COMPLETED',
    timeoutMs: 180_000,
    async run(h) {
      const store = await seedStore(h, { enabled: 500, disabled: 1, bystanders: 2, aliases: false, connectionState: 'DISCONNECTED' });
      const input = fastInput(store.storeId, {
        pendingWindowInDays: 7,
        ticket: 'CHG-2002',
        timing: { storePollInterval: 100, driftCheckInterval: 3_000, verifyInterval: 200, verifyPatience: 20_000, connectionCheckInterval: 250 },
      });
      const awaiting = await startAndApprove(h, input);
      expect(awaiting.store?.connectionState).toBe('DISCONNECTED');
      expect(awaiting.counts.inventoried).toBe(501);
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectCompleted(h, store, report, 501);
      expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob']);
      expect(report.storeConnectedThroughout).toBe(true);
      expect(await storeCalls(h, store.storeId, 'ConnectCustomKeyStore')).toHaveLength(1);
      expect(new Set((await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).map((e) => e.keyId)).size).toBe(501);
      // The connection watcher checked the store many times during the 7 s wait (apart from the drift scans).
      expect((await storeCalls(h, store.storeId, 'DescribeCustomKeyStores')).length).toBeGreaterThan(10);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'connectStore')).toBe(1);
      expect(activities(events, 'scheduleKeys')).toBe(2);
      // 0.3.0: the waiting period's connection checks run inside watchPeriod, with the attempted-use watch.
      expect(activities(events, 'watchPeriod')).toBeGreaterThanOrEqual(1);
      expect(activities(events, 'driftScan')).toBeGreaterThanOrEqual(1);
      expect(activities(events, 'checkKeys')).toBeGreaterThanOrEqual(1);
      expect(activities(events, 'disconnectStore')).toBe(1);
      expect(activities(events, 'deleteStore')).toBe(1);
      expect(activities(events, 'rollbackKeys')).toBe(0);
    },
  },

  // 1,001 keys scheduled (three batches), cancelled during WAITING: ROLLBACK_BATCH = 1,000, so two rollbackKeys.
  'cancel-waiting-two-rollback-batches': {
    closes: 'CANCELED',
    timeoutMs: 180_000,
    async run(h) {
      const store = await seedStore(h, { enabled: 1_000, disabled: 1, bystanders: 1, aliases: false });
      await startAndApprove(h, quiet(store.storeId, { pendingWindowInDays: 30 }));
      const waiting = await waitForPhase(h, store.storeId, 'WAITING', 120_000);
      expect(waiting.counts.scheduled).toBe(1_001);
      await cancelIn(h, store.storeId, 'WAITING', 'application still in use');
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectRolledBack(h, store, report, 1_001);
      expect(report.keys).toHaveLength(1_001);
      for (const id of store.enabled.slice(0, 3)) expect(await keyState(h, id)).toBe('Enabled');
      expect(await keyState(h, store.disabled[0])).toBe('Disabled');
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(3);
      expect(activities(events, 'rollbackKeys')).toBe(2);
    },
  },

  // CONNECT_FAILED (3 failed connects), resolved with reconnect naming the blocker: the 4th connect succeeds → COMPLETED.
  'blocked-connect-failed-resolved': {
    harness: { emulator: { dayMs: 500 } },
    closes: 'COMPLETED',
    async run(h) {
      const store = await small(h, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOGGED_IN' });
      await h.emulator.admin.failNextConnects(store.storeId, { count: 3, connectionErrorCode: 'USER_LOCKED_OUT' });
      await startAndApprove(h, quiet(store.storeId));
      const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
      expect(blocked.previousPhase).toBe('CONNECTING');
      expect(blocked.blocker).toMatchObject({
        id: 'CONNECT_FAILED-1',
        kind: 'CONNECT_FAILED',
        allowedActions: ['reconnect', 'proceed'],
        connectionErrorCode: 'USER_LOCKED_OUT',
      });
      await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'reconnect', blockerId: 'CONNECT_FAILED-1', comment: 'kmsuser unlocked' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectCompleted(h, store, report, 3);
      expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob', 'resolved:bob']);
      expect(await storeCalls(h, store.storeId, 'ConnectCustomKeyStore')).toHaveLength(4);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'connectStore')).toBe(2);
      expect(activities(events, 'scheduleKeys')).toBe(1);
    },
  },

  // A key created in the store during WAITING: the drift scan blocks NEW_KEYS; a second person resolves
  // schedule-new-keys; the new key is scheduled too and the run completes.
  'blocked-new-keys-resolved': {
    harness: { emulator: { dayMs: 1_000 } },
    closes: 'COMPLETED',
    async run(h) {
      const store = await small(h);
      await startAndApprove(
        h,
        fastInput(store.storeId, { timing: { storePollInterval: 100, driftCheckInterval: 1_500, verifyInterval: 200, verifyPatience: 20_000 } }),
      );
      await waitForPhase(h, store.storeId, 'WAITING');
      const fresh = await createKeyOutOfBand(h, store.storeId);
      const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
      expect(blocked.previousPhase).toBe('WAITING');
      expect(blocked.blocker).toMatchObject({ id: 'NEW_KEYS-1', kind: 'NEW_KEYS', keyIds: [fresh], keyCount: 1, allowedActions: ['schedule-new-keys'] });
      await expect(h.decommissions.resolve(store.storeId, { by: 'alice', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1' })).rejects.toThrow(/Four-eyes/);
      await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'schedule-new-keys', blockerId: 'NEW_KEYS-1', comment: 'test key, ok to delete' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectCompleted(h, { ...store, keyIds: [...store.keyIds, fresh] }, report, 4);
      expect(report.keys.find((k) => k.keyId === fresh)).toMatchObject({ scheduledBy: 'this-run' });
      expect(report.keys.find((k) => k.keyId === fresh)?.confirmedDeletedAt).toBeDefined();
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(2);
      expect(activities(events, 'driftScan')).toBeGreaterThanOrEqual(1);
    },
  },

  // Cancel in WAITING while CancelKeyDeletion answers AccessDenied: BLOCKED ROLLBACK_FAILED; the
  // permission is fixed, resolve retry restores every key → CANCELLED.
  'rollback-failed-retried': {
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h);
      await startAndApprove(h, quiet(store.storeId, { pendingWindowInDays: 30 }));
      await waitForPhase(h, store.storeId, 'WAITING');
      await h.emulator.admin.setFaults([{ operation: 'CancelKeyDeletion', errorRate: 1, errorType: 'AccessDeniedException' }]);
      await cancelIn(h, store.storeId, 'WAITING', 'application still in use');
      const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
      expect(blocked.previousPhase).toBe('ROLLING_BACK');
      expect(blocked.blocker).toMatchObject({ id: 'ROLLBACK_FAILED-1', kind: 'ROLLBACK_FAILED', keyCount: 3, allowedActions: ['retry'] });
      const blocker = blocked.blocker as Extract<NonNullable<DecommissionStatus['blocker']>, { kind: 'ROLLBACK_FAILED' }>;
      expect([...blocker.keyIds].sort()).toEqual([...ours(store)].sort());
      expect(blocker.error).toMatch(/AccessDenied/);
      for (const id of ours(store)) expect(await keyState(h, id)).toBe('PendingDeletion');
      await h.emulator.admin.clearFaults();
      await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'retry', blockerId: blocker.id, comment: 'kms:CancelKeyDeletion granted' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectRolledBack(h, store, report, 3);
      for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
      for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'rollbackKeys')).toBe(2);
    },
  },

  // VALIDATING held by a 5 s DescribeCustomKeyStores: cancel while the preflight describe is in flight.
  'cancel-validating': {
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h);
      await h.emulator.admin.setFaults([{ operation: 'DescribeCustomKeyStores', latencyMs: 5_000 }]);
      await h.decommissions.startDecommission(quiet(store.storeId));
      await pendingActivity(h, store.storeId, 'describeStore');
      expect((await h.decommissions.getStatus(store.storeId)).phase).toBe('VALIDATING');
      const ack = await cancelIn(h, store.storeId, 'VALIDATING', 'wrong store');
      expect(ack.message).toMatch(/nothing was changed/i);
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectNothingChanged(h, store, report);
      expect(report.counts.inventoried).toBe(0);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'describeStore')).toBe(1);
      expect(activities(events, 'inventoryScan')).toBe(0);
    },
  },

  // INVENTORY held by a 5 s DescribeKey: cancel while the scan is in flight.
  'cancel-inventory': {
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h);
      await h.emulator.admin.setFaults([{ operation: 'DescribeKey', latencyMs: 5_000 }]);
      await h.decommissions.startDecommission(quiet(store.storeId));
      await pendingActivity(h, store.storeId, 'inventoryScan');
      expect((await h.decommissions.getStatus(store.storeId)).phase).toBe('INVENTORY');
      const ack = await cancelIn(h, store.storeId, 'INVENTORY', 'wrong store');
      expect(ack.message).toMatch(/nothing was changed/i);
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await h.emulator.admin.clearFaults();
      await expectNothingChanged(h, store, report);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'inventoryScan')).toBe(1);
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  'cancel-awaiting-approval': {
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h);
      await h.decommissions.startDecommission(quiet(store.storeId));
      const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      expect(awaiting.counts.inventoried).toBe(3);
      const ack = await cancelIn(h, store.storeId, 'AWAITING_APPROVAL', 'wrong store');
      expect(ack.message).toMatch(/nothing was changed/i);
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectNothingChanged(h, store, report);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  // A DISCONNECTED store and a 6 s connect: cancel while ConnectCustomKeyStore is in progress.
  'cancel-connecting': {
    harness: { emulator: { connectMs: 6_000 } },
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h, { connectionState: 'DISCONNECTED' });
      await startAndApprove(h, quiet(store.storeId));
      await waitForPhase(h, store.storeId, 'CONNECTING');
      await pendingActivity(h, store.storeId, 'connectStore');
      await eventually(
        () => storeCalls(h, store.storeId, 'ConnectCustomKeyStore'),
        (calls) => calls.length === 1,
        10_000,
        'ConnectCustomKeyStore sent',
      );
      expect(await storeState(h, store.storeId)).toBe('CONNECTING');
      await cancelIn(h, store.storeId, 'CONNECTING', 'HSM cluster is being rebuilt');
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('CANCELLED');
      expect(report.counts).toMatchObject({ scheduled: 0, rolledBack: 0 });
      expect(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).toEqual([]);
      expect(await storeCalls(h, store.storeId, 'ConnectCustomKeyStore')).toHaveLength(1);
      for (const id of store.enabled) expect(['Enabled', 'Unavailable']).toContain(await keyState(h, id));
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'connectStore')).toBe(1);
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  // Temporal's own cancel mid-batch (ScheduleKeyDeletion takes 1 s each, 4 in flight): the batch stops,
  // the rollback covers every key it may have scheduled, the run closes as Canceled.
  'cancel-scheduling-temporal-cancel': {
    closes: 'CANCELED',
    async run(h) {
      const store = await seedStore(h, { enabled: 10, disabled: 2, bystanders: 1, aliases: false });
      await h.emulator.admin.setFaults([{ operation: 'ScheduleKeyDeletion', latencyMs: 1_000 }]);
      await startAndApprove(h, quiet(store.storeId, { pendingWindowInDays: 30 }));
      await eventually(
        () => successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds),
        (calls) => calls.length >= 1,
        30_000,
        'a first key scheduled',
      );
      expect((await h.decommissions.getStatus(store.storeId)).phase).toBe('SCHEDULING');
      await h.temporal.workflow.getHandle(workflowIdFor(store.storeId)).cancel();
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await h.emulator.admin.clearFaults();
      const scheduled = new Set((await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).map((e) => e.keyId));
      expect(scheduled.size).toBeGreaterThanOrEqual(1);
      expect(scheduled.size).toBeLessThan(12); // the batch stopped
      await expectRolledBack(h, store, report, scheduled.size);
      expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob', 'cancelled:temporal-cancel']);
      for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
      for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(1);
      expect(activities(events, 'rollbackKeys')).toBe(1);
      expect(events.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED')).toBe(true);
    },
  },

  'cancel-waiting': {
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h);
      await startAndApprove(h, quiet(store.storeId, { pendingWindowInDays: 30 }));
      await waitForPhase(h, store.storeId, 'WAITING');
      const ack = await cancelIn(h, store.storeId, 'WAITING', 'application still in use');
      expect(ack.message).toMatch(/3 key\(s\) this run scheduled will be cancelled/);
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectRolledBack(h, store, report, 3);
      for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
      for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(1);
      expect(activities(events, 'rollbackKeys')).toBe(1);
    },
  },

  // KMS lags a full emulated day (3 s) behind the DeletionDates: the run sits in VERIFYING with every key
  // still pending; the cancel restores them and keeps the store.
  'cancel-verifying': {
    harness: { emulator: { dayMs: 3_000, deletionLagHours: 24 } },
    closes: 'CANCELED',
    timeoutMs: 90_000,
    async run(h) {
      const store = await small(h);
      await startAndApprove(h, quiet(store.storeId));
      await waitForPhase(h, store.storeId, 'WAITING');
      const verifying = await waitForPhase(h, store.storeId, 'VERIFYING', 40_000);
      expect(verifying.counts).toMatchObject({ scheduled: 3, deleted: 0 });
      const ack = await cancelIn(h, store.storeId, 'VERIFYING', 'application still in use');
      expect(ack.message).not.toMatch(/nothing was changed/i);
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectRolledBack(h, store, report, 3);
      expect(report.counts.deleted).toBe(0);
      for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
      for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
      expect(await storeState(h, store.storeId)).toBe('CONNECTED');
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'checkKeys')).toBeGreaterThanOrEqual(1);
      expect(activities(events, 'rollbackKeys')).toBe(1);
      expect(activities(events, 'disconnectStore')).toBe(0);
    },
  },

  // A store that cannot connect (FAILED, every reconnect fails): BLOCKED CONNECT_FAILED, then cancel.
  'cancel-while-blocked': {
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOGGED_IN' });
      await h.emulator.admin.failNextConnects(store.storeId, { count: 3, connectionErrorCode: 'USER_LOCKED_OUT' });
      await startAndApprove(h, quiet(store.storeId));
      const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
      expect(blocked.previousPhase).toBe('CONNECTING');
      expect(blocked.blocker).toMatchObject({ id: 'CONNECT_FAILED-1', kind: 'CONNECT_FAILED' });
      await cancelIn(h, store.storeId, 'BLOCKED', 'HSM cluster is being rebuilt');
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('CANCELLED');
      expect(report.counts).toMatchObject({ scheduled: 0, rolledBack: 0 });
      expect(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).toEqual([]);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'connectStore')).toBe(1);
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  // No approval within approvalTimeout (2 s): CANCELLED, nothing changed.
  'approval-timed-out': {
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h);
      await h.decommissions.startDecommission(quiet(store.storeId, { approvalTimeout: '2s' }));
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectNothingChanged(h, store, report);
      expect(report.reason).toMatch(/approval timed out/);
      expect(report.decisions.map((d) => d.what)).toEqual(['requested', 'approval-timeout']);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  'dry-run': {
    closes: 'COMPLETED',
    async run(h) {
      const store = await small(h, { pending: 1 });
      await h.decommissions.startDecommission(quiet(store.storeId, { dryRun: true }));
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('DRY_RUN_COMPLETE');
      expect(report.counts).toMatchObject({ inventoried: 4, toSchedule: 3, alreadyPending: 1, scheduled: 0 });
      expect(report.notes.join(' ')).toMatch(/Dry run: would schedule 3 keys/);
      expect(await mutatingCalls(h, store)).toEqual([]);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'inventoryScan')).toBe(1);
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  // 0.3.0: usage evidence. One key was used a moment ago: the approval must acknowledge it.
  'recent-use-acknowledged': {
    harness: { emulator: { dayMs: 500 } },
    closes: 'COMPLETED',
    async run(h) {
      const store = await small(h);
      await h.kms.send(new EncryptCommand({ KeyId: store.enabled[0], Plaintext: Buffer.from('still needed') }));
      await h.decommissions.startDecommission(quiet(store.storeId));
      const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      expect(awaiting.usage?.recentlyUsed).toBe(1);
      await expect(h.decommissions.approve(store.storeId, { approver: 'bob' })).rejects.toThrow(/acknowledgeRecentlyUsedKeys: must be 1/);
      await h.decommissions.approve(store.storeId, { approver: 'bob', acknowledgeRecentlyUsedKeys: 1 });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectCompleted(h, store, report, 3);
      expect(report.usage?.deletionEvidence).toMatchObject({ found: 3, of: 3 });
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'keyLastUsage')).toBe(1);
      expect(activities(events, 'findDeletionEvidence')).toBeGreaterThanOrEqual(1);
    },
  },

  // A quiet period: two Enabled keys disabled; an application fails on one (DisabledException) → KEY_IN_USE;
  // the cancel re-enables exactly the two keys this run disabled.
  'quiet-period-key-in-use-cancelled': {
    harness: { deps: { policy: { requireApproval: true, allowSelfApproval: false, minimumQuietPeriodMs: 1_000 } } },
    closes: 'CANCELED',
    async run(h) {
      const store = await small(h);
      const client = new DecommissionClient({ client: h.temporal, taskQueue: h.taskQueue, minimumQuietPeriodMs: 1_000 });
      await client.startDecommission(quiet(store.storeId, { quietPeriod: '60s', timing: { usageCheckInterval: 500, cloudTrailDeliveryLag: 1_000 } }));
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await client.approve(store.storeId, { approver: 'bob' });
      await eventually(
        () => keyState(h, store.enabled[0] as string),
        (state) => state === 'Disabled',
        20_000,
        'the quiet period to disable the key',
      );
      await h.emulator.admin.startUsage({ keyId: store.enabled[0] as string, everyMs: 200, principal: 'payments-app' });
      try {
        const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
        expect(blocked.blocker).toMatchObject({ id: 'KEY_IN_USE-1', kind: 'KEY_IN_USE' });
        await cancelIn(h, store.storeId, 'BLOCKED', 'payments still uses the key');
      } finally {
        await h.emulator.admin.stopAllUsage();
      }
      const report = await client.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('CANCELLED');
      for (const id of store.enabled) expect(await keyState(h, id)).toBe('Enabled');
      for (const id of store.disabled) expect(await keyState(h, id)).toBe('Disabled');
      expect(await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).toEqual([]);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'disableKeys')).toBe(1);
      expect(activities(events, 'watchPeriod')).toBeGreaterThanOrEqual(1);
      expect(activities(events, 'rollbackKeys')).toBe(1);
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  // Attempted use while the keys are pending deletion → KEY_IN_USE in WAITING; a second person proceeds.
  'waiting-key-in-use-proceeded': {
    harness: { emulator: { dayMs: 1_500 } },
    closes: 'COMPLETED',
    timeoutMs: 90_000,
    async run(h) {
      const store = await small(h);
      await startAndApprove(h, quiet(store.storeId, { timing: { usageCheckInterval: 400, cloudTrailDeliveryLag: 1_000 } }));
      await waitForPhase(h, store.storeId, 'WAITING');
      await h.emulator.admin.startUsage({ keyId: store.enabled[0] as string, everyMs: 250, principal: 'payments-app' });
      try {
        const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
        expect(blocked.blocker).toMatchObject({ kind: 'KEY_IN_USE', allowedActions: ['proceed'] });
        await h.decommissions.resolve(store.storeId, { by: 'bob', action: 'proceed', blockerId: blocked.blocker?.id as string });
        const report = await h.decommissions.getReport(store.storeId, { wait: true });
        await expectCompleted(h, store, report, 3);
        expect(report.attemptedUses?.length).toBeGreaterThan(0);
      } finally {
        await h.emulator.admin.stopAllUsage();
      }
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'watchPeriod')).toBeGreaterThanOrEqual(1);
      expect(activities(events, 'findDeletionEvidence')).toBeGreaterThanOrEqual(1);
    },
  },

  // 0.4.0: a deployment that requires signed decisions and notifies. A signed start; an unsigned approval
  // (refused by the validator: nothing recorded) and one whose request was changed after signing (refused
  // after verification); the signed approval; a key created in the store while it waits → BLOCKED; a signed
  // resolve by a third person. One webhook message per transition.
  'signed-decisions-notified-completed': {
    harness: portalDeployment,
    closes: 'COMPLETED',
    timeoutMs: 90_000,
    async run(h) {
      const store = await small(h);
      await h.decommissions.startDecommission(
        await signedBy(
          h,
          'start',
          store.storeId,
          'alice',
          fastInput(store.storeId, {
            pendingWindowInDays: 7,
            ticket: 'CHG-4004',
            timing: { storePollInterval: 100, driftCheckInterval: 1_500, verifyInterval: 200, verifyPatience: 20_000 },
          }),
        ),
      );
      const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      expect(awaiting.requester).toEqual({ subject: 'alice', name: 'alice@example.com', verified: true });
      await expect(h.decommissions.approve(store.storeId, { approver: 'bob' })).rejects.toThrow(/requires signed decisions/);
      const tampered = { ...(await signedBy(h, 'approve', store.storeId, 'bob', { approver: 'bob' })), comment: 'added later' };
      await expect(h.decommissions.approve(store.storeId, tampered)).rejects.toThrow(/signed request differs/);
      await h.decommissions.approve(store.storeId, await signedBy(h, 'approve', store.storeId, 'bob', { approver: 'bob', comment: 'CAB approved' }));
      await waitForPhase(h, store.storeId, 'WAITING');
      await createKeyOutOfBand(h, store.storeId);
      const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 60_000);
      const blockerId = blocked.blocker?.id as string;
      await h.decommissions.resolve(
        store.storeId,
        await signedBy(h, 'resolve', store.storeId, 'carol', { by: 'carol', action: 'schedule-new-keys' as const, blockerId }),
      );
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('COMPLETED');
      expect(report.decisions.map((d) => `${d.what}:${d.by}:${d.verified ?? false}`)).toEqual([
        'requested:alice:true',
        'approved:bob:true',
        'resolved:carol:true',
      ]);
      expect(notified(store.storeId)).toEqual(['AWAITING_APPROVAL', `BLOCKED/${blockerId}`, 'COMPLETED']);
      return store.storeId;
    },
    expectHistory(events) {
      // start, the tampered approval, the approval, the resolution (the unsigned one never reached the history).
      expect(activities(events, 'verifyDecision')).toBe(4);
      expect(activities(events, 'notify')).toBe(3);
    },
  },

  // 0.4.0: signed decisions, cancelled during WAITING by a signed cancel; the rollback; CANCELLED notified.
  'signed-cancel-waiting-notified': {
    harness: portalDeployment,
    closes: 'CANCELED',
    timeoutMs: 90_000,
    async run(h) {
      const store = await small(h);
      await h.decommissions.startDecommission(await signedBy(h, 'start', store.storeId, 'alice', quiet(store.storeId, { pendingWindowInDays: 30 })));
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.approve(store.storeId, await signedBy(h, 'approve', store.storeId, 'bob', { approver: 'bob' }));
      await waitForPhase(h, store.storeId, 'WAITING');
      await expect(h.decommissions.cancel(store.storeId, { by: 'carol', reason: 'unsigned' })).rejects.toThrow(/requires signed decisions/);
      const ack = await h.decommissions.cancel(
        store.storeId,
        await signedBy(h, 'cancel', store.storeId, 'carol', { by: 'carol', reason: 'application owner objected' }),
      );
      expect(ack).toMatchObject({ accepted: true, phase: 'WAITING' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      await expectRolledBack(h, store, report, 3);
      expect(notified(store.storeId)).toEqual(['AWAITING_APPROVAL', 'CANCELLED']);
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'verifyDecision')).toBe(3);
      expect(activities(events, 'notify')).toBe(2);
      expect(activities(events, 'rollbackKeys')).toBe(1);
    },
  },
};

for (const [name, scenario] of Object.entries(SCENARIOS)) {
  test(
    `records ${name}`,
    async () => {
      if (recording) assertNotRecorded(name); // before minutes of running
      const h = await startHarness(typeof scenario.harness === 'function' ? scenario.harness() : scenario.harness);
      let storeId: string;
      try {
        storeId = await scenario.run(h);
      } finally {
        await h.close();
      }
      const workflowId = workflowIdFor(storeId);
      const events = await checkHistory(exportHistory(workflowId), workflowId, scenario.closes);
      scenario.expectHistory?.(events);
      recordHistory(workflowId, name);
    },
    scenario.timeoutMs ?? 60_000,
  );
}

/** One run of a chain, by run ID (`temporal workflow show` without one shows the latest run). */
function exportRun(address: string, workflowId: string, runId: string): string {
  const cli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
  return execFileSync(cli, ['workflow', 'show', '--address', address, '-w', workflowId, '-r', runId, '-o', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** A 3-key store decommissioned on the dedicated server at `address`: returns the chain's workflow ID and first run ID. */
async function continueAsNewChain(address: string): Promise<{ id: string; firstRunId: string }> {
  // The harness for its emulator (and the runtime's logger); its own worker polls the shared server, idle.
  const h = await startHarness({ emulator: { dayMs: 1_000 } });
  const native = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const sdk = { endpoint: h.emulator.url, region: h.emulator.region, credentials: h.emulator.credentials };
  const worker = await Worker.create({
    connection: native,
    taskQueue: 'continue-as-new',
    workflowBundle: await workflowBundle(),
    activities: createActivities({ kms: createKmsClient(sdk), cloudTrail: createCloudTrailClient(sdk), limiter: createKmsRateLimiter({ quotaScale: 0 }) }),
  });
  const running = worker.run();
  const client = new DecommissionClient({ client: new Client({ connection }), taskQueue: 'continue-as-new' });
  try {
    const store = await small(h);
    const storeId = store.storeId;
    const started = await client.startDecommission(
      fastInput(storeId, { timing: { storePollInterval: 100, driftCheckInterval: 1_000, verifyInterval: 200, verifyPatience: 20_000 } }),
    );
    expect(started.runId).toBeDefined();
    await eventually(
      () => client.getStatus(storeId),
      (s) => s.phase === 'AWAITING_APPROVAL',
      30_000,
      'AWAITING_APPROVAL',
    );
    await client.approve(storeId, { approver: 'bob', comment: 'CAB approved' });
    const report = await client.getReport(storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
    expect(report.counts).toMatchObject({ inventoried: 3, scheduled: 3, deleted: 3, remaining: 0 });
    expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'approved:bob']);
    const stats = await historyStats(client.client.workflow.getHandle(workflowIdFor(storeId)), client.client);
    expect(stats.continuedAsNew).toBeGreaterThanOrEqual(1);
    expect((await client.getStatus(storeId)).continuedAsNew).toBe(stats.continuedAsNew);
    expect((await successfulCalls(h, 'ScheduleKeyDeletion', store.keyIds)).length).toBe(3);
    expect(await storeState(h, storeId)).toBe('DELETED');
    return { id: workflowIdFor(storeId), firstRunId: started.runId as string };
  } finally {
    worker.shutdown();
    await running;
    await native.close();
    await connection.close();
    await h.close();
  }
}

// The shared dev server suggests continue-as-new only after 4,096 events or 4 MB of history (thousands
// of keys, a multi-MB recording): a dedicated server suggests it after 40 events, as in
// test/workflow/scale.test.ts, so the smallest store continues as new. Both ends of the chain are
// recorded: the first run (ends ContinuedAsNew: the carried state is written) and the last (starts from
// the carried state, ends COMPLETED).
test('records continued-as-new-first-run and continued-as-new-last-run', async () => {
  const names = { first: 'continued-as-new-first-run', last: 'continued-as-new-last-run' };
  if (recording) Object.values(names).forEach((n) => assertNotRecorded(n));
  const server = await startDevServer({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 40 } });
  try {
    const chain = await continueAsNewChain(server.address);
    const firstJson = exportRun(server.address, chain.id, chain.firstRunId);
    const first = await checkHistory(firstJson, chain.id, 'CONTINUED_AS_NEW');
    expect(activities(first, 'loadPolicy')).toBe(1);
    const last = await checkHistory(exportHistory(chain.id, server.address), chain.id, 'COMPLETED');
    expect(activities(last, 'loadPolicy')).toBe(0);
    expect(activities(last, 'deleteStore')).toBe(1);
    if (recording) writeHistory(firstJson, names.first);
    recordHistory(chain.id, names.last, server.address);
  } finally {
    await server.stop();
  }
}, 120_000);
