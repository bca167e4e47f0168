import type { DecommissionReport } from '../shared/types';

const iso = (ms?: number) => (ms === undefined ? '—' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

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
  if (report.possiblyOrphanedKeyArns?.length) {
    lines.push('', '## Possibly orphaned HSM key material (label = key ARN)', '', ...report.possiblyOrphanedKeyArns.map((a) => `- \`${a}\``));
  }
  lines.push(
    '',
    '## Keys',
    '',
    '| Key ARN | Aliases | Prior state | Scheduled | DeletionDate | Confirmed deleted | Restored | Rollback calls |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const k of report.keys) {
    lines.push(
      `| \`${k.arn}\` | ${k.aliases.join(', ')} | ${k.priorState} | ${k.scheduledBy} | ${iso(k.deletionDate)} | ${iso(k.confirmedDeletedAt)} | ${k.restoredState ?? ''} | ${(k.rollbackActions ?? []).join(', ')} |`,
    );
  }
  if (report.keysTruncated) lines.push('', `(${report.keys.length} of ${report.keyCount} keys shown)`);
  return lines.join('\n') + '\n';
}
