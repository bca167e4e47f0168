/** CreateKey, DescribeKey resolution, key-state projection and Enable/DisableKey (reference §3.2, §3.6, §3.12, §4.1). */
import {
  ConnectCustomKeyStoreCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EnableKeyCommand,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { aliasArnOf, expectKmsError, keyArnOf, useSharedEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let hsmStore: string;
let xksStore: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
  const { storeIds } = await emu.admin.seed({
    stores: [
      { name: 'hsm', connectionState: 'CONNECTED' },
      { name: 'xks', type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' },
    ],
  });
  [hsmStore, xksStore] = storeIds;
});

async function keyState(keyId: string): Promise<string | undefined> {
  return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
}

async function reconnect(storeId: string): Promise<void> {
  await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
  await emu.admin.advance(60_000);
}

async function disconnect(storeId: string): Promise<void> {
  await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
  await emu.admin.advance(30_000);
}

describe('CreateKey', () => {
  test('default key store: Origin AWS_KMS, Enabled, no custom store fields', async () => {
    const { KeyMetadata: m } = await kms.send(new CreateKeyCommand({ Description: 'plain key' }));
    expect(m).toMatchObject({
      AWSAccountId: emu.account,
      Arn: keyArnOf(emu, m!.KeyId!),
      Enabled: true,
      KeyState: 'Enabled',
      Origin: 'AWS_KMS',
      Description: 'plain key',
      KeyManager: 'CUSTOMER',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
    });
    expect(m?.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(m?.CustomKeyStoreId).toBeUndefined();
    expect(m?.DeletionDate).toBeUndefined();
  });

  test('CloudHSM store: Origin AWS_CLOUDHSM with store and cluster ids', async () => {
    const { KeyMetadata: m } = await kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: hsmStore }));
    expect(m).toMatchObject({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: hsmStore, CloudHsmClusterId: expect.stringMatching(/^cluster-/), KeyState: 'Enabled' });
    expect(m?.XksKeyConfiguration).toBeUndefined();
  });

  test('XKS store: Origin EXTERNAL_KEY_STORE with XksKeyConfiguration; one KMS key per external key', async () => {
    const { KeyMetadata: m } = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: xksStore, XksKeyId: 'ext-key-1' }));
    expect(m).toMatchObject({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: xksStore, XksKeyConfiguration: { Id: 'ext-key-1' } });
    expect(m?.CloudHsmClusterId).toBeUndefined();
    await expectKmsError(
      kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: xksStore, XksKeyId: 'ext-key-1' })),
      'XksKeyAlreadyInUseException',
    );
    await expectKmsError(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: xksStore })), 'ValidationException');
  });

  test('custom-store keys must be SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT / single-Region; origin must match the store', async () => {
    await expectKmsError(
      kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: hsmStore, KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })),
      'UnsupportedOperationException',
    );
    await expectKmsError(
      kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: hsmStore, MultiRegion: true })),
      'UnsupportedOperationException',
    );
    await expectKmsError(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: hsmStore, XksKeyId: 'x' })), 'ValidationException');
    await expectKmsError(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM' })), 'ValidationException');
    await expectKmsError(kms.send(new CreateKeyCommand({ Description: 'x'.repeat(8193) })), 'ValidationException');
  });

  test('the store must be CONNECTED', async () => {
    await disconnect(hsmStore);
    await expectKmsError(
      kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: hsmStore })),
      'CustomKeyStoreInvalidStateException',
      /DISCONNECTED/,
    );
  });
});

describe('DescribeKey', () => {
  let keyId: string;
  beforeEach(async () => {
    ({
      keyIds: [[keyId]],
    } = await emu.admin.seed({ keys: [{ customKeyStoreId: hsmStore, aliasPrefix: 'alias/app' }] }));
  });

  test('resolves key id, key ARN, alias name and alias ARN', async () => {
    for (const ref of [keyId, keyArnOf(emu, keyId), 'alias/app-0', aliasArnOf(emu, 'alias/app-0')]) {
      const out = await kms.send(new DescribeKeyCommand({ KeyId: ref }));
      expect({ ref, id: out.KeyMetadata?.KeyId }).toEqual({ ref, id: keyId });
    }
  });

  test('unknown references use the real NotFound wordings', async () => {
    const missing = '11111111-2222-4333-8444-555555555555';
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: missing })), 'NotFoundException', `Key '${keyArnOf(emu, missing)}' does not exist`);
    await expectKmsError(
      kms.send(new DescribeKeyCommand({ KeyId: keyArnOf(emu, missing) })),
      'NotFoundException',
      `Key '${keyArnOf(emu, missing)}' does not exist`,
    );
    await expectKmsError(
      kms.send(new DescribeKeyCommand({ KeyId: 'alias/nope' })),
      'NotFoundException',
      `Alias ${aliasArnOf(emu, 'alias/nope')} is not found.`,
    );
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: 'not-a-key' })), 'NotFoundException', 'Invalid keyId not-a-key');
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: 'arn:aws:kms:us-east-1:111122223333:thing/x' })), 'InvalidArnException');
    await expectKmsError(
      kms.send(new DescribeKeyCommand({ KeyId: undefined as unknown as string })),
      'ValidationException',
      "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    );
    const foreign = `arn:aws:kms:eu-west-1:111122223333:key/${keyId}`;
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: foreign })), 'NotFoundException', `Key '${foreign}' does not exist`);
  });
});

