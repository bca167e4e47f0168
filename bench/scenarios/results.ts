/** Builds the result row of a mutating phase (scheduling, rollback) from its audit figures. */
import { round, type PhaseFigures } from '../measurement';
import type { Approach, ScenarioResult, TargetCheck, TemporalCost } from '../types';

export interface MutationInput {
  name: string;
  title: string;
  approach: Approach;
  operation: string;
  keys: number;
  /** Scaled quota of `operation`, per second. */
  quota: number;
  figures: PhaseFigures;
  throttled: number;
  /** Calls the caller gave up on, when it knows better than the audit log (baselines count their own). */
  failedCalls?: number;
  totalSeconds?: number;
  notes?: string[];
  extra?: ScenarioResult['extra'];
  /** Add the targets (≥ 95% of the quota, zero failed calls). Default true for the workflow. */
  withTargets?: boolean;
}

/** The history target, checked on a run's Temporal cost. */
export function eventsPerKeyTarget(cost: TemporalCost): TargetCheck {
  return { description: `≤ 0.05 history events per key: ${cost.eventsPerKey.toFixed(3)} (${cost.historyEvents} events)`, met: cost.eventsPerKey <= 0.05 };
}

export function mutationResult(input: MutationInput): ScenarioResult {
  const f = input.figures;
  const failed = input.failedCalls ?? input.keys - f.distinctKeys;
  const perQuota = f.perSecond / input.quota;
  const withTargets = input.withTargets ?? input.approach === 'workflow';
  return {
    name: input.name,
    title: input.title,
    approach: input.approach,
    operation: input.operation,
    keys: input.keys,
    wallSeconds: round(f.seconds, 2),
    boundSeconds: round(input.keys / input.quota, 2),
    achievedRatePerQuota: round(perQuota),
    achievedPerSecond: round(f.perSecond, 2),
    quotaPerSecond: input.quota,
    throttled: input.throttled,
    failedCalls: failed,
    errors: f.errors,
    maxCallsInAnySecond: f.maxInAnySecond,
    totalSeconds: input.totalSeconds === undefined ? undefined : round(input.totalSeconds, 1),
    targets: withTargets
      ? [
          { description: `≥ 95% of the ${input.operation} quota: ${round(100 * perQuota, 1)}%`, met: perQuota >= 0.95 },
          { description: `zero failed calls: ${failed}`, met: failed === 0 },
        ]
      : [],
    notes: [
      ...(input.notes ?? []),
      ...(f.pauses > 0
        ? [
            `${f.pauses} pause(s) longer than 3 paced intervals between consecutive calls lost ${f.pauseSeconds.toFixed(1)} s (${((100 * f.pauseSeconds) / Math.max(f.seconds, 1e-9)).toFixed(1)}% of the phase).`,
          ]
        : []),
    ],
    extra: { ...input.extra, pauses: f.pauses, pauseSeconds: round(f.pauseSeconds, 2), steadyRatePerQuota: round(f.steadyPerSecond / input.quota) },
  };
}
