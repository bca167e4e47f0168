/**
 * The request contract, once: the workflow input and the arguments of the `approve`, `cancel` and `resolve`
 * updates as zod schemas. The workflow, the client, the CLI and the portal API validate with these schemas
 * (through `validation.ts`), and the API's OpenAPI document embeds the JSON Schema generated from them
 * ({@link requestJsonSchemas}), so no two of them can disagree about what a valid request is.
 *
 * Runs in the workflow sandbox as well as in the client, CLI and API: pure functions and constants only.
 * Every rule carries its own message, naming the rule and the offending value, because these messages
 * are what an operator reads: zod's generic wording never reaches them.
 */
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration';
import { RESOLVE_ACTIONS, type ApproveRequest, type CancelRequest, type DecommissionInput, type NormalizedInput, type ResolveRequest } from './types';

const DAY_MS = 86_400_000;
const MAX_NAME_LENGTH = 256;
const MAX_TEXT_LENGTH = 1_024;
const MAX_TICKET_LENGTH = 128;
const MAX_STORE_ID_LENGTH = 64;
const MAX_SIGNATURE_LENGTH = 8_192;
const STORE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const BLOCKER_ID_PATTERN = /^[A-Z_]+-\d{1,6}$/;
// eslint-disable-next-line no-control-regex
const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f]*$/;
/** {@link NO_CONTROL_CHARACTERS} before trimming: tab, line feed, vertical tab, form feed and carriage return may be trimmed away. */
// eslint-disable-next-line no-control-regex
const NO_CONTROL_CHARACTERS_BUT_WHITESPACE = /^[^\u0000-\u0008\u000e-\u001f\u007f]*$/;
/** A compact JWS (RFC 7515 §7.1): header, payload and signature, each base64url, separated by dots. */
const COMPACT_JWS_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/**
 * The shape of a duration string: `parseDuration` has the last word (it also knows the units); this pattern
 * lets a portal reject nonsense before sending it, and checks the shape in linear time before
 * `parseDuration`'s own pattern, which backtracks quadratically on long runs of spaces that do not match.
 */
const DURATION_STRING_SHAPE = /^\s*\d+(\.\d+)?(\s*[A-Za-z]+)?\s*$/;

const TIMING_DEFAULTS_MS = {
  storePollInterval: 30_000,
  driftCheckInterval: DAY_MS,
  verifyInterval: 3_600_000,
  verifyPatience: 26 * 3_600_000,
  connectionCheckInterval: 5 * 60_000,
  usageCheckInterval: 15 * 60_000,
  cloudTrailDeliveryLag: 20 * 60_000,
} as const;

/** Shortest interval accepted: anything faster would poll KMS's 5 rps store operations into throttling. */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 60 * DAY_MS;

/** The defaults a request leaves out. */
export const DEFAULTS = {
  pendingWindowInDays: 30,
  approvalTimeoutMs: 7 * DAY_MS,
  recentUseWindowMs: 30 * DAY_MS,
  timing: TIMING_DEFAULTS_MS,
} as const;

/** Longest quiet period: keys disabled for longer than a quarter are a decision of their own, not a scream test. */
export const MAX_QUIET_PERIOD_MS = 90 * DAY_MS;
/** Shortest quiet period unless a deployment sets its own minimum (`DECOMMISSION_MIN_QUIET_PERIOD`). */
export const DEFAULT_MIN_QUIET_PERIOD_MS = DAY_MS;

/** Limits that belong to the deployment rather than to the request. */
export interface ValidationLimits {
  /** Shortest `quietPeriod` accepted. Default {@link DEFAULT_MIN_QUIET_PERIOD_MS}. */
  minQuietPeriodMs?: number;
}

/**
 * Fields that once were part of a request and are now the deployment's approval policy (worker
 * configuration): a requester must never be able to switch four-eyes off for their own decommission.
 */
