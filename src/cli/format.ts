import type { DecommissionSummary } from '../client';
import { formatDuration } from '../shared/duration';
import type { Blocker, DecommissionReport, DecommissionStatus, UsageSummary } from '../shared/types';
import type { AttemptedUse, UsageClass } from '../shared/usage';
import { USAGE_CLASS_TEXT } from '../client/report-markdown';
import { cancelCommand, cliCommand, resolveCommands, YOU } from './hints';

/** ISO-8601 to the second, or "—". */
export function formatDate(ms: number | Date | undefined): string {
  if (ms === undefined) return '—';
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "in 6d 23h" / "5m ago": a point in time relative to now. */
export function relative(at: number, now: number): string {
  const delta = at - now;
  if (Math.abs(delta) < 1_000) return 'now';
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

const n = (value: number): string => value.toLocaleString('en-US');

/** Keys this run still has to schedule plus those it scheduled: the denominator of "scheduled N/M". */
export function scheduleTotal(status: Pick<DecommissionStatus, 'counts'>): number {
  return status.counts.scheduled + status.counts.toSchedule;
}

/**
 * ScheduleKeyDeletion calls per second of this run, from `scheduling.startedAt` to its end (or now), or
 * undefined before scheduling began. KMS's quota is account-wide, so this is what operators compare with it.
 */
export function scheduleRate(status: Pick<DecommissionStatus, 'counts' | 'scheduling'>, now: number): number | undefined {
  if (!status.scheduling) return undefined;
  const elapsedMs = (status.scheduling.finishedAt ?? now) - status.scheduling.startedAt;
  return status.counts.scheduled / Math.max(elapsedMs / 1000, 1);
}

/** The deployment's approval policy (worker setting) in words, as the run loaded it at its start. */
export function policyText(policy: NonNullable<DecommissionStatus['policy']>): string {
  const gate = policy.requireApproval ? 'approval required' : 'no approval step';
  const who = policy.allowSelfApproval
    ? 'the requester may make deletion decisions too (self-approval allowed)'
    : 'deletion decisions by someone other than the requester (four-eyes)';
  return `${gate}; ${who}`;
}

/** "3 used within the window · 10 used before the window · …": the key count per usage class. */
export function usageClassesText(usage: UsageSummary): string {
  return (Object.keys(USAGE_CLASS_TEXT) as UsageClass[]).map((c) => `${n(usage.classes[c] ?? 0)} ${USAGE_CLASS_TEXT[c]}`).join(' · ');
}

/** One recently used key: "<key> · Decrypt · last used <date> (<ago>) · CloudTrail event <id>". */
function recentKeyText(k: UsageSummary['recentKeys'][number], now: number): string {
  return [
    k.keyId,
    k.operation ?? 'operation unknown',
    k.lastUsedAt !== undefined ? `last used ${formatDate(k.lastUsedAt)} (${relative(k.lastUsedAt, now)})` : 'last use unknown',
    k.cloudTrailEventId ? `CloudTrail event ${k.cloudTrailEventId}` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** One attempted use: when, what failed on which key, who called from where, and the CloudTrail event. */
export function attemptedUseText(u: AttemptedUse): string {
  return `${formatDate(u.eventTime)} ${u.eventName} on ${u.keyId} → ${u.errorCode} · caller ${u.caller}${u.sourceIPAddress ? ` from ${u.sourceIPAddress}` : ''} · event ${u.eventId}`;
}

/** A KEY_IN_USE blocker's findings as lines (empty for any other blocker), with how many are not shown. */
export function attemptedUseLines(blocker: Blocker | undefined): string[] {
  if (blocker?.kind !== 'KEY_IN_USE') return [];
  const lines = blocker.findings.map(attemptedUseText);
  const more = blocker.findingCount - blocker.findings.length;
  lines.push(
    `${n(blocker.findingCount)} attempted use(s) on ${n(blocker.keyCount)} key(s)${more > 0 ? `; ${n(more)} more not shown (status --json, or the report)` : ''}`,
  );
  return lines;
}

/**
 * Status rows of the usage evidence: usage classes, the recently used keys (and the approve command that
 * acknowledges them while the run awaits approval), the quiet period, the attempted-use watch and the
 * deletion evidence. Empty for runs started before 0.3.0.
 */
export function usageRows(status: DecommissionStatus, now: number, cli: string): [string, string][] {
  const usage = status.usage;
  if (!usage) return [];
  const rows: [string, string][] = [];
  rows.push([
    'Key usage',
    usage.checkedAt === undefined
      ? `not checked yet (recent-use window ${formatDuration(usage.recentUseWindowMs)})`
      : `${usageClassesText(usage)} (window ${formatDuration(usage.recentUseWindowMs)}, GetKeyLastUsage at ${formatDate(usage.checkedAt)})`,
  ]);
  if (usage.recentKeys.length) {
    // recentKeys holds the newest 20 of the keys used within the window.
    const more = usage.recentlyUsed - usage.recentKeys.length;
    rows.push([
      'Recently used',
      [...usage.recentKeys.map((k) => recentKeyText(k, now)), ...(more > 0 ? [`… and ${n(more)} more used within the window (status --json)`] : [])].join('\n'),
    ]);
  }
  if (status.phase === 'AWAITING_APPROVAL' && usage.recentlyUsed > 0)
    rows.push([
      'Approve with',
      `${cli} approve ${status.customKeyStoreId} --approver ${YOU} --acknowledge-recently-used-keys ${usage.recentlyUsed}\n(acknowledges that ${n(usage.recentlyUsed)} key(s) used within the window will be deleted)`,
    ]);
  const q = usage.quietPeriod;
  if (q) {
    const when =
      q.endedAt !== undefined
        ? `ended ${formatDate(q.endedAt)}`
        : q.endsAt !== undefined
          ? `started ${formatDate(q.startedAt)}, ends ${formatDate(q.endsAt)} (${relative(q.endsAt, now)})`
          : 'starts after approval';
    rows.push(['Quiet period', `${formatDuration(q.ms)} · ${n(q.disabled)} key(s) disabled by this run · ${when}`]);
  }
  const w = usage.watch;
  if (w)
    rows.push([
      'Usage watch',
      `${n(w.checks)} CloudTrail check(s), ${n(w.lookupCalls)} LookupEvents call(s)${w.checkedUntil !== undefined ? `, read up to ${formatDate(w.checkedUntil)}` : ''} · ${n(w.findings)} attempted use(s) found, ${n(w.acknowledged)} acknowledged`,
    ]);
  const d = usage.deletionEvidence;
  if (d)
    rows.push([
      'Deletion evidence',
      `DeleteKey event found for ${n(d.found)} of ${n(d.of)} deleted key(s)${d.lookedUntil !== undefined ? `, CloudTrail read up to ${formatDate(d.lookedUntil)}` : ''}${d.done ? '' : ' (still looking)'}`,
    ]);
  return rows;
}

/**
 * The status as aligned "label  value" lines for `kms-decommission status`. A BLOCKED run lists one
 * runnable `resolve` command per allowed action, naming the blocker, and the `cancel` command.
 *
 * @param cli how the printed commands start (see {@link cliCommand})
 */
export function formatStatus(workflowId: string, status: DecommissionStatus, now: number, cli: string = cliCommand()): string {
  const c = status.counts;
  const rows: [string, string][] = [
    [
      'Phase',
      `${status.phase}${status.dryRun ? ' (dry run)' : ''}${status.phase === 'BLOCKED' && status.previousPhase ? ` (in ${status.previousPhase})` : ''}`,
    ],
    ['Workflow', workflowId],
    [
      'Store',
      status.store
        ? `${status.customKeyStoreId} · ${status.store.name} · ${status.store.type} · ${status.store.connectionState}${status.store.connectionErrorCode ? ` (${status.store.connectionErrorCode})` : ''}`
        : status.customKeyStoreId,
    ],
    ['Requested by', `${status.requestedBy}${status.ticket ? ` (${status.ticket})` : ''}, started ${formatDate(status.startedAt)}`],
    ['Approved by', status.approvedBy ?? '—'],
    ...(status.policy ? [['Approval policy', policyText(status.policy)] as [string, string]] : []),
    [
      'Keys',
      `${n(c.inventoried)} in store (${n(status.scannedKeys)} account keys scanned) · ${n(c.toSchedule)} to schedule · ${n(c.scheduled)} scheduled by this run · ${n(c.alreadyPending)} already pending · ${n(c.deleted)} confirmed deleted${c.rolledBack ? ` · ${n(c.rolledBack)} rolled back` : ''}`,
    ],
  ];
  const rate = scheduleRate(status, now);
  if (rate !== undefined)
    rows.push(['Scheduling', `${n(c.scheduled)}/${n(scheduleTotal(status))} at ${rate.toFixed(1)}/s${status.scheduling?.finishedAt ? ' (done)' : ''}`]);
  if (status.latestDeletionDate !== undefined) {
    rows.push([
      'Deletion dates',
      `${formatDate(status.earliestDeletionDate)} → ${formatDate(status.latestDeletionDate)} (last ${relative(status.latestDeletionDate, now)})`,
    ]);
  }
  rows.push(...usageRows(status, now, cli));
  if (status.nextAction)
    rows.push([
      'Next',
      `${status.nextAction}${status.nextActionAt !== undefined ? ` (${formatDate(status.nextActionAt)}, ${relative(status.nextActionAt, now)})` : ''}`,
    ]);
  if (status.blocker) {
    rows.push(['Blocked', `${status.blocker.id} since ${formatDate(status.blocker.since)}: ${status.blocker.message}`]);
    const attempts = attemptedUseLines(status.blocker);
    if (attempts.length) rows.push(['Attempted uses', attempts.join('\n')]);
    rows.push(['Resolve with', resolveCommands(status, cli).join('\n')]);
    const cancel = cancelCommand(status, cli);
    if (cancel) rows.push(['Or cancel', cancel]);
  }
  if (status.cancel) rows.push(['Cancelled', `by ${status.cancel.by} at ${formatDate(status.cancel.at)}: ${status.cancel.reason}`]);
  if (status.lastError) rows.push(['Last error', status.lastError]);
  if (status.continuedAsNew) rows.push(['Continued', `${status.continuedAsNew} time(s) as new`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  // A multi-line value (one command per line) continues under its first line.
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value.split('\n').join(`\n${' '.repeat(width + 2)}`)}`).join('\n') + '\n';
}

/** Usage evidence in one line, for the summary closing `watch`. */
function reportUsageText(usage: UsageSummary): string {
  const parts = [`${n(usage.recentlyUsed)} key(s) used within ${formatDuration(usage.recentUseWindowMs)} before the inventory`];
  if (usage.quietPeriod) parts.push(`quiet period ${formatDuration(usage.quietPeriod.ms)} (${n(usage.quietPeriod.disabled)} key(s) disabled by this run)`);
  if (usage.watch) parts.push(`${n(usage.watch.findings)} attempted use(s) found in CloudTrail, ${n(usage.watch.acknowledged)} acknowledged`);
  if (usage.deletionEvidence) parts.push(`DeleteKey event found for ${n(usage.deletionEvidence.found)} of ${n(usage.deletionEvidence.of)} deleted key(s)`);
  return parts.join(' · ');
}

/** A few lines closing `watch`: outcome, counts, dates, why it ended, and the command for the full report. */
export function formatReportSummary(report: DecommissionReport, cli: string = cliCommand()): string {
  const c = report.counts;
  const lines = [
    `${report.outcome}: decommission of ${report.customKeyStoreId}${report.store ? ` (${report.store.type})` : ''}`,
    `  keys: ${n(c.inventoried)} in store, ${n(c.scheduled)} scheduled by this run, ${n(c.alreadyPending)} already pending, ${n(c.deleted)} confirmed deleted, ${n(c.rolledBack)} rolled back`,
  ];
  if (report.latestDeletionDate !== undefined)
    lines.push(`  deletion dates: ${formatDate(report.earliestDeletionDate)} → ${formatDate(report.latestDeletionDate)}`);
  if (report.storeConnectedThroughout !== undefined)
    lines.push(`  store CONNECTED through the waiting period: ${report.storeConnectedThroughout ? 'yes' : 'NO'}`);
  if (report.possiblyOrphanedKeyArns?.length) lines.push(`  possibly orphaned HSM key material: ${n(report.possiblyOrphanedKeyArns.length)} key(s)`);
  if (report.usage) lines.push(`  usage: ${reportUsageText(report.usage)}`);
  if (report.reason) lines.push(`  reason: ${report.reason}`);
  for (const d of report.decisions) lines.push(`  ${d.what} by ${d.by} at ${formatDate(d.at)}${d.detail ? `: ${d.detail}` : ''}`);
  for (const note of report.notes) lines.push(`  note: ${note}`);
  lines.push(`  full report: ${cli} report ${report.customKeyStoreId} --format markdown`);
  return lines.join('\n') + '\n';
}

/** `list` rows as an aligned table. */
export function formatList(rows: DecommissionSummary[]): string {
  if (rows.length === 0) return 'No decommissions match.\n';
  const header = ['WORKFLOW ID', 'STORE', 'PHASE', 'STATUS', 'STARTED', 'CLOSED'];
  const table = [
    header,
    ...rows.map((r) => [r.workflowId, r.customKeyStoreId ?? '—', r.phase ?? '—', r.status, formatDate(r.startTime), formatDate(r.closeTime)]),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]?.length ?? 0)));
  return (
    table
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
