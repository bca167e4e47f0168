/** Wire format (reference §1): headers, bodies of void operations, timestamps, error shape, routing. */
import {
  CreateAliasCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  KMSServiceException,
  ListAliasesCommand,
  NotFoundException,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { expectKmsError, keyArnOf, kmsClient, rawKms, startTestEmulator } from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let emu: RunningEmulator;
let kms: KMSClient;
let keyId: string;
let storeId: string;

beforeAll(async () => {
  emu = await startTestEmulator();
  kms = kmsClient(emu);
  const seeded = await emu.admin.seed({
    stores: [{ name: 'wire-hsm', connectionState: 'CONNECTED' }],
    keys: [{ count: 3, customKeyStoreId: 'wire-hsm' }],
  });
  storeId = seeded.storeIds[0];
  keyId = seeded.keyIds[0][0];
});

afterAll(async () => {
  kms.destroy();
  await emu.close();
});

describe('successful responses', () => {
  test('carry application/x-amz-json-1.1 and a UUID x-amzn-RequestId', async () => {
    const res = await rawKms(emu, 'TrentService.DescribeKey', JSON.stringify({ KeyId: keyId }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(res.headers['x-amzn-requestid']).toMatch(UUID);
    expect(JSON.parse(res.body).KeyMetadata.KeyId).toBe(keyId);
  });

  test('the SDK exposes the request id as $metadata.requestId', async () => {
    const out = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(out.$metadata.requestId).toMatch(UUID);
    expect(out.$metadata.httpStatusCode).toBe(200);
  });

  test('operations without an output shape answer with an empty body', async () => {
    const keyIds = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds[0];
    for (const [target, body] of [
      ['TrentService.DisableKey', { KeyId: keyIds[0] }],
      ['TrentService.EnableKey', { KeyId: keyIds[0] }],
      ['TrentService.CreateAlias', { AliasName: 'alias/wire-empty', TargetKeyId: keyIds[0] }],
      ['TrentService.DeleteAlias', { AliasName: 'alias/wire-empty' }],
    ] as const) {
      const res = await rawKms(emu, target, JSON.stringify(body));
      expect({ target, status: res.status, body: res.body, length: res.headers['content-length'] }).toEqual({ target, status: 200, body: '', length: '0' });
      expect(res.headers['x-amzn-requestid']).toMatch(UUID);
    }
  });

  test('custom key store operations with an empty output shape answer with {}', async () => {
    const created = await rawKms(
      emu,
      'TrentService.CreateCustomKeyStore',
      JSON.stringify({
        CustomKeyStoreName: 'wire-empty',
        CloudHsmClusterId: 'cluster-wirewirewire',
        KeyStorePassword: 'password',
        TrustAnchorCertificate: 'cert',
      }),
    );
    const id = JSON.parse(created.body).CustomKeyStoreId as string;
    expect(id).toMatch(/^cks-[0-9a-f]{17}$/);
    for (const target of ['UpdateCustomKeyStore', 'ConnectCustomKeyStore', 'DisconnectCustomKeyStore']) {
      const body = target === 'UpdateCustomKeyStore' ? { CustomKeyStoreId: id, NewCustomKeyStoreName: 'wire-empty-2' } : { CustomKeyStoreId: id };
      const res = await rawKms(emu, `TrentService.${target}`, JSON.stringify(body));
      expect({ target, status: res.status, body: res.body }).toEqual({ target, status: 200, body: '{}' });
    }
    await emu.admin.advance(60_000);
    const deleted = await rawKms(emu, 'TrentService.DeleteCustomKeyStore', JSON.stringify({ CustomKeyStoreId: id }));
    expect({ status: deleted.status, body: deleted.body }).toEqual({ status: 200, body: '{}' });
  });
});

describe('timestamps', () => {
  test('are JSON numbers in epoch seconds with at most millisecond precision', async () => {
    const [, key2] = (await emu.admin.seed({ keys: [{ count: 2 }] })).keyIds[0];
    const scheduled = await rawKms(emu, 'TrentService.ScheduleKeyDeletion', JSON.stringify({ KeyId: key2, PendingWindowInDays: 7 }));
    const deletionDate = JSON.parse(scheduled.body).DeletionDate;
    expect(typeof deletionDate).toBe('number');
    expect(scheduled.body).toMatch(/"DeletionDate":\d{10}(\.\d{1,3})?[,}]/);
    const described = JSON.parse((await rawKms(emu, 'TrentService.DescribeKey', JSON.stringify({ KeyId: key2 }))).body);
    expect(typeof described.KeyMetadata.CreationDate).toBe('number');
    const { nowMs } = await emu.admin.now();
    expect(Math.abs(described.KeyMetadata.CreationDate * 1000 - nowMs)).toBeLessThan(60_000);
    expect(described.KeyMetadata.DeletionDate).toBe(deletionDate);
  });

  test('the SDK turns them into Date objects', async () => {
    const [k] = (await emu.admin.seed({ keys: [{ count: 1, aliasPrefix: 'alias/wire-date' }] })).keyIds[0];
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 10 }));
    expect(scheduled.DeletionDate).toBeInstanceOf(Date);
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: k }));
    expect(KeyMetadata?.CreationDate).toBeInstanceOf(Date);
    expect(KeyMetadata?.DeletionDate).toBeInstanceOf(Date);
    expect(KeyMetadata?.DeletionDate?.getTime()).toBe(scheduled.DeletionDate?.getTime());
    const stores = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }));
    expect(stores.CustomKeyStores?.[0].CreationDate).toBeInstanceOf(Date);
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: k }));
    expect(aliases.Aliases?.[0].CreationDate).toBeInstanceOf(Date);
    expect(aliases.Aliases?.[0].LastUpdatedDate).toBeInstanceOf(Date);
  });
});