const POLICY_FIELDS: Readonly<Record<string, string>> = {
  requireApproval: 'DECOMMISSION_REQUIRE_APPROVAL',
  allowSelfApproval: 'DECOMMISSION_ALLOW_SELF_APPROVAL',
};

/** The offending value in words, short enough for one line of an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** The rule a field outside the contract breaks: the policy fields say where the policy is set instead. */
export function unknownFieldRule(field: string, allowed: readonly string[]): string {
  const setting = Object.prototype.hasOwnProperty.call(POLICY_FIELDS, field) ? POLICY_FIELDS[field] : undefined;
  return setting
    ? `is the deployment's approval policy, not part of a request (the worker's ${setting} setting decides it)`
    : `is not a known field (allowed: ${allowed.join(', ')})`;
}

/** A zod error customization that gives every issue of a schema the same rule. */
type Rule = (input: unknown) => string;
const always = (rule: Rule) => ({ error: (issue: { input?: unknown }) => rule(issue.input) });

/**
 * A strict object: unknown fields are rejected (a typo never silently falls back to a default), and
 * anything but an object breaks `notAnObject`.
 */
function strictObject<Shape extends z.ZodRawShape>(shape: Shape, notAnObject: Rule) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? issue.keys.map((key) => `${key} ${unknownFieldRule(key, allowed)}`).join('; ') : notAnObject(issue.input),
  });
}

/**
 * A person's name or identity: required, trimmed, 1–256 printable characters. The rules apply to the trimmed
 * name, which JSON Schema cannot express: its schema states the part that holds before trimming (not empty;
 * no control characters other than whitespace, which trimming may remove), so it is looser, never stricter.
 */
function personName(description: string) {
  return z
    .string({ error: (issue) => (issue.input === undefined || issue.input === null ? 'is required' : `must be a string, got ${describeValue(issue.input)}`) })
    .trim()
    .min(1, { error: 'must not be empty' })
    .refine((name) => name.length <= MAX_NAME_LENGTH, { error: (issue) => `must be at most ${MAX_NAME_LENGTH} characters, got ${String(issue.input).length}` })
    .refine((name) => NO_CONTROL_CHARACTERS.test(name), { error: 'must not contain control characters' })
    .meta({
      description: `${description} 1–${MAX_NAME_LENGTH} characters once trimmed, no control characters.`,
      pattern: NO_CONTROL_CHARACTERS_BUT_WHITESPACE.source,
    });
}

/** Optional free text: null counts as absent, surrounding whitespace is dropped, and blank text is absent. */
function optionalText(max: number, description: string) {
  return z
    .string({ error: (issue) => `must be a string, got ${describeValue(issue.input)}` })
    .max(max, { error: (issue) => `must be at most ${max} characters, got ${String(issue.input).length}` })
    .nullish()
    .transform((text) => text?.trim() || undefined)
    .meta({ description })
    .optional();
}

/**
 * A whole number in [min, max]; every way of missing it breaks the same rule. `Number.isInteger` rather than
 * zod's `int()`, which would also cap the value at 2^53 - 1: the rule is "whole", as it always was.
 */
function wholeNumber(min: number, max: number | undefined, rule: Rule) {
  const atLeast = z.number(always(rule)).min(min, always(rule));
  return (max === undefined ? atLeast : atLeast.max(max, always(rule))).refine(Number.isInteger, always(rule)).meta({ type: 'integer' });
}

interface DurationRules {
  min: number;
  max: number;
  /** The value is not a duration at all. */
  notADuration: Rule;
  /** The value is a duration outside [min, max]. */
  outOfRange: Rule;
}

/**
 * Milliseconds or a string such as "30s", "1h", "1 day", converted to milliseconds. `parseDuration` is the
 * grammar; the bounds appear in the JSON Schema (as metadata of the number form) from the same constants.
 */
