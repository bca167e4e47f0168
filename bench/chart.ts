/**
 * Hand-written SVG line chart: calls per 1 s bucket for each operation, with its quota as a dashed line
 * and throttled responses (if any) as red ticks. No dependencies; renders on GitHub.
 */
import type { RateSeries } from './types';

const COLORS: Record<string, string> = { ScheduleKeyDeletion: '#1f77b4', CancelKeyDeletion: '#ff7f0e' };
const FALLBACK = ['#2ca02c', '#9467bd', '#8c564b'];

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis step (1, 2, 5 × 10^k) giving about `ticks` ticks over `max`. */
export function niceStep(max: number, ticks: number): number {
  const raw = Math.max(max, 1e-9) / Math.max(1, ticks);
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

export function renderRateChart(title: string, series: readonly RateSeries[], subtitle = ''): string {
  const width = 880;
  const height = 380;
  const m = { left: 56, right: 200, top: 48, bottom: 44 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const buckets = Math.max(1, ...series.map((s) => s.ok.length));
  const yMax = Math.max(1, ...series.flatMap((s) => [...s.ok, s.quotaPerSecond, ...s.throttled])) * 1.12;
  const x = (i: number): number => m.left + (buckets <= 1 ? 0 : (i / (buckets - 1)) * plotW);
  const y = (v: number): number => m.top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="${m.left}" y="37" fill="#555">${esc(subtitle)}</text>`);

  const yStep = niceStep(yMax, 6);
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#444">${+v.toFixed(2)}</text>`);
  }
  const xStep = niceStep(buckets, 10);
  for (let t = 0; t < buckets; t += xStep) {
    out.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" stroke="#444"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${m.top + plotH + 17}" text-anchor="middle" fill="#444">${t}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#444"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + plotH}" stroke="#444"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#222">seconds (1 s buckets, emulator audit log)</text>`);
  out.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#222">successful calls per second</text>`);

  let legendY = m.top + 8;
  series.forEach((s, i) => {
    const color = COLORS[s.operation] ?? FALLBACK[i % FALLBACK.length];
    out.push(
      `<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(s.quotaPerSecond).toFixed(1)}" y2="${y(s.quotaPerSecond).toFixed(1)}" stroke="${color}" stroke-dasharray="6 4" stroke-width="1.5"/>`,
    );
    const active = s.ok.map((v, t) => ({ v, t })).filter(({ t }) => t >= firstNonZero(s.ok) && t <= lastNonZero(s.ok));
    if (active.length > 0) {
      const points = active.map(({ v, t }) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points}"/>`);
    }
    s.throttled.forEach((v, t) => {
      if (v > 0)
        out.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${y(0).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#d62728" stroke-width="2"/>`);
    });
    const lx = m.left + plotW + 14;
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 28}" y="${legendY + 4}">${esc(s.operation)}</text>`);
    legendY += 18;
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
    out.push(`<text x="${lx + 28}" y="${legendY + 4}">quota ${+s.quotaPerSecond.toFixed(2)}/s</text>`);
    legendY += 24;
  });
  if (series.some((s) => s.throttled.some((v) => v > 0))) {
    const lx = m.left + plotW + 14;
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${legendY}" y2="${legendY}" stroke="#d62728" stroke-width="2"/>`);
    out.push(`<text x="${lx + 28}" y="${legendY + 4}">throttled / s</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function firstNonZero(values: readonly number[]): number {
  const i = values.findIndex((v) => v > 0);
  return i < 0 ? 0 : i;
}

function lastNonZero(values: readonly number[]): number {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] > 0) return i;
  return values.length - 1;
}
