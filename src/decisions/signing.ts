import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, errors, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK, type JWTPayload, type KeyLike } from 'jose';
import {
  DECISION_AUDIENCE,
  DECISION_ISSUER,
  DECISION_SUBJECT_FIELD,
  DECISION_TTL_SECONDS,
  canonicalJson,
  type DecisionClaims,
  type VerifyDecisionInput,
  type VerifyDecisionResult,
} from '../shared/decisions';

/** The algorithm of decision signatures: Ed25519 (small keys, deterministic signatures, no parameter choices). */
export const DECISION_ALG = 'EdDSA';

/** The API's private signing key. Held by the API only; the worker holds the public half. */
export interface DecisionSigningKey {
  kid: string;
  key: KeyLike | Uint8Array;
}

/** A fresh Ed25519 key pair: the private JWK for the API, the public JWKS for the worker. */
export async function generateDecisionKeyPair(kid = `decisions-${randomUUID().slice(0, 8)}`): Promise<{ privateJwk: JWK; publicJwks: { keys: JWK[] } }> {
  const { privateKey, publicKey } = await generateKeyPair(DECISION_ALG, { crv: 'Ed25519', extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: DECISION_ALG, use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: DECISION_ALG, use: 'sig' };
  return { privateJwk, publicJwks: { keys: [publicJwk] } };
}

/** Imports the API's private JWK (from `DECISION_SIGNING_KEY_FILE`). */
export async function importDecisionSigningKey(privateJwk: JWK): Promise<DecisionSigningKey> {
  if (!privateJwk.d) throw new Error('DECISION_SIGNING_KEY: the JWK has no private part ("d"); the API signs with the private key');
  if (!privateJwk.kid) throw new Error('DECISION_SIGNING_KEY: the JWK needs a "kid", so workers can pick the key when keys rotate');
  return { kid: privateJwk.kid, key: await importJWK(privateJwk, DECISION_ALG) };
}

/** Signs a decision: a compact JWS the workflow verifies before it acts on the request. */
export async function signDecision(signingKey: DecisionSigningKey, claims: DecisionClaims, ttlSeconds = DECISION_TTL_SECONDS): Promise<string> {
  if (claims.kind !== 'start' && !claims.run) throw new Error(`a ${claims.kind} decision is signed for one run: its run (status.firstRunId) is required`);
  return new SignJWT({
    kind: claims.kind,
    workflowId: claims.workflowId,
    ...(claims.run ? { run: claims.run } : {}),
    request: claims.request,
    ...(claims.name ? { name: claims.name } : {}),
  })
    .setProtectedHeader({ alg: DECISION_ALG, kid: signingKey.kid, typ: 'kms-decommission-decision+jwt' })
    .setIssuer(DECISION_ISSUER)
    .setAudience(DECISION_AUDIENCE)
    .setSubject(claims.sub)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(signingKey.key);
}

/** The keys a worker trusts for decision signatures: a public JWKS (`DECISION_VERIFY_JWKS`). */
export type DecisionVerifier = (input: VerifyDecisionInput) => Promise<VerifyDecisionResult>;

/**
 * Builds the verifier of the `verifyDecision` activity. Checks, in order: signature and key (kid), issuer,
 * audience, expiry at the moment the workflow received the decision (with `clockToleranceSeconds`), the
 * kind and the run, that the signed request is the received one, and that the request's identity field is
 * the signature's subject. Any failure is an answer `{valid: false, reason}`, never an exception.
 */
export function createDecisionVerifier(jwks: { keys: JWK[] }, options: { clockToleranceSeconds?: number } = {}): DecisionVerifier {
  if (jwks.keys.some((k) => k.d !== undefined)) throw new Error('DECISION_VERIFY_JWKS holds a private key: give the worker only the public JWKS');
  const keySet = createLocalJWKSet(jwks);
  const tolerance = options.clockToleranceSeconds ?? 60;
  return async (input) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(input.signature, keySet, {
        issuer: DECISION_ISSUER,
        audience: DECISION_AUDIENCE,
        algorithms: [DECISION_ALG],
        clockTolerance: tolerance,
        currentDate: new Date(input.receivedAt),
      }));
    } catch (err) {
      return { valid: false, reason: `signature not accepted: ${describeJoseError(err)}` };
    }
    const claims = payload as JWTPayload & Partial<DecisionClaims>;
    if (claims.kind !== input.kind) return { valid: false, reason: `signature is for a ${String(claims.kind)} decision, not ${input.kind}` };
    if (claims.workflowId !== input.workflowId)
      return { valid: false, reason: `signature is for workflow ${String(claims.workflowId)}, not ${input.workflowId}` };
    if (input.kind !== 'start' && (input.run === undefined || claims.run !== input.run))
      return {
        valid: false,
        reason: `signature is for another decommission of this store (run ${String(claims.run ?? 'none')}), not this one (run ${String(input.run)}): read its status and decide again`,
      };
    if (typeof claims.sub !== 'string' || claims.sub === '') return { valid: false, reason: 'signature names no subject' };
    if (typeof claims.jti !== 'string') return { valid: false, reason: 'signature has no jti' };
    if (canonicalJson(claims.request) !== canonicalJson(input.request))
      return { valid: false, reason: 'the signed request differs from the request received (a field was added, removed or changed after signing)' };
    const field = DECISION_SUBJECT_FIELD[input.kind];
    if (input.request[field] !== claims.sub) return { valid: false, reason: `${field} must be the signature's verified subject "${claims.sub}"` };
    return {
      valid: true,
      subject: claims.sub,
      ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
      jti: claims.jti,
      ...(typeof claims.iat === 'number' ? { issuedAt: claims.iat * 1000 } : {}),
    };
  };
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'expired before the workflow received it';
  if (err instanceof errors.JWTClaimValidationFailed) return `${err.claim}: ${err.reason}`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JWKSNoMatchingKey) return 'signed by a key this worker does not trust';
  if (err instanceof errors.JOSEError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
