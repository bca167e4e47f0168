/**
 * The portal HTTP API (`npm run api`): Fastify in front of the decommission client library. Every `/v1`
 * operation needs a verified OIDC token; decisions go through the one {@link DecisionService}; the OpenAPI
 * document is generated from the routes' schemas. `npm run api -- --openapi` writes `docs/openapi.json` and exits.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JWK } from 'jose';
import { DecommissionClient } from '../client/decommission-client';
import { InvalidInputError } from '../client/errors';
import { importDecisionSigningKey, type DecisionSigningKey } from '../decisions/signing';
import { createAuthenticator, type AuthConfig } from './auth';
import { apiConfigFromEnv, type ApiConfig } from './config';
import type { ApiContext, Identity } from './context';
import { DecisionService, refuseApiSetFields } from './decisions';
import { errorHandler } from './errors';
import { generateOpenApi } from './openapi';
import { approvalPages } from './page';
import { apiRoutes } from './routes';
import type { ApiRoute } from './routes/types';

/** What {@link createApiContext} needs besides a connected client. */
export interface ApiContextOptions {
  auth: AuthConfig;
  signingKey?: DecisionSigningKey;
  /** Base URL of the approval pages (`DECOMMISSION_PORTAL_URL`). */
  portalUrl: string;
  /** Temporal Web UI (`TEMPORAL_UI_URL`). */
  temporalUiUrl: string;
  namespace: string;
}

/** The services the routes and the pages share. */
export function createApiContext(client: DecommissionClient, options: ApiContextOptions): ApiContext {
  const auth = createAuthenticator(options.auth);
  const portal = options.portalUrl.replace(/\/+$/, '');
  const ui = options.temporalUiUrl.replace(/\/+$/, '');
  return {
    client,
    authenticate: (request) => auth.authenticate(request),
    requireRole: (identity, role) => auth.requireRole(identity, role),
    decide: new DecisionService({ client, signingKey: options.signingKey, requireRole: (identity, role) => auth.requireRole(identity, role) }),
    links: {
      approvalPage: (workflowId) => `${portal}/decommissions/${encodeURIComponent(workflowId)}`,
      webUi: (workflowId) => `${ui}/namespaces/${encodeURIComponent(options.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
    },
  };
}

export interface ApiServerOptions {
  /** Fastify's logger (default: on, JSON, without any header). Tests pass false. */
  logger?: FastifyServerOptions['logger'];
  /** Serve the approval pages too (default true); `pageSecret` keys their CSRF tokens (`DECOMMISSION_PAGE_SECRET`). */
  pages?: boolean;
  pageSecret?: string;
}

/** Largest request body: decisions are a few hundred bytes. */
const BODY_LIMIT_BYTES = 64 * 1024;

/** Builds the API (not listening): the routes of {@link apiRoutes}, the approval pages, one error shape. */
export async function buildApiServer(ctx: ApiContext, options: ApiServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { redact: ['req.headers.authorization', 'req.headers["x-forwarded-access-token"]', 'req.headers.cookie'] },
    bodyLimit: BODY_LIMIT_BYTES,
    ajv: {
      // Fastify's defaults would silently drop unknown fields and coerce "7" to 7: a typo or a smuggled
      // `approver` must be refused, as the workflow's own validation refuses it. Every error is reported.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true },
    },
  });
  // Response schemas document the answers (and the contract tests check them); the answer itself is plain
  // JSON, so a field the workflow adds in a later release is never silently dropped by a serializer.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no such endpoint: ${request.method} ${request.url.split('?')[0]}` }),
  );
  for (const route of apiRoutes) registerRoute(app, ctx, route);
  if (options.pages ?? true) await app.register(approvalPages, { ctx, secret: options.pageSecret });
  return app;
}

