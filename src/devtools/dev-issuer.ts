/**
 * A development OIDC issuer for the demo and the tests: an OpenID discovery document, a JWKS, and `POST /token`
 * minting short-lived access tokens for a few fixed identities with roles. It signs whatever it is asked to
 * sign, for anyone who can reach it: never run it anywhere but a developer's machine or a test.
 *
 * `npm run dev-issuer` (env: DEV_ISSUER_PORT, default 9400; DEV_ISSUER_HOST, default 127.0.0.1) also makes sure
 * development decision-signing keys exist (see `dev-decision-keys.ts`) and prints the settings for the API and
 * the worker. Tests start it in-process with {@link startDevIssuer}.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Role } from '../api/context';
import { DEV_KEYS_DIR, ensureDevDecisionKeys } from './dev-decision-keys';

/** A fixed development identity. `subject` is what four-eyes compares; the name is only for people to read. */
export interface DevUser {
  subject: string;
  name: string;
  email: string;
  roles: Role[];
}

/**
 * The development identities. `dave` holds both requester and approver: the four-eyes rule still stops him
 * approving his own request, because the workflow compares subjects, not roles.
 */
export const DEV_USERS = {
  alice: { subject: 'dev|alice', name: 'Alice Archer', email: 'alice@example.test', roles: ['requester'] },
  bob: { subject: 'dev|bob', name: 'Bob Baker', email: 'bob@example.test', roles: ['approver', 'operator'] },
  carol: { subject: 'dev|carol', name: 'Carol Cole', email: 'carol@example.test', roles: ['operator'] },
  dave: { subject: 'dev|dave', name: 'Dave Dual', email: 'dave@example.test', roles: ['requester', 'approver'] },
  mallory: { subject: 'dev|mallory', name: 'Mallory Moss', email: 'mallory@example.test', roles: [] },
} as const satisfies Record<string, DevUser>;

export type DevUserName = keyof typeof DEV_USERS;

/** The audience the dev issuer's tokens are for, unless told otherwise (`API_AUDIENCE` of a dev API). */
export const DEV_AUDIENCE = 'kms-decommission-api';

export interface DevIssuerOptions {
  port?: number;
  host?: string;
  /** Signature algorithm of the tokens. Default RS256 (what most providers use). */
  alg?: 'RS256' | 'ES256';
  audience?: string;
  /** Lifetime of minted tokens, seconds. Default 300. */
  tokenTtlSeconds?: number;
  /** Keep the signing key in this directory across restarts (the standalone issuer); default: a fresh key per start. */
  keyDir?: string;
}

/** Claims a test may override to mint a token the API must refuse. */
export interface MintOverrides {
  issuer?: string;
  audience?: string | string[];
  /** Seconds from now; negative mints an expired token. */
  expiresInSeconds?: number;
  notBeforeInSeconds?: number;
  /** Extra or replaced claims (e.g. another roles claim, or `sub`). */
  claims?: Record<string, unknown>;
}

export interface RunningDevIssuer {
  /** The issuer URL (`API_ISSUER`), e.g. `http://127.0.0.1:9400`. */
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** The public keys, as served on `/jwks.json`. */
  jwks: { keys: JWK[] };
  /** Mints a token for a development identity (in-process; `POST /token` does the same without overrides). */
  mint(user: DevUserName, overrides?: MintOverrides): Promise<string>;
  close(): Promise<void>;
}

