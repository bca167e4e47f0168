/**
 * Figures from the emulator's audit log. Entry times are when the emulator answered (after the injected
 * latency), so a 1 s window can hold one call more than the pace would suggest when jitter bunches answers;
 * the quota itself is taken at arrival.
 */
import type { AuditEntry } from '../src/emulator';

export interface PhaseFigures {
  /** Successful calls. */
  ok: number;
  /** Distinct keys with a successful call. */
  distinctKeys: number;
  throttled: number;
  /** Responses that were neither OK nor throttling. */
  errors: number;
  /** First to last successful call, seconds (0 with fewer than two). */
  seconds: number;
  /** (ok − 1) ÷ seconds: the steady rate between the first and the last call. */
  perSecond: number;
  firstTime?: number;
  lastTime?: number;
  /** Most successful calls inside any 1 s window. */
  maxInAnySecond: number;
  /** Pauses between consecutive successful calls longer than 3 paced intervals (e.g. hand-offs between batches). */
  pauses: number;
  /** Time lost in those pauses beyond one paced interval each, seconds. */
  pauseSeconds: number;
  /** Rate over the intervals that are not pauses: what the pacing itself achieves. */
  steadyPerSecond: number;
}

const isThrottle = (e: AuditEntry): boolean => e.outcome === 'ThrottlingException' && !e.injectedFault;

/** Rate figures of one operation, optionally restricted to some keys. */
export function phaseFigures(audit: readonly AuditEntry[], operation: string, keys?: ReadonlySet<string>, pacedIntervalMs?: number): PhaseFigures {
  const mine = audit.filter((e) => e.operation === operation && (!keys || (e.keyId !== undefined && keys.has(e.keyId))));
  const ok = mine.filter((e) => e.outcome === 'OK').sort((a, b) => a.time - b.time || a.seq - b.seq);
  const throttled = audit.filter((e) => e.operation === operation && isThrottle(e)).length;
  const errors = mine.filter((e) => e.outcome !== 'OK' && !isThrottle(e)).length;
  const first = ok[0]?.time;
  const last = ok[ok.length - 1]?.time;
  const seconds = ok.length >= 2 ? ((last as number) - (first as number)) / 1000 : 0;
  let pauses = 0;
  let pauseMs = 0;
  let steadyGaps = 0;
  let steadyMs = 0;
  for (let i = 1; i < ok.length; i++) {
    const gap = ok[i].time - ok[i - 1].time;
    if (pacedIntervalMs && gap > 3 * pacedIntervalMs) {
      pauses++;
      pauseMs += gap - pacedIntervalMs;
    } else {
      steadyGaps++;
      steadyMs += gap;
    }
  }
  return {
    ok: ok.length,
    distinctKeys: new Set(ok.map((e) => e.keyId)).size,
    throttled,
    errors,
    seconds,
    perSecond: seconds > 0 ? (ok.length - 1) / seconds : 0,
    firstTime: first,
    lastTime: last,
    // KMS counts a request when it arrives, not when it is answered: injected latency jitter must not bunch them.
    maxInAnySecond: maxInWindow(
      ok.map((e) => e.admittedAt ?? e.time),
      1000,
    ),
    pauses,
    pauseSeconds: pauseMs / 1000,
    steadyPerSecond: steadyMs > 0 ? steadyGaps / (steadyMs / 1000) : 0,
  };
}

/** Largest number of timestamps inside any half-open window [t, t + windowMs). Input need not be sorted. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi] - sorted[lo] >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Counts per 1 s bucket from `t0`, `buckets` long. */
export function perSecondBuckets(times: readonly number[], t0: number, buckets: number): number[] {
  const out = new Array<number>(Math.max(0, buckets)).fill(0);
  for (const t of times) {
    const i = Math.floor((t - t0) / 1000);
    if (i >= 0 && i < out.length) out[i]++;
  }
  return out;
}

/** ThrottlingException responses of every operation (injected faults excluded). */
export function throttledTotal(audit: readonly AuditEntry[]): number {
  return audit.filter(isThrottle).length;
}

/** ThrottlingException responses per operation (injected faults excluded). */
export function throttledByOperation(audit: readonly AuditEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of audit) if (isThrottle(e)) out[e.operation] = (out[e.operation] ?? 0) + 1;
  return out;
}

/** Non-OK, non-throttling responses of every operation, by outcome name. */
/** Error and throttle counts of an audit slice, as the `extra` fields every scenario row carries. */
export function auditBreakdown(audit: readonly AuditEntry[]): { errorOutcomes: string; throttledByOperation: string } {
  return { errorOutcomes: JSON.stringify(errorOutcomes(audit)), throttledByOperation: JSON.stringify(throttledByOperation(audit)) };
}

export function errorOutcomes(audit: readonly AuditEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of audit) if (e.outcome !== 'OK' && !isThrottle(e)) out[`${e.operation}:${e.outcome}`] = (out[`${e.operation}:${e.outcome}`] ?? 0) + 1;
  return out;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
