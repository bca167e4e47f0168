import { z } from 'zod';
import type { JsonSchema } from '../routes/types';

/**
 * A zod schema as plain JSON Schema, inline (no `$ref`, no `$schema`): the same object is Fastify's validation
 * schema (ajv, draft-07) and the OpenAPI 3.1 document's (2020-12); the keywords zod emits for these schemas
 * mean the same in both. `io: 'input'` for what callers send, `output` for what the API answers.
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io, reused: 'inline', unrepresentable: 'any' }) as JsonSchema;
  if ('$defs' in json || 'definitions' in json) throw new Error('API schemas must be inline: drop `id` metadata from the zod schema');
  return json;
}
