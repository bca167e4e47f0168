/**
 * Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext) on SYMMETRIC_DEFAULT keys (real AES-256-GCM, per-key
 * material, self-describing blobs) and their key-state errors (Developer Guide key-state table).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  DecryptCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { DAY_MS, expectKmsError, keyArnOf, kmsClient, rawKms, type SdkError, useSharedEmulator, withEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let hsmStore: string;
let xksStore: string;
let plainKey: string;
let hsmKey: string;
let xksKey: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
  const seeded = await emu.admin.seed({
    stores: [
      { name: 'hsm', connectionState: 'CONNECTED' },
      { name: 'xks', type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' },
    ],
    keys: [{ count: 1 }, { customKeyStoreId: 'hsm' }, { customKeyStoreId: 'xks' }],
  });
  [hsmStore, xksStore] = seeded.storeIds;
  [[plainKey], [hsmKey], [xksKey]] = seeded.keyIds;
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined): string => new TextDecoder().decode(data);

describe('Encrypt / Decrypt', () => {
  test.each([
    ['default store', () => plainKey],
    ['CloudHSM store', () => hsmKey],
    ['XKS store', () => xksKey],
  ])('round trip with an encryption context (%s); the blob names its key, so Decrypt needs no KeyId', async (_label, key) => {
    const context = { Department: 'Engineering', Project: 'Alpha' };
    const enc = await kms.send(new EncryptCommand({ KeyId: key(), Plaintext: bytes('attack at dawn'), EncryptionContext: context }));
    expect(enc.KeyId).toBe(keyArnOf(emu, key()));
    expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    expect(Buffer.from(enc.CiphertextBlob!).toString('utf8')).not.toContain('attack');
    // The context is a set: order does not matter.
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { Project: 'Alpha', Department: 'Engineering' } }));
    expect(text(dec.Plaintext)).toBe('attack at dawn');
    expect(dec.KeyId).toBe(keyArnOf(emu, key()));
    expect(dec.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
  });

  test('KeyId may be an alias, a key ARN or an alias ARN; Decrypt accepts the same key under any name', async () => {
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: plainKey }));
    const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/app', Plaintext: bytes('x') }));
    expect(enc.KeyId).toBe(keyArnOf(emu, plainKey));
    for (const id of [plainKey, keyArnOf(emu, plainKey), 'alias/app', `arn:aws:kms:${emu.region}:${emu.account}:alias/app`]) {
      expect(text((await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: id }))).Plaintext)).toBe('x');
    }
  });

  test('each encryption is randomized; two keys never decrypt each other (per-key material)', async () => {
    const a = await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('same') }));
    const b = await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('same') }));
    expect(Buffer.from(a.CiphertextBlob!).equals(Buffer.from(b.CiphertextBlob!))).toBe(false);
    // Rewrite the key id inside the blob to the other key: authentication fails.
    const blob = Buffer.from(a.CiphertextBlob!);
    const forged = Buffer.from(blob.toString('latin1').replace(plainKey, hsmKey), 'latin1');
    await expectKmsError(kms.send(new DecryptCommand({ CiphertextBlob: forged })), 'InvalidCiphertextException');
  });

  test('Decrypt with a different KeyId than the one that encrypted → IncorrectKeyException', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('x') }));
    await expectKmsError(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: hsmKey })),
      'IncorrectKeyException',
      'The key ID in the request does not identify a CMK that can perform this operation.',
    );
  });

  test('wrong or missing encryption context, a flipped bit, or garbage → InvalidCiphertextException', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('x'), EncryptionContext: { a: '1' } }));
    await expectKmsError(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), 'InvalidCiphertextException');
    await expectKmsError(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '2' } })), 'InvalidCiphertextException');
    const flipped = Buffer.from(enc.CiphertextBlob!);
    flipped[flipped.length - 1] ^= 1;
    await expectKmsError(kms.send(new DecryptCommand({ CiphertextBlob: flipped, EncryptionContext: { a: '1' } })), 'InvalidCiphertextException');
    await expectKmsError(kms.send(new DecryptCommand({ CiphertextBlob: bytes('not a kms ciphertext at all') })), 'InvalidCiphertextException');
  });

  test('unknown key → NotFoundException; a ciphertext of a deleted key → NotFoundException naming it', async () => {
    await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: '00000000-0000-4000-8000-000000000000', Plaintext: bytes('x') })),
      'NotFoundException',
      `Key '${keyArnOf(emu, '00000000-0000-4000-8000-000000000000')}' does not exist`,
    );
    await expectKmsError(kms.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: bytes('x') })), 'NotFoundException', /Alias .*alias\/none is not found/);
    const enc = await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('x') }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: plainKey, PendingWindowInDays: 7 }));
    await emu.admin.advance(7 * DAY_MS + 1000);
    await expectKmsError(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })),
      'NotFoundException',
      `Key '${keyArnOf(emu, plainKey)}' does not exist`,
    );
  });

  test('Plaintext 1–4096 bytes (ValidationException outside, value not echoed); blobs must be base64', async () => {
    await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: new Uint8Array(4096) }));
    const big = await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: new Uint8Array(4097) })),
      'ValidationException',
      /plaintext.*less than or equal to 4096/,
    );
    expect(big.message).not.toContain('AAAA');
    const raw = await rawKms(emu, 'TrentService.Encrypt', JSON.stringify({ KeyId: plainKey, Plaintext: 'not base64!' }));
    expect(JSON.parse(raw.body).__type).toBe('SerializationException');
    const noPlaintext = await rawKms(emu, 'TrentService.Encrypt', JSON.stringify({ KeyId: plainKey }));
    expect(JSON.parse(noPlaintext.body)).toMatchObject({
      __type: 'ValidationException',
      message: expect.stringContaining("'plaintext' failed to satisfy constraint: Member must not be null"),
    });
  });

  test('a non-symmetric EncryptionAlgorithm → InvalidKeyUsageException; DryRun → DryRunOperationException', async () => {
    await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      'InvalidKeyUsageException',
    );
    await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('x'), DryRun: true })),
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
    );
    // A DryRun on a disabled key reports the real problem first.
    await kms.send(new DisableKeyCommand({ KeyId: plainKey }));
    await expectKmsError(kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: bytes('x'), DryRun: true })), 'DisabledException');
  });
});

describe('GenerateDataKey / GenerateDataKeyWithoutPlaintext', () => {
  test('KeySpec AES_256 / AES_128 or NumberOfBytes; the encrypted copy decrypts to the plaintext copy', async () => {
    for (const [input, size] of [
      [{ KeySpec: 'AES_256' }, 32],
      [{ KeySpec: 'AES_128' }, 16],
      [{ NumberOfBytes: 64 }, 64],
    ] as const) {
      const out = await kms.send(new GenerateDataKeyCommand({ KeyId: hsmKey, EncryptionContext: { purpose: 'dek' }, ...input }));
      expect(out.Plaintext).toHaveLength(size);
      expect(out.KeyId).toBe(keyArnOf(emu, hsmKey));
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: { purpose: 'dek' } }));
      expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(out.Plaintext!))).toBe(true);
    }
    const without = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: xksKey, KeySpec: 'AES_256' }));
    expect('Plaintext' in without).toBe(false);
    expect(without.KeyId).toBe(keyArnOf(emu, xksKey));
    expect((await kms.send(new DecryptCommand({ CiphertextBlob: without.CiphertextBlob }))).Plaintext).toHaveLength(32);
  });

  test('neither or both of KeySpec and NumberOfBytes → ValidationException; NumberOfBytes 1–1024', async () => {
    await expectKmsError(kms.send(new GenerateDataKeyCommand({ KeyId: plainKey })), 'ValidationException', /either number of bytes or key spec/);
    await expectKmsError(kms.send(new GenerateDataKeyCommand({ KeyId: plainKey, KeySpec: 'AES_256', NumberOfBytes: 32 })), 'ValidationException');
    await expectKmsError(kms.send(new GenerateDataKeyCommand({ KeyId: plainKey, NumberOfBytes: 1025 })), 'ValidationException', /less than or equal to 1024/);
  });
});

describe('key states (every cryptographic operation)', () => {
  type Op = (keyId: string) => Promise<unknown>;
  let blobs: Record<string, Uint8Array>;
  const ops: [string, Op][] = [
    ['Encrypt', (k) => kms.send(new EncryptCommand({ KeyId: k, Plaintext: bytes('x') }))],
    ['Decrypt', (k) => kms.send(new DecryptCommand({ CiphertextBlob: blobs[k] }))],
    ['GenerateDataKey', (k) => kms.send(new GenerateDataKeyCommand({ KeyId: k, KeySpec: 'AES_256' }))],
    ['GenerateDataKeyWithoutPlaintext', (k) => kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: k, KeySpec: 'AES_256' }))],
  ];

  beforeEach(async () => {
    blobs = {};
    for (const k of [plainKey, hsmKey, xksKey]) blobs[k] = (await kms.send(new EncryptCommand({ KeyId: k, Plaintext: bytes('x') }))).CiphertextBlob!;
  });

  test.each(ops)('%s: Disabled → DisabledException "<ARN> is disabled." (400); enabling again works', async (_name, op) => {
    await kms.send(new DisableKeyCommand({ KeyId: hsmKey }));
    const err = await expectKmsError(op(hsmKey), 'DisabledException', `${keyArnOf(emu, hsmKey)} is disabled.`);
    expect(err.$fault).toBe('client');
    await kms.send(new EnableKeyCommand({ KeyId: hsmKey }));
    await op(hsmKey);
  });

  test.each(ops)('%s: PendingDeletion → KMSInvalidStateException "<ARN> is pending deletion."; after cancel → DisabledException', async (_name, op) => {
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: plainKey, PendingWindowInDays: 7 }));
    await expectKmsError(op(plainKey), 'KMSInvalidStateException', `${keyArnOf(emu, plainKey)} is pending deletion.`);
    await kms.send(new CancelKeyDeletionCommand({ KeyId: plainKey }));
    await expectKmsError(op(plainKey), 'DisabledException', `${keyArnOf(emu, plainKey)} is disabled.`);
  });

  test.each(ops)('%s: a key of a store that is not CONNECTED is Unavailable → KMSInvalidStateException "<ARN> is unavailable."', async (_name, op) => {
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsmStore }));
    // DISCONNECTING already makes the keys unusable, as does DISCONNECTED.
    await expectKmsError(op(hsmKey), 'KMSInvalidStateException', `${keyArnOf(emu, hsmKey)} is unavailable.`);
    await emu.admin.advance(30_000);
    await expectKmsError(op(hsmKey), 'KMSInvalidStateException', `${keyArnOf(emu, hsmKey)} is unavailable.`);
    // A Disabled key in a disconnected store is Unavailable too; XKS behaves the same; FAILED likewise.
    await emu.admin.setStoreState(xksStore, { connectionState: 'FAILED', connectionErrorCode: 'XKS_PROXY_TIMED_OUT' });
    await expectKmsError(op(xksKey), 'KMSInvalidStateException', `${keyArnOf(emu, xksKey)} is unavailable.`);
    // A pending-deletion key stays PendingDeletion whatever the store does.
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: hsmKey, PendingWindowInDays: 7 }));
    await expectKmsError(op(hsmKey), 'KMSInvalidStateException', `${keyArnOf(emu, hsmKey)} is pending deletion.`);
    await emu.admin.setStoreState(xksStore, { connectionState: 'CONNECTED' });
    await op(xksKey);
  });
});

describe('quotas', () => {
  test('Encrypt, Decrypt and GenerateDataKey share one symmetric quota; custom-store keys also share a per-store quota', () =>
    withEmulator({ quotaScale: 1, quotaOverrides: { CryptographicOperationsSymmetric: 4, CustomKeyStoreCryptographicOperations: 2 } }, async (emu2, kms2) => {
      const { keyIds } = await emu2.admin.seed({ stores: [{ name: 'q', connectionState: 'CONNECTED' }], keys: [{ count: 1 }, { customKeyStoreId: 'q' }] });
      const [[plain], [inStore]] = keyIds;
      const calls = [
        kms2.send(new EncryptCommand({ KeyId: plain, Plaintext: bytes('x') })),
        kms2.send(new GenerateDataKeyCommand({ KeyId: plain, KeySpec: 'AES_256' })),
        kms2.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: plain, KeySpec: 'AES_256' })),
        kms2.send(new EncryptCommand({ KeyId: plain, Plaintext: bytes('x') })),
        kms2.send(new EncryptCommand({ KeyId: plain, Plaintext: bytes('x') })),
        kms2.send(new EncryptCommand({ KeyId: plain, Plaintext: bytes('x') })),
      ];
      const results = await Promise.allSettled(calls);
      const throttled = results.filter((r) => r.status === 'rejected' && (r.reason as SdkError).name === 'ThrottlingException');
      expect(throttled.length).toBeGreaterThanOrEqual(1);
      expect((await emu2.admin.stats()).throttled).toMatchObject({ Encrypt: expect.any(Number) });
      expect((await emu2.admin.quotas()).rates).toMatchObject({
        CryptographicOperationsSymmetric: 4,
        CustomKeyStoreCryptographicOperations: 2,
        GetKeyLastUsage: 5,
        LookupEvents: 2,
      });

      // The per-store quota (2) bites before the symmetric one once that one is raised.
      await emu2.admin.setQuotaOverrides({ CustomKeyStoreCryptographicOperations: 2 });
      const inStoreResults = await Promise.allSettled(
        Array.from({ length: 6 }, () => kms2.send(new EncryptCommand({ KeyId: inStore, Plaintext: bytes('x') }))),
      );
      expect(inStoreResults.filter((r) => r.status === 'rejected').length).toBeGreaterThanOrEqual(2);
      // Keys of the default store are not affected by a custom store's quota.
      await Promise.all(Array.from({ length: 6 }, () => kms2.send(new EncryptCommand({ KeyId: plain, Plaintext: bytes('x') }))));
      // us-east-1 default for symmetric cryptographic operations.
      expect((await emu2.admin.quotas()).rates.CryptographicOperationsSymmetric).toBe(100_000);
    }));

  test('unknown quota names and bad rates are refused (admin 400, startEmulator OptionError)', async () => {
    await expect(emu.admin.setQuotaOverrides({ Nope: 1 })).rejects.toThrow(/unknown quota Nope/);
    await expect(emu.admin.setQuotaOverrides({ GetKeyLastUsage: 0 })).rejects.toThrow(/must be a number > 0/);
    await expect(startEmulator({ quotaOverrides: { Nope: 1 } })).rejects.toThrow(/quotaOverrides unknown quota Nope/);
  });
});

test('ciphertexts survive a restart of a persisted emulator (material is derived from the persisted state secret)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-crypto-'));
  const statePath = path.join(dir, 'state.json');
  let first: RunningEmulator | undefined = await startEmulator({ statePath, quotaScale: 0 });
  let second: RunningEmulator | undefined;
  try {
    const client = kmsClient(first);
    const [[key]] = (await first.admin.seed({ keys: [{ count: 1 }] })).keyIds;
    const enc = await client.send(new EncryptCommand({ KeyId: key, Plaintext: bytes('durable') }));
    client.destroy();
    await first.close();
    first = undefined;
    second = await startEmulator({ statePath, quotaScale: 0 });
    const client2 = kmsClient(second);
    expect(text((await client2.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext)).toBe('durable');
    client2.destroy();
  } finally {
    await first?.close();
    await second?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
