import { classifyUsage } from '../../src/shared/usage';
import { KeyLedger } from '../../src/workflows/ledger';

const DAY = 86_400_000;
const PREFIX = 'arn:aws:kms:us-east-1:111122223333:key/';

function ledgerOf(keys: { keyId: string; keyState: 'Enabled' | 'Disabled' | 'Unavailable' | 'PendingDeletion' }[]): KeyLedger {
  const ledger = new KeyLedger();
  ledger.addInventoried(keys, PREFIX);
  return ledger;
}

test('usage classes: recent, before the window, never used since tracking, unknown when created before tracking', () => {
  const now = 100 * DAY;
  expect(classifyUsage({ lastUsedAt: now - DAY }, now, 30 * DAY)).toBe('USED_RECENTLY');
  expect(classifyUsage({ lastUsedAt: now - 30 * DAY }, now, 30 * DAY)).toBe('USED_RECENTLY');
  expect(classifyUsage({ lastUsedAt: now - 30 * DAY - 1 }, now, 30 * DAY)).toBe('USED_BEFORE_WINDOW');
  expect(classifyUsage({ trackingStartDate: 10 * DAY, keyCreationDate: 10 * DAY }, now, 30 * DAY)).toBe('NOT_USED_SINCE_TRACKING');
  expect(classifyUsage({ trackingStartDate: 10 * DAY, keyCreationDate: 5 * DAY }, now, 30 * DAY)).toBe('UNKNOWN');
  // A use before tracking began is never reported, so a recorded use wins over the dates.
  expect(classifyUsage({ lastUsedAt: now - 40 * DAY, trackingStartDate: 10 * DAY, keyCreationDate: 5 * DAY }, now, 30 * DAY)).toBe('USED_BEFORE_WINDOW');
});

test('the quiet period: only keys this run (possibly) disabled are re-enabled, never a key someone else scheduled', () => {
  const ledger = ledgerOf([
    { keyId: 'a', keyState: 'Enabled' },
    { keyId: 'b', keyState: 'Enabled' },
    { keyId: 'c', keyState: 'Disabled' },
    { keyId: 'd', keyState: 'Unavailable' },
    { keyId: 'e', keyState: 'Enabled' },
  ]);
  expect(ledger.toDisable().map((e) => e.keyId)).toEqual(['a', 'b', 'd', 'e']);
  ledger.markDisabling(['a', 'b', 'd', 'e']);
  // A batch whose result is lost entirely: each key is re-enabled only if a read shows this run's change.
  expect(ledger.rollbackCandidates()).toEqual([
    { keyId: 'a', priorState: 'Enabled', certain: false, reenableOnly: true },
    { keyId: 'b', priorState: 'Enabled', certain: false, reenableOnly: true },
    { keyId: 'd', priorState: 'Unavailable', certain: false, reenableOnly: true },
    { keyId: 'e', priorState: 'Enabled', certain: false, reenableOnly: true },
  ]);
  ledger.applyDisable([
    { keyId: 'a', outcome: 'DISABLED', priorState: 'Enabled' },
    { keyId: 'b', outcome: 'NOT_ENABLED', priorState: 'Disabled' },
    { keyId: 'd', outcome: 'DISABLED', priorState: 'Enabled' },
    { keyId: 'e', outcome: 'NOT_IN_STORE' },
  ]);
  expect(ledger.has('e')).toBe(false);
  expect(ledger.disabledByRun().map((e) => e.keyId)).toEqual(['a', 'd']);
  expect(ledger.rollbackCandidates().map((k) => [k.keyId, k.priorState, k.certain])).toEqual([
    ['a', 'Enabled', true],
    ['d', 'Enabled', true],
  ]);
  // Scheduled after the quiet period: KMS saw the key Disabled, but the rollback restores what the approver saw.
  ledger.markAttempted(['a', 'b', 'c', 'd']);
  ledger.applySchedule(
    ['a', 'b', 'c', 'd'].map((keyId) => ({ keyId, outcome: 'SCHEDULED' as const, deletionDate: 30 * DAY, priorState: 'Disabled' as const })),
    [],
    DAY,
  );
  const candidates = new Map(ledger.rollbackCandidates().map((k) => [k.keyId, k]));
  expect(candidates.get('a')).toEqual({ keyId: 'a', priorState: 'Enabled', certain: true });
  expect(candidates.get('b')).toEqual({ keyId: 'b', priorState: 'Disabled', certain: true });
  expect(candidates.get('c')).toEqual({ keyId: 'c', priorState: 'Disabled', certain: true });
  expect(ledger.reportKeys(0, 10).map((k) => [k.keyId, k.priorState, k.disabledByRun ?? false])).toEqual([
    ['a', 'Enabled', true],
    ['b', 'Disabled', false],
    ['c', 'Disabled', false],
    ['d', 'Enabled', true],
  ]);
});

