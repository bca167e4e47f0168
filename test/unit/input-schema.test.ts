import { z } from 'zod';
import {
  approveRequestSchema,
  cancelRequestSchema,
  decommissionInputSchema,
  knownFieldsAt,
  REQUEST_EXAMPLES,
  requestJsonSchemas,
  resolveRequestSchema,
  type JsonSchema,
  type RequestSchemaName,
} from '../../src/shared/input-schema';
import { RESOLVE_ACTIONS, type InputProblem } from '../../src/shared/types';
import { validateApproveRequest, validateCancelRequest, validateDecommissionInput, validateResolveRequest } from '../../src/shared/validation';

/**
 * The JSON Schema the API publishes is generated from the zod schemas the validators use. These tests hold the
 * two to one contract: the same fields, required fields, bounds and enums, and a table of requests run through
 * both — the validator (what the workflow enforces) and the JSON Schema (read back with `z.fromJSONSchema`, as
 * a portal's validator would read it). The JSON Schema may be looser where JSON Schema cannot say a rule (those
 * cases are listed), never stricter: a portal must never refuse what the workflow would accept.
 */

const VALIDATORS: Record<RequestSchemaName, (raw: unknown) => { problems: InputProblem[] }> = {
  DecommissionInput: (raw) => validateDecommissionInput(raw),
  ApproveRequest: validateApproveRequest,
  CancelRequest: validateCancelRequest,
  ResolveRequest: validateResolveRequest,
};
const ZOD_SCHEMAS: Record<RequestSchemaName, z.core.$ZodType> = {
  DecommissionInput: decommissionInputSchema,
  ApproveRequest: approveRequestSchema,
  CancelRequest: cancelRequestSchema,
  ResolveRequest: resolveRequestSchema,
};
const NAMES = Object.keys(VALIDATORS) as RequestSchemaName[];
const jsonSchemas = requestJsonSchemas();
const fromJsonSchema = Object.fromEntries(NAMES.map((name) => [name, z.fromJSONSchema(jsonSchemas[name] as z.core.JSONSchema.JSONSchema)])) as Record<
  RequestSchemaName,
  z.ZodType
>;

const properties = (schema: JsonSchema) => schema.properties as Record<string, JsonSchema>;
/** The fields a JSON Schema verdict names: the path's first segment, or the unknown keys. */
function jsonSchemaFields(name: RequestSchemaName, value: unknown): string[] {
  const result = fromJsonSchema[name].safeParse(value);
  if (result.success) return [];
  return result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key].join('.')) : [issue.path.join('.') || '(root)'],
  );
}

// A compact JWS as the portal API makes them (header.payload.signature, base64url).
const JWS = 'eyJhbGciOiJFZERTQSIsImtpZCI6ImRlY2lzaW9ucy0xIn0.eyJraW5kIjoiYXBwcm92ZSIsInN1YiI6ImJvYiJ9.c2lnbmF0dXJlLWJ5dGVzLXNpZ25hdHVyZS1ieXRlcw';
const start = { customKeyStoreId: 'cks-1234567890abcdef0', requestedBy: 'alice' };
const approve = { approver: 'bob' };
const cancel = { by: 'bob', reason: 'wrong store' };
const resolve = { by: 'bob', action: 'reconnect', blockerId: 'CONNECT_FAILED-1' };

type Verdict =
  /** Both accept. */
  | 'valid'
  /** Both refuse, naming the field. */
  | 'invalid'
  /** The JSON Schema accepts (it cannot express the rule); the validator refuses, naming the field. */
  | 'looser';
