/**
 * Cryptographic operations on SYMMETRIC_DEFAULT keys — Encrypt, Decrypt, GenerateDataKey,
 * GenerateDataKeyWithoutPlaintext — and GetKeyLastUsage, which reports the last successful one.
 *
 * Key-state rules (Developer Guide key-state table): Enabled works; Disabled → DisabledException
 * "<ARN> is disabled."; PendingDeletion → KMSInvalidStateException "<ARN> is pending deletion.";
 * Unavailable (a key of a custom key store that is not CONNECTED — for a CloudHSM store that is the
 * store-must-be-CONNECTED rule) → KMSInvalidStateException "<ARN> is unavailable.".
 */
import { randomBytes } from 'node:crypto';
import { epochSeconds, KEY_ID_RULE, keyArn, parseKeyReference, requireKey, type OpContext } from '../context';
import { open, parseBlob, seal } from '../crypto';
import { disabled, invalidKeyId, KmsError, keyNotFound, pendingDeletion, throttling, unavailable, validation } from '../errors';
import { Input, type JsonObject } from '../input';
import { projectKeyState, type KeyRecord } from '../state';

/** Operations GetKeyLastUsage can report that this emulator implements. */
export const TRACKED_OPERATIONS = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext'] as const;
export type TrackedOperation = (typeof TRACKED_OPERATIONS)[number];

/** EncryptionAlgorithmSpec of the model; only SYMMETRIC_DEFAULT fits a symmetric key. */
const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
const DATA_KEY_SPECS = ['AES_256', 'AES_128'] as const;
const MAX_PLAINTEXT = 4096;
const MAX_CIPHERTEXT = 6144;

const INCORRECT_KEY = 'The key ID in the request does not identify a CMK that can perform this operation.';
const INVALID_CIPHERTEXT = 'The ciphertext is not valid: it is corrupted, was not produced by this KMS, or the encryption context does not match.';

/** The state errors of the key-state table, then the per-store quota (1,800/s) for custom-store keys. */
function requireUsable(ctx: OpContext, key: KeyRecord): void {
  const store = key.customKeyStoreId !== undefined ? ctx.state.stores.get(key.customKeyStoreId) : undefined;
  if (key.customKeyStoreId !== undefined && !ctx.quotas.tryTakeStore(key.customKeyStoreId)) throw throttling();
  const arn = keyArn(ctx.config, key.id);
  switch (projectKeyState(key, store)) {
    case 'Enabled':
      return;
    case 'Disabled':
      throw disabled(arn);
    case 'PendingDeletion':
      throw pendingDeletion(arn);
    case 'Unavailable':
      throw unavailable(arn);
  }
}

function checkAlgorithm(ctx: OpContext, key: KeyRecord, algorithm: string | undefined): void {
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `The encryption algorithm ${algorithm} is not compatible with the key spec SYMMETRIC_DEFAULT of ${keyArn(ctx.config, key.id)}.`,
    );
  }
}

