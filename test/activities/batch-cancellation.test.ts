/**
 * A cancelled batch stops within about a second: scheduleKeys and rollbackKeys check the activity's
 * cancellation before every key and heartbeat after every key (the heartbeat is what carries a
 * cancellation to a real worker; WORKER_TUNING caps the SDK's heartbeat throttle at 1 s so it gets
 * there). Here the cancellation is delivered by the SDK's activity test environment mid-batch, with the
 * mutating call slowly paced, and the emulator's audit shows what reached KMS.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { CancelledFailure } from '@temporalio/common';
import type { RunningEmulator } from '../../src/emulator';
import { WORKER_TUNING } from '../../src/worker-options';
import { useSharedEmulator } from '../emulator/helpers';
import { activitiesFor, mutatingCalls, recordingEnv, rejection, seedStore, STORE, until } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

/** Emulated clock minus this process's clock: the audit's `admittedAt` is on the emulator's clock. */
async function clockOffset(): Promise<number> {
  const before = Date.now();
  const { nowMs } = await emu.admin.now();
  return nowMs - (before + Date.now()) / 2;
}

/**
 * Runs `start` until `ready`, cancels, and checks: the activity rejects with the SDK's CancelledFailure
 * within a second, no `operation` call was admitted by KMS after the cancel (beyond one in transit), and
 * none comes later either.
 */
async function cancelMidBatch(operation: string, start: (env: ReturnType<typeof recordingEnv>['env']) => Promise<unknown>, ready: () => Promise<boolean>) {
  const offset = await clockOffset();
  const { env, beats } = recordingEnv();
  const running = start(env);
  running.catch(() => undefined);
  await until(ready, 20_000, `${operation} batch under way`);
  const cancelledAt = Date.now();
  env.cancel();
  const { error, afterMs } = await rejection(running, cancelledAt);
  expect(error).toBeInstanceOf(CancelledFailure);
  expect(afterMs).toBeLessThan(1_000);

  const atRejection = await mutatingCalls(emu, operation);
  await new Promise((r) => setTimeout(r, 1_000));
  const later = await mutatingCalls(emu, operation);
  expect(later).toHaveLength(atRejection.length);
  // 50 ms of slack for a request that was on the wire when the cancel came.
  const lateStarts = later.filter((e) => (e.admittedAt ?? e.time) - offset > cancelledAt + 50);
  expect(lateStarts).toEqual([]);
  return { calls: later, beats };
}

test('WORKER_TUNING caps the heartbeat throttle at a second', () => {
  expect(WORKER_TUNING.maxHeartbeatThrottleInterval).toBeLessThanOrEqual(1_000);
  expect(WORKER_TUNING.defaultHeartbeatThrottleInterval).toBeLessThanOrEqual(1_000);
});

test('scheduleKeys: after a cancel no further ScheduleKeyDeletion starts, and the activity ends as cancelled within a second', async () => {
  const [keyIds] = await seedStore(emu, [{ count: 40, keyState: 'Enabled' }]);
  // 4 keys a second: a batch of 40 would take 10 s.
  const { scheduleKeys } = activitiesFor(kms, {}, { ScheduleKeyDeletion: 4 });
  const { calls, beats } = await cancelMidBatch(
    'ScheduleKeyDeletion',
    (env) => env.run(scheduleKeys, { customKeyStoreId: STORE, keyIds, pendingWindowInDays: 7 }),
    async () => (await mutatingCalls(emu, 'ScheduleKeyDeletion')).length >= 3,
  );
  expect(calls.length).toBeGreaterThanOrEqual(3);
  expect(calls.length).toBeLessThan(10);
  // Every key that was scheduled is in the last checkpoint, except at most one answer cut off by the cancel.
  const checkpoint = new Map(beats[beats.length - 1] as [string, { outcome: string }][]);
  expect(checkpoint.size).toBeGreaterThanOrEqual(calls.length - 1);
  expect([...checkpoint.values()].every((o) => o.outcome === 'SCHEDULED')).toBe(true);
}, 30_000);

test('rollbackKeys: after a cancel no further CancelKeyDeletion or EnableKey starts, and the activity ends as cancelled within a second', async () => {
  const [keyIds] = await seedStore(emu, [{ count: 30, keyState: 'PendingDeletion' }]);
  const { rollbackKeys } = activitiesFor(kms, {}, { CancelKeyDeletion: 4, EnableKey: 4 });
  const keys = keyIds.map((keyId) => ({ keyId, priorState: 'Enabled' as const, certain: true }));
  const { calls } = await cancelMidBatch(
    'CancelKeyDeletion',
    (env) => env.run(rollbackKeys, { keys }),
    async () => (await mutatingCalls(emu, 'CancelKeyDeletion')).length >= 3,
  );
  expect(calls.length).toBeLessThan(10);
  // EnableKey too stopped with the cancel.
  const enables = await mutatingCalls(emu, 'EnableKey');
  expect(enables.length).toBeLessThanOrEqual(calls.length);
}, 30_000);

test('a batch started after its cancellation was delivered sends nothing', async () => {
  const [keyIds] = await seedStore(emu, [{ count: 5, keyState: 'Enabled' }]);
  const { scheduleKeys } = activitiesFor(kms);
  const { env } = recordingEnv();
  env.cancel();
  const { error } = await rejection(env.run(scheduleKeys, { customKeyStoreId: STORE, keyIds, pendingWindowInDays: 7 }));
  expect(error).toBeInstanceOf(CancelledFailure);
  expect(await mutatingCalls(emu)).toEqual([]);
});
