import { healthSchema } from '../schemas/responses';
import { jsonSchemaOf } from '../schemas/json';
import type { ApiRoute } from './types';

/** `GET /healthz`: the process answers (no token; it says nothing about Temporal, so a load balancer never flaps with it). */
export const healthRoutes: ApiRoute[] = [
  {
    method: 'GET',
    url: '/healthz',
    access: 'public',
    schema: { operationId: 'health', summary: 'Liveness', tags: ['meta'], response: { 200: jsonSchemaOf(healthSchema, 'output') } },
    handler: async () => ({ status: 'ok' }),
  },
];