function checkDryRun(dryRun: boolean | undefined): void {
  if (dryRun) throw new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

/** Remembers a successful cryptographic operation for GetKeyLastUsage. */
function recordUsage(ctx: OpContext, key: KeyRecord, operation: TrackedOperation): void {
  const request = ctx.request;
  if (!request) return;
  ctx.state.putKey({ ...key, lastUsage: { operation, at: request.time, eventId: request.eventId, requestId: request.requestId } });
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64');
}

/** Encrypt: up to 4,096 bytes with SYMMETRIC_DEFAULT; KeyId may be an alias. */
export function encrypt(ctx: OpContext, body: JsonObject): { CiphertextBlob: string; KeyId: string; EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' } {
  const input = new Input(body);
  const value = input.string('KeyId', KEY_ID_RULE);
  const plaintext = input.blob('Plaintext', { required: true, min: 1, max: MAX_PLAINTEXT }) as Buffer;
  const context = input.stringMap('EncryptionContext');
  input.list('GrantTokens', 10);
  const algorithm = input.enumValue('EncryptionAlgorithm', ENCRYPTION_ALGORITHMS);
  const dryRun = input.boolean('DryRun');
  const key = requireKey(ctx, value, true);
  requireUsable(ctx, key);
  checkAlgorithm(ctx, key, algorithm);
  checkDryRun(dryRun);
  const blob = seal(ctx.markers.secretValue, key, plaintext, context);
  recordUsage(ctx, key, 'Encrypt');
  return { CiphertextBlob: b64(blob), KeyId: keyArn(ctx.config, key.id), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
}

/**
 * Decrypt: the blob names its key, so KeyId is optional; when given (id, ARN or alias) it must be that
 * key (IncorrectKeyException). A wrong encryption context or a tampered blob is InvalidCiphertextException.
 */
export function decrypt(ctx: OpContext, body: JsonObject): { KeyId: string; Plaintext: string; EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' } {
  const input = new Input(body);
  const blob = input.blob('CiphertextBlob', { required: true, min: 1, max: MAX_CIPHERTEXT }) as Buffer;
  const context = input.stringMap('EncryptionContext');
  input.list('GrantTokens', 10);
  const value = input.string('KeyId', { min: 1, max: 2048 });
  const algorithm = input.enumValue('EncryptionAlgorithm', ENCRYPTION_ALGORITHMS);
  const dryRun = input.boolean('DryRun');
  if (input.has('Recipient')) throw validation('Recipient (attested enclaves) is not supported by this emulator.');
  const parsed = parseBlob(blob);
  if (!parsed) throw new KmsError('InvalidCiphertextException', INVALID_CIPHERTEXT);
  let key: KeyRecord;
  if (value !== undefined) {
    key = requireKey(ctx, value, true);
    if (key.id !== parsed.keyId) throw new KmsError('IncorrectKeyException', INCORRECT_KEY);
  } else {
    const found = ctx.state.keys.get(parsed.keyId);
    if (!found) throw keyNotFound(keyArn(ctx.config, parsed.keyId));
    key = found;
    ctx.audit.keyId = key.id;
    if (key.customKeyStoreId !== undefined) ctx.audit.customKeyStoreId = key.customKeyStoreId;
  }
  requireUsable(ctx, key);
  checkAlgorithm(ctx, key, algorithm);
  checkDryRun(dryRun);
  const plaintext = open(ctx.markers.secretValue, key, parsed, context);
  if (!plaintext) throw new KmsError('InvalidCiphertextException', INVALID_CIPHERTEXT);
  recordUsage(ctx, key, 'Decrypt');
  return { KeyId: keyArn(ctx.config, key.id), Plaintext: b64(plaintext), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
}

/** Size of the data key: exactly one of KeySpec (AES_256 = 32, AES_128 = 16) and NumberOfBytes (1–1024). */
function dataKeyBytes(input: Input): number {
  const spec = input.enumValue('KeySpec', DATA_KEY_SPECS);
  const bytes = input.integer('NumberOfBytes', { min: 1, max: 1024 });
  if (spec === undefined && bytes === undefined) throw validation('Please specify either number of bytes or key spec.');
  if (spec !== undefined && bytes !== undefined) throw validation('Please specify either number of bytes or key spec, not both.');
  return bytes ?? (spec === 'AES_128' ? 16 : 32);
}

function generate(
  ctx: OpContext,
  body: JsonObject,
  operation: 'GenerateDataKey' | 'GenerateDataKeyWithoutPlaintext',
): { CiphertextBlob: string; Plaintext: string; KeyId: string } {
  const input = new Input(body);
  const value = input.string('KeyId', KEY_ID_RULE);
  const context = input.stringMap('EncryptionContext');
  const size = dataKeyBytes(input);
  input.list('GrantTokens', 10);
  const dryRun = input.boolean('DryRun');
  if (input.has('Recipient')) throw validation('Recipient (attested enclaves) is not supported by this emulator.');
  const key = requireKey(ctx, value, true);
  requireUsable(ctx, key);
  checkDryRun(dryRun);
  const plaintext = randomBytes(size);
  const blob = seal(ctx.markers.secretValue, key, plaintext, context);
  recordUsage(ctx, key, operation);
  return { CiphertextBlob: b64(blob), Plaintext: b64(plaintext), KeyId: keyArn(ctx.config, key.id) };
}

/** GenerateDataKey: a random data key, in plaintext and encrypted under the KMS key. */
export function generateDataKey(ctx: OpContext, body: JsonObject): { CiphertextBlob: string; Plaintext: string; KeyId: string } {
  return generate(ctx, body, 'GenerateDataKey');
}

/** GenerateDataKeyWithoutPlaintext: the same, encrypted copy only. */
export function generateDataKeyWithoutPlaintext(ctx: OpContext, body: JsonObject): { CiphertextBlob: string; KeyId: string } {
  const { CiphertextBlob, KeyId } = generate(ctx, body, 'GenerateDataKeyWithoutPlaintext');
  return { CiphertextBlob, KeyId };
}

interface KeyLastUsageView {
  Operation?: string;
  Timestamp?: number;
  CloudTrailEventId?: string;
  KmsRequestId?: string;
}

/** Seconds precision, as KMS reports usage timestamps (and CloudTrail event times). */
export function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * GetKeyLastUsage (key id or ARN, no alias; any key state). TrackingStartDate is the later of the
 * configured tracking start and the key's creation; a use before TrackingStartDate is not reported.
 * KeyLastUsage is an empty object when nothing is reported, as the API reference describes.
 */
export function getKeyLastUsage(
  ctx: OpContext,
  body: JsonObject,
): { KeyId: string; KeyLastUsage: KeyLastUsageView; TrackingStartDate: number; KeyCreationDate: number } {
  const value = new Input(body).string('KeyId', KEY_ID_RULE);
  if (parseKeyReference(ctx.config, value).kind === 'alias') throw invalidKeyId(value);
  const key = requireKey(ctx, value);
  const trackingStart = Math.max(ctx.settings.trackingStartDate ?? -Infinity, key.creationDate);
  const usage = key.lastUsage && key.lastUsage.at >= trackingStart ? key.lastUsage : undefined;
  return {
    KeyId: key.id,
    KeyLastUsage: usage
      ? { Operation: usage.operation, Timestamp: wholeSeconds(usage.at), CloudTrailEventId: usage.eventId, KmsRequestId: usage.requestId }
      : {},
    TrackingStartDate: epochSeconds(trackingStart),
    KeyCreationDate: epochSeconds(key.creationDate),
  };
}
