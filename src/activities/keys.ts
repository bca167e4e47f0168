import type { ResetGuarded } from '../shared/reset-guard';
import { refuseResetRun } from './reset-guard';
import { activityInfo, heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { KeyCheck, KeyChecks, KeyState, RollbackOutcome, ScheduleOutcome } from '../shared/types';
import { createAwsGateway, epochMs } from './aws-gateway';
import { DEFAULT_DESCRIBE_CONCURRENCY, type ActivityDeps } from './deps';
import { mapWithConcurrency } from './kms-call';
import { deliveredCancellation, errorName, toActivityFailure } from './kms-errors';

export interface ScheduleKeysInput extends ResetGuarded {
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
  keys: {
    keyId: string;
    priorState: KeyState;
    /** false when the key was in a batch whose result was lost. */
    certain: boolean;
    /**
     * This run only disabled the key (the quiet period) and never scheduled it: it is re-enabled if it reads
     * Disabled (or Unavailable), and never cancelled — a key found PendingDeletion was scheduled by someone
     * else and is left as it is (NOT_PENDING, with its `finalState`).
     */
    reenableOnly?: boolean;
  }[];
  /** How long to keep re-reading a key until it shows its restored state. */
  verifyTimeoutMs?: number;
}

/** A mutating call rollback makes. */
export type RollbackAction = 'CancelKeyDeletion' | 'EnableKey';

/**
 * One key's rollback. `outcome`: CANCELLED = this activity restored it (cancelled its deletion and/or
 * re-enabled it); NOT_PENDING = it already was in its prior state (or, uncertain and unreadable, was left
 * alone), nothing done; GONE = KMS already deleted it.
 */
export interface RollbackKeyOutcome extends RollbackOutcome {
  /** What this activity did to the key, across its attempts, in order (a call whose answer was lost counts once its effect shows). */
  actions?: RollbackAction[];
  /** KeyState as last read (absent when GONE). */
  finalState?: string;
}

/** Per key, in the rollback checkpoint. */
interface RollbackProgress {
  /** Calls that succeeded. */
  actions: RollbackAction[];
  /** Calls sent whose answer may have been lost: attributed to this activity once a read shows their effect. */
  sent: RollbackAction[];
  /** Set once the key has converged. */
  outcome?: RollbackKeyOutcome;
}

interface RollbackCheckpoint {
  v: 2;
  keys: [string, RollbackProgress][];
}

/** A checkpoint of this version, or of 0.1.0's (`[keyId, RollbackOutcome][]`: a worker upgraded mid-rollback). */
function restoreRollbackCheckpoint(details: unknown): Map<string, RollbackProgress> {
  const progress = new Map<string, RollbackProgress>();
  if (Array.isArray(details)) {
    for (const [keyId, old] of details as [string, RollbackOutcome][]) {
      if (old.outcome !== 'CANCELLED') progress.set(keyId, { actions: [], sent: [], outcome: { ...old } });
      // Not final: the key is read again, which re-enables it if the old attempt did not get that far.
      else progress.set(keyId, { actions: old.reEnabled ? ['CancelKeyDeletion', 'EnableKey'] : ['CancelKeyDeletion'], sent: [] });
    }
  } else if (details && typeof details === 'object' && (details as RollbackCheckpoint).v === 2) {
    for (const [keyId, entry] of (details as RollbackCheckpoint).keys) progress.set(keyId, entry);
  }
  return progress;
}

/** Read → act rounds per key before a rollback attempt gives up (retryably): only racing writers need more than two. */
const ROLLBACK_ROUNDS = 5;

const isPendingDeletionError = (err: unknown) => errorName(err) === 'KMSInvalidStateException' && /is pending deletion/i.test((err as Error).message);
const isNotPendingError = (err: unknown) => errorName(err) === 'KMSInvalidStateException' && /is not pending deletion/i.test((err as Error).message);

/** Throws the activity's CancelledFailure once a cancellation was delivered: checked before every key of a batch. */
function throwIfCancelled(): void {
  const cancelled = deliveredCancellation();
  if (cancelled) throw cancelled;
}

export function createKeyActivities(deps: ActivityDeps) {
  const mutateConcurrency = deps.mutateConcurrency ?? 4;
  const describeConcurrency = deps.describeConcurrency ?? DEFAULT_DESCRIBE_CONCURRENCY;
  const aws = createAwsGateway(deps);

  async function scheduleOne(input: ScheduleKeysInput, keyId: string): Promise<ScheduleOutcome | 'NOT_IN_STORE'> {
    // Re-read right before the irreversible call: never schedule a key that is not (or no longer) in the store.
    const meta = await aws.describeKey(keyId);
    if (!meta) return { keyId, outcome: 'GONE' };
    if (meta.CustomKeyStoreId !== input.customKeyStoreId) return 'NOT_IN_STORE';
    if (meta.KeyState === 'PendingDeletion') return { keyId, outcome: 'ALREADY_PENDING', deletionDate: epochMs(meta.DeletionDate) };
    try {
      const { deletionDate } = await aws.scheduleKeyDeletion(keyId, input.pendingWindowInDays);
      return { keyId, outcome: 'SCHEDULED', deletionDate, priorState: meta.KeyState as KeyState };
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return { keyId, outcome: 'GONE' };
      // ScheduleKeyDeletion is not idempotent: a stale read or a lost response lands here. Keep the existing date.
      if (isPendingDeletionError(err)) {
        const now = await aws.describeKey(keyId);
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
      const meta = await aws.describeKey(keyId);
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

  /**
   * Converges one key to its prior state by reading it first, so that every step is idempotent across
   * retries and lost responses: NotFound → GONE; PendingDeletion → CancelKeyDeletion (the key is then
   * Disabled; never for a `reenableOnly` key, which is left pending); then, if it was Enabled before the run
   * and reads Disabled → EnableKey. An uncertain key
   * (its schedule batch's result was lost) that reads not pending and Enabled was never scheduled: it is
   * left alone. `progress` is the key's checkpoint entry, updated in place; `save` heartbeats it.
   */
  async function rollbackOne(key: RollbackKeysInput['keys'][number], progress: RollbackProgress, save: () => void): Promise<RollbackKeyOutcome> {
    const { keyId } = key;
    const did = (action: RollbackAction) => {
      if (!progress.actions.includes(action)) progress.actions.push(action);
    };
    const send = async (action: RollbackAction) => {
      // Recorded before sending: if the answer is lost, the next read tells whether it took effect.
      if (!progress.sent.includes(action)) {
        progress.sent.push(action);
        save();
      }
      await (action === 'CancelKeyDeletion' ? aws.cancelKeyDeletion(keyId) : aws.enableKey(keyId));
      did(action);
    };
    const result = (outcome: RollbackKeyOutcome['outcome'], finalState?: string): RollbackKeyOutcome => ({
      keyId,
      outcome,
      ...(outcome === 'CANCELLED' ? { reEnabled: progress.actions.includes('EnableKey') } : {}),
      actions: [...progress.actions],
      ...(finalState !== undefined ? { finalState } : {}),
    });

    for (let round = 0; round < ROLLBACK_ROUNDS; round++) {
      if (round > 0) await sleep(200 * round); // a read racing our own write (eventual consistency) settles
      const meta = await aws.describeKey(keyId);
      if (!meta) return result('GONE');
      let state = meta.KeyState as KeyState;
      if (state === 'PendingDeletion' && key.reenableOnly) {
        // Not this run's schedule: someone else's deletion is theirs to cancel.
        return result(progress.actions.length > 0 ? 'CANCELLED' : 'NOT_PENDING', state);
      }
      if (state === 'PendingDeletion') {
        try {
          await send('CancelKeyDeletion');
        } catch (err) {
          if (errorName(err) === 'NotFoundException') return result('GONE');
          if (isNotPendingError(err)) continue; // a stale read, or our own earlier call: read again
          throw err;
        }
        // KMS leaves a cancelled key Disabled (Unavailable while its store is disconnected).
        state = 'Disabled';
      } else if (progress.sent.includes('CancelKeyDeletion')) {
        did('CancelKeyDeletion'); // sent earlier, answer lost: it is no longer pending, so it took effect
      }
      const ours = progress.actions.includes('CancelKeyDeletion');
      // Only for keys this run certainly scheduled or cancelled: an uncertain key that reads Disabled and not
      // pending may have been disabled by someone else (a security team's deliberate act) — it is left as it is
      // and reported. A key of a disconnected store reads Unavailable whatever it remembers: EnableKey is
      // recorded and applied on reconnect.
      const wantsEnable = key.priorState === 'Enabled' && (state === 'Disabled' || state === 'Unavailable') && (ours || key.certain);
      if (wantsEnable) {
        try {
          await send('EnableKey');
        } catch (err) {
          if (errorName(err) === 'NotFoundException') return result('GONE');
          if (isPendingDeletionError(err)) continue; // scheduled again meanwhile (or a stale view of our cancel): read again
          throw err;
        }
        state = state === 'Unavailable' ? 'Unavailable' : 'Enabled';
      } else if (progress.sent.includes('EnableKey') && state === 'Enabled') {
        did('EnableKey'); // sent earlier, answer lost, and it shows
      }
      return result(progress.actions.length > 0 ? 'CANCELLED' : 'NOT_PENDING', state);
    }
    throw ApplicationFailure.retryable(`key ${keyId} did not settle in ${ROLLBACK_ROUNDS} read-and-restore rounds (another writer?)`, 'RollbackNotConverged');
  }

  return {
    /**
     * Schedules deletion of a batch of keys, paced under the worker-wide ScheduleKeyDeletion quota.
     * Every outcome is checkpointed in a heartbeat, so a retry after a crash resumes where it stopped
     * and never sends a second ScheduleKeyDeletion for a key it already scheduled.
     */
    async scheduleKeys(input: ScheduleKeysInput): Promise<ScheduleKeysResult> {
      refuseResetRun(input);
      const done = new Map<string, ScheduleOutcome | 'NOT_IN_STORE'>(
        (activityInfo().heartbeatDetails as [string, ScheduleOutcome | 'NOT_IN_STORE'][] | undefined) ?? [],
      );
      const todo = input.keyIds.filter((id) => !done.has(id));
      const resultSoFar = (): ScheduleKeysResult => {
        const outcomes: ScheduleOutcome[] = [];
        const notInStore: string[] = [];
        for (const keyId of input.keyIds) {
          const result = done.get(keyId);
          if (result === 'NOT_IN_STORE') notInStore.push(keyId);
          else if (result) outcomes.push(result);
        }
        return { outcomes, notInStore };
      };
      try {
        await mapWithConcurrency(todo, mutateConcurrency, async (keyId) => {
          // No key is started once a cancellation arrived: it arrives with a heartbeat answer, at most ~1 s after it was sent.
          throwIfCancelled();
          done.set(keyId, await scheduleOne(input, keyId));
          heartbeat([...done.entries()]);
        });
      } catch (err) {
        const failure = toActivityFailure(err, 'ScheduleKeyDeletion');
        // A cancelled batch hands back what it did schedule: the run's report then says which keys this run
        // scheduled (and the rollback restores them as certain), not just that they became pending.
        if (failure instanceof CancelledFailure) throw new CancelledFailure(failure.message, [resultSoFar()]);
        throw failure;
      }
      return resultSoFar();
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
     * Rollback: converges every key to its state before the run by reading it first (see `rollbackOne`):
     * CancelKeyDeletion (paced under 5/s) for keys pending deletion, EnableKey for those that were
     * Enabled, then reads each restored key back until it shows the restored state. Idempotent across
     * retries and lost responses; what it did per key is checkpointed in a heartbeat after every key.
     */
    async rollbackKeys(input: RollbackKeysInput): Promise<RollbackKeyOutcome[]> {
      const checkpoint = restoreRollbackCheckpoint(activityInfo().heartbeatDetails);
      const save = () => heartbeat({ v: 2, keys: [...checkpoint.entries()] } satisfies RollbackCheckpoint);
      try {
        const outcomes = await mapWithConcurrency(input.keys, mutateConcurrency, async (key) => {
          let progress = checkpoint.get(key.keyId);
          if (progress?.outcome) return progress.outcome;
          throwIfCancelled();
          if (!progress) checkpoint.set(key.keyId, (progress = { actions: [], sent: [] }));
          progress.outcome = await rollbackOne(key, progress, save);
          save();
          return progress.outcome;
        });
        const deadline = Date.now() + (input.verifyTimeoutMs ?? 30_000);
        await mapWithConcurrency(outcomes, describeConcurrency, async (outcome) => {
          if (outcome.outcome !== 'CANCELLED') return;
          const want: KeyState = outcome.actions?.includes('EnableKey') || outcome.reEnabled ? 'Enabled' : 'Disabled';
          for (;;) {
            // Heartbeat while reading back: a key slow to show its state must not time the attempt out
            // (the retry would skip every checkpointed key and land in this same wait).
            save();
            const meta = await aws.describeKey(outcome.keyId);
            const state = meta?.KeyState as KeyState | undefined;
            // A key of a disconnected store reads Unavailable until reconnect, whatever was restored.
            if (state === want || state === 'Unavailable' || Date.now() > deadline) {
              outcome.restoredState = state;
              if (state !== undefined) outcome.finalState = state;
              return;
            }
            await sleep(500);
          }
        });
        return outcomes;
      } catch (err) {
        const failure = toActivityFailure(err, 'rollback');
        if (!(failure instanceof ApplicationFailure)) throw failure;
        // What this activity (across its attempts) did finish goes with the failure: the workflow records it
        // before it blocks, so a retried rollback's report still says what the first one did.
        const finished = [...checkpoint.values()].flatMap((p) => (p.outcome ? [p.outcome] : []));
        throw ApplicationFailure.create({
          type: failure.type ?? undefined,
          message: failure.message,
          nonRetryable: failure.nonRetryable ?? undefined,
          details: [finished],
          cause: failure.cause,
        });
      }
    },
  };
}
