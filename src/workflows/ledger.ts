import type { InventoriedKey, KeyChecks, KeyState, ReportKey, RollbackAction, RollbackOutcome, ScheduleOutcome } from '../shared/types';
import { USAGE_CLASSES, classifyUsage, type DeletionEvidence, type DisableOutcome, type KeyUsage, type UsageClass } from '../shared/usage';

/** Everything the run knows about one key. Compact field names are not worth it: chunks stay small anyway. */
export interface LedgerEntry {
  keyId: string;
  arn: string;
  aliases?: string[];
  /** State at inventory (what the approver saw). */
  inventoryState: KeyState;
  scheduledBy: ReportKey['scheduledBy'];
  /** Sent to a scheduleKeys batch; if its result was lost, the key may or may not be pending. */
  attempted?: boolean;
  priorState?: KeyState;
  deletionDate?: number;
  confirmedDeletedAt?: number;
  restoredState?: KeyState;
  rolledBack?: RollbackOutcome['outcome'];
  /** KMS calls the rollback made for this key. */
  rollbackActions?: RollbackAction[];
  /** The key's state as the rollback read it last. */
  finalState?: string;
  /** Last use at inventory (GetKeyLastUsage), classified against the run's window. */
  usage?: { class: UsageClass; operation?: string; lastUsedAt?: number; cloudTrailEventId?: string };
  /**
   * Quiet period: 'attempted' while in a disableKeys batch (and after, if the batch's result was lost
   * entirely), 'sent' when a DisableKey was sent for it without an answer, 'disabled' when this run disabled
   * it, 'untouched' when it was not Enabled. A rollback re-enables 'disabled' and 'sent' keys (reading each
   * first); an 'attempted' one only if the read shows this run's change.
   */
  quiet?: 'attempted' | 'sent' | 'disabled' | 'untouched';
  /** KMS's DeleteKey event for the key in CloudTrail. */
  deletionEvidence?: { eventId: string; eventTime: number };
}

/** The state a rollback restores a key to: what the approver saw (Enabled, for keys the quiet period disabled). */
export function restoreTarget(e: LedgerEntry): KeyState {
  if (quietTouched(e) || (e.quiet === 'attempted' && e.inventoryState === 'Enabled')) return 'Enabled';
  return e.priorState ?? e.inventoryState;
}

/** This run disabled the key, or sent a DisableKey for it whose answer it does not have. */
function quietTouched(e: LedgerEntry): boolean {
  return e.quiet === 'disabled' || e.quiet === 'sent';
}

/** Keys per continue-as-new argument: about 90 bytes each in compact form keeps every payload under 128 KiB. */
export const LEDGER_CHUNK_SIZE = 1_000;

/**
 * A ledger entry as carried across continue-as-new: a tuple, because the whole ledger of a 20,000-key
 * store must fit into one continue-as-new command (the server rejects inputs over 2 MB).
 * [keyId, arn (empty when it is arnPrefix + keyId), inventoryState, scheduledBy, attempted, priorState,
 *  deletionDate, confirmedDeletedAt, restoredState, rolledBack, aliases (space separated),
 *  rollback actions (C = CancelKeyDeletion, E = EnableKey),
 *  usage ("<class index>|<operation>|<lastUsedAt>|<event id>", empty when unknown), quiet period (A/D/U),
 *  deletion evidence ("<event id>|<event time>")] — the last three from 0.3.0 on.
 */
export type CompactEntry = [string, string, string, string, 0 | 1, string, number, number, string, string, string, string?, string?, string?, string?];

const QUIET_CODES = { attempted: 'A', sent: 'S', disabled: 'D', untouched: 'U' } as const;
const QUIET_BY_CODE: Record<string, LedgerEntry['quiet']> = { A: 'attempted', S: 'sent', D: 'disabled', U: 'untouched' };

function packUsage(u: LedgerEntry['usage']): string {
  return u ? [USAGE_CLASSES.indexOf(u.class), u.operation ?? '', u.lastUsedAt ?? '', u.cloudTrailEventId ?? ''].join('|') : '';
}

function unpackUsage(packed: string | undefined): LedgerEntry['usage'] {
  if (!packed) return undefined;
  const [cls, operation, lastUsedAt, eventId] = packed.split('|');
  return {
    class: USAGE_CLASSES[Number(cls)] ?? 'UNKNOWN',
    ...(operation ? { operation } : {}),
    ...(lastUsedAt ? { lastUsedAt: Number(lastUsedAt) } : {}),
    ...(eventId ? { cloudTrailEventId: eventId } : {}),
  };
}

