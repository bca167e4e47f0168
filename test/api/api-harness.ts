import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import type { AuthConfig } from '../../src/api/auth';
import { buildApiServer, createApiContext } from '../../src/api/server';
import { createDecisionVerifier, generateDecisionKeyPair, importDecisionSigningKey } from '../../src/decisions/signing';
import { startDevIssuer, type DevUserName, type RunningDevIssuer } from '../../src/devtools/dev-issuer';
import { startHarness, type Harness, type HarnessOptions } from '../support/harness';

/** The portal API as a portal sees it: a real HTTP server over a real worker, dev server and emulator. */
export interface ApiHarness {
  h: Harness;
  issuer: RunningDevIssuer;
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The worker's side of the decision-signing key pair (the API holds the private half). */
  decisionJwks: { keys: JWK[] };
  /** An HTTP call as a development user (or with a raw token / no token). */
  call(who: DevUserName | { token?: string; headers?: Record<string, string> }, method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer>;
  close(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when the answer is not JSON. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface ApiHarnessOptions {
  harness?: HarnessOptions;
  /** Overrides of the API's token verification (default: the dev issuer found by discovery). */
  auth?: Partial<AuthConfig>;
  /** Sign decisions (default true). */
  sign?: boolean;
  /** The worker requires signed decisions (DECOMMISSION_REQUIRE_SIGNED_DECISIONS) and trusts the API's key. */
  requireSignedDecisions?: boolean;
}

/** Starts the worker harness, a development issuer, and the API listening on a free port. */
export async function startApiHarness(options: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const { privateJwk, publicJwks } = await generateDecisionKeyPair();
  const harness = options.harness ?? {};
  const h = await startHarness(
    options.requireSignedDecisions
      ? {
          ...harness,
          deps: {
            ...harness.deps,
            policy: { requireApproval: true, allowSelfApproval: false, ...harness.deps?.policy, requireSignedDecisions: true },
            verifyDecision: createDecisionVerifier(publicJwks),
          },
        }
      : harness,
  );
  const issuer = await startDevIssuer();
  const ctx = createApiContext(h.decommissions, {
    auth: { issuer: issuer.issuer, audience: [issuer.audience], ...options.auth },
    signingKey: options.sign === false ? undefined : await importDecisionSigningKey(privateJwk),
    portalUrl: 'http://portal.example.test',
    temporalUiUrl: 'http://temporal-ui.example.test',
    namespace: 'default',
  });
  const app = await buildApiServer(ctx, { logger: false, pages: false });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const call: ApiHarness['call'] = async (who, method, path, body) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (typeof who === 'string') headers.authorization = `Bearer ${await issuer.mint(who)}`;
    else {
      if (who.token) headers.authorization = `Bearer ${who.token}`;
      Object.assign(headers, who.headers);
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed, text };
  };
  return {
    h,
    issuer,
    app,
    url,
    decisionJwks: publicJwks,
    call,
    async close() {
      await app.close();
      await issuer.close();
      await h.close();
    },
  };
}
