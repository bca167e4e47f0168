/**
 * A cancelled batch stops within about a second: scheduleKeys and rollbackKeys check the activity's
 * cancellation before every key and heartbeat after every key (the heartbeat is what carries a
 * cancellation to a real worker; WORKER_TUNING caps the SDK's heartbeat throttle at 1 s so it gets
 * there). Here the cancellation is delivered by the SDK's activity test environment mid-batch, with the
 * mutating call slowly paced; the client records when each request left it, the emulator's audit what
 * reached KMS.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { CancelledFailure } from '@temporalio/common';
import type { RunningEmulator } from '../../src/emulator';
import { WORKER_TUNING } from '../../src/worker-options';
import { useSharedEmulator } from '../emulator/helpers';
import { activitiesFor, mutatingCalls, recordingClient, recordingEnv, rejection, seedStore, STORE, until } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

/**
 * Runs `start` until `ready`, cancels, and checks: the activity rejects with the SDK's CancelledFailure
 * within a second, no `operation` request left the client after the cancel, and KMS received no more
 * than was sent before it.
 */
async function cancelMidBatch(
  operation: string,
  start: (env: ReturnType<typeof recordingEnv>['env'], client: KMSClient) => Promise<unknown>,
  ready: () => Promise<boolean>,
) {
  const { kms: client, sends } = recordingClient(emu);
  try {
    const { env, beats } = recordingEnv();
    const running = start(env, client);
    running.catch(() => undefined);
    await until(ready, 20_000, `${operation} batch under way`);
    const cancelledAt = Date.now();
    env.cancel();
    const { error, afterMs } = await rejection(running, cancelledAt);
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(afterMs).toBeLessThan(1_000);

    const lateStarts = sends.filter((s) => s.operation === operation && s.at > cancelledAt);
    expect(lateStarts).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_000));
    const calls = await mutatingCalls(emu, operation);
    // Nothing reached KMS that the client did not send before the cancel (a request cut off on the wire may not arrive).
    expect(calls.length).toBeLessThanOrEqual(sends.filter((s) => s.operation === operation).length);
    return { calls, beats, sends };
  } finally {
    client.destroy();
  }
}

test('WORKER_TUNING caps the heartbeat throttle at a second', () => {
  expect(WORKER_TUNING.maxHeartbeatThrottleInterval).toBeLessThanOrEqual(1_000);
  expect(WORKER_TUNING.defaultHeartbeatThrottleInterval).toBeLessThanOrEqual(1_000);
});

test('scheduleKeys: after a cancel no further ScheduleKeyDeletion starts, and the activity ends as cancelled within a second', async () => {
  const [keyIds] = await seedStore(emu, [{ count: 40, keyState: 'Enabled' }]);
  const { calls, beats } = await cancelMidBatch(
    'ScheduleKeyDeletion',
    // 4 keys a second: a batch of 40 would take 10 s.
    (env, client) => env.run(activitiesFor(client, {}, { ScheduleKeyDeletion: 4 }).scheduleKeys, { customKeyStoreId: STORE, keyIds, pendingWindowInDays: 7 }),
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
  const keys = keyIds.map((keyId) => ({ keyId, priorState: 'Enabled' as const, certain: true }));
  const { calls, sends } = await cancelMidBatch(
    'CancelKeyDeletion',
    (env, client) => env.run(activitiesFor(client, {}, { CancelKeyDeletion: 4, EnableKey: 4 }).rollbackKeys, { keys }),
    async () => (await mutatingCalls(emu, 'CancelKeyDeletion')).length >= 3,
  );
  expect(calls.length).toBeLessThan(10);
  // EnableKey too stopped with the cancel: never more than one per cancelled key, none sent after the last cancel.
  const enables = sends.filter((s) => s.operation === 'EnableKey');
  expect(enables.length).toBeLessThanOrEqual(calls.length);
  expect((await mutatingCalls(emu, 'EnableKey')).length).toBeLessThanOrEqual(enables.length);
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
