/**
 * rollbackKeys converges each key to its state before the run by reading it first, so every step is
 * idempotent: a CancelKeyDeletion or EnableKey whose answer was lost (the emulator's `when: 'after'`
 * faults: the call takes effect, the response is replaced by a 500) is harmless within an attempt and
 * across attempts, uncertain keys that were never scheduled are left alone, and an error retrying cannot
 * fix fails the activity non-retryably.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import type { RollbackKeyOutcome, RollbackKeysInput } from '../../src/activities';
import { DAY_MS, useSharedEmulator } from '../emulator/helpers';
import { activitiesFor, keyState, mutatingCalls, recordingEnv, rejection, seedStore } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

type Key = RollbackKeysInput['keys'][number];
const lostAnswer = (operation: string) => ({ operation, errorRate: 1, count: 1, when: 'after' as const, errorType: 'KMSInternalException' as const });

async function rollback(keys: Key[], options: { heartbeatDetails?: unknown; maxCallAttempts?: number } = {}) {
  const { rollbackKeys } = activitiesFor(kms, { maxCallAttempts: options.maxCallAttempts });
  const { env, beats } = recordingEnv({ heartbeatDetails: options.heartbeatDetails });
  return { beats, result: env.run(rollbackKeys, { keys, verifyTimeoutMs: 5_000 }) as Promise<RollbackKeyOutcome[]> };
}

test('keys pending deletion are cancelled and, if they were Enabled, re-enabled; what was done is reported per key', async () => {
  const [[wasEnabled], [wasDisabled], [untouched]] = await seedStore(emu, [
    { keyState: 'PendingDeletion' },
    { keyState: 'PendingDeletion' },
    { keyState: 'Enabled' },
  ]);
  const { result } = await rollback([
    { keyId: wasEnabled, priorState: 'Enabled', certain: true },
    { keyId: wasDisabled, priorState: 'Disabled', certain: true },
    { keyId: untouched, priorState: 'Enabled', certain: true },
  ]);
  expect(await result).toEqual([
    { keyId: wasEnabled, outcome: 'CANCELLED', reEnabled: true, actions: ['CancelKeyDeletion', 'EnableKey'], restoredState: 'Enabled', finalState: 'Enabled' },
    { keyId: wasDisabled, outcome: 'CANCELLED', reEnabled: false, actions: ['CancelKeyDeletion'], restoredState: 'Disabled', finalState: 'Disabled' },
    { keyId: untouched, outcome: 'NOT_PENDING', actions: [], finalState: 'Enabled' },
  ]);
  expect(await keyState(kms, wasEnabled)).toBe('Enabled');
  expect(await keyState(kms, wasDisabled)).toBe('Disabled');
  expect((await mutatingCalls(emu)).map((e) => `${e.operation} ${e.keyId}`).sort()).toEqual(
    [`CancelKeyDeletion ${wasEnabled}`, `EnableKey ${wasEnabled}`, `CancelKeyDeletion ${wasDisabled}`].sort(),
  );
});

test('a lost CancelKeyDeletion answer within one attempt: the key is still re-enabled and reported CANCELLED', async () => {
  const [[keyId]] = await seedStore(emu, [{ keyState: 'PendingDeletion' }]);
  await emu.admin.setFaults([lostAnswer('CancelKeyDeletion')]);
  const { result } = await rollback([{ keyId, priorState: 'Enabled', certain: true }]);
  expect(await result).toEqual([expect.objectContaining({ outcome: 'CANCELLED', actions: ['CancelKeyDeletion', 'EnableKey'], finalState: 'Enabled' })]);
  expect(await keyState(kms, keyId)).toBe('Enabled');
});

test('defect 6: an uncertain key whose CancelKeyDeletion answer was lost is re-enabled by the retry, not reported NOT_PENDING', async () => {
  const [[keyId]] = await seedStore(emu, [{ keyState: 'PendingDeletion' }]);
  await emu.admin.setFaults([lostAnswer('CancelKeyDeletion')]);
  const key: Key = { keyId, priorState: 'Enabled', certain: false };
  // One attempt per call: the lost answer fails the activity attempt (retryably), after the cancel took effect.
  const first = await rollback([key], { maxCallAttempts: 1 });
  const { error } = await rejection(first.result);
  expect(error).toMatchObject({ type: 'KMSInternalException', nonRetryable: false });
  expect(await keyState(kms, keyId)).toBe('Disabled');

  // The retry, from the last checkpoint: the key reads Disabled and not pending, so EnableKey; the cancel is ours.
  const retry = await rollback([key], { heartbeatDetails: first.beats[first.beats.length - 1] });
  expect(await retry.result).toEqual([
    expect.objectContaining({ keyId, outcome: 'CANCELLED', actions: ['CancelKeyDeletion', 'EnableKey'], finalState: 'Enabled' }),
  ]);
  expect(await keyState(kms, keyId)).toBe('Enabled');
  expect((await mutatingCalls(emu)).map((e) => e.operation)).toEqual(['CancelKeyDeletion', 'EnableKey']);

  // Even a retry whose checkpoint was lost converges (the key is Enabled now: nothing left to do).
  const again = await rollback([key]);
  expect(await again.result).toEqual([expect.objectContaining({ keyId, outcome: 'NOT_PENDING', actions: [], finalState: 'Enabled' })]);
  expect(await mutatingCalls(emu)).toHaveLength(2);
});

test('an uncertain key that reads Disabled with no cancel of ours on record is left alone and reported as it is', async () => {
  // It may be this run's cancel whose answer and checkpoint were both lost, or someone else's deliberate
  // DisableKey (a security team's): re-enabling would undo the latter, so nothing is sent and the report says so.
  const [[keyId]] = await seedStore(emu, [{ keyState: 'Disabled' }]);
  const { result } = await rollback([{ keyId, priorState: 'Enabled', certain: false }]);
  expect(await result).toEqual([expect.objectContaining({ keyId, outcome: 'NOT_PENDING', actions: [], finalState: 'Disabled' })]);
  expect(await keyState(kms, keyId)).toBe('Disabled');
  expect(await mutatingCalls(emu)).toEqual([]);
});

test('a rollback that fails part-way carries what it finished in the failure, for the report', async () => {
  const [[a, b]] = await seedStore(emu, [{ keyState: 'PendingDeletion', count: 2 }]);
  // The first CancelKeyDeletion goes through, the second is denied (the two keys run concurrently: either may be first).
  await emu.admin.setFaults([{ operation: 'CancelKeyDeletion', errorRate: 1, afterCount: 1, errorType: 'AccessDeniedException' }]);
  const { result } = await rollback([
    { keyId: a, priorState: 'Disabled', certain: true },
    { keyId: b, priorState: 'Disabled', certain: true },
  ]);
  const { error } = await rejection(result);
  expect(error).toMatchObject({ type: 'AccessDeniedException', nonRetryable: true });
  const restored = (await keyState(kms, a)) === 'Disabled' ? a : b;
  expect(await keyState(kms, restored === a ? b : a)).toBe('PendingDeletion');
  expect((error as { details?: unknown[] }).details?.[0]).toEqual([
    expect.objectContaining({ keyId: restored, outcome: 'CANCELLED', actions: ['CancelKeyDeletion'] }),
  ]);
});

test('a lost EnableKey answer, within an attempt and across attempts: one EnableKey takes effect, CANCELLED either way', async () => {
  const [[a, b]] = await seedStore(emu, [{ keyState: 'PendingDeletion', count: 2 }]);
  await emu.admin.setFaults([lostAnswer('EnableKey')]);
  const within = await rollback([{ keyId: a, priorState: 'Enabled', certain: true }]);
  expect(await within.result).toEqual([expect.objectContaining({ outcome: 'CANCELLED', actions: ['CancelKeyDeletion', 'EnableKey'], finalState: 'Enabled' })]);
  expect(await keyState(kms, a)).toBe('Enabled');

  await emu.admin.setFaults([lostAnswer('EnableKey')]);
  const key: Key = { keyId: b, priorState: 'Enabled', certain: true };
  const first = await rollback([key], { maxCallAttempts: 1 });
  expect((await rejection(first.result)).error).toMatchObject({ type: 'KMSInternalException', nonRetryable: false });
  const retry = await rollback([key], { heartbeatDetails: first.beats[first.beats.length - 1] });
  // The key already reads Enabled: the retry sends nothing, and still reports both calls of the first attempt.
  expect(await retry.result).toEqual([expect.objectContaining({ outcome: 'CANCELLED', actions: ['CancelKeyDeletion', 'EnableKey'], finalState: 'Enabled' })]);
  expect((await mutatingCalls(emu)).filter((e) => e.keyId === b).map((e) => e.operation)).toEqual(['CancelKeyDeletion', 'EnableKey']);
});

test('an uncertain key that was never scheduled (Enabled, not pending) is left untouched: NOT_PENDING', async () => {
  const [[enabled], [disabled]] = await seedStore(emu, [{ keyState: 'Enabled' }, { keyState: 'Disabled' }]);
  const { result } = await rollback([
    { keyId: enabled, priorState: 'Enabled', certain: false },
    { keyId: disabled, priorState: 'Disabled', certain: false },
  ]);
  expect(await result).toEqual([
    { keyId: enabled, outcome: 'NOT_PENDING', actions: [], finalState: 'Enabled' },
    { keyId: disabled, outcome: 'NOT_PENDING', actions: [], finalState: 'Disabled' },
  ]);
  expect(await mutatingCalls(emu)).toEqual([]);
});

test('a key KMS deleted meanwhile is GONE, and nothing is sent for it', async () => {
  const [[gone], [pending]] = await seedStore(emu, [
    { keyState: 'PendingDeletion', pendingWindowInDays: 7 },
    { keyState: 'PendingDeletion', pendingWindowInDays: 30 },
  ]);
  await emu.admin.advance(8 * DAY_MS);
  const { result } = await rollback([
    { keyId: gone, priorState: 'Enabled', certain: true },
    { keyId: pending, priorState: 'Enabled', certain: true },
  ]);
  const [first, second] = await result;
  expect(first).toEqual({ keyId: gone, outcome: 'GONE', actions: [] });
  expect(second).toMatchObject({ keyId: pending, outcome: 'CANCELLED', finalState: 'Enabled' });
  expect((await mutatingCalls(emu)).filter((e) => e.keyId === gone)).toEqual([]);
});

test('AccessDenied on CancelKeyDeletion fails the activity at once, non-retryably, with the AWS error name as type', async () => {
  const [[keyId]] = await seedStore(emu, [{ keyState: 'PendingDeletion' }]);
  await emu.admin.setFaults([{ operation: 'CancelKeyDeletion', errorRate: 1, errorType: 'AccessDeniedException' }]);
  const { result } = await rollback([{ keyId, priorState: 'Enabled', certain: true }]);
  const { error } = await rejection(result);
  expect(error).toMatchObject({ type: 'AccessDeniedException', nonRetryable: true });
  expect(await mutatingCalls(emu, 'CancelKeyDeletion')).toHaveLength(1); // tried once, not retried
  expect(await keyState(kms, keyId)).toBe('PendingDeletion');
});

test('a checkpoint written by 0.1.0 (a worker upgraded mid-rollback) is honoured: the key is read and finished', async () => {
  const [[cancelledOnly], [gone]] = await seedStore(emu, [{ keyState: 'Disabled' }, { keyState: 'Enabled' }]);
  const legacyCheckpoint = [
    [cancelledOnly, { keyId: cancelledOnly, outcome: 'CANCELLED', reEnabled: false }],
    [gone, { keyId: gone, outcome: 'GONE' }],
  ];
  const { result } = await rollback(
    [
      { keyId: cancelledOnly, priorState: 'Enabled', certain: true },
      { keyId: gone, priorState: 'Enabled', certain: true },
    ],
    { heartbeatDetails: legacyCheckpoint },
  );
  expect(await result).toEqual([
    expect.objectContaining({ keyId: cancelledOnly, outcome: 'CANCELLED', actions: ['CancelKeyDeletion', 'EnableKey'], finalState: 'Enabled' }),
    { keyId: gone, outcome: 'GONE' },
  ]);
  expect((await mutatingCalls(emu)).map((e) => `${e.operation} ${e.keyId}`)).toEqual([`EnableKey ${cancelledOnly}`]);
});
