import { CancelKeyDeletionCommand, EnableKeyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { activityInfo, heartbeat, sleep } from '@temporalio/activity';
import type { KeyCheck, KeyChecks, KeyState, RollbackOutcome, ScheduleOutcome } from '../shared/types';
import { DEFAULT_DESCRIBE_CONCURRENCY, type ActivityDeps } from './deps';
import { describeKey, epochMs } from './describe';
import { callKms, mapWithConcurrency } from './kms-call';
import { errorName, toActivityFailure } from './kms-errors';

export interface ScheduleKeysInput {
  customKeyStoreId: string;
  keyIds: string[];
  pendingWindowInDays: number;
}

export interface ScheduleKeysResult {
  outcomes: ScheduleOutcome[];
  /** Keys that no longer belong to the store: never scheduled. */
  notInStore: string[];
}

export interface CheckKeysInput {
  customKeyStoreId: string;
  keyIds: string[];
  /** A key that reads as not pending is re-read this many times before it is reported, to ride out stale reads. */
  confirmReads?: number;
  confirmDelayMs?: number;
}

export interface RollbackKeysInput {
  keys: { keyId: string; priorState: KeyState; /** false when the key was in a batch whose result was lost. */ certain: boolean }[];
  /** How long to keep re-reading a key until it shows its restored state. */
  verifyTimeoutMs?: number;
}

const isPendingDeletionError = (err: unknown) => errorName(err) === 'KMSInvalidStateException' && /is pending deletion/i.test((err as Error).message);
const isNotPendingError = (err: unknown) => errorName(err) === 'KMSInvalidStateException' && /is not pending deletion/i.test((err as Error).message);

export function createKeyActivities(deps: ActivityDeps) {
  const mutateConcurrency = deps.mutateConcurrency ?? 4;
  const describeConcurrency = deps.describeConcurrency ?? DEFAULT_DESCRIBE_CONCURRENCY;

  async function scheduleOne(input: ScheduleKeysInput, keyId: string): Promise<ScheduleOutcome | 'NOT_IN_STORE'> {
    // Re-read right before the irreversible call: never schedule a key that is not (or no longer) in the store.
    const meta = await describeKey(deps, keyId);
    if (!meta) return { keyId, outcome: 'GONE' };
    if (meta.CustomKeyStoreId !== input.customKeyStoreId) return 'NOT_IN_STORE';
    if (meta.KeyState === 'PendingDeletion') return { keyId, outcome: 'ALREADY_PENDING', deletionDate: epochMs(meta.DeletionDate) };
    try {
      const out = await callKms(deps, 'ScheduleKeyDeletion', (abortSignal) =>
        deps.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: input.pendingWindowInDays }), { abortSignal }),
      );
      return { keyId, outcome: 'SCHEDULED', deletionDate: epochMs(out.DeletionDate), priorState: meta.KeyState as KeyState };
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return { keyId, outcome: 'GONE' };
      // ScheduleKeyDeletion is not idempotent: a stale read or a lost response lands here. Keep the existing date.
      if (isPendingDeletionError(err)) {
        const now = await describeKey(deps, keyId);
        return { keyId, outcome: 'ALREADY_PENDING', deletionDate: epochMs(now?.DeletionDate), priorState: meta.KeyState as KeyState };
      }
      throw err;
    }
  }

  async function checkOne(input: CheckKeysInput, keyId: string): Promise<KeyCheck> {
    const reads = Math.max(1, (input.confirmReads ?? 3) + 1);
    let check: KeyCheck = { keyId, status: 'DELETED' };
    for (let read = 0; read < reads; read++) {
      if (read > 0) await sleep(input.confirmDelayMs ?? 2_000);
      const meta = await describeKey(deps, keyId);
      if (!meta) return { keyId, status: 'DELETED' };
      check = {
        keyId,
        status: meta.KeyState === 'PendingDeletion' ? 'PENDING' : 'NOT_PENDING',
        keyState: meta.KeyState as KeyState,
        deletionDate: epochMs(meta.DeletionDate),
        customKeyStoreId: meta.CustomKeyStoreId,
      };
      if (check.status === 'PENDING') return check;
    }
    return check;
  }

  async function rollbackOne(key: RollbackKeysInput['keys'][number], alreadyCancelled: boolean): Promise<RollbackOutcome> {
    let cancelled = alreadyCancelled;
    if (!cancelled) {
      try {
        await callKms(deps, 'CancelKeyDeletion', (abortSignal) => deps.kms.send(new CancelKeyDeletionCommand({ KeyId: key.keyId }), { abortSignal }));
        cancelled = true;
      } catch (err) {
        if (errorName(err) === 'NotFoundException') return { keyId: key.keyId, outcome: 'GONE' };
        if (!isNotPendingError(err)) throw err;
        // Not pending: cancelled by an earlier attempt of this activity (certain keys), or never scheduled (uncertain ones).
        if (!key.certain) return { keyId: key.keyId, outcome: 'NOT_PENDING' };
        cancelled = true;
      }
    }
    let reEnabled = false;
    if (key.priorState === 'Enabled') {
      // CancelKeyDeletion always leaves the key Disabled; the operator had it Enabled.
      await callKms(deps, 'EnableKey', (abortSignal) => deps.kms.send(new EnableKeyCommand({ KeyId: key.keyId }), { abortSignal }));
      reEnabled = true;
    }
    return { keyId: key.keyId, outcome: 'CANCELLED', reEnabled };
  }

  return {
    /**
     * Schedules deletion of a batch of keys, paced under the worker-wide ScheduleKeyDeletion quota.
     * Every outcome is checkpointed in a heartbeat, so a retry after a crash resumes where it stopped
     * and never sends a second ScheduleKeyDeletion for a key it already scheduled.
     */
    async scheduleKeys(input: ScheduleKeysInput): Promise<ScheduleKeysResult> {
      const done = new Map<string, ScheduleOutcome | 'NOT_IN_STORE'>(
        ((activityInfo().heartbeatDetails as [string, ScheduleOutcome | 'NOT_IN_STORE'][] | undefined) ?? []),
      );
      const todo = input.keyIds.filter((id) => !done.has(id));
      try {
        await mapWithConcurrency(todo, mutateConcurrency, async (keyId) => {
          done.set(keyId, await scheduleOne(input, keyId));
          heartbeat([...done.entries()]);
        });
      } catch (err) {
        throw toActivityFailure(err, 'ScheduleKeyDeletion');
      }
      const outcomes: ScheduleOutcome[] = [];
      const notInStore: string[] = [];
      for (const keyId of input.keyIds) {
        const result = done.get(keyId) as ScheduleOutcome | 'NOT_IN_STORE';
        if (result === 'NOT_IN_STORE') notInStore.push(keyId);
        else outcomes.push(result);
      }
      return { outcomes, notInStore };
    },

    /** DescribeKey of scheduled keys: deleted (NotFound), still pending, or no longer pending (drift). */
    async checkKeys(input: CheckKeysInput): Promise<KeyChecks> {
      try {
        const checks = await mapWithConcurrency(input.keyIds, describeConcurrency, async (keyId) => {
          const check = await checkOne(input, keyId);
          heartbeat();
          return check;
        });
        return {
          deleted: checks.filter((c) => c.status === 'DELETED').map((c) => c.keyId),
          notPending: checks.filter((c) => c.status === 'NOT_PENDING'),
          stillPending: checks.filter((c) => c.status === 'PENDING').length,
        };
      } catch (err) {
        throw toActivityFailure(err, 'DescribeKey');
      }
    },

    /**
     * Rollback: CancelKeyDeletion for keys this run scheduled (paced under 5/s), EnableKey for those
     * that were Enabled, then reads each key back until it shows the restored state.
     */
    async rollbackKeys(input: RollbackKeysInput): Promise<RollbackOutcome[]> {
      const checkpoint = new Map<string, RollbackOutcome>(((activityInfo().heartbeatDetails as [string, RollbackOutcome][] | undefined) ?? []));
      try {
        const outcomes = await mapWithConcurrency(input.keys, mutateConcurrency, async (key) => {
          const previous = checkpoint.get(key.keyId);
          if (previous && (previous.outcome !== 'CANCELLED' || previous.reEnabled || key.priorState !== 'Enabled')) return previous;
          const outcome = await rollbackOne(key, previous?.outcome === 'CANCELLED');
          checkpoint.set(key.keyId, outcome);
          heartbeat([...checkpoint.entries()]);
          return outcome;
        });
        const deadline = Date.now() + (input.verifyTimeoutMs ?? 30_000);
        await mapWithConcurrency(outcomes, describeConcurrency, async (outcome) => {
          if (outcome.outcome !== 'CANCELLED') return;
          const want: KeyState = outcome.reEnabled ? 'Enabled' : 'Disabled';
          for (;;) {
            const meta = await describeKey(deps, outcome.keyId);
            const state = meta?.KeyState as KeyState | undefined;
            // A key of a disconnected store reads Unavailable until reconnect, whatever was restored.
            if (state === want || state === 'Unavailable' || Date.now() > deadline) {
              outcome.restoredState = state;
              return;
            }
            await sleep(500);
          }
        });
        return outcomes;
      } catch (err) {
        throw toActivityFailure(err, 'rollback');
      }
    },
  };
}
