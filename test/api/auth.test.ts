import type { FastifyRequest } from 'fastify';
import { SignJWT, UnsecuredJWT, generateKeyPair } from 'jose';
import { createAuthenticator } from '../../src/api/auth';
import { ApiError } from '../../src/api/context';
import { DEV_USERS, startDevIssuer, type RunningDevIssuer } from '../../src/devtools/dev-issuer';
import { workflowIdFor } from '../../src/shared/messages';
import { uniqueStoreId } from '../support/harness';
import { fastInput, mutatingCalls, seedStoreVia, waitForPhase } from '../support/scenario';
import { startApiHarness, type ApiHarness } from './api-harness';

/**
 * Every way a token can be wrong, against the real API over a real run: each is refused with 401 (or 403 for a
 * missing role) and a reason a person can act on, and nothing changed — the waiting run is still waiting for
 * approval and was not touched in KMS, and a refused start started nothing.
 */

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness({ harness: { emulator: { dayMs: 400 } } });
});
afterAll(async () => {
  await api?.close();
});

/** A token whose payload was changed after signing (bob made an operator into … alice). */
async function tamperedToken(issuer: RunningDevIssuer): Promise<string> {
  const [header, payload, signature] = (await issuer.mint('bob')).split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: DEV_USERS.alice.subject })).toString('base64url');
  return `${header}.${forged}.${signature}`;
}

/** A well-formed token with every right claim, signed by a key the issuer never published. */
async function rogueKeyToken(issuer: RunningDevIssuer): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT({ roles: ['approver', 'operator', 'requester'] })
    .setProtectedHeader({ alg: 'RS256', kid: 'rogue-key' })
    .setIssuer(issuer.issuer)
    .setAudience(issuer.audience)
    .setSubject(DEV_USERS.bob.subject)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

