import type { FastifyRequest } from 'fastify';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ApiError, ROLES, type Identity, type Role } from './context';

/**
 * Who the caller is, from an OIDC/JWT access token: `Authorization: Bearer <token>`, or the same token in the
 * header an authenticating proxy sets (oauth2-proxy's `X-Forwarded-Access-Token`). Either way the token itself
 * is verified here (signature against the issuer's JWKS, issuer, audience, expiry), so a forged proxy header
 * gains nothing. Tokens are never logged nor echoed in an error.
 */

/** How tokens are verified and roles read. See the README, "Portal HTTP API", for real identity providers. */
export interface AuthConfig {
  /** The token's expected `iss`, exactly (`API_ISSUER`). */
  issuer: string;
  /** Accepted audiences: the token's `aud` (or {@link audienceClaim}) must hold one (`API_AUDIENCE`, comma-separated). */
  audience: string[];
  /**
   * The claim holding the audience. Default `aud`. Cognito access tokens carry no `aud`, only `client_id`:
   * `API_AUDIENCE_CLAIM=client_id` checks that claim instead.
   */
  audienceClaim?: string;
  /** The issuer's JWKS URL (`API_JWKS_URL`); default: `jwks_uri` of the issuer's OpenID discovery document. */
  jwksUrl?: string;
  /** A fixed JWKS (`API_JWKS_FILE`; tests and air-gapped setups): no network at all. Wins over `jwksUrl`. */
  jwks?: JSONWebKeySet;
  /** Claim with the caller's roles; dots walk into objects (`realm_access.roles` for Keycloak). Default `roles`. */
  rolesClaim?: string;
  /** Claim values granting each role (`API_ROLE_REQUESTER`, …). Default: the role's own name. */
  roleValues?: Partial<Record<Role, string[]>>;
  /** Header an authenticating proxy puts the access token in; `''` turns it off. Default `x-forwarded-access-token`. */
  proxyTokenHeader?: string;
  /** Clock skew allowed on `exp`/`nbf`/`iat`, seconds. Default 60. */
  clockToleranceSeconds?: number;
  /** Accepted signature algorithms. Default: the asymmetric ones OIDC providers use (never `none` nor HMAC). */
  algorithms?: string[];
}

export const DEFAULT_PROXY_TOKEN_HEADER = 'x-forwarded-access-token';
export const DEFAULT_ROLES_CLAIM = 'roles';
const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** What the API needs of an authenticator: the two functions of {@link ApiContext}. */
export interface Authenticator {
  authenticate(request: FastifyRequest): Promise<Identity>;
  requireRole(identity: Identity, role: Role): void;
  /** What each role needs in the token, for messages and documentation. */
  describeRole(role: Role): string;
}

/** Builds the authenticator. Nothing is fetched until the first request (discovery, then the JWKS, both cached). */
export function createAuthenticator(config: AuthConfig): Authenticator {
  if (!config.issuer) throw new Error('API_ISSUER is required: the issuer whose tokens the API accepts');
  if (config.audience.length === 0) throw new Error('API_AUDIENCE is required: the audience (client ID or API identifier) tokens must be issued for');
  const rolesClaim = config.rolesClaim || DEFAULT_ROLES_CLAIM;
  const proxyHeader = (config.proxyTokenHeader ?? DEFAULT_PROXY_TOKEN_HEADER).toLowerCase();
  const audienceClaim = config.audienceClaim || 'aud';
  const roleValues = Object.fromEntries(ROLES.map((role) => [role, config.roleValues?.[role]?.length ? config.roleValues[role] : [role]])) as Record<
    Role,
    string[]
  >;
  const keys = keySource(config);

  async function verify(token: string): Promise<JWTPayload> {
    let getKey: JWTVerifyGetKey;
    try {
      getKey = await keys();
    } catch (err) {
      throw new ApiError(503, 'identity_provider_unavailable', `cannot read the issuer's signing keys: ${describe(err)}`);
    }
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: config.issuer,
        ...(audienceClaim === 'aud' ? { audience: config.audience } : {}),
        algorithms: config.algorithms ?? DEFAULT_ALGORITHMS,
        clockTolerance: config.clockToleranceSeconds ?? 60,
        requiredClaims: ['exp', 'sub'],
      });
      return payload;
    } catch (err) {
      throw tokenError(err);
    }
  }

  return {
    async authenticate(request) {
      const token = tokenOf(request, proxyHeader);
      const payload = await verify(token);
      if (audienceClaim !== 'aud' && !config.audience.includes(String(payload[audienceClaim])))
        throw unauthorized('token_wrong_audience', `the token's ${audienceClaim} is not one this API accepts (${config.audience.join(', ')})`);
      const subject = payload.sub;
      if (typeof subject !== 'string' || subject.trim() === '') throw unauthorized('token_invalid', 'the token names no subject (sub)');
      const granted = claimValues(payload, rolesClaim);
      const name = stringClaim(payload, 'name') ?? stringClaim(payload, 'preferred_username');
      const email = stringClaim(payload, 'email');
      return {
        subject,
        ...(name ? { name } : {}),
        ...(email ? { email } : {}),
        roles: ROLES.filter((role) => roleValues[role].some((value) => granted.includes(value))),
      };
    },
    requireRole(identity, role) {
      if (!identity.roles.includes(role))
        throw new ApiError(
          403,
          'missing_role',
          `this needs the ${role} role (${describeRole(role)}); ${identity.subject} has ${identity.roles.length ? identity.roles.join(', ') : 'no role'}`,
        );
    },
    describeRole,
  };

  function describeRole(role: Role): string {
    return `token claim ${rolesClaim} containing ${roleValues[role].map((v) => `"${v}"`).join(' or ')}`;
  }
}

