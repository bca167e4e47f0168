/**
 * SigV4 verification. The signature is recomputed with the AWS SDK's own signer over exactly the headers
 * the client listed in `SignedHeaders`, at the client's `x-amz-date`, and compared with the one sent —
 * so any correct AWS client (JS SDK, AWS CLI) passes and nothing else does.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { KmsError } from './errors';

/** What the verifier needs to know about a request. */
export interface SignedRequest {
  method: string;
  /** Raw request target, e.g. `/` or `/?a=b`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface AuthConfig {
  region: string;
  /** Secret of a known access key id, undefined for unknown ones. */
  secretFor: (accessKeyId: string) => string | undefined;
}

/** Maximum clock skew AWS accepts between `x-amz-date` and the server. */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** SigV4 signing name of the KMS API; the CloudTrail endpoint uses `cloudtrail`. */
const SERVICE = 'kms';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function incomplete(message: string): KmsError {
  return new KmsError('IncompleteSignatureException', message);
}

function invalidSignature(message = SIGNATURE_MISMATCH): KmsError {
  return new KmsError('InvalidSignatureException', message);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** `20240102T030405Z` → Date, or undefined when malformed. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  // Every group is mandatory in the pattern.
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

interface ParsedAuthorization {
  accessKeyId: string;
  scopeDate: string;
  scopeRegion: string;
  scopeService: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(header: string): ParsedAuthorization {
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== 'AWS4-HMAC-SHA256') throw incomplete(`Unsupported AWS 'algorithm': '${algorithm}'`);
  const params = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((p) => !params.get(p));
  if (missing.length > 0) throw incomplete(missing.map((p) => `Authorization header requires '${p}' parameter.`).join(' '));
  const credential = (params.get('Credential') as string).split('/');
  if (credential.length !== 5 || credential[4] !== 'aws4_request') {
    throw incomplete(`Credential should be of the form <AccessKeyId>/<date>/<region>/<service>/aws4_request, got '${params.get('Credential')}'.`);
  }
  // The length check above guarantees five parts.
  const [accessKeyId, scopeDate, scopeRegion, scopeService] = credential as [string, string, string, string, string];
  return {
    accessKeyId,
    scopeDate,
    scopeRegion,
    scopeService,
    signedHeaders: (params.get('SignedHeaders') as string).split(';').map((h) => h.trim().toLowerCase()),
    signature: params.get('Signature') as string,
  };
}

export class SigV4Verifier {
  /** One signer per secret (the signer holds the credentials). */
  private readonly signers = new Map<string, SignatureV4>();

  constructor(
    private readonly config: AuthConfig,
    private readonly realNow: () => number = Date.now,
  ) {}

  private signerFor(accessKeyId: string, secretAccessKey: string): SignatureV4 {
    const cacheKey = `${accessKeyId}\u0000${secretAccessKey}`;
    let signer = this.signers.get(cacheKey);
    if (!signer) {
      // applyChecksum=false: clients such as botocore do not sign x-amz-content-sha256, and the signer must not add it.
      signer = new SignatureV4({
        credentials: { accessKeyId, secretAccessKey },
        region: this.config.region,
        service: SERVICE,
        sha256: Sha256,
        applyChecksum: false,
      });
      this.signers.set(cacheKey, signer);
    }
    return signer;
  }

  /**
   * Verifies the request's signature for `service` (its SigV4 signing name); resolves to the access key id,
   * throws the auth error otherwise (MissingAuthenticationToken 403, UnrecognizedClient / InvalidSignature /
   * IncompleteSignature 400).
   */
  async verify(request: SignedRequest, service: string = SERVICE): Promise<string> {
    const authorization = headerValue(request.headers, 'authorization');
    if (!authorization) throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
    const auth = parseAuthorization(authorization);
    const secret = this.config.secretFor(auth.accessKeyId);
    if (secret === undefined) {
      throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    const amzDate = headerValue(request.headers, 'x-amz-date');
    if (!amzDate) throw incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    const signingDate = parseAmzDate(amzDate);
    if (!signingDate) throw incomplete(`Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`);
    const now = this.realNow();
    if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS) {
      const bound = signingDate.getTime() < now ? formatAmzDate(now - MAX_SKEW_MS) : formatAmzDate(now + MAX_SKEW_MS);
      const relation = signingDate.getTime() < now ? 'earlier' : 'later';
      const sign = signingDate.getTime() < now ? '-' : '+';
      throw invalidSignature(`Signature expired: ${amzDate} is now ${relation} than ${bound} (${formatAmzDate(now)} ${sign} 15 min.)`);
    }
    if (auth.scopeRegion !== this.config.region) throw invalidSignature(`Credential should be scoped to a valid region, not '${auth.scopeRegion}'.`);
    if (auth.scopeService !== service) throw invalidSignature(`Credential should be scoped to correct service: '${service}'.`);
    if (!auth.signedHeaders.includes('host')) throw invalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.");

    const headers: Record<string, string> = {};
    for (const name of auth.signedHeaders) {
      const value = headerValue(request.headers, name);
      if (value === undefined) throw invalidSignature();
      headers[name] = value;
    }
    // The signer trusts x-amz-content-sha256 instead of hashing the body, so check that claim here.
    const claimed = headers['x-amz-content-sha256'];
    if (claimed !== undefined && claimed !== 'UNSIGNED-PAYLOAD' && claimed !== createHash('sha256').update(request.body).digest('hex')) {
      throw invalidSignature();
    }

    const url = new URL(request.url, 'http://emulator.invalid');
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const existing = query[k];
      query[k] = existing === undefined ? v : Array.isArray(existing) ? [...existing, v] : [existing, v];
    }
    const expected = await this.signerFor(auth.accessKeyId, secret).sign(
      new HttpRequest({ method: request.method, protocol: 'http:', hostname: 'emulator.invalid', path: url.pathname, query, headers, body: request.body }),
      { signingDate, signableHeaders: new Set(auth.signedHeaders), signingRegion: auth.scopeRegion, signingService: auth.scopeService },
    );
    const expectedAuth = String(expected.headers.authorization ?? '');
    const expectedSignature = expectedAuth.slice(expectedAuth.lastIndexOf('Signature=') + 'Signature='.length);
    const a = Buffer.from(expectedSignature);
    const b = Buffer.from(auth.signature);
    if (auth.scopeDate !== amzDate.slice(0, 8) || a.length !== b.length || !timingSafeEqual(a, b)) throw invalidSignature();
    return auth.accessKeyId;
  }
}
