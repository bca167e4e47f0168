import { KeyLedger } from '../../src/workflows/ledger';

const PREFIX = 'arn:aws:kms:us-east-1:111122223333:key/';
const key = (n: number, keyState: 'Enabled' | 'Disabled' | 'PendingDeletion' = 'Enabled', deletionDate?: number) => ({
  keyId: `k${n}`,
  keyState,
  deletionDate,
});

test('keys already pending count as scheduled before this run and are never rollback candidates', () => {
  const ledger = new KeyLedger();
  ledger.addInventoried([key(1), key(2, 'Disabled'), key(3, 'PendingDeletion', 5_000)], PREFIX);
  expect(ledger.toSchedule().map((e) => e.keyId)).toEqual(['k1', 'k2']);
  ledger.markAttempted(['k1', 'k2']);
  ledger.applySchedule([{ keyId: 'k1', outcome: 'SCHEDULED', deletionDate: 9_000, priorState: 'Enabled' }], [], 100);
  // k2's batch result was lost: it is an uncertain rollback candidate.
  expect(ledger.rollbackCandidates()).toEqual([
    { keyId: 'k1', priorState: 'Enabled', certain: true },
    { keyId: 'k2', priorState: 'Disabled', certain: false },
  ]);
  expect(ledger.counts()).toMatchObject({ inventoried: 3, scheduled: 1, alreadyPending: 1, toSchedule: 1 });
  expect(ledger.pendingDeletionDates().sort()).toEqual([5_000, 9_000]);
});

test("a key found pending at schedule time (lost response, or scheduled after approval) is reported as such, and is in the rollback's scope", () => {
  const ledger = new KeyLedger();
  ledger.addInventoried([key(1), key(2)], PREFIX);
  ledger.applySchedule(
    [
      { keyId: 'k1', outcome: 'ALREADY_PENDING', deletionDate: 7_000 },
      { keyId: 'k2', outcome: 'SCHEDULED', deletionDate: 8_000, priorState: 'Enabled' },
    ],
    [],
    0,
  );
  expect(ledger.get('k1')).toMatchObject({ scheduledBy: 'after-approval', priorState: 'Enabled', deletionDate: 7_000 });
  expect(ledger.get('k2')).toMatchObject({ scheduledBy: 'this-run' });
  expect(ledger.rollbackCandidates()).toEqual([
    { keyId: 'k1', priorState: 'Enabled', certain: true },
    { keyId: 'k2', priorState: 'Enabled', certain: true },
  ]);
  expect(ledger.counts()).toMatchObject({ scheduled: 1, alreadyPending: 1 });
});

test('checks record deletions and surface keys someone cancelled', () => {
  const ledger = new KeyLedger();
  ledger.addInventoried([key(1), key(2)], PREFIX);
  ledger.applySchedule(
    [
      { keyId: 'k1', outcome: 'SCHEDULED', deletionDate: 1, priorState: 'Enabled' },
      { keyId: 'k2', outcome: 'SCHEDULED', deletionDate: 2, priorState: 'Enabled' },
    ],
    [],
    0,
  );
  const notPending = ledger.applyChecks({ deleted: ['k1'], notPending: [{ keyId: 'k2', status: 'NOT_PENDING', keyState: 'Disabled' }], stillPending: 0 }, 50);
  expect(notPending.map((e) => e.keyId)).toEqual(['k2']);
  expect(ledger.get('k1')?.confirmedDeletedAt).toBe(50);
  ledger.markForReschedule(['k2']);
  expect(ledger.toSchedule().map((e) => e.keyId)).toEqual(['k2']);
  expect(ledger.awaitingDeletion()).toEqual([]);
});

test('round-trips through continue-as-new chunks', () => {
  const ledger = new KeyLedger();
  ledger.addInventoried(
    Array.from({ length: 2_500 }, (_, i) => ({ ...key(i), aliases: [`alias/app-${i}`] })),
    PREFIX,
  );
  ledger.applySchedule([{ keyId: 'k7', outcome: 'SCHEDULED', deletionDate: 1_700_000_000_123, priorState: 'Enabled' }], [], 0);
  ledger.markAttempted(['k8']);
  ledger.applyChecks({ deleted: ['k7'], notPending: [], stillPending: 0 }, 1_700_000_100_000);
  const chunks = ledger.chunks();
  expect(chunks.map((c) => c.rows.length)).toEqual([1_000, 1_000, 500]);
  expect(Math.max(...chunks.map((c) => JSON.stringify(c).length))).toBeLessThan(128 * 1024);
  expect(KeyLedger.fromChunks(chunks).all()).toEqual(ledger.all());
});

test('a scheduled key the rollback finds already back in its prior state counts as restored; an untouched or differing one does not', () => {
  const ledger = new KeyLedger();
  ledger.addInventoried([key(1), key(2), key(3)], PREFIX);
  ledger.applySchedule(
    [
      { keyId: 'k1', outcome: 'SCHEDULED', deletionDate: 1, priorState: 'Enabled' },
      { keyId: 'k2', outcome: 'SCHEDULED', deletionDate: 2, priorState: 'Enabled' },
    ],
    [],
    0,
  );
  ledger.markAttempted(['k3']);
  ledger.applyRollback(
    [
      // Cancelled and re-enabled by a worker killed before it could record it: reads Enabled, nothing left to do.
      { keyId: 'k1', outcome: 'NOT_PENDING', actions: [], finalState: 'Enabled' },
      // Not pending but Disabled: not where the approver saw it, left as is.
      { keyId: 'k2', outcome: 'NOT_PENDING', actions: [], finalState: 'Disabled' },
      // Never scheduled (its batch's result was lost): untouched, not "restored".
      { keyId: 'k3', outcome: 'NOT_PENDING', actions: [], finalState: 'Enabled' },
    ],
    10,
  );
  expect(ledger.get('k1')).toMatchObject({ rolledBack: 'CANCELLED', restoredState: 'Enabled' });
  expect(ledger.get('k2')).toMatchObject({ rolledBack: 'NOT_PENDING', finalState: 'Disabled' });
  expect(ledger.get('k3')).toMatchObject({ rolledBack: 'NOT_PENDING', scheduledBy: 'not-scheduled' });
  expect(ledger.counts().rolledBack).toBe(1);
  expect(ledger.rollbackCandidates()).toEqual([]);
});
