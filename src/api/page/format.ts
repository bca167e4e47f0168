import { formatDuration, parseDuration, type DurationInput } from '../../shared/duration';
import { html, type SafeHtml } from './html';

/** An instant for people (UTC, to the minute) in a `<time>` element carrying the exact ISO value. */
export function instant(ms: number | undefined, now = Date.now()): SafeHtml | string {
  if (ms === undefined) return '—';
  const iso = new Date(ms).toISOString();
  const relative = ms >= now ? `in ${formatDuration(ms - now)}` : `${formatDuration(now - ms)} ago`;
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time> <span class="muted">(${relative})</span>`;
}

/** A request's duration field for people: `"7 days"` stays as typed, `604800000` reads `7d`. */
export function duration(value: DurationInput | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  return typeof value === 'string' ? value : ms === undefined ? String(value) : formatDuration(ms);
}

/** `1,234` */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** The query-string part of a URL, without the empty values. */
export function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Path of a decommission's page (its workflow ID, URL-encoded). */
export function pagePath(workflowId: string, params: Record<string, string | number | undefined> = {}): string {
  return `/decommissions/${encodeURIComponent(workflowId)}${queryString(params)}`;
}