function duration({ min, max, notADuration, outOfRange }: DurationRules) {
  return z
    .union([z.number().meta({ minimum: min, maximum: max }), z.string().regex(DURATION_STRING_SHAPE, always(notADuration))], always(notADuration))
    .transform((value, context) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms < min || ms > max) {
        context.issues.push({ code: 'custom', input: value, message: ms === undefined ? notADuration(value) : outOfRange(value) });
        return z.NEVER;
      }
      return ms;
    });
}

/**
 * A duration field of the input or of its `timing`, with the validator's usual wording. The default goes in
 * as input (a prefault), so the JSON Schema shows it too.
 */
function intervalDuration(min: number, max: number, defaultMs: number, description: string) {
  return duration({
    min,
    max,
    notADuration: (value) => `must be milliseconds or a duration such as "30s", "1h", "1 day", got ${describeValue(value)}`,
    outOfRange: (value) => `must be between ${min} ms and ${max / DAY_MS} days, got ${describeValue(value)}`,
  })
    .prefault(defaultMs)
    .meta({ description });
}

/** The optional `signature` of a decision the portal API signed (see `decisions.ts`); never echoed in messages. */
const signatureSchema = z
  .string({ error: (issue) => `must be a compact JWS string, got ${typeof issue.input === 'string' ? 'a string' : describeValue(issue.input)}` })
  .min(1, { error: 'must not be empty' })
  .max(MAX_SIGNATURE_LENGTH, { error: (issue) => `must be at most ${MAX_SIGNATURE_LENGTH} characters, got ${String(issue.input).length}` })
  .regex(COMPACT_JWS_PATTERN, {
    error: (issue) => `must be a compact JWS: three base64url parts separated by dots, got a string of ${String(issue.input).length} characters`,
  })
  .meta({
    description:
      'Set by the portal API, never by people: a compact JWS by which the API vouches for the decision and the verified identity of the person who made it. ' +
      'A deployment that requires signed decisions refuses requests without a valid one.',
  })
  .optional();

/** The custom key store ID: 1–64 letters, digits or hyphens. */
export const customKeyStoreIdSchema = z
  .string({ error: (issue) => (issue.input === undefined || issue.input === null ? 'is required' : `must be a string, got ${describeValue(issue.input)}`) })
  .min(1, { error: 'must not be empty' })
  .max(MAX_STORE_ID_LENGTH, { error: (issue) => `must be at most ${MAX_STORE_ID_LENGTH} characters, got ${String(issue.input).length}` })
  .regex(STORE_ID_PATTERN, {
    error: (issue) => `must contain only letters, digits and hyphens (like cks-1234567890abcdef0), got ${describeValue(issue.input)}`,
  })
  .meta({ description: 'The custom key store to retire (`cks-…`, 1–64 letters, digits or hyphens).', examples: ['cks-1234567890abcdef0'] });

const interval = (defaultMs: number, description: string) => intervalDuration(MIN_INTERVAL_MS, MAX_INTERVAL_MS, defaultMs, description);

const timingSchema = strictObject(
  {
    storePollInterval: interval(
      TIMING_DEFAULTS_MS.storePollInterval,
      "How often to poll the store's connection state while connecting or disconnecting. Default 30s.",
    ),
    driftCheckInterval: interval(TIMING_DEFAULTS_MS.driftCheckInterval, 'How often to look for drift during the waiting period. Default 1 day.'),
    verifyInterval: interval(TIMING_DEFAULTS_MS.verifyInterval, 'How often to re-check keys once their DeletionDate has passed. Default 1 hour.'),
    verifyPatience: interval(
      TIMING_DEFAULTS_MS.verifyPatience,
      'How long after the latest DeletionDate to wait for KMS to delete the keys before BLOCKED. Default 26 hours.',
    ),
    connectionCheckInterval: interval(
      TIMING_DEFAULTS_MS.connectionCheckInterval,
      "How often a CloudHSM store's connection state is checked during the waiting period and verification, apart from the daily drift scan. Default 5 minutes.",
    ),
    usageCheckInterval: interval(
      TIMING_DEFAULTS_MS.usageCheckInterval,
      'How often CloudTrail is searched for attempted use of the keys during the quiet period and the waiting period. Default 15 minutes.',
    ),
    cloudTrailDeliveryLag: interval(
      TIMING_DEFAULTS_MS.cloudTrailDeliveryLag,
      'How late CloudTrail may deliver an event (typically 5–15 minutes): each attempted-use check re-reads this much of the previous window. Default 20 minutes.',
    ),
  },
  (value) => `must be an object, got ${describeValue(value)}`,
)
  .meta({ description: 'Tunable intervals. Each is milliseconds or a string such as "30s", "1h", "1 day", from 100 ms to 60 days.' })
  .prefault({});