interface BadToken {
  name: string;
  headers: () => Promise<Record<string, string>>;
  status: 401 | 403;
  error: string;
  message: RegExp;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The refusals of an approve (bob's approve, unless the case says whose). */
const approveRefusals = (): BadToken[] => [
  { name: 'no token', headers: async () => ({}), status: 401, error: 'token_missing', message: /no token/ },
  { name: 'not a JWT', headers: async () => bearer('not-a-jwt'), status: 401, error: 'token_malformed', message: /not a well-formed/ },
  {
    name: 'not a Bearer header',
    headers: async () => ({ authorization: 'Basic Ym9iOmJvYg==' }),
    status: 401,
    error: 'token_malformed',
    message: /Bearer <token>/,
  },
  {
    name: 'expired (beyond the clock skew)',
    headers: async () => bearer(await api.issuer.mint('bob', { expiresInSeconds: -120 })),
    status: 401,
    error: 'token_expired',
    message: /expired/,
  },
  {
    name: 'not valid yet (beyond the clock skew)',
    headers: async () => bearer(await api.issuer.mint('bob', { notBeforeInSeconds: 600 })),
    status: 401,
    error: 'token_not_yet_valid',
    message: /not valid yet/,
  },
  {
    name: 'wrong issuer',
    headers: async () => bearer(await api.issuer.mint('bob', { issuer: 'https://login.evil.example' })),
    status: 401,
    error: 'token_wrong_issuer',
    message: /issuer/,
  },
  {
    name: 'wrong audience',
    headers: async () => bearer(await api.issuer.mint('bob', { audience: 'some-other-api' })),
    status: 401,
    error: 'token_wrong_audience',
    message: /audience/,
  },
  {
    name: 'bad signature (payload changed)',
    headers: async () => bearer(await tamperedToken(api.issuer)),
    status: 401,
    error: 'token_bad_signature',
    message: /signature/,
  },
  { name: 'unknown signing key', headers: async () => bearer(await rogueKeyToken(api.issuer)), status: 401, error: 'token_unknown_key', message: /key/ },
  {
    name: 'unsigned (alg none)',
    headers: async () =>
      bearer(
        new UnsecuredJWT({ roles: ['approver'] })
          .setIssuer(api.issuer.issuer)
          .setAudience(api.issuer.audience)
          .setSubject(DEV_USERS.bob.subject)
          .setExpirationTime('5m')
          .encode(),
      ),
    status: 401,
    error: 'token_bad_algorithm',
    message: /algorithm/,
  },
  {
    name: 'expired, through the proxy header',
    headers: async () => ({ 'x-forwarded-access-token': await api.issuer.mint('bob', { expiresInSeconds: -120 }) }),
    status: 401,
    error: 'token_expired',
    message: /expired/,
  },
  {
    name: 'bearer and proxy header disagree',
    headers: async () => ({ ...bearer(await api.issuer.mint('bob')), 'x-forwarded-access-token': await api.issuer.mint('carol') }),
    status: 401,
    error: 'token_ambiguous',
    message: /different tokens/,
  },
  {
    name: 'no role at all (mallory)',
    headers: async () => bearer(await api.issuer.mint('mallory')),
    status: 403,
    error: 'missing_role',
    message: /needs the approver role.*dev\|mallory has no role/,
  },
  {
    name: 'requester only (alice)',
    headers: async () => bearer(await api.issuer.mint('alice')),
    status: 403,
    error: 'missing_role',
    message: /needs the approver role.*dev\|alice has requester/,
  },
  {
    name: 'operator only (carol)',
    headers: async () => bearer(await api.issuer.mint('carol')),
    status: 403,
    error: 'missing_role',
    message: /needs the approver role.*dev\|carol has operator/,
  },
];

describe('a waiting run is untouched by every refused approve', () => {
  let store: Awaited<ReturnType<typeof seedStoreVia>>;
  beforeAll(async () => {
    store = await seedStoreVia(api.h.emulator.admin, { enabled: 2 });
    const started = await api.call('alice', 'POST', '/v1/decommissions', {
      customKeyStoreId: store.storeId,
      pendingWindowInDays: 7,
      timing: fastInput(store.storeId).timing,
    });
    expect(started.status).toBe(201);
    await waitForPhase(api.h, store.storeId, 'AWAITING_APPROVAL');
  });

  test.each(approveRefusals().map((c) => [c.name, c] as const))('%s → refused with the reason', async (_name, c) => {
    const response = await api.call({ headers: await c.headers() }, 'POST', `/v1/decommissions/${store.storeId}/approve`, { comment: 'approve' });
    expect(response.status).toBe(c.status);
    expect(response.body).toEqual({ error: c.error, message: expect.stringMatching(c.message) });
    if (c.status === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    // The answer never repeats a token.
    expect(response.text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  test('…and after all of them the run still awaits approval, approved by nobody, with no KMS change', async () => {
    const status = await api.call('bob', 'GET', `/v1/decommissions/${store.storeId}`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ phase: 'AWAITING_APPROVAL', requestedBy: DEV_USERS.alice.subject });
    expect(status.body.approvedBy).toBeUndefined();
    expect(await mutatingCalls(api.h, store)).toEqual([]);
  });

  test('a body naming the approver (even the caller) or a signature is refused, naming the field; nothing changes', async () => {
    for (const body of [{ approver: DEV_USERS.bob.subject }, { approver: 'someone-else', comment: 'x' }, { signature: 'a.b.c' }]) {
      const response = await api.call('bob', 'POST', `/v1/decommissions/${store.storeId}/approve`, body);
      expect(response.status).toBe(400);
      const field = Object.keys(body)[0];
      expect(response.body).toMatchObject({
        error: 'invalid_request',
        problems: [{ field, rule: expect.stringMatching(/not accepted from the request body/) }],
      });
    }
    const cancel = await api.call('bob', 'POST', `/v1/decommissions/${store.storeId}/cancel`, { by: DEV_USERS.alice.subject, reason: 'as alice' });
    expect(cancel.status).toBe(400);
    expect(cancel.body.problems).toEqual([{ field: 'by', rule: expect.stringMatching(/the API sets it to your verified identity/) }]);
    expect((await api.h.decommissions.getStatus(store.storeId)).phase).toBe('AWAITING_APPROVAL');
  });

  test('a role check comes before the body: mallory learns nothing about the body rules', async () => {
    const response = await api.call('mallory', 'POST', `/v1/decommissions/${store.storeId}/cancel`, { nonsense: true });
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('missing_role');
  });

  test('a resolution that deletes or may orphan key material needs the approver role, not only the operator’s', async () => {
    for (const action of ['proceed', 'schedule-new-keys', 'reschedule']) {
      const response = await api.call('carol', 'POST', `/v1/decommissions/${store.storeId}/resolve`, { action, blockerId: 'STORE_NOT_CONNECTED-1' });
      expect([action, response.status, response.body.error]).toEqual([action, 403, 'missing_role']);
      expect(response.body.message).toMatch(/needs the approver role/);
    }
    // Other resolutions are the operator's: carol reaches the workflow, which has no blocker to resolve.
    const reconnect = await api.call('carol', 'POST', `/v1/decommissions/${store.storeId}/resolve`, {
      action: 'reconnect',
      blockerId: 'STORE_NOT_CONNECTED-1',
    });
    expect([reconnect.status, reconnect.body.error]).toEqual([409, 'rejected']);
    expect((await api.h.decommissions.getStatus(store.storeId)).phase).toBe('AWAITING_APPROVAL');
  });

  test('reads need a valid token too', async () => {
    for (const path of ['/v1/decommissions', `/v1/decommissions/${store.storeId}`, `/v1/decommissions/${store.storeId}/report`]) {
      const response = await api.call({ token: await api.issuer.mint('bob', { audience: 'some-other-api' }) }, 'GET', path);
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('token_wrong_audience');
    }
    // Any verified identity may read, even without a role.
    expect((await api.call('mallory', 'GET', `/v1/decommissions/${store.storeId}`)).status).toBe(200);
  });
});

test('a refused start starts nothing: every bad token, and a start by someone without the requester role', async () => {
  const storeId = uniqueStoreId();
  const cases = approveRefusals().filter((c) => c.status === 401);
  for (const c of cases) {
    const response = await api.call({ headers: await c.headers() }, 'POST', '/v1/decommissions', { customKeyStoreId: storeId, dryRun: true });
    expect([c.name, response.status, response.body.error]).toEqual([c.name, 401, c.error]);
  }
  for (const user of ['bob', 'carol', 'mallory'] as const) {
    const response = await api.call(user, 'POST', '/v1/decommissions', { customKeyStoreId: storeId, dryRun: true });
    expect(response.status).toBe(403);
    expect(response.body.message).toMatch(/needs the requester role/);
  }
  const starting = await api.call('alice', 'POST', '/v1/decommissions', { customKeyStoreId: storeId, requestedBy: 'alice' });
  expect(starting.status).toBe(400);
  expect(starting.body.problems).toEqual([{ field: 'requestedBy', rule: expect.stringMatching(/not accepted/) }]);
  const status = await api.call('bob', 'GET', `/v1/decommissions/${storeId}`);
  expect(status.status).toBe(404);
  expect(status.body).toEqual({ error: 'not_found', message: `No decommission found with workflow ID ${workflowIdFor(storeId)}` });
  const listed = await api.call('bob', 'GET', `/v1/decommissions?store=${storeId}`);
  expect(listed.body.decommissions).toEqual([]);
});

describe('token verification settings (the authenticator alone)', () => {
  let issuer: RunningDevIssuer;
  beforeAll(async () => {
    issuer = await startDevIssuer({ alg: 'ES256' });
  });
  afterAll(async () => {
    await issuer?.close();
  });
  const request = (token: string) => ({ headers: { authorization: `Bearer ${token}` } }) as unknown as FastifyRequest;
  const refusal = async (promise: Promise<unknown>) => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  };

  test('roles from a dotted claim (Keycloak realm_access.roles) under the provider’s names', async () => {
    const auth = createAuthenticator({
      issuer: issuer.issuer,
      audience: [issuer.audience],
      jwks: issuer.jwks,
      rolesClaim: 'realm_access.roles',
      roleValues: { approver: ['kms-approvers'], operator: ['kms-operators', 'sre'] },
    });
    const token = await issuer.mint('mallory', { claims: { realm_access: { roles: ['kms-approvers', 'sre', 'offline_access'] } } });
    expect(await auth.authenticate(request(token))).toEqual({
      subject: DEV_USERS.mallory.subject,
      name: DEV_USERS.mallory.name,
      email: DEV_USERS.mallory.email,
      roles: ['approver', 'operator'],
    });
    // The plain `roles` claim means nothing once another claim is configured.
    expect((await auth.authenticate(request(await issuer.mint('bob')))).roles).toEqual([]);
    const err = await refusal(Promise.resolve().then(() => auth.requireRole({ subject: 'x', roles: [] }, 'approver')));
    expect(err.message).toMatch(/token claim realm_access.roles containing "kms-approvers"/);
  });

  test('a space-separated roles string (as some providers send groups) and a claim name with a colon (Cognito)', async () => {
    const auth = createAuthenticator({ issuer: issuer.issuer, audience: [issuer.audience], jwks: issuer.jwks, rolesClaim: 'cognito:groups' });
    const token = await issuer.mint('mallory', { claims: { 'cognito:groups': 'requester operator' } });
    expect((await auth.authenticate(request(token))).roles).toEqual(['requester', 'operator']);
  });

  test('clock skew: a token expired 30 s ago passes with the default 60 s tolerance, not with 0', async () => {
    const token = await issuer.mint('bob', { expiresInSeconds: -30 });
    const lenient = createAuthenticator({ issuer: issuer.issuer, audience: [issuer.audience], jwks: issuer.jwks });
    expect((await lenient.authenticate(request(token))).subject).toBe(DEV_USERS.bob.subject);
    const strict = createAuthenticator({ issuer: issuer.issuer, audience: [issuer.audience], jwks: issuer.jwks, clockToleranceSeconds: 0 });
    expect((await refusal(strict.authenticate(request(token)))).code).toBe('token_expired');
  });

  test('audience from another claim (Cognito access tokens: client_id)', async () => {
    const auth = createAuthenticator({ issuer: issuer.issuer, audience: ['app-client-1'], audienceClaim: 'client_id', jwks: issuer.jwks });
    expect((await auth.authenticate(request(await issuer.mint('bob', { claims: { client_id: 'app-client-1' } })))).subject).toBe(DEV_USERS.bob.subject);
    expect((await refusal(auth.authenticate(request(await issuer.mint('bob', { claims: { client_id: 'app-client-2' } }))))).code).toBe('token_wrong_audience');
  });

  test('a token without a subject is refused', async () => {
    const auth = createAuthenticator({ issuer: issuer.issuer, audience: [issuer.audience], jwks: issuer.jwks });
    expect((await refusal(auth.authenticate(request(await issuer.mint('bob', { claims: { sub: '' } }))))).code).toMatch(/token_invalid/);
  });

  test('JWKS from discovery or a URL; an unreachable or lying issuer is a 503, never a pass', async () => {
    const discovered = createAuthenticator({ issuer: issuer.issuer, audience: [issuer.audience] });
    expect((await discovered.authenticate(request(await issuer.mint('carol')))).roles).toEqual(['operator']);
    const byUrl = createAuthenticator({ issuer: issuer.issuer, audience: [issuer.audience], jwksUrl: issuer.jwksUrl });
    expect((await byUrl.authenticate(request(await issuer.mint('carol')))).subject).toBe(DEV_USERS.carol.subject);
    // The discovery document names another issuer than the one configured: its keys are not trusted.
    const other = await startDevIssuer();
    try {
      const mismatched = createAuthenticator({ issuer: `${other.issuer}/`, audience: [issuer.audience] });
      const err = await refusal(mismatched.authenticate(request(await other.mint('bob', { issuer: `${other.issuer}/` }))));
      expect([err.statusCode, err.code]).toEqual([503, 'identity_provider_unavailable']);
    } finally {
      await other.close();
    }
    const unreachable = createAuthenticator({ issuer: 'http://127.0.0.1:9', audience: [issuer.audience] });
    const down = await refusal(unreachable.authenticate(request(await issuer.mint('bob'))));
    expect([down.statusCode, down.code]).toEqual([503, 'identity_provider_unavailable']);
  });

  test('the development issuer: discovery, JWKS, and tokens only for its fixed users', async () => {
    const discovery = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ issuer: issuer.issuer, jwks_uri: issuer.jwksUrl, id_token_signing_alg_values_supported: ['ES256'] });
    const jwks = (await (await fetch(issuer.jwksUrl)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const minted = await fetch(`${issuer.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'dave' }),
    });
    const { access_token: token } = (await minted.json()) as { access_token: string };
    const auth = createAuthenticator({ issuer: issuer.issuer, audience: [issuer.audience], jwks: issuer.jwks });
    expect(await auth.authenticate(request(token))).toMatchObject({ subject: 'dev|dave', roles: ['requester', 'approver'] });
    const unknown = await fetch(`${issuer.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'root' }),
    });
    expect(unknown.status).toBe(400);
  });
});