function registerRoute(app: FastifyInstance, ctx: ApiContext, route: ApiRoute): void {
  const identities = new WeakMap<FastifyRequest, Identity>();
  const { operationId: _o, summary: _s, description: _d, tags: _t, alternativeContent: _a, ...fastifySchema } = route.schema;
  const role = route.access === 'public' || route.access === 'authenticated' ? undefined : route.access;
  app.route({
    method: route.method,
    url: route.url,
    schema: fastifySchema,
    // Before the body is read: a caller without a valid token learns nothing about the body's rules.
    onRequest:
      route.access === 'public'
        ? undefined
        : async (request: FastifyRequest) => {
            identities.set(request, await ctx.authenticate(request));
          },
    // After parsing, before validation: the role, then the fields only the API may set.
    preValidation: role
      ? async (request: FastifyRequest) => {
          const identity = identities.get(request);
          if (!identity) throw new Error('no verified identity on this request: the authenticate hook did not run');
          ctx.requireRole(identity, role);
          if (route.decision && request.body && typeof request.body === 'object') refuseApiSetFields(request.body);
        }
      : undefined,
    // Validation failures reach the handler, which words them with the contract's own rules where it can.
    attachValidation: true,
    handler: (request: FastifyRequest, reply: FastifyReply) => {
      if (request.validationError) throw explained(ctx, route, request);
      return route.handler(ctx, request, reply, identities.get(request));
    },
  });
}

/** A failed validation as an error to answer: the contract's wording for a body, else the JSON Schema's. */
function explained(ctx: ApiContext, route: ApiRoute, request: FastifyRequest): Error {
  const failure = request.validationError as Error & { validationContext?: string };
  if (failure.validationContext !== 'body' || !route.explainInvalidBody) return failure;
  const problems = route.explainInvalidBody(ctx, request.body);
  return problems.length > 0 ? new InvalidInputError(problems, 'request') : failure;
}

/** The OpenAPI document of this API, as served at `/openapi.json` and checked in. */
export function openApiDocument(): ReturnType<typeof generateOpenApi> {
  return generateOpenApi(apiRoutes);
}

/** Where the document is checked in. */
export const OPENAPI_FILE = path.resolve(__dirname, '..', '..', 'docs', 'openapi.json');

/** The document as JSON text (2-space; the `--openapi` writer formats it with the repository's Prettier settings). */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}

/** Writes `docs/openapi.json`, formatted as `npm run format` would (Prettier is a development tool: loaded only here). */
async function writeOpenApiFile(): Promise<void> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(OPENAPI_FILE)) ?? {};
  await writeFile(OPENAPI_FILE, await prettier.format(openApiText(), { ...options, filepath: OPENAPI_FILE }));
}

/** Reads the API's private decision-signing JWK (`DECISION_SIGNING_KEY_FILE`); the message never includes the key. */
export async function loadSigningKey(file: string): Promise<DecisionSigningKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
  } catch (err) {
    throw new Error(`DECISION_SIGNING_KEY_FILE: cannot read a JWK from ${file}: ${(err as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
  return importDecisionSigningKey(jwk);
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--openapi')) {
    await writeOpenApiFile();
    console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
    return;
  }
  const config: ApiConfig = apiConfigFromEnv();
  const signingKey = config.signingKeyFile ? await loadSigningKey(config.signingKeyFile) : undefined;
  const client = await DecommissionClient.connect({ ...(config.taskQueue ? { taskQueue: config.taskQueue } : {}) });
  const selfUrl = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const ctx = createApiContext(client, {
    auth: config.auth,
    signingKey,
    portalUrl: config.portalUrl ?? selfUrl,
    temporalUiUrl: config.temporalUiUrl ?? 'http://localhost:8233',
    namespace: config.namespace,
  });
  const app = await buildApiServer(ctx, { pageSecret: process.env.DECOMMISSION_PAGE_SECRET });
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info(
    { issuer: config.auth.issuer, audience: config.auth.audience, signing: signingKey ? signingKey.kid : 'off (decisions unsigned)' },
    `portal API listening on ${address}`,
  );
  const stop = (): void => {
    void app
      .close()
      .then(() => client.close())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
