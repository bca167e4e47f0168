import type { AuditEntry, EmulatorAdminClient } from '../../../src/emulator';

/**
 * The emulator's audit log, fetched incrementally. It is the independent witness of these tests: it
 * records what reached "KMS", whatever the workflow believes it did.
 */
export class AuditLog {
  readonly entries: AuditEntry[] = [];

  constructor(private readonly admin: () => EmulatorAdminClient) {}

  get lastSeq(): number {
    return this.entries.length ? this.entries[this.entries.length - 1].seq : 0;
  }

  /** Fetches entries newer than the last one seen. */
  async refresh(): Promise<AuditEntry[]> {
    const more = await this.admin().audit({ sinceSeq: this.lastSeq });
    this.entries.push(...more);
    return this.entries;
  }

  /**
   * Replaces everything with a fresh full read. Needed after an emulator SIGKILL: entries of read-only
   * calls are journaled lazily, so the last few may be lost and their sequence numbers reused.
   */
  async reload(): Promise<AuditEntry[]> {
    const all = await this.admin().audit();
    this.entries.splice(0, this.entries.length, ...all);
    return this.entries;
  }

  /** Polls until `probe` returns a value (not undefined). */
  async waitFor<T>(what: string, probe: (entries: AuditEntry[]) => T | undefined, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe(await this.refresh());
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} in the emulator's audit log (${this.entries.length} entries)`);
      await sleep(50);
    }
  }

  /** Waits until at least `n` entries match. */
  waitForCount(what: string, n: number, match: (e: AuditEntry) => boolean, timeoutMs?: number): Promise<number> {
    return this.waitFor(
      what,
      (entries) => {
        const c = entries.filter(match).length;
        return c >= n ? c : undefined;
      },
      timeoutMs,
    );
  }

  count(match: (e: AuditEntry) => boolean): number {
    return this.entries.filter(match).length;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Successful calls of `operation`, optionally only for `keyIds`. */
export function ok(operation: string, keyIds?: ReadonlySet<string>): (e: AuditEntry) => boolean {
  return (e) => e.operation === operation && e.outcome === 'OK' && (!keyIds || (e.keyId !== undefined && keyIds.has(e.keyId)));
}

/** What the audit log proves about the ScheduleKeyDeletion calls of one run. */
export interface ScheduleProof {
  expected: number;
  /** Keys with exactly one ScheduleKeyDeletion answered OK. */
  scheduledOnce: number;
  /** Keys with more than one ScheduleKeyDeletion answered OK (must be empty). */
  duplicates: string[];
  /** Expected keys never scheduled (must be empty). */
  missing: string[];
  /** Keys scheduled that were not expected: bystanders, keys pending before the run (must be empty). */
  unexpected: string[];
  /**
   * Keys whose only ScheduleKeyDeletion that may have executed had its answer replaced by an injected
   * fault (`when: 'after'`): the audit shows the fault, KMS state shows the key pending.
   */
  maskedOnly: number;
  /** Attempts answered KMSInvalidStateException ("is pending deletion"): harmless re-sends, counted for the record. */
  pendingDeletionRejections: number;
  /** Every ScheduleKeyDeletion request that reached the emulator, whatever its outcome. */
  requests: number;
}

/**
 * Checks "every expected key scheduled exactly once, nothing else scheduled" against the audit log.
 * `maybeExecuted` marks entries whose answer a fault replaced after the call ran (the audit records the
 * fault, not the call's own outcome): such a call executed if it was the key's first, and was refused
 * as "pending deletion" otherwise, so a key needs one OK or one such entry, and never two OKs.
 */
export function proveScheduledOnce(
  entries: readonly AuditEntry[],
  expectedKeyIds: readonly string[],
  maybeExecuted: (e: AuditEntry) => boolean = () => false,
): ScheduleProof {
  const expected = new Set(expectedKeyIds);
  const okPerKey = new Map<string, number>();
  const masked = new Set<string>();
  let pendingDeletionRejections = 0;
  let requests = 0;
  for (const e of entries) {
    if (e.operation !== 'ScheduleKeyDeletion' || !e.keyId) continue;
    requests++;
    if (e.outcome === 'KMSInvalidStateException') pendingDeletionRejections++;
    if (e.outcome === 'OK') okPerKey.set(e.keyId, (okPerKey.get(e.keyId) ?? 0) + 1);
    else if (maybeExecuted(e)) masked.add(e.keyId);
  }
  const maskedOnly = [...masked].filter((k) => !okPerKey.has(k));
  return {
    expected: expected.size,
    scheduledOnce: [...expected].filter((k) => okPerKey.get(k) === 1).length,
    duplicates: [...okPerKey].filter(([, n]) => n > 1).map(([k]) => k),
    missing: [...expected].filter((k) => !okPerKey.has(k) && !masked.has(k)),
    unexpected: [...new Set([...okPerKey.keys(), ...maskedOnly])].filter((k) => !expected.has(k)),
    maskedOnly: maskedOnly.length,
    pendingDeletionRejections,
    requests,
  };
}

/** Successful calls per key of `operation`. */
export function okPerKey(entries: readonly AuditEntry[], operation: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of entries) if (e.operation === operation && e.outcome === 'OK' && e.keyId) counts.set(e.keyId, (counts.get(e.keyId) ?? 0) + 1);
  return counts;
}

/** Mutating calls that touched the store or one of `keyIds`. */
export function mutatingFor(entries: readonly AuditEntry[], storeId: string, keyIds: readonly string[]): AuditEntry[] {
  const keys = new Set(keyIds);
  return entries.filter((e) => e.mutating && (e.customKeyStoreId === storeId || (e.keyId !== undefined && keys.has(e.keyId))));
}