/** Starts the issuer on `port` (0 or absent: a free port). */
export async function startDevIssuer(options: DevIssuerOptions = {}): Promise<RunningDevIssuer> {
  const alg = options.alg ?? 'RS256';
  const audience = options.audience ?? DEV_AUDIENCE;
  const ttl = options.tokenTtlSeconds ?? 300;
  const { privateKey, publicJwk } = await signingKey(alg, options.keyDir);
  let issuer = '';

  const mint = async (user: DevUserName, overrides: MintOverrides = {}): Promise<string> => {
    const who: DevUser = DEV_USERS[user];
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ sub: who.subject, name: who.name, email: who.email, preferred_username: user, roles: [...who.roles], ...overrides.claims })
      .setProtectedHeader({ alg, kid: publicJwk.kid, typ: 'JWT' })
      .setIssuer(overrides.issuer ?? issuer)
      .setAudience(overrides.audience ?? audience)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + (overrides.expiresInSeconds ?? ttl));
    if (overrides.notBeforeInSeconds !== undefined) jwt.setNotBefore(now + overrides.notBeforeInSeconds);
    return jwt.sign(privateKey);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: 'server_error', error_description: err instanceof Error ? err.message : String(err) }));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration')
      return send(res, 200, {
        issuer,
        jwks_uri: `${issuer}/jwks.json`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [alg],
        claims_supported: ['sub', 'name', 'email', 'preferred_username', 'roles'],
      });
    if (req.method === 'GET' && url.pathname === '/jwks.json') return send(res, 200, { keys: [publicJwk] });
    if (req.method === 'POST' && url.pathname === '/token') {
      const user = await requestedUser(req);
      if (!user || !Object.hasOwn(DEV_USERS, user))
        return send(res, 400, { error: 'invalid_request', error_description: `user must be one of ${Object.keys(DEV_USERS).join(', ')}` });
      return send(res, 200, { access_token: await mint(user as DevUserName), token_type: 'Bearer', expires_in: ttl });
    }
    return send(res, 404, { error: 'not_found' });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  issuer = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    issuer,
    audience,
    jwksUrl: `${issuer}/jwks.json`,
    jwks: { keys: [publicJwk] },
    mint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function signingKey(alg: 'RS256' | 'ES256', keyDir: string | undefined): Promise<{ privateKey: KeyLike | Uint8Array; publicJwk: JWK }> {
  const file = keyDir ? path.join(keyDir, `dev-issuer-${alg}.private.jwk.json`) : undefined;
  if (file && existsSync(file)) {
    const jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
    return { privateKey: await importJWK(jwk, alg), publicJwk };
  }
  const pair = await generateKeyPair(alg, { extractable: true });
  const kid = `dev-issuer-${randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  if (file) {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, JSON.stringify({ ...(await exportJWK(pair.privateKey)), kid, alg, use: 'sig' }), { mode: 0o600 });
  }
  return { privateKey: pair.privateKey, publicJwk };
}

/** `user` from a JSON or form body, or the query string. */
async function requestedUser(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 4096) return undefined;
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks).toString('utf8');
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/json') && body) {
    try {
      const parsed = JSON.parse(body) as { user?: unknown };
      return typeof parsed.user === 'string' ? parsed.user : undefined;
    } catch {
      return undefined;
    }
  }
  return new URLSearchParams(body).get('user') ?? new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function main(): Promise<void> {
  const port = Number(process.env.DEV_ISSUER_PORT ?? 9400);
  const issuer = await startDevIssuer({ port, host: process.env.DEV_ISSUER_HOST ?? '127.0.0.1', keyDir: DEV_KEYS_DIR });
  const keys = await ensureDevDecisionKeys();
  const lines = [
    `Development OIDC issuer at ${issuer.issuer} (DEVELOPMENT ONLY: it mints a token for anyone who asks)`,
    `  users: ${Object.entries(DEV_USERS)
      .map(([user, u]) => `${user} (${u.roles.join('+') || 'no role'})`)
      .join(', ')}`,
    `  token: curl -s -X POST ${issuer.issuer}/token -H 'content-type: application/json' -d '{"user":"alice"}'`,
    '',
    'API:    API_ISSUER=' + issuer.issuer + ' API_AUDIENCE=' + issuer.audience + ' DECISION_SIGNING_KEY_FILE=' + keys.signingKeyFile + ' npm run api',
    'Worker: DECOMMISSION_REQUIRE_SIGNED_DECISIONS=true DECISION_VERIFY_JWKS_FILE=' + keys.verifyJwksFile + ' npm run worker',
  ];
  console.log(lines.join('\n'));
  const stop = (): void => {
    void issuer.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
