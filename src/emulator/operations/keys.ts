/**
 * Key operations: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey.
 */
import { KEY_ID_RULE, keyArn, requireKey, resolveKeyId, type OpContext } from '../context';
import { KmsError, pendingDeletion, storeInvalidState, throttling } from '../errors';
import { Input, type JsonObject } from '../input';
import { effectivePageSize } from '../pagination';
import type { KeyOrigin, KeyRecord } from '../state';
import { keyMetadata, type KeyMetadataView } from '../views';
import { requireStore } from './stores';

/** Resource quota: keys per Region in all states (reference §7). Seeding bypasses it. */
export const MAX_KEYS = 100_000;

const KEY_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
  'ECC_NIST_EDWARDS25519',
] as const;
const KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
const ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
const XKS_KEY_ID_RULE = { min: 1, max: 128, pattern: /^[a-zA-Z0-9-_.]+$/ } as const;

/** A fresh, unused key id. */
export function newKeyId(ctx: Pick<OpContext, 'rng' | 'state'>): string {
  for (;;) {
    const id = ctx.rng.uuid();
    if (!ctx.state.keys.has(id)) return id;
  }
}

/** CreateKey in the default store or a CONNECTED custom key store (symmetric keys only). */
export function createKey(ctx: OpContext, body: JsonObject): { KeyMetadata: KeyMetadataView } {
  const input = new Input(body);
  input.string('Policy', { min: 1, max: 131072 });
  const description = input.string('Description', { min: 0, max: 8192 }) ?? '';
  const usage = input.enumValue('KeyUsage', KEY_USAGES) ?? 'ENCRYPT_DECRYPT';
  const cmkSpec = input.enumValue('CustomerMasterKeySpec', KEY_SPECS);
  const keySpec = input.enumValue('KeySpec', KEY_SPECS);
  const origin: KeyOrigin | 'EXTERNAL' = input.enumValue('Origin', ORIGINS) ?? 'AWS_KMS';
  const storeId = input.string('CustomKeyStoreId', { min: 1, max: 64 });
  input.boolean('BypassPolicyLockoutSafetyCheck');
  input.list('Tags');
  const multiRegion = input.boolean('MultiRegion') ?? false;
  const xksKeyId = input.string('XksKeyId', XKS_KEY_ID_RULE);

  if (cmkSpec !== undefined && keySpec !== undefined) {
    throw new KmsError('ValidationException', 'You cannot specify both KeySpec and CustomerMasterKeySpec. CustomerMasterKeySpec is deprecated; use KeySpec.');
  }
  const spec = keySpec ?? cmkSpec ?? 'SYMMETRIC_DEFAULT';
  if (origin === 'EXTERNAL') {
    throw new KmsError('UnsupportedOperationException', 'Origin EXTERNAL (imported key material) is not supported by this emulator.');
  }
  if (spec !== 'SYMMETRIC_DEFAULT' || usage !== 'ENCRYPT_DECRYPT' || multiRegion) {
    const where = origin === 'AWS_KMS' ? 'this emulator' : `a key with Origin ${origin}`;
    throw new KmsError('UnsupportedOperationException', `${where} supports only KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT and MultiRegion false.`);
  }
  if (origin === 'AWS_KMS' && storeId !== undefined) {
    throw new KmsError('ValidationException', 'CustomKeyStoreId requires Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE.');
  }
  if (origin !== 'AWS_KMS' && storeId === undefined) {
    throw new KmsError('ValidationException', `Origin ${origin} requires a CustomKeyStoreId.`);
  }
  if (origin !== 'EXTERNAL_KEY_STORE' && xksKeyId !== undefined) {
    throw new KmsError('ValidationException', 'XksKeyId is only valid with Origin EXTERNAL_KEY_STORE.');
  }

  const key: KeyRecord = {
    id: '',
    seq: 0,
    creationDate: ctx.clock.now(),
    description,
    origin,
    enabled: true,
  };
  if (storeId !== undefined) {
    const store = requireStore(ctx, storeId);
    const expected: KeyOrigin = store.type === 'AWS_CLOUDHSM' ? 'AWS_CLOUDHSM' : 'EXTERNAL_KEY_STORE';
    if (origin !== expected) {
      throw new KmsError('ValidationException', `Custom key store ${store.id} is of type ${store.type}; use Origin ${expected}.`);
    }
    if (origin === 'EXTERNAL_KEY_STORE' && xksKeyId === undefined) {
      throw new KmsError('ValidationException', 'XksKeyId is required with Origin EXTERNAL_KEY_STORE.');
    }
    if (store.connectionState !== 'CONNECTED') throw storeInvalidState(store.id, store.connectionState, 'CreateKey');
    if (xksKeyId !== undefined) {
      const owner = ctx.state.xksKeyOwner(store.id, xksKeyId);
      if (owner) {
        throw new KmsError('XksKeyAlreadyInUseException', `The external key ${xksKeyId} is already associated with KMS key ${keyArn(ctx.config, owner)}.`);
      }
      key.xksKeyId = xksKeyId;
    }
    key.customKeyStoreId = store.id;
  }
  if (ctx.state.keys.size >= MAX_KEYS) {
    throw new KmsError('LimitExceededException', `The request was rejected because this account already has ${MAX_KEYS} KMS keys in this Region.`);
  }
  key.id = newKeyId(ctx);
  key.seq = ctx.state.nextSeq();
  ctx.state.putKey(key);
  ctx.audit.keyId = key.id;
  return { KeyMetadata: keyMetadata(ctx.config, key, key.customKeyStoreId ? ctx.state.stores.get(key.customKeyStoreId) : undefined) };
}

