import type { ApiRoute, JsonSchema } from './routes/types';

/** The API's own version (the paths' `/v1`), independent of the package's release number. */
export const API_VERSION = '1.0.0';

/** The OpenAPI document's type, as far as this generator writes it. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { securitySchemes: Record<string, unknown> };
  /** Either scheme: a bearer token or the proxy's header. */
  security: Record<string, string[]>[];
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: 'path' | 'query'; required: boolean; description?: string; schema: JsonSchema }[];
  requestBody?: { required: true; content: { 'application/json': { schema: JsonSchema } } };
  responses: Record<string, { description: string; content: Record<string, { schema: JsonSchema }> }>;
  'x-required-role'?: string;
}

/**
 * The OpenAPI 3.1 document of `routes`, generated from the very schemas Fastify validates with (served at
 * `/openapi.json`, checked in as `docs/openapi.json`; `npm run api -- --openapi` rewrites it). Deterministic:
 * the same routes give the same bytes.
 */
export function generateOpenApi(routes: readonly ApiRoute[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const { schema } = route;
    const operation: OpenApiOperation = {
      operationId: schema.operationId,
      summary: schema.summary,
      ...(schema.description ? { description: schema.description } : {}),
      tags: schema.tags,
      ...(route.access === 'public' ? { security: [] } : {}),
      ...(route.access !== 'public' && route.access !== 'authenticated' ? { 'x-required-role': route.access } : {}),
      responses: {},
    };
    const parameters = [...parametersOf(schema.params, 'path'), ...parametersOf(schema.querystring, 'query')];
    if (parameters.length) operation.parameters = parameters;
    if (schema.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
    operation.responses = Object.fromEntries(
      Object.entries(schema.response)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, response]) => {
          const { description, ...body } = response as JsonSchema & { description?: string };
          const alternatives = schema.alternativeContent?.[Number(status)] ?? {};
          return [
            status,
            {
              description: typeof description === 'string' ? description : Number(status) < 300 ? 'OK' : 'error',
              content: {
                'application/json': { schema: body },
                ...Object.fromEntries(Object.entries(alternatives).map(([type, s]) => [type, { schema: s }])),
              },
            },
          ];
        }),
    );
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'KMS custom key store decommission: portal API',
      version: API_VERSION,
      description: [
        'Start, follow and decide AWS KMS custom key store decommissions (a Temporal workflow) over HTTP.',
        'Every operation but /healthz and /openapi.json needs an OIDC access token from the configured issuer: `Authorization: Bearer <token>`,',
        'or the same token in the header an authenticating proxy sets (default X-Forwarded-Access-Token).',
        'The caller is the token subject; roles come from a configured claim (x-required-role names the role an operation needs).',
        'Errors answer `{error, message, problems?}`.',
      ].join(' '),
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OIDC access token of the configured issuer and audience' },
        proxyToken: { type: 'apiKey', in: 'header', name: 'X-Forwarded-Access-Token', description: 'the same token, set by an authenticating proxy' },
      },
    },
    security: [{ bearer: [] }, { proxyToken: [] }],
  };
}

/** The properties of a params/querystring object schema as OpenAPI parameters. */
function parametersOf(schema: JsonSchema | undefined, where: 'path' | 'query'): NonNullable<OpenApiOperation['parameters']> {
  if (!schema) return [];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property as JsonSchema & { description?: string };
    return { name, in: where, required: where === 'path' || required.has(name), ...(typeof description === 'string' ? { description } : {}), schema: rest };
  });
}
