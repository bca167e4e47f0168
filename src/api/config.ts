import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import type { AuthConfig } from './auth';
import { ROLES, type Role } from './context';

/** The portal API's settings, from the environment (see the README, "Portal HTTP API"). Temporal's own come from `@temporalio/envconfig`. */
export interface ApiConfig {
  host: string;
  port: number;
  auth: AuthConfig;
  /** `DECISION_SIGNING_KEY_FILE`: the API's private decision-signing JWK. Absent: decisions are sent unsigned. */
  signingKeyFile?: string;
  /** `DECOMMISSION_PORTAL_URL`: where the approval pages are (default: this API's own address). */
  portalUrl?: string;
  /** `TEMPORAL_UI_URL`: the Temporal Web UI, for links to a run. */
  temporalUiUrl?: string;
  /** `TEMPORAL_NAMESPACE` (default `default`), for Web UI links. */
  namespace: string;
  /** `TASK_QUEUE` (default `kms-decommission`): the worker's task queue, as for the worker and the CLI. */
  taskQueue?: string;
}

const ROLE_ENV: Record<Role, string> = { requester: 'API_ROLE_REQUESTER', approver: 'API_ROLE_APPROVER', operator: 'API_ROLE_OPERATOR' };

/** Reads {@link ApiConfig}; a missing or malformed setting throws an Error naming the variable. */
export function apiConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const required = (name: string, why: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new Error(`${name} is required: ${why}`);
    return value;
  };
  const list = (name: string): string[] | undefined => {
    const values = env[name]
      ?.split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    return values?.length ? values : undefined;
  };
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const jwksFile = env.API_JWKS_FILE?.trim();
  let jwks: JSONWebKeySet | undefined;
  if (jwksFile) {
    try {
      jwks = JSON.parse(readFileSync(jwksFile, 'utf8')) as JSONWebKeySet;
    } catch (err) {
      throw new Error(`API_JWKS_FILE: cannot read a JWKS from ${jwksFile}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!Array.isArray(jwks.keys)) throw new Error(`API_JWKS_FILE: ${jwksFile} has no "keys" array`);
  }
  return {
    host: env.API_HOST?.trim() || '127.0.0.1',
    port: number('API_PORT', 8080, 0, 65535),
    auth: {
      issuer: required('API_ISSUER', "the OIDC issuer whose tokens the API accepts (the token's iss, exactly)"),
      audience: list('API_AUDIENCE') ?? required('API_AUDIENCE', 'the audience tokens must be issued for (client ID or API identifier)').split(','),
      audienceClaim: env.API_AUDIENCE_CLAIM?.trim() || undefined,
      jwksUrl: env.API_JWKS_URL?.trim() || undefined,
      jwks,
      rolesClaim: env.API_ROLES_CLAIM?.trim() || undefined,
      roleValues: Object.fromEntries(ROLES.map((role) => [role, list(ROLE_ENV[role])]).filter(([, values]) => values)),
      proxyTokenHeader: env.API_PROXY_TOKEN_HEADER?.trim(),
      clockToleranceSeconds: number('API_CLOCK_TOLERANCE_SECONDS', 60, 0, 600),
    },
    signingKeyFile: env.DECISION_SIGNING_KEY_FILE?.trim() || undefined,
    portalUrl: env.DECOMMISSION_PORTAL_URL?.trim() || undefined,
    temporalUiUrl: env.TEMPORAL_UI_URL?.trim() || undefined,
    namespace: env.TEMPORAL_NAMESPACE?.trim() || 'default',
    taskQueue: env.TASK_QUEUE?.trim() || undefined,
  };
}