type Case = [name: string, schema: RequestSchemaName, value: unknown, verdict: Verdict, field?: string];
const CASES: Case[] = [
  ['the smallest start', 'DecommissionInput', start, 'valid'],
  [
    'every start field',
    'DecommissionInput',
    {
      ...start,
      pendingWindowInDays: 7,
      dryRun: true,
      approvalTimeout: '2d',
      expectedKeyCount: 0,
      reconnect: false,
      ticket: 'CHG-1',
      recentUseWindow: 3_600_000,
      quietPeriod: '14 days',
      watchUsage: true,
      timing: { verifyInterval: 100, storePollInterval: '60 days' },
      signature: JWS,
    },
    'valid',
  ],
  ['null ticket and quiet period mean none', 'DecommissionInput', { ...start, ticket: null, quietPeriod: null }, 'valid'],
  ['store missing', 'DecommissionInput', { requestedBy: 'alice' }, 'invalid', 'customKeyStoreId'],
  ['store with a space', 'DecommissionInput', { ...start, customKeyStoreId: 'cks 1' }, 'invalid', 'customKeyStoreId'],
  ['store of 65 characters', 'DecommissionInput', { ...start, customKeyStoreId: 'c'.repeat(65) }, 'invalid', 'customKeyStoreId'],
  ['requester null', 'DecommissionInput', { ...start, requestedBy: null }, 'invalid', 'requestedBy'],
  ['requester with a newline inside', 'DecommissionInput', { ...start, requestedBy: 'a\nb' }, 'looser', 'requestedBy'],
  ['requester with a control character', 'DecommissionInput', { ...start, requestedBy: 'a\u0001' }, 'invalid', 'requestedBy'],
  ['requester with a trailing newline (trimmed)', 'DecommissionInput', { ...start, requestedBy: 'alice\r\n' }, 'valid'],
  ['requester blank', 'DecommissionInput', { ...start, requestedBy: '   ' }, 'looser', 'requestedBy'],
  ['window 6', 'DecommissionInput', { ...start, pendingWindowInDays: 6 }, 'invalid', 'pendingWindowInDays'],
  ['window 7.5', 'DecommissionInput', { ...start, pendingWindowInDays: 7.5 }, 'invalid', 'pendingWindowInDays'],
  ['window "7"', 'DecommissionInput', { ...start, pendingWindowInDays: '7' }, 'invalid', 'pendingWindowInDays'],
  ['dryRun "yes"', 'DecommissionInput', { ...start, dryRun: 'yes' }, 'invalid', 'dryRun'],
  ['dryRun null', 'DecommissionInput', { ...start, dryRun: null }, 'invalid', 'dryRun'],
  ['approvalTimeout below 1 s', 'DecommissionInput', { ...start, approvalTimeout: 999 }, 'invalid', 'approvalTimeout'],
  ['approvalTimeout not a duration', 'DecommissionInput', { ...start, approvalTimeout: 'soon' }, 'invalid', 'approvalTimeout'],
  ['approvalTimeout in an unknown unit', 'DecommissionInput', { ...start, approvalTimeout: '2 fortnights' }, 'looser', 'approvalTimeout'],
  ['approvalTimeout too long as a string', 'DecommissionInput', { ...start, approvalTimeout: '31 days' }, 'looser', 'approvalTimeout'],
  ['expectedKeyCount 100001', 'DecommissionInput', { ...start, expectedKeyCount: 100_001 }, 'invalid', 'expectedKeyCount'],
  ['ticket of 129 characters', 'DecommissionInput', { ...start, ticket: 'T'.repeat(129) }, 'invalid', 'ticket'],
  ['quiet period under a day', 'DecommissionInput', { ...start, quietPeriod: 3_600_000 }, 'invalid', 'quietPeriod'],
  ['quiet period under a day as a string', 'DecommissionInput', { ...start, quietPeriod: '12h' }, 'looser', 'quietPeriod'],
  ['a quiet period without the watch', 'DecommissionInput', { ...start, quietPeriod: '2d', watchUsage: false }, 'looser', 'watchUsage'],
  ['timing an array', 'DecommissionInput', { ...start, timing: [] }, 'invalid', 'timing'],
  ['timing too fast', 'DecommissionInput', { ...start, timing: { storePollInterval: 99 } }, 'invalid', 'timing.storePollInterval'],
  ['timing field unknown', 'DecommissionInput', { ...start, timing: { pollEvery: '1s' } }, 'invalid', 'timing.pollEvery'],
  ['unknown field', 'DecommissionInput', { ...start, window: 7 }, 'invalid', 'window'],
  ['the approval policy in a request', 'DecommissionInput', { ...start, allowSelfApproval: true }, 'invalid', 'allowSelfApproval'],
  ['not an object', 'DecommissionInput', ['cks-1'], 'invalid', '(input)'],
  ['signature not a JWS', 'DecommissionInput', { ...start, signature: 'a.b' }, 'invalid', 'signature'],
  ['an approval', 'ApproveRequest', { ...approve, comment: null, acknowledgeRecentlyUsedKeys: 0, signature: JWS }, 'valid'],
  ['approver missing', 'ApproveRequest', {}, 'invalid', 'approver'],
  ['approver of 257 characters', 'ApproveRequest', { approver: 'b'.repeat(257) }, 'looser', 'approver'],
  ['approver of 256 characters padded to 258', 'ApproveRequest', { approver: ` ${'b'.repeat(256)} ` }, 'valid'],
  ['approver empty', 'ApproveRequest', { approver: '' }, 'invalid', 'approver'],
  ['acknowledgement negative', 'ApproveRequest', { ...approve, acknowledgeRecentlyUsedKeys: -1 }, 'invalid', 'acknowledgeRecentlyUsedKeys'],
  ['acknowledgement "3"', 'ApproveRequest', { ...approve, acknowledgeRecentlyUsedKeys: '3' }, 'invalid', 'acknowledgeRecentlyUsedKeys'],
  ['comment of 1025 characters', 'ApproveRequest', { ...approve, comment: 'c'.repeat(1_025) }, 'invalid', 'comment'],
  ['a ticket on an approval', 'ApproveRequest', { ...approve, ticket: 'CHG-1' }, 'invalid', 'ticket'],
  ['signature empty', 'ApproveRequest', { ...approve, signature: '' }, 'invalid', 'signature'],
  ['a cancel', 'CancelRequest', { ...cancel, signature: JWS }, 'valid'],
  ['cancel without a reason', 'CancelRequest', { by: 'bob' }, 'invalid', 'reason'],
  ['cancel with a blank reason', 'CancelRequest', { by: 'bob', reason: ' ' }, 'looser', 'reason'],
  ['signature a number', 'CancelRequest', { ...cancel, signature: 5 }, 'invalid', 'signature'],
  ['a resolve', 'ResolveRequest', { ...resolve, comment: 'fixed the cluster', signature: JWS }, 'valid'],
  ['every resolve action', 'ResolveRequest', { ...resolve, action: 'keep-waiting' }, 'valid'],
  ['action unknown', 'ResolveRequest', { ...resolve, action: 'explode' }, 'invalid', 'action'],
  ['action null', 'ResolveRequest', { ...resolve, action: null }, 'invalid', 'action'],
  ['blockerId lower case', 'ResolveRequest', { ...resolve, blockerId: 'connect_failed-1' }, 'invalid', 'blockerId'],
  ['blockerId with a 7-digit count', 'ResolveRequest', { ...resolve, blockerId: 'CONNECT_FAILED-1234567' }, 'invalid', 'blockerId'],
  ['signature with a fourth part', 'ResolveRequest', { ...resolve, signature: `${JWS}.x` }, 'invalid', 'signature'],
];