/** The token of a request: the bearer token, else the proxy's header. Two different tokens are refused (which one would be meant?). */
function tokenOf(request: FastifyRequest, proxyHeader: string): string {
  const authorization = request.headers.authorization;
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) throw unauthorized('token_malformed', 'the Authorization header must be "Bearer <token>"');
    bearer = match[1];
  }
  const proxied = proxyHeader ? headerValue(request, proxyHeader) : undefined;
  if (bearer && proxied && bearer !== proxied) throw unauthorized('token_ambiguous', `the Authorization header and ${proxyHeader} carry different tokens`);
  const token = bearer ?? proxied;
  if (!token)
    throw unauthorized(
      'token_missing',
      `no token: send "Authorization: Bearer <token>"${proxyHeader ? ` (or sign in through the proxy that sets ${proxyHeader})` : ''}`,
    );
  return token;
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const raw = request.headers[name];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  return value ? value.replace(/^Bearer\s+/i, '') : undefined;
}

/** Where the keys come from: a fixed JWKS, a configured URL, or the issuer's discovery document (retried on the next request after a failure). */
function keySource(config: AuthConfig): () => Promise<JWTVerifyGetKey> {
  if (config.jwks) {
    const local = createLocalJWKSet(config.jwks);
    return async () => local;
  }
  let remote: Promise<JWTVerifyGetKey> | undefined;
  return () => {
    remote ??= (async () => createRemoteJWKSet(new URL(config.jwksUrl ?? (await discoverJwksUri(config.issuer))), { timeoutDuration: 5000 }))();
    remote.catch(() => (remote = undefined));
    return remote;
  };
}

/** `jwks_uri` from `<issuer>/.well-known/openid-configuration`, whose `issuer` must be the configured one. */
export async function discoverJwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const doc = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, not the configured ${issuer}`);
  if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
  return doc.jwks_uri;
}

/** A 401 with the reason; `WWW-Authenticate` is added by the error handler. */
function unauthorized(code: string, message: string): ApiError {
  return new ApiError(401, code, message);
}

/** Maps jose's verdict to a 401 a person can act on. The token itself never appears in the message. */
function tokenError(err: unknown): ApiError {
  if (err instanceof errors.JWTExpired) return unauthorized('token_expired', 'the token has expired; sign in again');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return unauthorized('token_wrong_issuer', 'the token was issued by an issuer this API does not trust');
    if (err.claim === 'aud') return unauthorized('token_wrong_audience', 'the token was issued for another audience');
    if (err.claim === 'nbf') return unauthorized('token_not_yet_valid', 'the token is not valid yet (nbf)');
    return unauthorized('token_invalid', `the token's ${err.claim} claim ${err.reason === 'missing' ? 'is missing' : 'is invalid'}`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('token_bad_signature', 'the token signature does not verify');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return unauthorized('token_unknown_key', "the token is signed with a key the issuer's JWKS does not hold");
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthorized('token_bad_algorithm', 'the token is signed with an algorithm this API does not accept');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid)
    return new ApiError(503, 'identity_provider_unavailable', `cannot read the issuer's signing keys: ${describe(err)}`);
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported)
    return unauthorized('token_malformed', 'the token is not a well-formed signed JWT');
  // Not jose's verdict on the token: fetching or reading the JWKS failed.
  if (!(err instanceof errors.JOSEError)) return new ApiError(503, 'identity_provider_unavailable', `cannot read the issuer's signing keys: ${describe(err)}`);
  return unauthorized('token_invalid', 'the token was not accepted');
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * The values of a (dotted) claim: an array of strings, or one string of space- or comma-separated values (as some
 * providers put groups or scopes). A dotted path is first tried as one claim name (`cognito:groups` has no dot,
 * but some claim names are URLs with dots).
 */
export function claimValues(payload: Record<string, unknown>, claim: string): string[] {
  let value: unknown = claim in payload ? payload[claim] : payload;
  if (!(claim in payload))
    for (const part of claim.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return [];
}