describe('key-state projection (reference §4.1)', () => {
  test('keys of a non-CONNECTED store report Unavailable, PendingDeletion stays, reconnect restores Enabled/Disabled', async () => {
    const {
      keyIds: [[enabled, disabled], [pending]],
    } = await emu.admin.seed({
      keys: [
        { customKeyStoreId: hsmStore, count: 2 },
        { customKeyStoreId: hsmStore, keyState: 'PendingDeletion' },
      ],
    });
    await kms.send(new DisableKeyCommand({ KeyId: disabled }));
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsmStore }));
    // DISCONNECTING already makes keys unusable.
    expect(await keyState(enabled)).toBe('Unavailable');
    await emu.admin.advance(30_000);
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: enabled }))).KeyMetadata;
    expect({ state: m?.KeyState, enabled: m?.Enabled }).toEqual({ state: 'Unavailable', enabled: false });
    expect(await keyState(disabled)).toBe('Unavailable');
    expect(await keyState(pending)).toBe('PendingDeletion');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: hsmStore }));
    expect(await keyState(enabled)).toBe('Unavailable'); // CONNECTING
    await emu.admin.advance(60_000);
    expect(await keyState(enabled)).toBe('Enabled');
    expect(await keyState(disabled)).toBe('Disabled');
    expect(await keyState(pending)).toBe('PendingDeletion');
  });

  test('FAILED stores also make keys Unavailable', async () => {
    const [[k]] = (await emu.admin.seed({ keys: [{ customKeyStoreId: xksStore }] })).keyIds;
    await emu.admin.setStoreState(xksStore, { connectionState: 'FAILED', connectionErrorCode: 'XKS_PROXY_NOT_REACHABLE' });
    expect(await keyState(k)).toBe('Unavailable');
  });

  test('Enable/Disable on Unavailable keys succeed without visible change and apply on reconnect', async () => {
    const [[a, b]] = (await emu.admin.seed({ keys: [{ customKeyStoreId: hsmStore, count: 2 }] })).keyIds;
    await disconnect(hsmStore);
    await kms.send(new DisableKeyCommand({ KeyId: a }));
    await kms.send(new DisableKeyCommand({ KeyId: b }));
    await kms.send(new EnableKeyCommand({ KeyId: b }));
    expect(await keyState(a)).toBe('Unavailable');
    expect(await keyState(b)).toBe('Unavailable');
    await reconnect(hsmStore);
    expect(await keyState(a)).toBe('Disabled');
    expect(await keyState(b)).toBe('Enabled');
  });

  test('aliases can be created for Unavailable keys but not for PendingDeletion keys', async () => {
    const [[a], [p]] = (await emu.admin.seed({ keys: [{ customKeyStoreId: hsmStore }, { customKeyStoreId: hsmStore, keyState: 'PendingDeletion' }] })).keyIds;
    await disconnect(hsmStore);
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/unavailable-ok', TargetKeyId: a }));
    await expectKmsError(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/pending-no', TargetKeyId: p })),
      'KMSInvalidStateException',
      `${keyArnOf(emu, p)} is pending deletion.`,
    );
  });
});

describe('EnableKey / DisableKey', () => {
  test('are idempotent, answer an empty result and derive Enabled from KeyState', async () => {
    const [[k]] = (await emu.admin.seed({ keys: [{}] })).keyIds;
    for (let i = 0; i < 2; i++) {
      const out = await kms.send(new DisableKeyCommand({ KeyId: k }));
      expect(Object.keys(out)).toEqual(['$metadata']);
    }
    let m = (await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata;
    expect({ state: m?.KeyState, enabled: m?.Enabled }).toEqual({ state: 'Disabled', enabled: false });
    await kms.send(new EnableKeyCommand({ KeyId: keyArnOf(emu, k) }));
    await kms.send(new EnableKeyCommand({ KeyId: k }));
    m = (await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata;
    expect({ state: m?.KeyState, enabled: m?.Enabled }).toEqual({ state: 'Enabled', enabled: true });
  });

  test('fail with "<ARN> is pending deletion." on PendingDeletion keys', async () => {
    const [[k]] = (await emu.admin.seed({ keys: [{ customKeyStoreId: hsmStore }] })).keyIds;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await expectKmsError(kms.send(new EnableKeyCommand({ KeyId: k })), 'KMSInvalidStateException', `${keyArnOf(emu, k)} is pending deletion.`);
    await expectKmsError(kms.send(new DisableKeyCommand({ KeyId: k })), 'KMSInvalidStateException', `${keyArnOf(emu, k)} is pending deletion.`);
  });

  test('accept only key ids and ARNs, not aliases', async () => {
    await emu.admin.seed({ keys: [{ aliasPrefix: 'alias/en' }] });
    await expectKmsError(kms.send(new DisableKeyCommand({ KeyId: 'alias/en-0' })), 'NotFoundException', 'Invalid keyId alias/en-0');
    const missing = '99999999-2222-4333-8444-555555555555';
    await expectKmsError(kms.send(new EnableKeyCommand({ KeyId: missing })), 'NotFoundException', `Key '${keyArnOf(emu, missing)}' does not exist`);
  });
});
