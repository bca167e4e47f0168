import type { z } from 'zod';
import {
  approveRequestSchema,
  cancelRequestSchema,
  customKeyStoreIdSchema,
  DEFAULT_MIN_QUIET_PERIOD_MS,
  decommissionInputSchema,
  decommissionInputSchemaFor,
  knownFieldsAt,
  resolveRequestSchema,
  unknownFieldRule,
  type ValidationLimits,
} from './input-schema';
import type { ApproveRequest, CancelRequest, InputProblem, NormalizedInput, ResolveRequest } from './types';

// Runs in the workflow sandbox as well as in the client, CLI and API: pure functions only. The rules
// themselves live in `input-schema.ts` (one source for the validators and the API's JSON Schema); this
// module turns a schema's verdict into the problems an operator reads.

export { DEFAULTS, DEFAULT_MIN_QUIET_PERIOD_MS, MAX_QUIET_PERIOD_MS, type ValidationLimits } from './input-schema';

/**
 * The problems of a failed parse, one per field (the first rule it broke), fields outside the contract first.
 * `label` names the whole value when it is not an object at all, e.g. `(input)`.
 */
function problemsOf(schema: z.core.$ZodType, error: z.core.$ZodError, label: string): InputProblem[] {
  const unknownFields: InputProblem[] = [];
  const problems: InputProblem[] = [];
  const named = new Set<string>();
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const allowed = knownFieldsAt(schema, issue.path);
      for (const key of issue.keys) unknownFields.push({ field: path ? `${path}.${key}` : key, rule: unknownFieldRule(key, allowed) });
      continue;
    }
    const field = path || label;
    if (named.has(field)) continue;
    named.add(field);
    problems.push({ field, rule: issue.message });
  }
  return [...unknownFields, ...problems];
}

/** Validates a custom key store ID; returns the problem or undefined. */
export function checkCustomKeyStoreId(value: unknown): InputProblem | undefined {
  const result = customKeyStoreIdSchema.safeParse(value);
  return result.success ? undefined : problemsOf(customKeyStoreIdSchema, result.error, 'customKeyStoreId')[0];
}

/** The schema for a deployment's quiet-period minimum; the last one is kept, since a process has one minimum. */
let lastSchemaForLimits: { minQuietPeriodMs: number; schema: ReturnType<typeof decommissionInputSchemaFor> } | undefined;

function decommissionInputSchemaWith(limits: ValidationLimits) {
  const minQuietPeriodMs = limits.minQuietPeriodMs ?? DEFAULT_MIN_QUIET_PERIOD_MS;
  if (minQuietPeriodMs === DEFAULT_MIN_QUIET_PERIOD_MS) return decommissionInputSchema;
  if (lastSchemaForLimits?.minQuietPeriodMs !== minQuietPeriodMs)
    lastSchemaForLimits = { minQuietPeriodMs, schema: decommissionInputSchemaFor({ minQuietPeriodMs }) };
  return lastSchemaForLimits.schema;
}

/**
 * Validates raw workflow input and applies defaults. Every problem is reported, not just the first,
 * so an operator fixes a bad request in one round trip.
 */
export function validateDecommissionInput(raw: unknown, limits: ValidationLimits = {}): { input?: NormalizedInput; problems: InputProblem[] } {
  const schema = decommissionInputSchemaWith(limits);
  const result = schema.safeParse(raw);
  return result.success ? { input: result.data, problems: [] } : { problems: problemsOf(schema, result.error, '(input)') };
}

/** One line per problem, `field: rule`, for error messages. */
export function formatProblems(problems: InputProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.rule}`).join('; ');
}

/** Shape checks of the `approve` update's argument (the workflow adds the phase and four-eyes rules). */
export function validateApproveRequest(raw: unknown): { request?: ApproveRequest; problems: InputProblem[] } {
  const result = approveRequestSchema.safeParse(raw);
  return result.success ? { request: result.data, problems: [] } : { problems: problemsOf(approveRequestSchema, result.error, '(approve)') };
}

/** Shape checks of the `cancel` update's argument. */
export function validateCancelRequest(raw: unknown): { request?: CancelRequest; problems: InputProblem[] } {
  const result = cancelRequestSchema.safeParse(raw);
  return result.success ? { request: result.data, problems: [] } : { problems: problemsOf(cancelRequestSchema, result.error, '(cancel)') };
}

/** Shape checks of the `resolve` update's argument (the workflow checks the action against the blocker). */
export function validateResolveRequest(raw: unknown): { request?: ResolveRequest; problems: InputProblem[] } {
  const result = resolveRequestSchema.safeParse(raw);
  return result.success ? { request: result.data, problems: [] } : { problems: problemsOf(resolveRequestSchema, result.error, '(resolve)') };
}

/** Same person? Names are compared case-insensitively so "Alice" cannot approve "alice"'s request. */
export function samePerson(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}