describe('the JSON Schema and the validator agree on sample requests', () => {
  // A rest parameter: jest reads a callback with more parameters than the row has as one that takes `done`.
  test.each(CASES)('%s (%s)', (...[, name, value, verdict, field]: Case) => {
    const problems = VALIDATORS[name](value).problems;
    const jsonFields = jsonSchemaFields(name, value);
    if (verdict === 'valid') {
      expect(problems).toEqual([]);
      expect(jsonFields).toEqual([]);
    } else {
      expect(problems.map((p) => p.field)).toContain(field);
      if (verdict === 'invalid') expect(jsonFields).toContain(field === '(input)' ? '(root)' : field);
      else expect(jsonFields).toEqual([]);
    }
  });

  test.each(NAMES)('the example of %s is a valid request', (name) => {
    expect(VALIDATORS[name](REQUEST_EXAMPLES[name]).problems).toEqual([]);
    expect(jsonSchemas[name].examples).toEqual([REQUEST_EXAMPLES[name]]);
    expect(jsonSchemaFields(name, REQUEST_EXAMPLES[name])).toEqual([]);
  });
});

describe('the structure of the generated JSON Schema matches the zod schemas', () => {
  test.each(NAMES)('%s: the same fields, unknown ones refused, no $schema (embeddable in OpenAPI)', (name) => {
    const schema = jsonSchemas[name];
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.$schema).toBeUndefined();
    expect(Object.keys(properties(schema))).toEqual(knownFieldsAt(ZOD_SCHEMAS[name], []));
    expect(Object.keys(properties(schema))).toContain('signature');
    expect(schema.title).toBe(name);
    // Every field is documented for the OpenAPI reader.
    for (const [field, property] of Object.entries(properties(schema))) expect([field, typeof property.description]).toEqual([field, 'string']);
  });

  test.each(NAMES)('%s: "required" lists exactly the fields the validator requires', (name) => {
    const example = { ...REQUEST_EXAMPLES[name] };
    const requiredByValidator = knownFieldsAt(ZOD_SCHEMAS[name], []).filter((field) => {
      const { [field]: _left, ...without } = example;
      return VALIDATORS[name](without).problems.some((p) => p.field === field);
    });
    expect(jsonSchemas[name].required).toEqual(requiredByValidator);
  });

  test('timing: the same fields, unknown ones refused, every one a duration from 100 ms to 60 days with its default', () => {
    const timing = properties(jsonSchemas.DecommissionInput).timing;
    expect(timing.additionalProperties).toBe(false);
    expect(Object.keys(properties(timing))).toEqual(knownFieldsAt(decommissionInputSchema, ['timing']));
    for (const property of Object.values(properties(timing))) {
      expect(property.anyOf).toEqual([
        { type: 'number', minimum: 100, maximum: 60 * 86_400_000 },
        { type: 'string', pattern: expect.any(String) },
      ]);
      expect(typeof property.default).toBe('number');
    }
    const { input } = validateDecommissionInput(start);
    expect(properties(timing).verifyPatience.default).toBe(input?.timing.verifyPatienceMs);
  });

  test('the resolve actions are the enum', () => {
    expect(properties(jsonSchemas.ResolveRequest).action.enum).toEqual([...RESOLVE_ACTIONS]);
    for (const action of RESOLVE_ACTIONS) expect(validateResolveRequest({ ...resolve, action }).problems).toEqual([]);
  });

  // Each bound the JSON Schema states is the validator's: the bound itself passes, one past it is refused.
  const integerBounds: [RequestSchemaName, string, Record<string, unknown>][] = [
    ['DecommissionInput', 'pendingWindowInDays', start],
    ['DecommissionInput', 'expectedKeyCount', start],
    ['ApproveRequest', 'acknowledgeRecentlyUsedKeys', approve],
  ];
  test.each(integerBounds)('%s.%s: integer bounds', (name, field, base) => {
    const property = properties(jsonSchemas[name])[field];
    expect(property.type).toBe('integer');
    const check = (value: number) => VALIDATORS[name]({ ...base, [field]: value }).problems.map((p) => p.field);
    expect(check(property.minimum as number)).toEqual([]);
    expect(check((property.minimum as number) - 1)).toEqual([field]);
    expect(check((property.minimum as number) + 0.5)).toEqual([field]);
    if (property.maximum !== undefined) {
      expect(check(property.maximum as number)).toEqual([]);
      expect(check((property.maximum as number) + 1)).toEqual([field]);
    }
  });

  const durationBounds: [string, number, number][] = [
    ['approvalTimeout', 1_000, 30 * 86_400_000],
    ['recentUseWindow', 3_600_000, 365 * 86_400_000],
    ['quietPeriod', 86_400_000, 90 * 86_400_000],
  ];
  test.each(durationBounds)('%s: the bounds of the number form are the validator’s', (field, min, max) => {
    const property = properties(jsonSchemas.DecommissionInput)[field];
    const numberForm = JSON.stringify(property).match(/\{"type":"number","minimum":(\d+),"maximum":(\d+)\}/);
    expect(numberForm?.slice(1).map(Number)).toEqual([min, max]);
    const check = (value: number) => validateDecommissionInput({ ...start, [field]: value }).problems.map((p) => p.field);
    expect([check(min), check(max), check(min - 1), check(max + 1)]).toEqual([[], [], [field], [field]]);
  });

  const stringBounds: [RequestSchemaName, string, Record<string, unknown>, (length: number) => string][] = [
    ['DecommissionInput', 'customKeyStoreId', start, (n) => 'c'.repeat(n)],
    ['DecommissionInput', 'ticket', start, (n) => 'T'.repeat(n)],
    ['ApproveRequest', 'comment', approve, (n) => 'c'.repeat(n)],
    ['ResolveRequest', 'signature', resolve, (n) => `${'h'.repeat(n - 4)}.p.s`],
  ];
  test.each(stringBounds)('%s.%s: maxLength is the validator’s', (name, field, base, text) => {
    const property = properties(jsonSchemas[name])[field];
    const maxLength = (property.maxLength ?? (property.anyOf as JsonSchema[] | undefined)?.[0]?.maxLength) as number;
    expect(maxLength).toBeGreaterThan(0);
    const check = (value: string) => VALIDATORS[name]({ ...base, [field]: value }).problems.map((p) => p.field);
    expect(check(text(maxLength))).toEqual([]);
    expect(check(text(maxLength + 1))).toEqual([field]);
  });

  // The length of a name counts once it is trimmed: the JSON Schema states it in words, not as a maxLength.
  test.each([
    ['DecommissionInput', 'requestedBy', start],
    ['ApproveRequest', 'approver', approve],
    ['CancelRequest', 'by', cancel],
    ['CancelRequest', 'reason', cancel],
    ['ResolveRequest', 'by', resolve],
  ] as [RequestSchemaName, string, Record<string, unknown>][])('%s.%s: a name of 1–256 characters once trimmed', (name, field, base) => {
    const property = properties(jsonSchemas[name])[field];
    expect(property).toMatchObject({ type: 'string', minLength: 1, description: expect.stringContaining('1–256 characters once trimmed') });
    expect(property.maxLength).toBeUndefined();
    const check = (value: string) => VALIDATORS[name]({ ...base, [field]: value }).problems;
    expect(check(` ${'n'.repeat(256)}\t`)).toEqual([]);
    expect(check('n'.repeat(257))).toEqual([{ field, rule: 'must be at most 256 characters, got 257' }]);
    expect(check(' \n ')).toEqual([{ field, rule: 'must not be empty' }]);
    expect(jsonSchemaFields(name, { ...base, [field]: '' })).toEqual([field]);
  });

  test('a deployment with a shorter minimum quiet period gets it in its JSON Schema', () => {
    const quiet = JSON.stringify(properties(requestJsonSchemas({ minQuietPeriodMs: 3_600_000 }).DecommissionInput).quietPeriod);
    expect(quiet).toContain('"minimum":3600000');
    expect(validateDecommissionInput({ ...start, quietPeriod: 3_600_000 }, { minQuietPeriodMs: 3_600_000 }).problems).toEqual([]);
  });

  test('other dialects: draft-07, and OpenAPI 3.0 with `nullable` and one `example`', () => {
    const draft07 = requestJsonSchemas({ target: 'draft-07' });
    expect(draft07.ApproveRequest.$schema).toBeUndefined();
    expect(properties(draft07.ResolveRequest).action.enum).toEqual([...RESOLVE_ACTIONS]);
    const openapi30 = requestJsonSchemas({ target: 'openapi-3.0' });
    expect(properties(openapi30.ApproveRequest).comment).toMatchObject({ type: 'string', nullable: true, maxLength: 1_024 });
    expect(openapi30.CancelRequest.example).toEqual(REQUEST_EXAMPLES.CancelRequest);
    expect(openapi30.CancelRequest.examples).toBeUndefined();
  });
});

describe('knownFieldsAt', () => {
  test('reads through the wrappers to the object at a path; nothing where there is none', () => {
    expect(knownFieldsAt(approveRequestSchema, [])).toEqual(['approver', 'comment', 'acknowledgeRecentlyUsedKeys', 'signature']);
    expect(knownFieldsAt(decommissionInputSchema, ['timing'])).toContain('cloudTrailDeliveryLag');
    expect(knownFieldsAt(decommissionInputSchema, ['ticket'])).toEqual([]);
    expect(knownFieldsAt(decommissionInputSchema, ['nothing', 'here'])).toEqual([]);
  });
});
