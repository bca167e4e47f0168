import { Writable } from 'node:stream';
import { apiConfigFromEnv } from '../../src/api/config';
import { toErrorResponse } from '../../src/api/errors';
import { buildApiServer, createApiContext } from '../../src/api/server';
import type { DecommissionClient } from '../../src/client/decommission-client';
import { startDevIssuer, type RunningDevIssuer } from '../../src/devtools/dev-issuer';

/**
 * The API process itself, without Temporal: its settings from the environment, and its log, which must never
 * hold a token whatever happens (accepted, refused, a failure inside a handler).
 */

let issuer: RunningDevIssuer;
beforeAll(async () => {
  issuer = await startDevIssuer();
});
afterAll(async () => {
  await issuer?.close();
});

describe('settings from the environment', () => {
  const base = { API_ISSUER: 'https://issuer.example', API_AUDIENCE: 'api-1, api-2' };

  test('defaults, lists and the role names', () => {
    const config = apiConfigFromEnv({ ...base, API_ROLES_CLAIM: 'realm_access.roles', API_ROLE_APPROVER: 'kms-approvers,cab', API_PORT: '9000' });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 9000,
      namespace: 'default',
      auth: {
        issuer: 'https://issuer.example',
        audience: ['api-1', 'api-2'],
        rolesClaim: 'realm_access.roles',
        roleValues: { approver: ['kms-approvers', 'cab'] },
        clockToleranceSeconds: 60,
      },
    });
    expect(config.auth.roleValues).not.toHaveProperty('requester');
    expect(config.signingKeyFile).toBeUndefined();
  });

  test('a missing or malformed setting names the variable', () => {
    expect(() => apiConfigFromEnv({ API_AUDIENCE: 'x' })).toThrow(/API_ISSUER is required/);
    expect(() => apiConfigFromEnv({ API_ISSUER: 'x' })).toThrow(/API_AUDIENCE is required/);
    expect(() => apiConfigFromEnv({ ...base, API_PORT: 'eighty' })).toThrow(/API_PORT must be an integer/);
    expect(() => apiConfigFromEnv({ ...base, API_CLOCK_TOLERANCE_SECONDS: '3600' })).toThrow(/API_CLOCK_TOLERANCE_SECONDS must be an integer from 0 to 600/);
    expect(() => apiConfigFromEnv({ ...base, API_JWKS_FILE: '/nonexistent/jwks.json' })).toThrow(/API_JWKS_FILE: cannot read a JWKS/);
  });
});

test('the log never holds a token: accepted, refused, through the proxy header, or when a handler fails', async () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const client = {
    minimumQuietPeriodMs: undefined,
    // A failure inside a handler: logged as a server error (with the error), answered without details.
    getStatus: async () => {
      throw new Error('boom inside the client');
    },
    async *listDecommissions() {},
  } as unknown as DecommissionClient;
  const ctx = createApiContext(client, {
    auth: { issuer: issuer.issuer, audience: [issuer.audience] },
    portalUrl: 'http://p',
    temporalUiUrl: 'http://ui',
    namespace: 'default',
  });
  const app = await buildApiServer(ctx, { logger: { level: 'trace', stream }, pages: false });
  try {
    const good = await issuer.mint('bob');
    const expired = await issuer.mint('bob', { expiresInSeconds: -600 });
    const wrongAudience = await issuer.mint('bob', { audience: 'elsewhere' });
    // Over real HTTP (Fastify's inject needs light-my-request, whose `cookie` dependency jest cannot load).
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const send = async (path: string, headers: Record<string, string>, body?: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { statusCode: response.status, body: await response.text() };
    };
    const answers = [
      await send('/v1/decommissions', { authorization: `Bearer ${good}` }),
      await send('/v1/decommissions', { 'x-forwarded-access-token': good }),
      await send('/v1/decommissions', { authorization: `Bearer ${expired}` }),
      await send('/v1/decommissions', { authorization: `Bearer ${wrongAudience}` }),
      await send('/v1/decommissions/cks-1234567890abcdef0', { authorization: `Bearer ${good}` }),
      await send('/v1/decommissions', { authorization: `Bearer ${good}` }, { customKeyStoreId: 'cks-1' }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 401, 401, 500, 403]);
    expect(JSON.parse(answers[4].body)).toEqual({ error: 'internal', message: 'internal error (logged by the API)' });
    const log = lines.join('');
    expect(log).toMatch(/boom inside the client/);
    for (const token of [good, expired, wrongAudience]) {
      // Neither the whole token nor its signature part.
      expect(log).not.toContain(token);
      expect(log).not.toContain(token.split('.')[2]);
    }
    for (const answer of answers) expect(answer.body).not.toContain(good.split('.')[2]);
  } finally {
    await app.close();
  }
});

test('Temporal unreachable is a 503; any other Temporal error a 500 (logged, not an outage)', () => {
  const serviceError = (code: number) =>
    Object.assign(new Error('Failed to start Workflow'), { name: 'ServiceError', cause: Object.assign(new Error('grpc'), { code }) });
  expect(toErrorResponse(serviceError(14)).statusCode).toBe(503);
  expect(toErrorResponse(serviceError(4)).body.error).toBe('temporal_unavailable');
  expect(toErrorResponse(serviceError(3))).toEqual({ statusCode: 500, body: { error: 'internal', message: 'internal error (logged by the API)' } });
});
