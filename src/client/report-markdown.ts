import { formatDuration } from '../shared/duration';
import type { DecommissionReport, ReportKey, UsageSummary } from '../shared/types';
import type { UsageClass } from '../shared/usage';

const iso = (ms?: number) => (ms === undefined ? '—' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** Text from CloudTrail (callers, user agents) as one table cell: a `|` or a newline would break the row. */
const cell = (text: string | undefined) => (text ?? '').replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** Usage classes in words, in the order they matter to an approver (the report and the CLI's `status`). */
export const USAGE_CLASS_TEXT: Record<UsageClass, string> = {
  USED_RECENTLY: 'used within the window',
  USED_BEFORE_WINDOW: 'used before the window',
  NOT_USED_SINCE_TRACKING: 'not used since tracking began',
  UNKNOWN: 'unknown (created before tracking began)',
};

/** A key's "Last used" cell: when and how, else what its usage class says about it. */
function lastUsedCell(usage: ReportKey['usage']): string {
  if (!usage) return '';
  if (usage.lastUsedAt !== undefined) return `${iso(usage.lastUsedAt)}${usage.operation ? ` (${usage.operation})` : ''}`;
  return USAGE_CLASS_TEXT[usage.class];
}

/** The "Usage evidence" section: last use at inventory, the quiet period, attempted uses, deletion evidence. */
function usageSection(usage: UsageSummary, report: DecommissionReport): string[] {
  const lines = ['', '## Usage evidence', ''];
  lines.push(
    usage.checkedAt === undefined
      ? `- Last use (GetKeyLastUsage): not checked (recent-use window ${formatDuration(usage.recentUseWindowMs)})`
      : `- Last use (GetKeyLastUsage) checked ${iso(usage.checkedAt)}, recent-use window ${formatDuration(usage.recentUseWindowMs)}`,
  );
  for (const c of Object.keys(USAGE_CLASS_TEXT) as UsageClass[]) lines.push(`  - ${USAGE_CLASS_TEXT[c]}: ${usage.classes[c] ?? 0} key(s)`);
  const q = usage.quietPeriod;
  if (q) {
    const span =
      q.startedAt === undefined ? 'not started' : `${iso(q.startedAt)} → ${q.endedAt !== undefined ? iso(q.endedAt) : `planned end ${iso(q.endsAt)}`}`;
    lines.push(`- Quiet period: ${formatDuration(q.ms)}, ${q.disabled} key(s) disabled by this run, ${span}`);
  } else lines.push('- Quiet period: none');
  const w = usage.watch;
  if (w)
    lines.push(
      `- Attempted-use watch (CloudTrail): ${w.checks} check(s), ${w.lookupCalls} LookupEvents call(s)${w.checkedUntil !== undefined ? `, read up to ${iso(w.checkedUntil)}` : ''}; ${w.findings} attempted use(s) found, ${w.acknowledged} caller→key pair(s) acknowledged with \`proceed\``,
    );
  else lines.push('- Attempted-use watch (CloudTrail): off');
  const d = usage.deletionEvidence;
  if (d)
    lines.push(
      `- Deletion evidence: KMS's DeleteKey event found in CloudTrail for ${d.found} of ${d.of} deleted key(s)${d.lookedUntil !== undefined ? ` (CloudTrail read up to ${iso(d.lookedUntil)})` : ''}${d.done ? '' : ', search not finished'}${d.found < d.of ? `; no event was found for ${d.of - d.found} key(s) within the time waited` : ''}`,
    );

  if (usage.recentKeys.length) {
    lines.push('', `### Keys used within the window (${usage.recentlyUsed})`, '', '| Key | Operation | Last used | CloudTrail event |', '|---|---|---|---|');
    for (const k of usage.recentKeys) lines.push(`| \`${k.keyId}\` | ${cell(k.operation)} | ${iso(k.lastUsedAt)} | ${cell(k.cloudTrailEventId)} |`);
    if (usage.recentlyUsed > usage.recentKeys.length) lines.push('', `(${usage.recentKeys.length} of ${usage.recentlyUsed} shown, most recent first)`);
  }

  const attempts = report.attemptedUses ?? [];
  if (attempts.length) {
    lines.push(
      '',
      '### Attempted uses',
      '',
      '| Time | Event | Error code | Key | Caller | Source IP | CloudTrail event |',
      '|---|---|---|---|---|---|---|',
      ...attempts.map(
        (u) =>
          `| ${iso(u.eventTime)} | ${cell(u.eventName)} | ${cell(u.errorCode)} | \`${u.keyId}\` | ${cell(u.caller)} | ${cell(u.sourceIPAddress)} | ${cell(u.eventId)} |`,
      ),
    );
    if (w && w.findings > attempts.length) lines.push('', `(${attempts.length} of ${w.findings} attempted uses shown)`);
  }
  return lines;
}

/** The report as Markdown, for tickets and change records. */
export function renderReportMarkdown(report: DecommissionReport): string {
  const lines: string[] = [
    `# Decommission of KMS custom key store \`${report.customKeyStoreId}\`: ${report.outcome}`,
    '',
    `- Store: ${report.store ? `${report.store.name} (${report.store.type}${report.store.cloudHsmClusterId ? `, cluster ${report.store.cloudHsmClusterId}` : ''}${report.store.xksProxyUriEndpoint ? `, proxy ${report.store.xksProxyUriEndpoint}` : ''})` : 'unknown'}`,
    `- Ticket: ${report.ticket ?? '—'}`,
    `- Waiting period: ${report.pendingWindowInDays} days`,
    `- Started ${iso(report.startedAt)}, ended ${iso(report.endedAt)}`,
    `- Keys: ${report.counts.inventoried} in store, ${report.counts.scheduled} scheduled by this run, ${report.counts.alreadyPending} already pending, ${report.counts.deleted} confirmed deleted, ${report.counts.rolledBack} rolled back`,
    `- Deletion dates: ${iso(report.earliestDeletionDate)} → ${iso(report.latestDeletionDate)}`,
  ];
  if (report.reason) lines.push(`- Reason: ${report.reason}`);
  if (report.storeConnectedThroughout !== undefined)
    lines.push(`- Store CONNECTED through every check of the waiting period: ${report.storeConnectedThroughout ? 'yes' : 'no'}`);
  for (const w of report.disconnectedWindows ?? [])
    lines.push(
      `- Store possibly not CONNECTED from ${iso(w.from)} (last check that saw it connected) to ${w.to === undefined ? 'the end of the run' : iso(w.to)}`,
    );
  lines.push('', '## Decisions', '', '| What | Who | When | Detail |', '|---|---|---|---|');
  for (const d of report.decisions) lines.push(`| ${d.what} | ${d.by} | ${iso(d.at)} | ${d.detail ?? ''} |`);
  if (report.notes.length) lines.push('', '## Notes', '', ...report.notes.map((n) => `- ${n}`));
  if (report.usage) lines.push(...usageSection(report.usage, report));
  if (report.possiblyOrphanedKeyArns?.length) {
    lines.push('', '## Possibly orphaned HSM key material (label = key ARN)', '', ...report.possiblyOrphanedKeyArns.map((a) => `- \`${a}\``));
  }
  // Runs started before 0.3.0 have no usage evidence: their table keeps its columns.
  const withUsage = report.usage !== undefined || report.keys.some((k) => k.usage || k.deletionEvidence || k.disabledByRun);
  lines.push(
    '',
    '## Keys',
    '',
    `| Key ARN | Aliases | Prior state | Scheduled | DeletionDate | Confirmed deleted | Restored | Rollback calls |${withUsage ? ' Last used | Deletion evidence |' : ''}`,
    `|---|---|---|---|---|---|---|---|${withUsage ? '---|---|' : ''}`,
  );
  for (const k of report.keys) {
    const usageCells = withUsage
      ? ` ${lastUsedCell(k.usage)} | ${k.deletionEvidence ? `${cell(k.deletionEvidence.eventId)} (${iso(k.deletionEvidence.eventTime)})` : ''} |`
      : '';
    lines.push(
      `| \`${k.arn}\` | ${k.aliases.join(', ')} | ${k.priorState}${k.disabledByRun ? ' (disabled by this run)' : ''} | ${k.scheduledBy} | ${iso(k.deletionDate)} | ${iso(k.confirmedDeletedAt)} | ${k.restoredState ?? ''} | ${(k.rollbackActions ?? []).join(', ')} |${usageCells}`,
    );
  }
  if (report.keysTruncated) lines.push('', `(${report.keys.length} of ${report.keyCount} keys shown)`);
  return lines.join('\n') + '\n';
}
