/**
 * Shared helpers for the emulator conformance suite. Tests talk to the emulator through
 * `@aws-sdk/client-kms` only; the raw signed-request helper exists for wire-format assertions the SDK
 * hides (headers, exact bodies) and for auth failures the SDK cannot produce.
 */
import { request } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator';

export const DAY_MS = 86_400_000;

/** Starts an emulator with test-friendly defaults: no throttling, long async transitions (driven by advance). */
export function startTestEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ quotaScale: 0, connectMs: 60_000, disconnectMs: 30_000, ...options });
}

/**
 * Runs `body` against a fresh emulator and always closes it (and the client), so a failed assertion
 * cannot leave a listening server behind that keeps jest alive.
 */
export async function withEmulator<T>(
  options: EmulatorOptions,
  body: (emu: RunningEmulator, kms: KMSClient) => Promise<T>,
  clientOverrides: Partial<KMSClientConfig> = {},
): Promise<T> {
  const emu = await startTestEmulator(options);
  const kms = kmsClient(emu, clientOverrides);
  try {
    return await body(emu, kms);
  } finally {
    kms.destroy();
    await emu.close();
  }
}

/** SDK client for the emulator; `maxAttempts: 1` so error assertions see the first answer. */
export function kmsClient(emu: RunningEmulator, overrides: Partial<KMSClientConfig> = {}): KMSClient {
  return new KMSClient({ endpoint: emu.url, region: emu.region, credentials: emu.credentials, maxAttempts: 1, ...overrides });
}

/** Shape of an SDK service error as far as the tests care. */
export interface SdkError {
  name: string;
  message: string;
  $fault?: string;
  $metadata: { httpStatusCode?: number; requestId?: string; attempts?: number };
}

/** Awaits a rejection and checks name, message (exact string or pattern) and HTTP status. */
export async function expectKmsError(promise: Promise<unknown>, name: string, message?: string | RegExp, status = 400): Promise<SdkError> {
  let error: SdkError | undefined;
  try {
    await promise;
  } catch (e) {
    error = e as SdkError;
  }
  if (!error) throw new Error(`expected ${name} but the call succeeded`);
  expect({ name: error.name, status: error.$metadata?.httpStatusCode }).toEqual({ name, status });
  if (typeof message === 'string') expect(error.message).toBe(message);
  else if (message) expect(error.message).toMatch(message);
  return error;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawOptions {
  /** Default true. */
  sign?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  signingDate?: Date;
  /** Body actually sent (to simulate tampering after signing). */
  sendBody?: string;
  extraHeaders?: Record<string, string>;
}

/** Sends one signed (or unsigned) JSON 1.1 request and returns status, headers and raw body. */
export async function rawKms(emu: RunningEmulator, target: string | undefined, body: string, options: RawOptions = {}): Promise<RawResponse> {
  const url = new URL(emu.url);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    ...(target !== undefined ? { 'x-amz-target': target } : {}),
    ...options.extraHeaders,
  };
  let finalHeaders = headers;
  if (options.sign !== false) {
    const signer = new SignatureV4({
      credentials: {
        accessKeyId: options.accessKeyId ?? emu.credentials.accessKeyId,
        secretAccessKey: options.secretAccessKey ?? emu.credentials.secretAccessKey,
      },
      region: emu.region,
      service: 'kms',
      sha256: Sha256,
    });
    const signed = await signer.sign(
      new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body }),
      {
        signingDate: options.signingDate,
      },
    );
    finalHeaders = signed.headers;
  }
  const payload = options.sendBody ?? body;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { ...finalHeaders, 'content-length': String(Buffer.byteLength(payload)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `check` until it returns a value other than undefined. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 5000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function keyArnOf(emu: RunningEmulator, keyId: string): string {
  return `arn:aws:kms:${emu.region}:${emu.account}:key/${keyId}`;
}

export function aliasArnOf(emu: RunningEmulator, aliasName: string): string {
  return `arn:aws:kms:${emu.region}:${emu.account}:${aliasName}`;
}

/** Valid CreateCustomKeyStore input for a CloudHSM store. */
export function cloudHsmStoreInput(
  name: string,
  cluster = 'cluster-abcdefghijk',
): {
  CustomKeyStoreName: string;
  CloudHsmClusterId: string;
  KeyStorePassword: string;
  TrustAnchorCertificate: string;
} {
  return {
    CustomKeyStoreName: name,
    CloudHsmClusterId: cluster,
    KeyStorePassword: 'kmsPassword1',
    TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  };
}

/** Valid CreateCustomKeyStore input for a public-endpoint XKS store. */
export function xksStoreInput(
  name: string,
  endpoint = 'https://xks.example.com',
): {
  CustomKeyStoreName: string;
  CustomKeyStoreType: 'EXTERNAL_KEY_STORE';
  XksProxyConnectivity: 'PUBLIC_ENDPOINT';
  XksProxyUriEndpoint: string;
  XksProxyUriPath: string;
  XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string };
} {
  return {
    CustomKeyStoreName: name,
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
    XksProxyConnectivity: 'PUBLIC_ENDPOINT',
    XksProxyUriEndpoint: endpoint,
    XksProxyUriPath: '/example/kms/xks/v1',
    XksProxyAuthenticationCredential: { AccessKeyId: 'ABCDEFGHIJKLMNOPQRST', RawSecretAccessKey: 'a'.repeat(43) },
  };
}

/**
 * One emulator per test file, started before its tests and closed after them; `onStart` hands the
 * emulator and an SDK client to the file's own variables.
 */
export function useSharedEmulator(onStart: (emu: RunningEmulator, kms: KMSClient) => void, options: EmulatorOptions = {}): void {
  let emu: RunningEmulator | undefined;
  let kms: KMSClient | undefined;
  beforeAll(async () => {
    emu = await startTestEmulator(options);
    kms = kmsClient(emu);
    onStart(emu, kms);
  });
  afterAll(async () => {
    kms?.destroy();
    await emu?.close();
  });
}
