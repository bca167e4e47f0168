/**
 * A minimal Prometheus text-format (0.0.4) registry: labelled counters and gauges whose samples are
 * collected at scrape time. The worker needs a handful of series, so this avoids a metrics dependency.
 */

/** Label name → value. */
export type Labels = Record<string, string>;

/** One sample of a metric family. */
export interface Sample {
  labels: Labels;
  value: number;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  collect(): Sample[] | Promise<Sample[]>;
}

/** Escapes a label value as the text format requires (backslash, double quote, line feed). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}` : '';
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** A monotonically increasing count per label set. */
export class Counter {
  private readonly values = new Map<string, Sample>();

  constructor(readonly labelNames: readonly string[] = []) {}

  /** Adds `amount` (default 1) to the series of `labels`; every label name of the counter must be given. */
  inc(labels: Labels = {}, amount = 1): void {
    if (!(amount >= 0)) return;
    const ordered: Labels = {};
    for (const name of this.labelNames) ordered[name] = labels[name] ?? '';
    const key = JSON.stringify(ordered);
    const sample = this.values.get(key);
    if (sample) sample.value += amount;
    else this.values.set(key, { labels: ordered, value: amount });
  }

  /** The current value of one series (0 when it was never incremented). */
  get(labels: Labels = {}): number {
    const ordered: Labels = {};
    for (const name of this.labelNames) ordered[name] = labels[name] ?? '';
    return this.values.get(JSON.stringify(ordered))?.value ?? 0;
  }

  samples(): Sample[] {
    return [...this.values.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
  }
}

/** Metric families rendered together in the Prometheus text format. */
export class MetricsRegistry {
  private readonly families: Family[] = [];

  /** Registers a counter; a counter with no label names is exported as 0 before its first increment. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const counter = new Counter(labelNames);
    this.families.push({
      name,
      help,
      type: 'counter',
      collect: () => {
        const samples = counter.samples();
        return samples.length || labelNames.length ? samples : [{ labels: {}, value: 0 }];
      },
    });
    return counter;
  }

  /** Registers a gauge whose samples `collect` computes at scrape time (it may be async, e.g. a query). */
  gauge(name: string, help: string, collect: () => Sample[] | Promise<Sample[]>): void {
    this.families.push({ name, help, type: 'gauge', collect });
  }

  /** Every family as text; a family whose collection fails is left out (and does not fail the scrape). */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const family of this.families) {
      let samples: Sample[];
      try {
        samples = await family.collect();
      } catch {
        continue;
      }
      out.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${family.name} ${family.type}`);
      for (const s of samples) out.push(`${family.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }
}
