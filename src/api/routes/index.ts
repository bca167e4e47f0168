import { generateOpenApi } from '../openapi';
import { decisionRoutes } from './decisions';
import { healthRoutes } from './health';
import { readRoutes } from './read';
import type { ApiRoute } from './types';

/** `GET /openapi.json`: the document generated from every route here (itself included). */
const openApiRoute: ApiRoute = {
  method: 'GET',
  url: '/openapi.json',
  access: 'public',
  schema: {
    operationId: 'openApi',
    summary: 'This document (OpenAPI 3.1)',
    tags: ['meta'],
    response: { 200: { type: 'object', properties: { openapi: { type: 'string', const: '3.1.0' } }, required: ['openapi'] } },
  },
  handler: async () => generateOpenApi(apiRoutes),
};

/** Every operation of the API, in the order the document lists them. */
export const apiRoutes: readonly ApiRoute[] = [...healthRoutes, openApiRoute, ...readRoutes, ...decisionRoutes];
