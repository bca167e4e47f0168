import { formatDuration } from './shared/duration';
import type { DecommissionStatus } from './shared/types';

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
  if (status.lastError) lines.push('', `**Last error:** ${status.lastError}`);
  lines.push(
    '',
    `| | |`,
    `|---|---|`,
    `| Keys | ${count(c.inventoried)} in store · ${count(c.scheduled)} scheduled by this run · ${count(c.alreadyPending)} already pending · ${count(c.deleted)} confirmed deleted |`,
  );
  if (status.latestDeletionDate !== undefined) lines.push(`| Deletion dates | ${iso(status.earliestDeletionDate)} → ${iso(status.latestDeletionDate)} |`);
  if (c.rolledBack > 0) lines.push(`| Rolled back | ${count(c.rolledBack)} keys |`);
  lines.push(
    `| Store | ${status.store ? `${status.store.type} · ${status.store.connectionState}${status.store.cloudHsmClusterId ? ` · ${status.store.cloudHsmClusterId}` : ''}` : '—'} |`,
    `| Requested by | ${status.requestedBy}${status.ticket ? ` (${status.ticket})` : ''} |`,
    `| Approved by | ${status.approvedBy ?? '—'} |`,
  );
  return lines.join('\n');
}