/**
 * The workflow input for a deployment's limits: validates, applies every default and converts durations
 * to milliseconds, so its output is the {@link NormalizedInput} the workflow runs with.
 */
export function decommissionInputSchemaFor(limits: ValidationLimits = {}) {
  const minQuietPeriodMs = limits.minQuietPeriodMs ?? DEFAULT_MIN_QUIET_PERIOD_MS;
  const quietPeriod = duration({
    min: minQuietPeriodMs,
    max: MAX_QUIET_PERIOD_MS,
    notADuration: (value) => `must be a duration such as "14 days" or "1 day", got ${describeValue(value)}`,
    outOfRange: (value) =>
      `must be between ${formatDuration(minQuietPeriodMs)} and ${formatDuration(MAX_QUIET_PERIOD_MS)}${
        minQuietPeriodMs === DEFAULT_MIN_QUIET_PERIOD_MS ? '' : " (this deployment's minimum)"
      }, got ${describeValue(value)}`,
  })
    .nullable()
    .optional()
    .meta({
      description:
        'Optional "scream test": after approval, disable every Enabled key of the store and wait this long, watching CloudTrail for attempted use, ' +
        `before scheduling deletion. Off by default (null or absent); from ${formatDuration(minQuietPeriodMs)} (the deployment's minimum) to 90 days.`,
    });

  const fields = strictObject(
    {
      customKeyStoreId: customKeyStoreIdSchema,
      requestedBy: personName(
        'Who asks for the decommission; an approver must be someone else (unless the deployment’s policy allows self-approval). Through the portal API: the verified identity.',
      ),
      pendingWindowInDays: wholeNumber(7, 30, (value) => `must be an integer from 7 to 30 (KMS waiting period in days), got ${describeValue(value)}`)
        .default(DEFAULTS.pendingWindowInDays)
        .meta({ description: 'KMS waiting period for every key, integer 7–30. Default 30.' }),
      dryRun: z
        .boolean(always((value) => `must be true or false, got ${describeValue(value)}`))
        .default(false)
        .meta({ description: 'Inventory only, change nothing, and return the plan. Default false.' }),
      approvalTimeout: intervalDuration(
        1_000,
        30 * DAY_MS,
        DEFAULTS.approvalTimeoutMs,
        'How long to wait for approval before ending CANCELLED. Default 7 days.',
      ),
      expectedKeyCount: wholeNumber(0, 100_000, (value) => `must be an integer from 0 to 100000, got ${describeValue(value)}`)
        .meta({ description: 'Guardrail: stop before changing anything unless the store holds exactly this many keys.' })
        .optional(),
      reconnect: z
        .boolean(always((value) => `must be true or false, got ${describeValue(value)}`))
        .default(true)
        .meta({ description: 'Connect a DISCONNECTED or FAILED CloudHSM store before scheduling, so KMS can delete the HSM key material. Default true.' }),
      ticket: optionalText(MAX_TICKET_LENGTH, 'Change ticket or other reference shown in the UI and the report (at most 128 characters).'),
      recentUseWindow: intervalDuration(
        3_600_000,
        365 * DAY_MS,
        DEFAULTS.recentUseWindowMs,
        'Keys whose last successful cryptographic use (KMS GetKeyLastUsage) falls within this window before the inventory are "recently used": ' +
          'the run stops before any change until an approval acknowledges their count. Default 30 days.',
      ),
      quietPeriod,
      watchUsage: z
        .boolean(always((value) => `must be true or false, got ${describeValue(value)}`))
        .default(true)
        .meta({ description: 'Watch CloudTrail for attempted use of the keys while they are disabled or pending deletion. Default true.' }),
      timing: timingSchema,
      signature: signatureSchema,
    },
    (value) => `must be a JSON object, got ${describeValue(value)}`,
  );

  return fields
    .superRefine(
      (input, context) => {
        // The quiet period is the watch for attempted use: turning the watch off with one is a contradiction.
        const judged = context.issues.some((issue) => issue.path?.[0] === 'quietPeriod' || issue.path?.[0] === 'watchUsage');
        if (!judged && typeof input.quietPeriod === 'number' && input.watchUsage === false)
          context.addIssue({
            code: 'custom',
            path: ['watchUsage'],
            input: false,
            message: 'must not be false with a quietPeriod: the quiet period is the watch for attempted use',
          });
      },
      // Judged even when other fields are wrong, so every problem is reported in one round trip.
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
    )
    .transform((input): NormalizedInput => ({
      customKeyStoreId: input.customKeyStoreId,
      requestedBy: input.requestedBy,
      pendingWindowInDays: input.pendingWindowInDays,
      dryRun: input.dryRun,
      approvalTimeoutMs: input.approvalTimeout,
      expectedKeyCount: input.expectedKeyCount,
      reconnect: input.reconnect,
      ticket: input.ticket,
      recentUseWindowMs: input.recentUseWindow,
      ...(typeof input.quietPeriod === 'number' ? { quietPeriodMs: input.quietPeriod } : {}),
      watchUsage: input.watchUsage,
      timing: {
        storePollIntervalMs: input.timing.storePollInterval,
        driftCheckIntervalMs: input.timing.driftCheckInterval,
        verifyIntervalMs: input.timing.verifyInterval,
        verifyPatienceMs: input.timing.verifyPatience,
        connectionCheckIntervalMs: input.timing.connectionCheckInterval,
        usageCheckIntervalMs: input.timing.usageCheckInterval,
        cloudTrailDeliveryLagMs: input.timing.cloudTrailDeliveryLag,
      },
    }))
    .meta({
      title: 'DecommissionInput',
      description:
        'Input of the decommissionCustomKeyStore workflow: one JSON object, validated field by field. Unknown fields are rejected, so a typo never silently falls back to a default.',
    });
}