describe('errors', () => {
  test('use {"__type": bare name, "message"} with status 400 and a request id', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const res = await rawKms(emu, 'TrentService.DescribeKey', JSON.stringify({ KeyId: missing }));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(res.headers['x-amzn-requestid']).toMatch(UUID);
    expect(JSON.parse(res.body)).toEqual({ __type: 'NotFoundException', message: `Key '${keyArnOf(emu, missing)}' does not exist` });
  });

  test('modeled errors map to SDK classes, unmodeled ones to KMSServiceException with the name', async () => {
    const nf = await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000001' })), 'NotFoundException');
    expect(nf).toBeInstanceOf(NotFoundException);
    expect(nf.$fault).toBe('client');
    const ve = await expectKmsError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 1 })), 'ValidationException');
    expect(ve).toBeInstanceOf(KMSServiceException);
    expect(ve.$metadata.requestId).toMatch(UUID);
  });

  test('an unknown operation is UnknownOperationException (400)', async () => {
    const res = await rawKms(emu, 'TrentService.GenerateRandom', '{}');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).__type).toBe('UnknownOperationException');
    expect(res.headers['x-amzn-requestid']).toMatch(UUID);
    const wrongService = await rawKms(emu, 'DynamoDB_20120810.ListTables', '{}');
    expect(JSON.parse(wrongService.body).__type).toBe('UnknownOperationException');
    const noTarget = await rawKms(emu, undefined, '{}');
    expect(noTarget.status).toBe(400);
    expect(JSON.parse(noTarget.body).__type).toBe('UnknownOperationException');
  });

  test('a body that is not a JSON object, or a member of the wrong type, is SerializationException', async () => {
    for (const body of ['{not json', '[1,2]', '{"KeyId": 5}']) {
      const res = await rawKms(emu, 'TrentService.DescribeKey', body);
      expect({ body, status: res.status, type: JSON.parse(res.body).__type }).toEqual({ body, status: 400, type: 'SerializationException' });
    }
  });

  test('an empty body counts as {} (DescribeCustomKeyStores without arguments)', async () => {
    const res = await rawKms(emu, 'TrentService.DescribeCustomKeyStores', '');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).CustomKeyStores.length).toBeGreaterThan(0);
  });

  test('CreateAlias through the SDK resolves with only $metadata (empty body accepted)', async () => {
    const out = await kms.send(new CreateAliasCommand({ AliasName: 'alias/wire-sdk', TargetKeyId: keyId }));
    expect(Object.keys(out)).toEqual(['$metadata']);
  });
});
