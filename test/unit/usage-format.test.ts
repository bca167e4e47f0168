/**
 * Usage evidence as operators read it: the report's "Usage evidence" section and per-key columns, and the
 * CLI's `status` rows (usage classes, recently used keys, quiet period, watch, deletion evidence, and a
 * KEY_IN_USE blocker with its findings and the runnable commands that answer it). Hand-built objects: no
 * workflow involved.
 */
import { renderReportMarkdown } from '../../src/client/report-markdown';
import { formatReportSummary, formatStatus } from '../../src/cli/format';
import type { DecommissionReport, DecommissionStatus, ReportKey, UsageSummary } from '../../src/shared/types';
import type { AttemptedUse } from '../../src/shared/usage';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const MIN = 60_000;
const DAY = 86_400_000;
const STORE = 'cks-1234567890abcdef0';
const arn = (id: string) => `arn:aws:kms:us-east-1:111122223333:key/${id}`;

const attempt: AttemptedUse = {
  eventId: 'ev-attempt-1',
  eventTime: T0 + 2 * DAY,
  eventName: 'Decrypt',
  errorCode: 'DisabledException',
  keyId: 'key-a',
  caller: 'arn:aws:sts::111122223333:assumed-role/payments|batch/i-0abc',
  sourceIPAddress: '10.0.0.7',
};

const usage: UsageSummary = {
  recentUseWindowMs: 30 * DAY,
  checkedAt: T0,
  classes: { USED_RECENTLY: 2, USED_BEFORE_WINDOW: 1, NOT_USED_SINCE_TRACKING: 1, UNKNOWN: 1 },
  recentlyUsed: 2,
  recentKeys: [
    { keyId: 'key-a', operation: 'Decrypt', lastUsedAt: T0 - 5 * MIN, cloudTrailEventId: 'ev-last-a' },
    { keyId: 'key-b', operation: 'GenerateDataKey', lastUsedAt: T0 - 3 * DAY, cloudTrailEventId: 'ev-last-b' },
  ],
  quietPeriod: { ms: 14 * DAY, startedAt: T0 + DAY, endsAt: T0 + 15 * DAY, endedAt: T0 + 15 * DAY, disabled: 4 },
  watch: { checks: 40, checkedUntil: T0 + 20 * DAY, lookupCalls: 52, findings: 3, acknowledged: 1 },
  deletionEvidence: { found: 4, of: 5, lookedUntil: T0 + 30 * DAY, done: true },
};

function key(id: string, extra: Partial<ReportKey>): ReportKey {
  return { keyId: id, arn: arn(id), aliases: [], priorState: 'Enabled', scheduledBy: 'this-run', ...extra };
}

const report: DecommissionReport = {
  outcome: 'COMPLETED',
  customKeyStoreId: STORE,
  pendingWindowInDays: 7,
  startedAt: T0 - MIN,
  endedAt: T0 + 30 * DAY,
  decisions: [{ what: 'approved', by: 'bob', at: T0 + MIN, detail: 'acknowledged 2 recently used key(s)' }],
  counts: { inventoried: 5, toSchedule: 0, scheduled: 5, alreadyPending: 0, deleted: 5, remaining: 0, rolledBack: 0 },
  notes: [],
  usage,
  attemptedUses: [attempt, { ...attempt, eventId: 'ev-attempt-2', errorCode: 'KMSInvalidStateException', sourceIPAddress: undefined, caller: 'AKIAEXAMPLE' }],
  keyCount: 3,
  keys: [
    key('key-a', {
      usage: { class: 'USED_RECENTLY', operation: 'Decrypt', lastUsedAt: T0 - 5 * MIN, cloudTrailEventId: 'ev-last-a' },
      disabledByRun: true,
      deletionEvidence: { eventId: 'ev-delete-a', eventTime: T0 + 22 * DAY },
    }),
    key('key-c', { usage: { class: 'NOT_USED_SINCE_TRACKING' }, deletionEvidence: { eventId: 'ev-delete-c', eventTime: T0 + 22 * DAY } }),
    key('key-d', { usage: { class: 'UNKNOWN' } }),
  ],
  keysTruncated: false,
};