/** The workflow input with the default limits (a `quietPeriod` of at least 1 day). */
export const decommissionInputSchema = decommissionInputSchemaFor();

/** Arguments of the `approve` update (the workflow adds the phase and four-eyes rules). */
export const approveRequestSchema = strictObject(
  {
    approver: personName(
      'Who approves; must not be the requester unless the deployment’s policy allows self-approval. Through the portal API: the verified identity.',
    ),
    comment: optionalText(MAX_TEXT_LENGTH, 'Why, for the record (at most 1024 characters).'),
    acknowledgeRecentlyUsedKeys: wholeNumber(
      0,
      undefined,
      (value) => `must be a whole number (the count of recently used keys in status.usage.recentlyUsed), got ${describeValue(value)}`,
    )
      .meta({
        description:
          'Required when the inventory found keys used within recentUseWindow (status.usage.recentlyUsed): that exact count, ' +
          'as the approver’s explicit acknowledgement that those keys are still in use.',
      })
      .optional(),
    signature: signatureSchema,
  },
  (value) => `must be a JSON object like {"approver":"bob"}, got ${describeValue(value)}`,
).meta({ title: 'ApproveRequest', description: 'Arguments of the approve update.' });

/** Arguments of the `cancel` update. */
export const cancelRequestSchema = strictObject(
  {
    by: personName('Who cancels. Through the portal API: the verified identity.'),
    reason: personName('Why, for the record.'),
    signature: signatureSchema,
  },
  (value) => `must be a JSON object like {"by":"bob","reason":"wrong store"}, got ${describeValue(value)}`,
).meta({ title: 'CancelRequest', description: 'Arguments of the cancel update.' });

