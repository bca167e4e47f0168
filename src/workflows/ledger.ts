import type { InventoriedKey, KeyCheck, KeyState, ReportKey, RollbackOutcome, ScheduleOutcome } from '../shared/types';

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
}

/** Keys per continue-as-new argument: about 150 bytes each keeps every payload well under 256 KiB. */
export const LEDGER_CHUNK_SIZE = 1_000;

/**
 * The run's record of every key of the store: what inventory found, what this run scheduled and when
 * each key was confirmed deleted. Pure data and logic, so it is replay-safe and unit-testable.
 */
export class KeyLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  static fromChunks(chunks: LedgerEntry[][]): KeyLedger {
    const ledger = new KeyLedger();
    for (const chunk of chunks) for (const entry of chunk) ledger.entries.set(entry.keyId, entry);
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
  addInventoried(keys: InventoriedKey[]): void {
    for (const key of keys) {
      if (this.entries.has(key.keyId)) continue;
      const pending = key.keyState === 'PendingDeletion';
      this.entries.set(key.keyId, {
        keyId: key.keyId,
        arn: key.arn,
        aliases: key.aliases,
        inventoryState: key.keyState,
        scheduledBy: pending ? 'before-this-run' : 'not-scheduled',
        deletionDate: pending ? key.deletionDate : undefined,
      });
    }
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
   * Records schedule outcomes. A key that was not pending at inventory but is pending now counts as
   * scheduled by this run: either an earlier attempt of the batch scheduled it before its result was
   * lost, or someone scheduled it after approval. Either way rollback must restore the approved state.
   */
  applySchedule(outcomes: ScheduleOutcome[], notInStore: string[], now: number): void {
    for (const outcome of outcomes) {
      const entry = this.entries.get(outcome.keyId);
      if (!entry) continue;
      if (outcome.outcome === 'GONE') {
        entry.confirmedDeletedAt = now;
        continue;
      }
      entry.scheduledBy = 'this-run';
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
  applyChecks(checks: KeyCheck[], now: number): LedgerEntry[] {
    const notPending: LedgerEntry[] = [];
    for (const check of checks) {
      const entry = this.entries.get(check.keyId);
      if (!entry) continue;
      if (check.status === 'DELETED') entry.confirmedDeletedAt = entry.confirmedDeletedAt ?? now;
      else if (check.status === 'PENDING') entry.deletionDate = check.deletionDate ?? entry.deletionDate;
      else notPending.push(entry);
    }
    return notPending;
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
  rollbackCandidates(): { keyId: string; priorState: KeyState; certain: boolean }[] {
    return this.all()
      .filter((e) => e.confirmedDeletedAt === undefined && e.rolledBack === undefined)
      .filter((e) => e.scheduledBy === 'this-run' || (e.scheduledBy === 'not-scheduled' && e.attempted))
      .map((e) => ({ keyId: e.keyId, priorState: e.priorState ?? e.inventoryState, certain: e.scheduledBy === 'this-run' }));
  }

  applyRollback(outcomes: RollbackOutcome[], now: number): void {
    for (const outcome of outcomes) {
      const entry = this.entries.get(outcome.keyId);
      if (!entry) continue;
      entry.rolledBack = outcome.outcome;
      if (outcome.outcome === 'GONE') entry.confirmedDeletedAt = now;
      if (outcome.outcome === 'CANCELLED') {
        entry.restoredState = outcome.restoredState;
        entry.deletionDate = undefined;
      }
    }
  }

  deletionDates(): number[] {
    return this.awaitingDeletion()
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
      else if (e.scheduledBy === 'before-this-run') alreadyPending++;
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
        priorState: e.priorState ?? e.inventoryState,
        scheduledBy: e.scheduledBy,
        deletionDate: e.deletionDate,
        confirmedDeletedAt: e.confirmedDeletedAt,
        restoredState: e.restoredState,
      }));
  }

  chunks(size = LEDGER_CHUNK_SIZE): LedgerEntry[][] {
    const all = this.all();
    const out: LedgerEntry[][] = [];
    for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
    return out;
  }
}
