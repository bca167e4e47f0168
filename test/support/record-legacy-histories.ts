/**
 * Scenarios that record histories of an OLD release from that release's own code. Not a test of this
 * tree: scripts/record-legacy-histories.sh copies this file into a `git worktree` of the old commit as
 * test/support/record-legacy-histories.test.ts and runs it there with jest, so it uses that commit's
 * workflow, activities, emulator and test/support helpers (only startHarness, seedStore, fastInput,
 * waitForPhase and the emulator's failNextConnects, which every release since 0.1.0 has).
 *
 * Env: RECORD_SCENARIOS (comma-separated history names, below), RECORD_OUT (directory the exported
 * histories are written to; the script then files them with writeHistory), TEMPORAL_CLI_PATH.
 */
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHarness, temporalAddress, workflowBundle, type Harness, type HarnessOptions } from './harness';
import { fastInput, seedStore, waitForPhase } from './scenario';

interface HistoryEvent {
  eventType?: string;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
}

interface Scenario {
  harness?: HarnessOptions;
  /** Runs the scenario to its end; returns the store ID. */
  run(h: Harness): Promise<string>;
  /** What the exported history must show (e.g. how many rollbackKeys activities). */
  expectHistory?(events: HistoryEvent[]): void;
}

const activities = (events: HistoryEvent[], name: string) => events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;

/** No drift scan while the scenario is WAITING for its cancel (keeps the history small and fixed). */
function quietWait(storeId: string, extra: Parameters<typeof fastInput>[1] = {}) {
  const base = fastInput(storeId);
  return fastInput(storeId, { ...extra, timing: { ...base.timing, driftCheckInterval: 3_600_000 } });
}

/** 300 keys scheduled, then cancelled during WAITING: the rollback is ceil(300 / ROLLBACK_BATCH) rollbackKeys activities. */
function rollback300(expectedRollbackActivities: number): Scenario {
  return {
    async run(h) {
      const store = await seedStore(h, { enabled: 300, disabled: 0, bystanders: 0, aliases: false });
      await h.decommissions.startDecommission(quietWait(store.storeId, { pendingWindowInDays: 30 }));
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.approve(store.storeId, { approver: 'bob', comment: 'CAB approved' });
      await waitForPhase(h, store.storeId, 'WAITING', 120_000);
      await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'application still in use' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('CANCELLED');
      expect(report.counts).toMatchObject({ scheduled: 300, rolledBack: 300 });
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(1);
      expect(activities(events, 'rollbackKeys')).toBe(expectedRollbackActivities);
    },
  };
}

const SCENARIOS: Record<string, Scenario> = {
  // b113fb3^ (ROLLBACK_BATCH = 250): 250 + 50.
  'rollback-300-keys-batch-250': rollback300(2),
  // 8249dad (ROLLBACK_BATCH = 1,000): one batch.
  'rollback-300-keys-batch-1000': rollback300(1),

  // 501 keys: two scheduleKeys batches (SCHEDULE_BATCH = 500), a 7-day window of 7 × 1.5 s, run to COMPLETED.
  'schedule-501-keys-completed': {
    harness: { emulator: { dayMs: 1_500 } },
    async run(h) {
      const store = await seedStore(h, { enabled: 501, disabled: 0, bystanders: 0, aliases: false });
      const base = fastInput(store.storeId);
      await h.decommissions.startDecommission(fastInput(store.storeId, { pendingWindowInDays: 7, timing: { ...base.timing, driftCheckInterval: 4_000 } }));
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.approve(store.storeId, { approver: 'bob', comment: 'CAB approved' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('COMPLETED');
      expect(report.counts).toMatchObject({ inventoried: 501, scheduled: 501, deleted: 501, remaining: 0 });
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(2);
    },
  },

  // Cancel before approval: nothing changed.
  'cancel-awaiting-approval': {
    async run(h) {
      const store = await seedStore(h, { enabled: 2, disabled: 1, bystanders: 1, aliases: true });
      await h.decommissions.startDecommission(fastInput(store.storeId));
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.cancel(store.storeId, { by: 'alice', reason: 'wrong store' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('CANCELLED');
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },

  // A store that cannot connect (FAILED, and every reconnect fails): BLOCKED CONNECT_FAILED, then cancel.
  'cancel-while-blocked-connect-failed': {
    async run(h) {
      const store = await seedStore(h, {
        enabled: 2,
        disabled: 0,
        bystanders: 0,
        aliases: false,
        connectionState: 'FAILED',
        connectionErrorCode: 'USER_LOGGED_IN',
      });
      await h.emulator.admin.failNextConnects(store.storeId, { count: 3, connectionErrorCode: 'USER_LOCKED_OUT' });
      await h.decommissions.startDecommission(fastInput(store.storeId));
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.approve(store.storeId, { approver: 'bob', comment: 'CAB approved' });
      const blocked = await waitForPhase(h, store.storeId, 'BLOCKED');
      expect(blocked.blocker?.kind).toBe('CONNECT_FAILED');
      await h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'HSM cluster is being rebuilt' });
      const report = await h.decommissions.getReport(store.storeId, { wait: true });
      expect(report.outcome).toBe('CANCELLED');
      return store.storeId;
    },
    expectHistory(events) {
      expect(activities(events, 'connectStore')).toBe(1);
      expect(activities(events, 'scheduleKeys')).toBe(0);
    },
  },
};

const wanted = (process.env.RECORD_SCENARIOS ?? '').split(',').filter(Boolean);
const out = process.env.RECORD_OUT ?? '';

test('RECORD_SCENARIOS names known scenarios and RECORD_OUT is set', () => {
  expect(wanted.length).toBeGreaterThan(0);
  expect(wanted.filter((name) => !(name in SCENARIOS))).toEqual([]);
  expect(out).not.toBe('');
});

test.each(wanted.filter((name) => name in SCENARIOS))(
  'records %s',
  async (name) => {
    const scenario = SCENARIOS[name];
    const h = await startHarness(scenario.harness);
    let storeId: string;
    try {
      storeId = await scenario.run(h);
    } finally {
      await h.close();
    }
    const workflowId = `kms-decommission-${storeId}`;
    const cli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
    const json = execFileSync(cli, ['workflow', 'show', '-w', workflowId, '-o', 'json', '--address', temporalAddress()], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const history = JSON.parse(json) as { events: HistoryEvent[] };
    expect(history.events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_FAILED')).toEqual([]);
    scenario.expectHistory?.(history.events);
    // It replays on the code that recorded it.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, `${name}.json`), json, { flag: 'wx' });
  },
  300_000,
);