/** DescribeKey by key id, key ARN, alias name or alias ARN; honours stale-read faults. */
export function describeKey(ctx: OpContext, body: JsonObject): { KeyMetadata: KeyMetadataView } {
  const input = new Input(body);
  const value = input.string('KeyId', KEY_ID_RULE);
  input.list('GrantTokens', 10);
  const { id, notFound } = resolveKeyId(ctx, value, true);
  // A stale reader may still see a key that was just deleted, or not yet see one just created.
  const key = ctx.state.keyAsOf(id, ctx.staleReadMs);
  if (!key) throw notFound();
  ctx.audit.keyId = key.id;
  if (key.customKeyStoreId !== undefined) ctx.audit.customKeyStoreId = key.customKeyStoreId;
  const store = key.customKeyStoreId !== undefined ? ctx.state.storeAsOf(key.customKeyStoreId, ctx.staleReadMs) : undefined;
  return { KeyMetadata: keyMetadata(ctx.config, key, store) };
}

/** ListKeys: every key in every state, insertion order, default Limit 100. */
export function listKeys(ctx: OpContext, body: JsonObject): { Keys: { KeyId: string; KeyArn: string }[]; Truncated: boolean; NextMarker?: string } {
  const input = new Input(body);
  const limit = input.integer('Limit', { min: 1, max: 1000 }) ?? 100;
  const marker = input.string('Marker', { min: 1, max: 1024, pattern: /^[\u0020-\u00FF]*$/ });
  const from = marker === undefined ? 0 : ctx.markers.decode('ListKeys', '', marker);
  const page = ctx.state.keys.page(from, effectivePageSize(limit, ctx.config.shortPages));
  const out: { Keys: { KeyId: string; KeyArn: string }[]; Truncated: boolean; NextMarker?: string } = {
    Keys: page.items.map((k) => ({ KeyId: k.id, KeyArn: keyArn(ctx.config, k.id) })),
    Truncated: page.next !== undefined,
  };
  if (page.next !== undefined) out.NextMarker = ctx.markers.encode('ListKeys', '', page.next);
  return out;
}

/**
 * Enable/Disable record the wish even while the key reports Unavailable; the projection applies it once
 * the store is CONNECTED again (reference §3.6, footnote 12).
 */
function setEnabled(ctx: OpContext, body: JsonObject, enabled: boolean): undefined {
  const value = new Input(body).string('KeyId', KEY_ID_RULE);
  const key = requireKey(ctx, value);
  if (!ctx.quotas.tryTakeHotKey(key.id)) throw throttling();
  if (key.deletion) throw pendingDeletion(keyArn(ctx.config, key.id));
  if (key.enabled !== enabled) ctx.state.putKey({ ...key, enabled });
  return undefined;
}

/** EnableKey (deferred while the key is Unavailable). */
export function enableKey(ctx: OpContext, body: JsonObject): undefined {
  return setEnabled(ctx, body, true);
}

/** DisableKey (deferred while the key is Unavailable). */
export function disableKey(ctx: OpContext, body: JsonObject): undefined {
  return setEnabled(ctx, body, false);
}
