import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  DecommissionAlreadyRunningError,
  DecommissionNotFoundError,
  DecommissionStillRunningError,
  InvalidInputError,
  UpdateRejectedError,
} from '../client/errors';
import type { InputProblem } from '../shared/types';
import { ApiError } from './context';

/**
 * One error shape for the whole API: `{error: code, message, problems?}` with the HTTP status. Chosen over RFC 7807
 * problem+json for the same reason the CLI prints `field: rule`: a portal shows `message` as is, and reads
 * `problems` to mark fields. Messages never carry a token, a key or a stack.
 */
export interface ErrorBody {
  error: string;
  message: string;
  problems?: InputProblem[];
}

/** The status and body for anything a handler threw. */
export function toErrorResponse(err: unknown): { statusCode: number; body: ErrorBody } {
  if (err instanceof ApiError) return { statusCode: err.statusCode, body: { error: err.code, message: err.message } };
  if (err instanceof InvalidInputError) return { statusCode: 400, body: { error: 'invalid_request', message: err.message, problems: err.problems } };
  if (err instanceof UpdateRejectedError) return { statusCode: 409, body: { error: 'rejected', message: err.reason } };
  if (err instanceof DecommissionNotFoundError) return { statusCode: 404, body: { error: 'not_found', message: err.message } };
  if (err instanceof DecommissionStillRunningError)
    return { statusCode: 409, body: { error: 'still_running', message: `${err.message.replace(/; pass wait.*$/, '')}` } };
  if (err instanceof DecommissionAlreadyRunningError) return { statusCode: 409, body: { error: 'already_running', message: err.message } };
  const fastifyError = err as Partial<FastifyError>;
  if (fastifyError.validation) {
    const problems = fastifyError.validation.map((v) => validationProblem(v, fastifyError.validationContext));
    return {
      statusCode: 400,
      body: { error: 'invalid_request', message: `Invalid request: ${problems.map((p) => `${p.field}: ${p.rule}`).join('; ')}`, problems },
    };
  }
  // Fastify's own client errors: unparsable JSON, unsupported media type, body too large.
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500)
    return {
      statusCode: fastifyError.statusCode,
      body: { error: fastifyError.statusCode === 415 ? 'unsupported_media_type' : 'invalid_request', message: fastifyError.message ?? 'bad request' },
    };
  if (isTemporalUnavailable(err)) return { statusCode: 503, body: { error: 'temporal_unavailable', message: 'Temporal is not reachable; try again shortly' } };
  return { statusCode: 500, body: { error: 'internal', message: 'internal error (logged by the API)' } };
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** An ajv error as `{field, rule}`, the fields named like the client library names them (`timing.verifyInterval`). */
function validationProblem(v: AjvError, context: string | undefined): InputProblem {
  const path = (v.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = v.params ?? {};
  if (v.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string')
    return { field: [...path, params.additionalProperty].join('.'), rule: 'is not a known field' };
  if (v.keyword === 'required' && typeof params.missingProperty === 'string')
    return { field: [...path, params.missingProperty].join('.'), rule: 'is required' };
  const field = path.join('.') || (context === 'body' ? '(body)' : (context ?? '(request)'));
  if (v.keyword === 'enum' && Array.isArray(params.allowedValues))
    return { field, rule: `must be one of ${params.allowedValues.map((a) => JSON.stringify(a)).join(', ')}` };
  return { field, rule: v.message ?? String(v.keyword) };
}

function isTemporalUnavailable(err: unknown): boolean {
  // gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4), on the error or on the cause the SDK's ServiceError wraps;
  // any other gRPC status (INVALID_ARGUMENT, …) is a server error to log, not an outage.
  const codeOf = (e: unknown): unknown => (e && typeof e === 'object' ? (e as { code?: unknown }).code : undefined);
  const codes = [codeOf(err), codeOf((err as { cause?: unknown })?.cause)];
  return codes.includes(14) || codes.includes(4) || (err instanceof Error && err.name === 'TransportError');
}

/** Fastify's error handler: answers {@link ErrorBody}; logs server errors (never the request's headers, so never a token). */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { statusCode, body } = toErrorResponse(err);
  if (statusCode >= 500) request.log.error({ err }, 'request failed');
  if (statusCode === 401) reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${body.message.replace(/["\\]/g, '')}"`);
  return reply.code(statusCode).type('application/json').send(body);
}
