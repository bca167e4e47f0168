import { createDecisionVerifier, generateDecisionKeyPair, importDecisionSigningKey, signDecision, type DecisionSigningKey } from '../../src/decisions/signing';
import { withoutSignature, type DecisionKind } from '../../src/shared/decisions';
import { workflowIdFor } from '../../src/shared/messages';
import { startHarness, type Harness, type HarnessOptions } from './harness';

/** Deviations from what the portal API signs, for tests that forge. */
export interface SignOptions {
  ttlSeconds?: number;
  /** The decommission the decision names (default: the store's current one, from its status, as the API reads it). */
  run?: string;
  /** The workflow the decision names (default: the store's). */
  workflowId?: string;
}

/**
 * What the portal API does (`src/api/decisions.ts`): the identity field is the subject, the request is signed
 * without its `signature`, and every decision but the start names the store's current decommission.
 */
export async function signedAsPortal<R extends object>(
  h: Pick<Harness, 'decommissions'>,
  key: DecisionSigningKey,
  kind: DecisionKind,
  storeId: string,
  sub: string,
  request: R,
  options: SignOptions = {},
): Promise<R & { signature: string }> {
  const run = kind === 'start' ? undefined : (options.run ?? (await h.decommissions.getStatus(storeId)).firstRunId);
  const claims = {
    kind,
    workflowId: options.workflowId ?? workflowIdFor(storeId),
    ...(run ? { run } : {}),
    sub,
    name: `${sub}@example.com`,
    request: withoutSignature(request) as Record<string, unknown>,
  };
  return { ...request, signature: await signDecision(key, claims, options.ttlSeconds) };
}

/** A deployment that requires signed decisions and trusts one portal key, with a signer for that key. */
export interface SignedDeployment {
  h: Harness;
  /** {@link signedAsPortal} with the deployment's portal key. */
  sign<R extends object>(kind: DecisionKind, storeId: string, sub: string, request: R, options?: SignOptions): Promise<R & { signature: string }>;
}

/** Starts a harness whose worker requires signed decisions (four-eyes, approval required) and trusts a fresh portal key. */
export async function startSignedDeployment(options: HarnessOptions = {}): Promise<SignedDeployment> {
  const pair = await generateDecisionKeyPair('api-1');
  const key = await importDecisionSigningKey(pair.privateJwk);
  const h = await startHarness({
    ...options,
    deps: {
      policy: { requireApproval: true, allowSelfApproval: false, requireSignedDecisions: true },
      verifyDecision: createDecisionVerifier(pair.publicJwks),
      ...options.deps,
    },
  });
  return { h, sign: (kind, storeId, sub, request, signOptions) => signedAsPortal(h, key, kind, storeId, sub, request, signOptions) };
}
