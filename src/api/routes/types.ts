import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InputProblem } from '../../shared/types';
import type { ApiContext, Identity, Role } from '../context';

/** A JSON Schema object (as zod emits it). */
export type JsonSchema = Record<string, unknown>;

/** What a route documents and Fastify validates: the OpenAPI document is generated from these. */
export interface RouteSchema {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  params?: JsonSchema;
  querystring?: JsonSchema;
  body?: JsonSchema;
  /** Response schemas by status (application/json). */
  response: Record<number, JsonSchema>;
  /** Other media types a status may answer with (e.g. the report as text/markdown), for the document. */
  alternativeContent?: Record<number, Record<string, JsonSchema>>;
}

/**
 * One API operation. `access`: `public` (no token), `authenticated` (any verified identity) or the {@link Role}
 * it needs. Authentication runs before the body is even parsed and the role check before validation, so
 * a caller without the right gets 401/403, never a hint about the body.
 */
export interface ApiRoute {
  method: 'GET' | 'POST';
  /** Fastify path syntax (`/v1/decommissions/:id`). */
  url: string;
  access: 'public' | 'authenticated' | Role;
  /** The body may not name identity fields nor a signature (the API sets them). */
  decision?: boolean;
  schema: RouteSchema;
  /**
   * When the body fails the JSON Schema: the same body judged by the request contract's own validator, whose
   * rules are worded for people ("must be an integer from 7 to 30 …"). Empty: the JSON Schema's findings stand.
   */
  explainInvalidBody?(ctx: ApiContext, body: unknown): InputProblem[];
  handler(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, identity: Identity | undefined): Promise<unknown>;
}

/** Path parameter `id`: a store ID (`cks-…`) or a workflow ID (`kms-decommission-cks-…`). */
export const idParams: JsonSchema = {
  type: 'object',
  properties: {
    id: {
      type: 'string',
      pattern: '^(kms-decommission-)?[A-Za-z0-9-]{1,64}$',
      description: 'the custom key store ID (cks-…) or the workflow ID (kms-decommission-cks-…)',
    },
  },
  required: ['id'],
  additionalProperties: false,
};

/** The identity of an authenticated route (the server sets it before the handler runs). */
export function required(identity: Identity | undefined): Identity {
  if (!identity) throw new Error('route declared authenticated but no identity was set');
  return identity;
}
