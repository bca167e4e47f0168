/**
 * Admin-injected faults for the KMS API: forced errors, latency, stale reads and connection resets.
 * Decisions use a seedable RNG so a failing run can be replayed with the same `--seed`.
 */
import { dependencyTimeout, internalError, KmsError, throttling } from './errors';
import { Rng } from './random';
import type { FaultSpec, InjectedErrorType } from './types';

const ERROR_TYPES: readonly InjectedErrorType[] = ['KMSInternalException', 'DependencyTimeoutException', 'ThrottlingException', 'AccessDeniedException'];

/** What to do to one request. */
export interface FaultDecision {
  latencyMs: number;
  error?: KmsError;
  reset: boolean;
  when: 'before' | 'after';
  staleReadMs: number;
}

interface ActiveRule {
  spec: FaultSpec;
  matched: number;
  injected: number;
}

/** Throws a readable error for an invalid rule (the admin API answers 400 with it). */
export function validateFaultSpec(spec: unknown, index: number): FaultSpec {
  const where = `faults[${index}]`;
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new Error(`${where} must be an object`);
  const s = spec as Record<string, unknown>;
  if (typeof s.operation !== 'string' || s.operation === '') throw new Error(`${where}.operation must be an operation name or '*'`);
  const probability = (name: string): void => {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) throw new Error(`${where}.${name} must be a number between 0 and 1`);
  };
  const nonNegative = (name: string): void => {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new Error(`${where}.${name} must be a number >= 0`);
  };
  probability('errorRate');
  probability('resetRate');
  for (const n of ['latencyMs', 'jitterMs', 'staleReadMs', 'afterCount', 'count']) nonNegative(n);
  if (s.errorType !== undefined && !ERROR_TYPES.includes(s.errorType as InjectedErrorType)) {
    throw new Error(`${where}.errorType must be one of ${ERROR_TYPES.join(', ')}`);
  }
  if (s.when !== undefined && s.when !== 'before' && s.when !== 'after') throw new Error(`${where}.when must be 'before' or 'after'`);
  return s as unknown as FaultSpec;
}

function errorOf(type: InjectedErrorType | undefined): KmsError {
  switch (type) {
    case 'DependencyTimeoutException':
      return dependencyTimeout();
    case 'ThrottlingException':
      return throttling();
    case 'AccessDeniedException':
      // What a key policy without the IAM delegation statement produces (reference §8).
      return new KmsError(
        'AccessDeniedException',
        'User: arn:aws:iam::111122223333:role/kms-decommission is not authorized to perform: kms:DescribeKey on this resource because no resource-based policy allows the kms:DescribeKey action',
        400,
      );
    default:
      return internalError();
  }
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private rng: Rng;

  constructor(private readonly seed?: number) {
    this.rng = new Rng(seed);
  }

  /** Replaces every rule; a seeded injector restarts its random sequence so runs are reproducible. */
  set(specs: FaultSpec[]): void {
    this.rules = specs.map((spec) => ({ spec, matched: 0, injected: 0 }));
    if (this.seed !== undefined) this.rng = new Rng(this.seed);
  }

  clear(): void {
    this.rules = [];
  }

  get specs(): FaultSpec[] {
    return this.rules.map((r) => r.spec);
  }

  /** Largest stale-read window of any rule (the state only keeps write history while this is > 0). */
  maxStaleReadMs(): number {
    return this.rules.reduce((m, r) => Math.max(m, r.spec.staleReadMs ?? 0), 0);
  }

  /** Decides the faults for one request of `operation`; rules are evaluated in order, first error/reset wins. */
  decide(operation: string): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0, reset: false, when: 'before', staleReadMs: 0 };
    for (const rule of this.rules) {
      const spec = rule.spec;
      if (spec.operation !== '*' && spec.operation !== operation) continue;
      rule.matched++;
      if (rule.matched <= (spec.afterCount ?? 0)) continue;
      if (spec.count !== undefined && rule.injected >= spec.count) continue;
      let injected = false;
      if (spec.staleReadMs) decision.staleReadMs = Math.max(decision.staleReadMs, spec.staleReadMs);
      if (spec.latencyMs || spec.jitterMs) {
        decision.latencyMs += (spec.latencyMs ?? 0) + (spec.jitterMs ? this.rng.next() * spec.jitterMs : 0);
        injected = true;
      }
      if (!decision.error && !decision.reset) {
        if (spec.resetRate && this.rng.next() < spec.resetRate) {
          decision.reset = true;
          decision.when = spec.when ?? 'before';
          injected = true;
        } else if (spec.errorRate && this.rng.next() < spec.errorRate) {
          decision.error = errorOf(spec.errorType);
          decision.when = spec.when ?? 'before';
          injected = true;
        }
      }
      if (injected) rule.injected++;
    }
    return decision;
  }
}