describe('report markdown: usage evidence', () => {
  const md = renderReportMarkdown(report);
  const section = md.slice(md.indexOf('## Usage evidence'), md.indexOf('\n## Keys\n'));

  test('classes, quiet period, watch and deletion evidence (found X of Y)', () => {
    expect(section).toContain('- Last use (GetKeyLastUsage) checked 2026-11-01T12:00:00Z, recent-use window 30d');
    expect(section).toContain('  - used within the window: 2 key(s)');
    expect(section).toContain('  - used before the window: 1 key(s)');
    expect(section).toContain('  - not used since tracking began: 1 key(s)');
    expect(section).toContain('  - unknown (created before tracking began): 1 key(s)');
    expect(section).toContain('- Quiet period: 14d, 4 key(s) disabled by this run, 2026-11-02T12:00:00Z → 2026-11-16T12:00:00Z');
    expect(section).toContain(
      '- Attempted-use watch (CloudTrail): 40 check(s), 52 LookupEvents call(s), read up to 2026-11-21T12:00:00Z; 3 attempted use(s) found',
    );
    expect(section).toContain("- Deletion evidence: KMS's DeleteKey event found in CloudTrail for 4 of 5 deleted key(s)");
    expect(section).toContain('no event was found for 1 key(s) within the time waited');
  });

  test('recently used keys and attempted uses as tables, CloudTrail text escaped for table cells', () => {
    expect(section).toContain('### Keys used within the window (2)');
    expect(section).toContain('| `key-a` | Decrypt | 2026-11-01T11:55:00Z | ev-last-a |');
    expect(section).toContain('| `key-b` | GenerateDataKey | 2026-10-29T12:00:00Z | ev-last-b |');
    expect(section).toContain('| Time | Event | Error code | Key | Caller | Source IP | CloudTrail event |');
    // The `|` inside the caller's role name must not split the row.
    expect(section).toContain(
      '| 2026-11-03T12:00:00Z | Decrypt | DisabledException | `key-a` | arn:aws:sts::111122223333:assumed-role/payments\\|batch/i-0abc | 10.0.0.7 | ev-attempt-1 |',
    );
    expect(section).toContain('| 2026-11-03T12:00:00Z | Decrypt | KMSInvalidStateException | `key-a` | AKIAEXAMPLE |  | ev-attempt-2 |');
    expect(section).toContain('(2 of 3 attempted uses shown)');
  });

  test('per-key columns: last used (or what the class says) and the DeleteKey event', () => {
    const keys = md.slice(md.indexOf('\n## Keys\n'));
    expect(keys).toContain(
      '| Key ARN | Aliases | Prior state | Scheduled | DeletionDate | Confirmed deleted | Restored | Rollback calls | Last used | Deletion evidence |',
    );
    const row = (id: string) => keys.split('\n').find((l) => l.includes(arn(id))) ?? '';
    expect(row('key-a')).toContain('| Enabled (disabled by this run) |');
    expect(row('key-a')).toMatch(/\| 2026-11-01T11:55:00Z \(Decrypt\) \| ev-delete-a \(2026-11-23T12:00:00Z\) \|$/);
    expect(row('key-c')).toMatch(/\| not used since tracking began \| ev-delete-c \(2026-11-23T12:00:00Z\) \|$/);
    expect(row('key-d')).toMatch(/\| unknown \(created before tracking began\) \| {2}\|$/);
    // Every row has as many cells as the header.
    const cells = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    const header = keys.split('\n').find((l) => l.startsWith('| Key ARN')) ?? '';
    for (const id of ['key-a', 'key-c', 'key-d']) expect(cells(row(id))).toBe(cells(header));
  });

  test("watch's closing summary has one usage line", () => {
    expect(formatReportSummary(report, 'npm run kms-decommission --')).toContain(
      '\n  usage: 2 key(s) used within 30d before the inventory · quiet period 14d (4 key(s) disabled by this run) · 3 attempted use(s) found in CloudTrail, 1 acknowledged · DeleteKey event found for 4 of 5 deleted key(s)\n',
    );
  });

  test('a report without usage evidence (runs before 0.3.0) keeps its old shape', () => {
    const old = renderReportMarkdown({ ...report, usage: undefined, attemptedUses: undefined, keys: report.keys.map(({ keyId }) => key(keyId, {})) });
    expect(old).not.toContain('Usage evidence');
    expect(formatReportSummary({ ...report, usage: undefined })).not.toContain('usage:');
    expect(old).toContain('| Key ARN | Aliases | Prior state | Scheduled | DeletionDate | Confirmed deleted | Restored | Rollback calls |\n');
  });
});

