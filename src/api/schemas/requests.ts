import { requestJsonSchemas, type RequestSchemaName } from '../../shared/input-schema';
import type { JsonSchema } from '../routes/types';

/**
 * The API's request bodies, derived from the one request contract (`src/shared/input-schema.ts`): the same JSON
 * Schema without the identity field and `signature`, which the API sets from the verified token. Fastify
 * validates bodies with these (so the identity fields are unknown fields to it); the client library then
 * validates the full request with the zod schemas, which have the last word (duration units, the
 * deployment's minimum quiet period, trimming).
 */

/** The field of each request the API fills with the verified subject. */
const IDENTITY_FIELD: Readonly<Record<RequestSchemaName, string>> = {
  DecommissionInput: 'requestedBy',
  ApproveRequest: 'approver',
  CancelRequest: 'by',
  ResolveRequest: 'by',
};

function apiBody(name: RequestSchemaName, schema: JsonSchema): JsonSchema {
  const omitted = new Set([IDENTITY_FIELD[name], 'signature']);
  const properties = { ...(schema.properties as Record<string, JsonSchema>) };
  for (const field of omitted) delete properties[field];
  const result: JsonSchema = {
    ...schema,
    properties,
    required: ((schema.required ?? []) as string[]).filter((field) => !omitted.has(field)),
    description: `${String(schema.description ?? '')} The API sets ${IDENTITY_FIELD[name]} to the caller's verified identity and signs the request.`.trim(),
  };
  if (Array.isArray(schema.examples))
    result.examples = (schema.examples as Record<string, unknown>[]).map((example) =>
      Object.fromEntries(Object.entries(example).filter(([field]) => !omitted.has(field))),
    );
  return result;
}

/**
 * The quiet period's lower bound is the deployment's (`DECOMMISSION_MIN_QUIET_PERIOD`), not the contract's: the
 * document states the default (1 day) in words and leaves the check to the client library, which knows the
 * deployment's minimum.
 */
function withoutDeploymentBound(schema: JsonSchema): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema>;
  const quiet = properties.quietPeriod;
  if (!quiet) return schema;
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node && typeof node === 'object') {
      const { minimum: _min, ...rest } = node as JsonSchema;
      return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, strip(v)]));
    }
    return node;
  };
  return { ...schema, properties: { ...properties, quietPeriod: strip(quiet) as JsonSchema } };
}

const schemas = requestJsonSchemas();

export const startBodySchema: JsonSchema = withoutDeploymentBound(apiBody('DecommissionInput', schemas.DecommissionInput));
export const approveBodySchema: JsonSchema = apiBody('ApproveRequest', schemas.ApproveRequest);
export const cancelBodySchema: JsonSchema = apiBody('CancelRequest', schemas.CancelRequest);
export const resolveBodySchema: JsonSchema = apiBody('ResolveRequest', schemas.ResolveRequest);