test('usage, quiet-period marks and deletion evidence survive continue-as-new; 0.2.0 rows without them still load', () => {
  const ledger = ledgerOf([
    { keyId: 'a', keyState: 'Enabled' },
    { keyId: 'b', keyState: 'Enabled' },
  ]);
  ledger.applyUsage(
    [
      { keyId: 'a', operation: 'Decrypt', lastUsedAt: 99 * DAY, cloudTrailEventId: '6f1c2a52-0000-4000-8000-000000000001' },
      { keyId: 'b', trackingStartDate: DAY, keyCreationDate: 0 },
    ],
    100 * DAY,
    30 * DAY,
  );
  ledger.markDisabling(['a']);
  ledger.applyDisable([{ keyId: 'a', outcome: 'DISABLED', priorState: 'Enabled' }]);
  expect(
    ledger.applyEvidence([
      { keyId: 'b', eventId: 'e-1', eventTime: 5 },
      { keyId: 'zz', eventId: 'e-2', eventTime: 6 },
    ]),
  ).toBe(1);
  const copy = KeyLedger.fromChunks(JSON.parse(JSON.stringify(ledger.chunks())));
  expect(copy.reportKeys(0, 10)).toEqual(ledger.reportKeys(0, 10));
  expect(copy.get('a')?.usage).toEqual({
    class: 'USED_RECENTLY',
    operation: 'Decrypt',
    lastUsedAt: 99 * DAY,
    cloudTrailEventId: '6f1c2a52-0000-4000-8000-000000000001',
  });
  expect(copy.get('b')?.usage).toEqual({ class: 'UNKNOWN' });
  expect(copy.get('b')?.deletionEvidence).toEqual({ eventId: 'e-1', eventTime: 5 });
  expect(copy.disabledByRun().map((e) => e.keyId)).toEqual(['a']);
  // A 0.2.0 chunk (12 columns) carried into a 0.3.0 worker.
  const old = KeyLedger.fromChunks([{ arnPrefix: PREFIX, rows: [['k', '', 'Enabled', '0', 1, 'Enabled', 5, 0, '', '', '', '']] }]);
  expect(old.get('k')).toMatchObject({ keyId: 'k', scheduledBy: 'this-run', usage: undefined, quiet: undefined, deletionEvidence: undefined });
});

test('a failed or cancelled disable batch: its sent keys are re-enabled for certain, the keys it never reached are out of scope and sent again', () => {
  const ledger = ledgerOf([
    { keyId: 'a', keyState: 'Enabled' },
    { keyId: 'b', keyState: 'Unavailable' },
    { keyId: 'c', keyState: 'Enabled' },
    { keyId: 'd', keyState: 'Enabled' },
  ]);
  ledger.markDisabling(['a', 'b', 'c', 'd']);
  ledger.applyDisableFailure(['a', 'b', 'c', 'd'], [{ keyId: 'a', outcome: 'DISABLED', priorState: 'Enabled' }], ['b']);
  expect(ledger.rollbackCandidates()).toEqual([
    { keyId: 'a', priorState: 'Enabled', certain: true, reenableOnly: true },
    // Sent without an answer: certain whatever the inventory read (a disconnected store hid its state).
    { keyId: 'b', priorState: 'Enabled', certain: true, reenableOnly: true },
  ]);
  expect(ledger.toDisable().map((e) => e.keyId)).toEqual(['c', 'd']);
  expect(ledger.disabledByRun().map((e) => e.keyId)).toEqual(['a', 'b']);
  expect(ledger.disabling()).toEqual([]);
  // A rollback that finds the never-answered key Enabled (its DisableKey never landed) counts it as back where it was.
  ledger.applyRollback([{ keyId: 'b', outcome: 'NOT_PENDING', finalState: 'Enabled', actions: [] }], 1);
  expect(ledger.get('b')).toMatchObject({ rolledBack: 'CANCELLED', restoredState: 'Enabled' });
});
