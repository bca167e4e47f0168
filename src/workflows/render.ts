import { formatDuration } from '../shared/duration';
import type { DecommissionStatus } from '../shared/types';

/** ISO-8601 without milliseconds: dates in the UI and the report read like a runbook, not a log line. */
export function iso(ms: number | undefined): string {
  return ms === undefined ? '—' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Markdown for the Web UI's "current details": the first thing an operator reads. The UI shows only the
 * top of this panel, so the phase, the next action and any blocker come first.
 */
export function renderCurrentDetails(status: DecommissionStatus, now: number): string {
  const c = status.counts;
  const lines = [`**${status.phase}**${status.dryRun ? ' (dry run)' : ''} · \`${status.customKeyStoreId}\``];
  if (status.nextAction) {
    const when = status.nextActionAt !== undefined ? ` at ${iso(status.nextActionAt)} (in ${formatDuration(status.nextActionAt - now)})` : '';
    lines.push('', `**Next:** ${status.nextAction}${when}`);
  }
  if (status.blocker) {
    lines.push(
      '',
      `**BLOCKED (${status.blocker.kind})**: ${status.blocker.message}`,
      '',
      `Resolve with: ${status.blocker.allowedActions.map((a) => `\`${a}\``).join(', ')} — or cancel.`,
    );
  }
  if (status.blocker?.kind === 'KEY_IN_USE') {
    lines.push('', '| Caller | Source | Call | Key | When | Error | CloudTrail event |', '|---|---|---|---|---|---|---|');
    for (const f of status.blocker.findings) {
      lines.push(`| ${f.caller} | ${f.sourceIPAddress ?? '—'} | ${f.eventName} | \`${f.keyId}\` | ${iso(f.eventTime)} | ${f.errorCode} | \`${f.eventId}\` |`);
    }
  }
  if (status.lastError) lines.push('', `**Last error:** ${status.lastError}`);
  lines.push(
    '',
    `| | |`,
    `|---|---|`,
    `| Keys | ${count(c.inventoried)} in store · ${count(c.scheduled)} scheduled by this run · ${count(c.alreadyPending)} already pending · ${count(c.deleted)} confirmed deleted |`,
  );
  if (status.latestDeletionDate !== undefined) lines.push(`| Deletion dates | ${iso(status.earliestDeletionDate)} → ${iso(status.latestDeletionDate)} |`);
  if (c.rolledBack > 0) lines.push(`| Rolled back | ${count(c.rolledBack)} keys |`);
  const u = status.usage;
  if (u) {
    if (u.checkedAt !== undefined) {
      const cl = u.classes;
      lines.push(
        `| Last use (${formatDuration(u.recentUseWindowMs)} window) | ${count(cl.USED_RECENTLY)} used recently · ${count(cl.USED_BEFORE_WINDOW)} used before · ${count(cl.NOT_USED_SINCE_TRACKING)} not used since tracking began · ${count(cl.UNKNOWN)} unknown (older than tracking) |`,
      );
      if (u.recentKeys.length > 0)
        lines.push(
          `| Recently used | ${u.recentKeys
            .slice(0, 5)
            .map((k) => `\`${k.keyId}\` ${k.operation ?? ''} ${iso(k.lastUsedAt)}`)
            .join(' · ')}${u.recentlyUsed > 5 ? ' · …' : ''} |`,
        );
    }
    if (u.quietPeriod) {
      const q = u.quietPeriod;
      lines.push(
        `| Quiet period | ${formatDuration(q.ms)} · ${count(q.disabled)} key(s) disabled by this run${q.endsAt !== undefined ? ` · ends ${iso(q.endsAt)}` : ''}${q.endedAt !== undefined ? ' (ended)' : ''} |`,
      );
    }
    if (u.watch && u.watch.checks > 0)
      lines.push(
        `| Attempted use (CloudTrail) | ${count(u.watch.findings)} found · ${count(u.watch.checks)} check(s) up to ${iso(u.watch.checkedUntil)}${u.watch.acknowledged ? ` · ${count(u.watch.acknowledged)} caller/key pair(s) acknowledged` : ''} |`,
      );
    if (u.deletionEvidence)
      lines.push(`| Deletion evidence | DeleteKey event found for ${count(u.deletionEvidence.found)} of ${count(u.deletionEvidence.of)} deleted key(s) |`);
  }
  lines.push(
    `| Store | ${status.store ? `${status.store.type} · ${status.store.connectionState}${status.store.cloudHsmClusterId ? ` · ${status.store.cloudHsmClusterId}` : ''}` : '—'} |`,
    `| Requested by | ${status.requestedBy}${status.ticket ? ` (${status.ticket})` : ''} |`,
    `| Approved by | ${status.approvedBy ?? '—'} |`,
  );
  return lines.join('\n');
}