/** Arguments of the `resolve` update (the workflow checks the action against the blocker). */
export const resolveRequestSchema = strictObject(
  {
    by: personName('Who decides. Through the portal API: the verified identity.'),
    action: z
      .enum(RESOLVE_ACTIONS, {
        error: (issue) =>
          issue.input === undefined
            ? `is required (one of: ${RESOLVE_ACTIONS.join(', ')})`
            : `must be one of ${RESOLVE_ACTIONS.join(', ')}, got ${describeValue(issue.input)}`,
      })
      .meta({
        description:
          'The decision for the BLOCKED run: schedule-new-keys, reschedule, reconnect, proceed, keep-waiting or retry (which ones apply: status.blocker.allowedActions).',
      }),
    blockerId: z
      .string({
        error: (issue) =>
          issue.input === undefined || issue.input === null
            ? 'is required: the id of the blocker this decision answers (status.blocker.id, e.g. "CONNECT_FAILED-1")'
            : `must look like KIND-n (e.g. "CONNECT_FAILED-1"), got ${describeValue(issue.input)}`,
      })
      .regex(BLOCKER_ID_PATTERN, { error: (issue) => `must look like KIND-n (e.g. "CONNECT_FAILED-1"), got ${describeValue(issue.input)}` })
      .meta({ description: 'The status.blocker.id this decision answers; a resolve naming any other blocker is refused.', examples: ['CONNECT_FAILED-1'] }),
    comment: optionalText(MAX_TEXT_LENGTH, 'Why, for the record (at most 1024 characters).'),
    signature: signatureSchema,
  },
  (value) => `must be a JSON object like {"by":"bob","action":"reconnect","blockerId":"CONNECT_FAILED-1"}, got ${describeValue(value)}`,
).meta({
  title: 'ResolveRequest',
  description: 'Arguments of the resolve update.',
});

/** The names under which {@link requestJsonSchemas} returns the request schemas (OpenAPI `components.schemas` keys). */
export type RequestSchemaName = 'DecommissionInput' | 'ApproveRequest' | 'CancelRequest' | 'ResolveRequest';

/** A JSON Schema document, as plain JSON. */
export type JsonSchema = Record<string, unknown>;

/** Options of {@link requestJsonSchemas}. */
export interface RequestJsonSchemaOptions extends ValidationLimits {
  /**
   * The JSON Schema dialect. Default `draft-2020-12`, which is OpenAPI 3.1's; `draft-07` suits validators that
   * only know that draft, `openapi-3.0` an OpenAPI 3.0 document.
   */
  target?: 'draft-2020-12' | 'draft-07' | 'openapi-3.0';
}

/**
 * One valid example of each request, for the OpenAPI document. zod leaves examples out of the input schema
 * of anything that transforms its input, so they are added here (and the tests check each one is valid).
 */
export const REQUEST_EXAMPLES: Readonly<Record<RequestSchemaName, Record<string, unknown>>> = {
  DecommissionInput: { customKeyStoreId: 'cks-1234567890abcdef0', requestedBy: 'alice', pendingWindowInDays: 7, ticket: 'CHG-1042' },
  ApproveRequest: { approver: 'bob', comment: 'checked with the key owners' },
  CancelRequest: { by: 'bob', reason: 'wrong store' },
  ResolveRequest: { by: 'bob', action: 'reconnect', blockerId: 'CONNECT_FAILED-1' },
};