const ACTION_CODES: Record<RollbackAction, string> = { CancelKeyDeletion: 'C', EnableKey: 'E' };
const ACTIONS_BY_CODE: Record<string, RollbackAction> = { C: 'CancelKeyDeletion', E: 'EnableKey' };

/** One continue-as-new argument: a slice of the ledger. */
export interface LedgerChunk {
  arnPrefix: string;
  rows: CompactEntry[];
}

const SCHEDULED_BY: ReportKey['scheduledBy'][] = ['this-run', 'before-this-run', 'not-scheduled', 'after-approval'];

/**
 * The run's record of every key of the store: what inventory found, what this run scheduled and when
 * each key was confirmed deleted. Pure data and logic, so it is replay-safe and unit-testable.
 */
export class KeyLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  static fromChunks(chunks: LedgerChunk[]): KeyLedger {
    const ledger = new KeyLedger();
    for (const { arnPrefix, rows } of chunks) {
      for (const [
        keyId,
        arn,
        inventoryState,
        scheduledBy,
        attempted,
        priorState,
        deletionDate,
        confirmedDeletedAt,
        restoredState,
        rolledBack,
        aliases,
        actions,
        usage,
        quiet,
        evidence,
      ] of rows) {
        const [eventId, eventTime] = evidence ? evidence.split('|') : [];
        ledger.entries.set(keyId, {
          keyId,
          arn: arn || `${arnPrefix}${keyId}`,
          aliases: aliases ? aliases.split(' ') : undefined,
          inventoryState: inventoryState as KeyState,
          scheduledBy: SCHEDULED_BY[Number(scheduledBy)] ?? 'not-scheduled',
          attempted: attempted === 1 || undefined,
          priorState: (priorState || undefined) as KeyState | undefined,
          deletionDate: deletionDate || undefined,
          confirmedDeletedAt: confirmedDeletedAt || undefined,
          restoredState: (restoredState || undefined) as KeyState | undefined,
          rolledBack: (rolledBack || undefined) as LedgerEntry['rolledBack'],
          rollbackActions: actions ? [...actions].map((c) => ACTIONS_BY_CODE[c] as RollbackAction) : undefined,
          usage: unpackUsage(usage),
          quiet: quiet ? QUIET_BY_CODE[quiet] : undefined,
          deletionEvidence: eventId ? { eventId, eventTime: Number(eventTime) } : undefined,
        });
      }
    }
    return ledger;
  }

  get size(): number {
    return this.entries.size;
  }

  has(keyId: string): boolean {
    return this.entries.has(keyId);
  }

  get(keyId: string): LedgerEntry | undefined {
    return this.entries.get(keyId);
  }

  all(): LedgerEntry[] {
    return [...this.entries.values()];
  }

  /** Adds inventoried keys; keys already pending deletion count as scheduled with their existing DeletionDate. */
  addInventoried(keys: InventoriedKey[], arnPrefix: string | undefined): void {
    for (const key of keys) {
      if (this.entries.has(key.keyId)) continue;
      const pending = key.keyState === 'PendingDeletion';
      this.entries.set(key.keyId, {
        keyId: key.keyId,
        arn: `${arnPrefix ?? ''}${key.keyId}`,
        aliases: key.aliases,
        inventoryState: key.keyState,
        scheduledBy: pending ? 'before-this-run' : 'not-scheduled',
        deletionDate: pending ? key.deletionDate : undefined,
      });
    }
  }

  /** Records GetKeyLastUsage answers, classified at `now` against `windowMs`. Keys reported gone are left to verification. */
  applyUsage(usages: KeyUsage[], now: number, windowMs: number): void {
    for (const u of usages) {
      const entry = this.entries.get(u.keyId);
      if (!entry || u.gone) continue;
      entry.usage = {
        class: classifyUsage(u, now, windowMs),
        ...(u.operation ? { operation: u.operation } : {}),
        ...(u.lastUsedAt !== undefined ? { lastUsedAt: u.lastUsedAt } : {}),
        ...(u.cloudTrailEventId ? { cloudTrailEventId: u.cloudTrailEventId } : {}),
      };
    }
  }

  /**
   * Keys the quiet period still has to send to disableKeys: Enabled at inventory, or Unavailable (a
   * disconnected store hides their state until it is connected; the activity reads each and disables only
   * Enabled ones).
   */
  toDisable(): LedgerEntry[] {
    return this.all().filter(
      (e) => (e.inventoryState === 'Enabled' || e.inventoryState === 'Unavailable') && e.quiet === undefined && e.scheduledBy === 'not-scheduled',
    );
  }

  /** Marks keys as sent to a disableKeys batch: if its result is lost, a rollback still re-enables them. */
  markDisabling(keyIds: string[]): void {
    for (const id of keyIds) {
      const entry = this.entries.get(id);
      if (entry) entry.quiet = 'attempted';
    }
  }

  applyDisable(outcomes: DisableOutcome[]): void {
    for (const o of outcomes) {
      const entry = this.entries.get(o.keyId);
      if (!entry) continue;
      if (o.outcome === 'NOT_IN_STORE') this.entries.delete(o.keyId);
      else entry.quiet = o.outcome === 'DISABLED' ? 'disabled' : 'untouched';
    }
  }

  /**
   * What a failed or cancelled disableKeys batch handed back: its outcomes, and the keys it sent a DisableKey
   * for without an answer. The batch's other keys were never touched: they go back to be sent again (or, on a
   * cancel, out of the rollback's scope).
   */
  applyDisableFailure(batch: string[], outcomes: DisableOutcome[], sent: string[]): void {
    this.applyDisable(outcomes);
    const answered = new Set(outcomes.map((o) => o.keyId));
    const mayHaveLanded = new Set(sent);
    for (const keyId of batch) {
      const entry = this.entries.get(keyId);
      if (!entry || answered.has(keyId) || entry.quiet !== 'attempted') continue;
      entry.quiet = mayHaveLanded.has(keyId) ? 'sent' : undefined;
    }
  }

  /** Keys this run disabled, or sent a DisableKey for without an answer. */
  disabledByRun(): LedgerEntry[] {
    return this.all().filter(quietTouched);
  }

  /** Keys in a disableKeys batch right now (or whose batch result was lost entirely). */
  disabling(): LedgerEntry[] {
    return this.all().filter((e) => e.quiet === 'attempted');
  }

  /** Records DeleteKey events; returns how many were new. */
  applyEvidence(evidence: DeletionEvidence[]): number {
    let added = 0;
    for (const ev of evidence) {
      const entry = this.entries.get(ev.keyId);
      if (!entry || entry.deletionEvidence) continue;
      entry.deletionEvidence = { eventId: ev.eventId, eventTime: ev.eventTime };
      added++;
    }
    return added;
  }

  /** Keys still to schedule, in inventory order. */
  toSchedule(): LedgerEntry[] {
    return this.all().filter((e) => e.scheduledBy === 'not-scheduled' && e.confirmedDeletedAt === undefined);
  }

  markAttempted(keyIds: string[]): void {
    for (const id of keyIds) {
      const entry = this.entries.get(id);
      if (entry) entry.attempted = true;
    }
  }

  /**
   * Records schedule outcomes. A key that was not pending at inventory but is found pending now
   * (ALREADY_PENDING) is either this run's (an earlier attempt scheduled it before its result was lost)
   * or someone else's decision after approval: the report says exactly that ('after-approval'), and a
   * rollback still restores the approved state, because a deletion is the one change that cannot be undone.
   */
  applySchedule(outcomes: ScheduleOutcome[], notInStore: string[], now: number): void {
    for (const outcome of outcomes) {
      const entry = this.entries.get(outcome.keyId);
      if (!entry) continue;
      if (outcome.outcome === 'GONE') {
        // Only this run's own earlier attempt could have scheduled a key that was not pending at inventory
        // and is already deleted (a waiting period lasts at least 7 days).
        if (entry.attempted && entry.scheduledBy === 'not-scheduled' && entry.inventoryState !== 'PendingDeletion') entry.scheduledBy = 'this-run';
        entry.confirmedDeletedAt = now;
        continue;
      }
      entry.scheduledBy = outcome.outcome === 'SCHEDULED' ? 'this-run' : 'after-approval';
      entry.deletionDate = outcome.deletionDate;
      entry.priorState = outcome.priorState ?? entry.inventoryState;
    }
    for (const id of notInStore) this.entries.delete(id);
  }

  /** Keys expected to be deleted by KMS and not yet confirmed gone. */
  awaitingDeletion(): LedgerEntry[] {
    return this.all().filter((e) => e.scheduledBy !== 'not-scheduled' && e.confirmedDeletedAt === undefined);
  }

  /** Applies DescribeKey checks; returns the keys that are no longer pending deletion (someone cancelled them). */
  applyChecks(checks: KeyChecks, now: number): LedgerEntry[] {
    for (const keyId of checks.deleted) {
      const entry = this.entries.get(keyId);
      if (entry) entry.confirmedDeletedAt ??= now;
    }
    return checks.notPending.map((c) => this.entries.get(c.keyId)).filter((e): e is LedgerEntry => e !== undefined);
  }

  /** Ledger keys among `keys` that this run expects to be pending deletion (scheduled by it or before it). */
  expectedPending(keyIds: string[]): LedgerEntry[] {
    return keyIds
      .map((id) => this.entries.get(id))
      .filter((e): e is LedgerEntry => e !== undefined && e.scheduledBy !== 'not-scheduled' && e.confirmedDeletedAt === undefined);
  }

  /** A key read back after it was confirmed deleted (a stale read): it must be verified again. */
  unconfirmDeletion(keyId: string): void {
    const entry = this.entries.get(keyId);
    if (entry && entry.scheduledBy !== 'not-scheduled') entry.confirmedDeletedAt = undefined;
  }

  /** Puts keys back to be scheduled again (after someone cancelled their deletion). */
  markForReschedule(keyIds: string[]): void {
    for (const id of keyIds) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      entry.scheduledBy = 'not-scheduled';
      entry.deletionDate = undefined;
    }
  }

  /**
   * What rollback must touch: every key this run scheduled ("certain"), plus keys of batches whose
   * result was lost ("uncertain": cancelled only if KMS says they are pending). Never keys that were
   * pending before this run: they were not ours to schedule, so they are not ours to cancel.
   */
  rollbackCandidates(): { keyId: string; priorState: KeyState; certain: boolean; reenableOnly?: boolean }[] {
    return this.all()
      .filter((e) => e.confirmedDeletedAt === undefined && e.rolledBack === undefined)
      .filter(
        (e) =>
          e.scheduledBy === 'this-run' ||
          e.scheduledBy === 'after-approval' ||
          (e.scheduledBy === 'not-scheduled' && e.attempted) ||
          e.quiet === 'disabled' ||
          e.quiet === 'sent' ||
          e.quiet === 'attempted',
      )
      .map((e) => {
        // A key the quiet period disabled but this run never sent to ScheduleKeyDeletion: if it reads pending
        // deletion, someone else scheduled it, and that is not this run's to cancel.
        const reenableOnly = e.scheduledBy === 'not-scheduled' && !e.attempted;
        return {
          keyId: e.keyId,
          priorState: restoreTarget(e),
          // A key this run disabled (or sent a DisableKey for) is re-enabled: that restores what the approver saw.
          // One whose batch result was lost entirely may have been disabled by someone else since the inventory:
          // it is re-enabled only if the read shows this run's own change, else left as it is and reported.
          certain: e.scheduledBy !== 'not-scheduled' || quietTouched(e),
          ...(reenableOnly ? { reenableOnly } : {}),
        };
      });
  }

  /**
   * Records what the rollback found and did. A key the rollback had to restore was pending deletion
   * because of this run (certain, or from a batch whose result was lost): the report says so.
   */
  applyRollback(outcomes: RollbackOutcome[], now: number): void {
    for (const outcome of outcomes) {
      const entry = this.entries.get(outcome.keyId);
      if (!entry) continue;
      // A key this run scheduled that reads back in its prior state, with no call of this attempt on record,
      // was restored by a call whose record was lost with a killed worker (or by someone else): it is back
      // where the approver saw it, which is what the rollback is for, so it counts as restored.
      const prior = restoreTarget(entry);
      const foundRestored =
        outcome.outcome === 'NOT_PENDING' &&
        (entry.scheduledBy !== 'not-scheduled' || entry.quiet === 'disabled' || entry.quiet === 'sent') &&
        outcome.finalState === prior;
      entry.rolledBack = foundRestored ? 'CANCELLED' : outcome.outcome;
      if (foundRestored) entry.restoredState = prior;
      if (outcome.actions?.length) entry.rollbackActions = outcome.actions;
      if (outcome.finalState !== undefined) entry.finalState = outcome.finalState;
      if (outcome.actions?.includes('CancelKeyDeletion') && entry.scheduledBy === 'not-scheduled') entry.scheduledBy = 'after-approval';
      if (outcome.outcome === 'GONE') entry.confirmedDeletedAt = now;
      if (outcome.outcome === 'NOT_PENDING') entry.deletionDate = undefined;
      if (outcome.outcome === 'CANCELLED') {
        // A batch that failed part-way reports what it finished without the final read-back.
        entry.restoredState = outcome.restoredState ?? (outcome.finalState as KeyState | undefined);
        entry.deletionDate = undefined;
      }
    }
  }

  /** DeletionDates of keys still expected to be deleted: what the run waits for. */
  pendingDeletionDates(): number[] {
    return this.awaitingDeletion()
      .map((e) => e.deletionDate)
      .filter((d): d is number => d !== undefined);
  }

  /** DeletionDates of every key scheduled and not rolled back, deleted or not: what status and report show. */
  allDeletionDates(): number[] {
    return this.all()
      .filter((e) => e.scheduledBy !== 'not-scheduled' && e.rolledBack !== 'CANCELLED')
      .map((e) => e.deletionDate)
      .filter((d): d is number => d !== undefined);
  }

  counts() {
    let toSchedule = 0;
    let scheduled = 0;
    let alreadyPending = 0;
    let deleted = 0;
    let rolledBack = 0;
    for (const e of this.entries.values()) {
      if (e.scheduledBy === 'this-run') scheduled++;
      else if (e.scheduledBy === 'before-this-run' || e.scheduledBy === 'after-approval') alreadyPending++;
      else if (e.confirmedDeletedAt === undefined && e.rolledBack === undefined) toSchedule++;
      if (e.confirmedDeletedAt !== undefined) deleted++;
      if (e.rolledBack === 'CANCELLED') rolledBack++;
    }
    return { inventoried: this.entries.size, toSchedule, scheduled, alreadyPending, deleted, remaining: this.entries.size - deleted, rolledBack };
  }

  reportKeys(offset: number, limit: number): ReportKey[] {
    return this.all()
      .slice(offset, offset + limit)
      .map((e) => ({
        keyId: e.keyId,
        arn: e.arn,
        aliases: e.aliases ?? [],
        priorState: restoreTarget(e),
        scheduledBy: e.scheduledBy,
        deletionDate: e.deletionDate,
        confirmedDeletedAt: e.confirmedDeletedAt,
        restoredState: e.restoredState,
        rollbackActions: e.rollbackActions,
        ...(e.usage ? { usage: e.usage } : {}),
        ...(quietTouched(e) ? { disabledByRun: true } : {}),
        ...(e.deletionEvidence ? { deletionEvidence: e.deletionEvidence } : {}),
      }));
  }

  chunks(size = LEDGER_CHUNK_SIZE): LedgerChunk[] {
    const all = this.all();
    const out: LedgerChunk[] = [];
    for (let i = 0; i < all.length; i += size) {
      const slice = all.slice(i, i + size);
      const first = slice[0] as LedgerEntry; // i < all.length: the slice is never empty
      const arnPrefix = first.arn.slice(0, first.arn.length - first.keyId.length);
      out.push({
        arnPrefix,
        rows: slice.map((e) => [
          e.keyId,
          e.arn === `${arnPrefix}${e.keyId}` ? '' : e.arn,
          e.inventoryState,
          String(SCHEDULED_BY.indexOf(e.scheduledBy)),
          e.attempted ? 1 : 0,
          e.priorState ?? '',
          e.deletionDate ?? 0,
          e.confirmedDeletedAt ?? 0,
          e.restoredState ?? '',
          e.rolledBack ?? '',
          (e.aliases ?? []).join(' '),
          (e.rollbackActions ?? []).map((a) => ACTION_CODES[a]).join(''),
          packUsage(e.usage),
          e.quiet ? QUIET_CODES[e.quiet] : '',
          e.deletionEvidence ? `${e.deletionEvidence.eventId}|${e.deletionEvidence.eventTime}` : '',
        ]),
      });
    }
    return out;
  }
}