describe('status: usage evidence and KEY_IN_USE', () => {
  const base: DecommissionStatus = {
    customKeyStoreId: STORE,
    phase: 'AWAITING_APPROVAL',
    dryRun: false,
    requestedBy: 'alice',
    startedAt: T0 - MIN,
    scannedKeys: 5,
    counts: { inventoried: 5, toSchedule: 5, scheduled: 0, alreadyPending: 0, deleted: 0, remaining: 5, rolledBack: 0 },
    continuedAsNew: 0,
    usage: { ...usage, quietPeriod: { ms: 14 * DAY, disabled: 0 }, watch: undefined, deletionEvidence: undefined },
  };
  const cli = 'npm run kms-decommission --';

  test('awaiting approval: classes, recently used keys, and the approve command that acknowledges them', () => {
    const text = formatStatus(`kms-decommission-${STORE}`, base, T0 + MIN, cli);
    expect(text).toMatch(
      /^Key usage +2 used within the window · 1 used before the window · 1 not used since tracking began · 1 unknown \(created before tracking began\) \(window 30d, GetKeyLastUsage at 2026-11-01T12:00:00Z\)$/m,
    );
    expect(text).toMatch(/^Recently used +key-a · Decrypt · last used 2026-11-01T11:55:00Z \(6m ago\) · CloudTrail event ev-last-a$/m);
    expect(text).toMatch(/^ +key-b · GenerateDataKey · last used 2026-10-29T12:00:00Z \(3d 1m ago\) · CloudTrail event ev-last-b$/m);
    expect(text).toMatch(/^Approve with +npm run kms-decommission -- approve cks-1234567890abcdef0 --approver "\$USER" --acknowledge-recently-used-keys 2$/m);
    expect(text).toMatch(/^Quiet period +14d · 0 key\(s\) disabled by this run · starts after approval$/m);
  });

  test('KEY_IN_USE: the findings (caller, source IP, event, key, time, event id, error code) and the runnable proceed and cancel commands', () => {
    const blocked: DecommissionStatus = {
      ...base,
      phase: 'BLOCKED',
      previousPhase: 'QUIET_PERIOD',
      usage: { ...usage, quietPeriod: { ms: 14 * DAY, startedAt: T0 + DAY, endsAt: T0 + 15 * DAY, disabled: 4 }, deletionEvidence: undefined },
      blocker: {
        id: 'KEY_IN_USE-1',
        kind: 'KEY_IN_USE',
        since: T0 + 2 * DAY,
        message: 'CloudTrail shows attempted use of 1 key(s) of the store',
        allowedActions: ['proceed'],
        findings: [attempt],
        findingCount: 3,
        keyCount: 1,
      },
    };
    const text = formatStatus(`kms-decommission-${STORE}`, blocked, T0 + 2 * DAY + MIN, cli);
    expect(text).toMatch(
      /^Attempted uses +2026-11-03T12:00:00Z Decrypt on key-a → DisabledException · caller arn:aws:sts::111122223333:assumed-role\/payments\|batch\/i-0abc from 10\.0\.0\.7 · event ev-attempt-1$/m,
    );
    expect(text).toMatch(/^ +3 attempted use\(s\) on 1 key\(s\); 2 more not shown/m);
    expect(text).toMatch(/^Resolve with +npm run kms-decommission -- resolve cks-1234567890abcdef0 --blocker KEY_IN_USE-1 --action proceed --by "\$USER"$/m);
    expect(text).toMatch(/^Or cancel +npm run kms-decommission -- cancel cks-1234567890abcdef0 --by "\$USER" --reason "<why>"$/m);
    expect(text).toMatch(/^Quiet period +14d · 4 key\(s\) disabled by this run · started 2026-11-02T12:00:00Z, ends 2026-11-16T12:00:00Z \(in 12d 23h\)$/m);
    expect(text).toMatch(
      /^Usage watch +40 CloudTrail check\(s\), 52 LookupEvents call\(s\), read up to 2026-11-21T12:00:00Z · 3 attempted use\(s\) found, 1 acknowledged$/m,
    );
    // Not awaiting approval any more: no approve command.
    expect(text).not.toContain('Approve with');
  });

  test('deletion evidence once the keys are deleted', () => {
    const text = formatStatus(`kms-decommission-${STORE}`, { ...base, phase: 'VERIFYING', usage }, T0 + 30 * DAY, cli);
    expect(text).toMatch(/^Deletion evidence +DeleteKey event found for 4 of 5 deleted key\(s\), CloudTrail read up to 2026-12-01T12:00:00Z$/m);
  });

  test('no usage section for runs started before 0.3.0', () => {
    const text = formatStatus(`kms-decommission-${STORE}`, { ...base, usage: undefined }, T0, cli);
    expect(text).not.toMatch(/Key usage|Recently used|Quiet period|Usage watch|Deletion evidence/);
  });
});
