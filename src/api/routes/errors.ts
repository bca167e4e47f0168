import { errorSchema } from '../schemas/responses';
import { jsonSchemaOf } from '../schemas/json';
import type { JsonSchema } from './types';

const ERROR = jsonSchemaOf(errorSchema, 'output');

const MEANING: Record<number, string> = {
  400: 'invalid_request: a field broke a rule (`problems` names each field and rule)',
  401: 'no token, or the token was refused (token_missing, token_malformed, token_expired, token_wrong_issuer, token_wrong_audience, token_bad_signature, token_unknown_key, …)',
  403: 'missing_role: the verified identity lacks the role this operation needs',
  404: 'not_found: no decommission with this ID',
  409: 'rejected: the workflow refused the decision (wrong phase, four-eyes, stale blocker, …), with its reason; still_running: no report yet',
  503: 'temporal_unavailable or identity_provider_unavailable',
};

/** The documented error answers of an operation: `{error, message}` for each status. */
export function errorResponses(...statuses: number[]): Record<number, JsonSchema> {
  return Object.fromEntries(statuses.map((s) => [s, { ...ERROR, description: MEANING[s] ?? 'error' }]));
}