/**
 * The JSON Schema of each request, generated from the zod schemas: what a client may send (durations as
 * milliseconds or strings; the defaults shown are what the workflow applies). Without `$schema`, so each can
 * be embedded as it is in an OpenAPI document's `components.schemas`.
 *
 * Looser than the zod schemas where JSON Schema cannot say it (the rules of a name hold once it is trimmed;
 * the duration units; the bounds of a duration given as a string; `watchUsage: false` with a `quietPeriod`):
 * a request the JSON Schema accepts can still be refused by the validator, not the other way round (apart
 * from a fractional number of milliseconds within half a millisecond of a bound, which the validator rounds).
 */
export function requestJsonSchemas(options: RequestJsonSchemaOptions = {}): Record<RequestSchemaName, JsonSchema> {
  const { target = 'draft-2020-12', ...limits } = options;
  const generate = (name: RequestSchemaName, schema: z.ZodType): JsonSchema => {
    const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input', target, unrepresentable: 'throw' }) as JsonSchema;
    // OpenAPI 3.0's Schema Object has one `example`; JSON Schema (and OpenAPI 3.1) has `examples`.
    return target === 'openapi-3.0' ? { ...json, example: REQUEST_EXAMPLES[name] } : { ...json, examples: [REQUEST_EXAMPLES[name]] };
  };
  return {
    DecommissionInput: generate('DecommissionInput', limits.minQuietPeriodMs === undefined ? decommissionInputSchema : decommissionInputSchemaFor(limits)),
    ApproveRequest: generate('ApproveRequest', approveRequestSchema),
    CancelRequest: generate('CancelRequest', cancelRequestSchema),
    ResolveRequest: generate('ResolveRequest', resolveRequestSchema),
  };
}

/**
 * The names of the fields allowed where an issue's path points (for "is not a known field (allowed: …)").
 * Looks through the wrappers zod puts around an object (optional, default, prefault, pipe, …).
 */
export function knownFieldsAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  const objectIn = (type: z.core.$ZodType | undefined): z.ZodObject | undefined => {
    let node = type;
    for (let depth = 0; node && depth < 16; depth++) {
      if (node instanceof z.ZodObject) return node;
      const def = node._zod.def as unknown as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      node = def.type === 'pipe' ? def.in : def.innerType;
    }
    return undefined;
  };
  let current: z.core.$ZodType | undefined = schema;
  for (const key of path) current = typeof key === 'string' ? objectIn(current)?.shape[key] : undefined;
  return Object.keys(objectIn(current)?.shape ?? {});
}

/** `true` iff A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** What a schema accepts, with `null` read as absent (the validators accept `null` for some optional fields). */
type NullAsAbsent<T> = T extends object ? { [K in keyof T]: NullAsAbsent<Exclude<T[K], null>> } : T;
type Holds<Condition extends true> = Condition;

/**
 * Compile-time proof that the documented request types of `types.ts` and these schemas agree field by field
 * (name, optionality and type), in what a caller sends and in what the validators return: a field added to
 * one and not the other fails `tsc`.
 */
export type RequestTypesAgreeWithSchemas = [
  Holds<Same<NullAsAbsent<z.input<typeof decommissionInputSchema>>, NullAsAbsent<DecommissionInput>>>,
  Holds<Same<z.output<typeof decommissionInputSchema>, NormalizedInput>>,
  Holds<Same<NullAsAbsent<z.input<typeof approveRequestSchema>>, ApproveRequest>>,
  Holds<Same<z.output<typeof approveRequestSchema>, ApproveRequest>>,
  Holds<Same<NullAsAbsent<z.input<typeof cancelRequestSchema>>, CancelRequest>>,
  Holds<Same<z.output<typeof cancelRequestSchema>, CancelRequest>>,
  Holds<Same<NullAsAbsent<z.input<typeof resolveRequestSchema>>, ResolveRequest>>,
  Holds<Same<z.output<typeof resolveRequestSchema>, ResolveRequest>>,
];
