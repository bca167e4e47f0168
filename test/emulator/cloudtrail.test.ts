/**
 * CloudTrail LookupEvents on the emulator's port, through `@aws-sdk/client-cloudtrail`: what every KMS call
 * leaves behind (successes, errors, caller, source, resources, custom key store details), KMS's DeleteKey
 * service event, delivery delay, paging, filters, validation errors, the 2 requests/s quota and SigV4.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CloudTrailClient,
  type CloudTrailClientConfig,
  type Event,
  type LookupAttributeKey,
  LookupEventsCommand,
  type LookupEventsCommandInput,
  paginateLookupEvents,
} from '@aws-sdk/client-cloudtrail';
import {
  CreateAliasCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EncryptCommand,
  GetKeyLastUsageCommand,
  type KMSClient,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { DAY_MS, expectKmsError, keyArnOf, kmsClient, type SdkError, useSharedEmulator, waitFor, withEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let trail: CloudTrailClient;
let hsmStore: string;
let xksStore: string;
let plainKey: string;
let hsmKey: string;
let xksKey: string;

function cloudTrailClient(target: RunningEmulator, overrides: Partial<CloudTrailClientConfig> = {}): CloudTrailClient {
  return new CloudTrailClient({ endpoint: target.url, region: target.region, credentials: target.credentials, maxAttempts: 1, ...overrides });
}

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
  trail = cloudTrailClient(started);
});

afterAll(() => trail.destroy());

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

const plaintext = new TextEncoder().encode('secret data');

async function lookup(key: LookupAttributeKey, value: string, extra: Partial<LookupEventsCommandInput> = {}): Promise<Event[]> {
  return (await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: key, AttributeValue: value }], ...extra }))).Events ?? [];
}

/** The parts of a CloudTrail record the assertions read (the whole record is compared with toEqual/toMatchObject). */
interface TrailRecord {
  eventName: string;
  eventTime: string;
  errorCode?: string;
  errorMessage?: string;
  readOnly: boolean;
  requestID?: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: Record<string, string> | null;
  additionalEventData?: Record<string, string>;
  resources?: { ARN: string }[];
  userIdentity: Record<string, unknown>;
}

function record(event: Event | undefined): TrailRecord {
  if (!event?.CloudTrailEvent) throw new Error('no CloudTrailEvent');
  return JSON.parse(event.CloudTrailEvent) as TrailRecord;
}

describe('API call events', () => {
  test('a successful Encrypt: every LookupEvents field and the documented record; GetKeyLastUsage names its eventID', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext, EncryptionContext: { Department: 'Engineering' } }));
    const events = await lookup('ResourceName', keyArnOf(emu, plainKey));
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({
      EventName: 'Encrypt',
      ReadOnly: 'true',
      AccessKeyId: 'test',
      EventSource: 'kms.amazonaws.com',
      Username: 'test',
      Resources: [{ ResourceType: 'AWS::KMS::Key', ResourceName: keyArnOf(emu, plainKey) }],
    });
    expect(event.EventTime).toBeInstanceOf(Date);
    expect(event.EventTime!.getTime() % 1000).toBe(0);
    const r = record(event);
    expect(r).toEqual({
      eventVersion: '1.11',
      userIdentity: {
        type: 'IAMUser',
        principalId: expect.stringMatching(/^AIDA[A-Z2-7]{17}$/),
        arn: `arn:aws:iam::${emu.account}:user/test`,
        accountId: emu.account,
        accessKeyId: 'test',
        userName: 'test',
      },
      eventTime: event.EventTime!.toISOString().replace('.000Z', 'Z'),
      eventSource: 'kms.amazonaws.com',
      eventName: 'Encrypt',
      awsRegion: emu.region,
      sourceIPAddress: '127.0.0.1',
      userAgent: expect.stringContaining('aws-sdk-js'),
      requestParameters: { keyId: plainKey, encryptionContext: { Department: 'Engineering' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
      responseElements: null,
      requestID: enc.$metadata.requestId,
      eventID: event.EventId,
      readOnly: true,
      resources: [{ accountId: emu.account, type: 'AWS::KMS::Key', ARN: keyArnOf(emu, plainKey) }],
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: emu.account,
      eventCategory: 'Management',
    });
    // The plaintext is never logged.
    expect(event.CloudTrailEvent).not.toContain(Buffer.from(plaintext).toString('base64'));
    const usage = await kms.send(new GetKeyLastUsageCommand({ KeyId: plainKey }));
    expect(usage.KeyLastUsage?.CloudTrailEventId).toBe(event.EventId);
    expect(usage.KeyLastUsage?.Timestamp?.getTime()).toBe(event.EventTime?.getTime());
  });

  test('errors are recorded with errorCode and errorMessage and name the key: DisabledException, KMSInvalidStateException', async () => {
    const arn = keyArnOf(emu, plainKey);
    await kms.send(new DisableKeyCommand({ KeyId: plainKey }));
    await expectKmsError(kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext })), 'DisabledException');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: plainKey, PendingWindowInDays: 7 }));
    await expectKmsError(kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext })), 'KMSInvalidStateException');
    const encrypts = await lookup('ResourceName', arn).then((es) => es.filter((e) => e.EventName === 'Encrypt').map(record));
    // Newest first.
    expect(encrypts.map((r) => [r.errorCode, r.errorMessage])).toEqual([
      ['KMSInvalidStateException', `${arn} is pending deletion.`],
      ['DisabledException', `${arn} is disabled.`],
    ]);
    expect(encrypts[0]).toMatchObject({ responseElements: null, resources: [{ ARN: arn }], readOnly: true });
  });

  test('Decrypt names its key in resources though the request had no KeyId; custom key stores add additionalEventData', async () => {
    const hsmBlob = (await kms.send(new EncryptCommand({ KeyId: hsmKey, Plaintext: plaintext }))).CiphertextBlob;
    const xksBlob = (await kms.send(new EncryptCommand({ KeyId: xksKey, Plaintext: plaintext }))).CiphertextBlob;
    await kms.send(new DecryptCommand({ CiphertextBlob: hsmBlob }));
    await kms.send(new DecryptCommand({ CiphertextBlob: xksBlob }));
    const [hsmDecrypt] = (await lookup('ResourceName', keyArnOf(emu, hsmKey))).map(record);
    expect(hsmDecrypt).toMatchObject({
      eventName: 'Decrypt',
      requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
      additionalEventData: { customKeyStoreId: hsmStore },
      resources: [{ ARN: keyArnOf(emu, hsmKey) }],
    });
    expect(hsmDecrypt.requestParameters?.ciphertextBlob).toBeUndefined();
    const [xksDecrypt] = (await lookup('ResourceName', keyArnOf(emu, xksKey))).map(record);
    expect(xksDecrypt.additionalEventData).toEqual({ customKeyStoreId: xksStore, xksKeyId: `xks-${xksKey}` });
    // Default-store keys carry none.
    await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext }));
    expect(record((await lookup('ResourceName', keyArnOf(emu, plainKey)))[0]).additionalEventData).toBeUndefined();
  });

  test('management calls: readOnly false, responseElements of the answer (dates as KMS prints them), store calls name the store', async () => {
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: plainKey, PendingWindowInDays: 20 }));
    const [schedule] = (await lookup('EventName', 'ScheduleKeyDeletion')).map(record);
    expect(schedule).toMatchObject({
      readOnly: false,
      requestParameters: { keyId: plainKey, pendingWindowInDays: 20 },
      responseElements: {
        keyId: keyArnOf(emu, plainKey),
        keyState: 'PendingDeletion',
        pendingWindowInDays: 20,
        deletionDate: expect.stringMatching(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$/),
      },
    });
    const deletionDate = scheduled.DeletionDate!;
    expect(new Date(`${schedule.responseElements?.deletionDate} UTC`.replace(', ', ' ').replace(', ', ' ')).getTime()).toBe(
      Math.floor(deletionDate.getTime() / 1000) * 1000,
    );

    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsmStore }));
    const [disconnect] = (await lookup('EventName', 'DisconnectCustomKeyStore')).map(record);
    expect(disconnect).toMatchObject({
      readOnly: false,
      requestParameters: { customKeyStoreId: hsmStore },
      responseElements: null,
      additionalEventData: { customKeyStoreName: 'hsm', clusterId: expect.stringMatching(/^cluster-/) },
    });
    expect(disconnect.resources).toBeUndefined();
    // Read-only management calls are recorded too; their answers are not.
    await kms.send(new DescribeKeyCommand({ KeyId: hsmKey }));
    const [describe] = (await lookup('EventName', 'DescribeKey')).map(record);
    expect(describe).toMatchObject({ readOnly: true, responseElements: null, requestParameters: { keyId: hsmKey } });
    await kms.send(new ListKeysCommand({}));
    expect(record((await lookup('EventName', 'ListKeys'))[0]).requestParameters).toBeNull();
  });

  test('the caller is whoever signed: IAM users and role sessions by their access keys; Username and AccessKeyId filters', async () => {
    const role = await emu.admin.addIdentity({ arn: `arn:aws:sts::${emu.account}:assumed-role/payments-service/i-0abc123` });
    expect(role).toMatchObject({ type: 'AssumedRole', username: 'i-0abc123', accessKeyId: expect.stringMatching(/^ASIA[A-Z2-7]{16}$/) });
    const user = await emu.admin.addIdentity({
      arn: `arn:aws:iam::${emu.account}:user/ops/alice`,
      accessKeyId: 'AKIAALICE0000000',
      secretAccessKey: 'alice-secret',
    });
    const asRole = kmsClient(emu, { credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey } });
    const asAlice = kmsClient(emu, { credentials: { accessKeyId: 'AKIAALICE0000000', secretAccessKey: 'alice-secret' } });
    try {
      await asRole.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext }));
      await asAlice.send(new DescribeKeyCommand({ KeyId: plainKey }));
    } finally {
      asRole.destroy();
      asAlice.destroy();
    }
    const [byRole] = await lookup('Username', 'i-0abc123');
    expect(byRole).toMatchObject({ EventName: 'Encrypt', AccessKeyId: role.accessKeyId, Username: 'i-0abc123' });
    expect(record(byRole).userIdentity).toEqual({
      type: 'AssumedRole',
      principalId: expect.stringMatching(/^AROA[A-Z2-7]{17}:i-0abc123$/),
      arn: role.arn,
      accountId: emu.account,
      accessKeyId: role.accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: expect.stringMatching(/^AROA/),
          arn: `arn:aws:iam::${emu.account}:role/payments-service`,
          accountId: emu.account,
          userName: 'payments-service',
        },
        attributes: { mfaAuthenticated: 'false' },
      },
    });
    const [byAlice] = await lookup('AccessKeyId', user.accessKeyId);
    expect(byAlice).toMatchObject({ EventName: 'DescribeKey', Username: 'alice' });
    expect(record(byAlice).userIdentity).toMatchObject({ type: 'IAMUser', arn: `arn:aws:iam::${emu.account}:user/ops/alice`, userName: 'alice' });
    expect((await emu.admin.identities()).map((i) => i.arn)).toEqual(expect.arrayContaining([role.arn, user.arn, `arn:aws:iam::${emu.account}:user/test`]));
    await expect(emu.admin.addIdentity({ arn: 'arn:aws:iam::999999999999:user/x' })).rejects.toThrow(/not in the emulator's account/);
    await expect(emu.admin.addIdentity({ arn: 'arn:aws:iam::x' })).rejects.toThrow(/must be arn:aws:iam/);
    await emu.admin.removeIdentity(user.accessKeyId);
    const gone = kmsClient(emu, { credentials: { accessKeyId: 'AKIAALICE0000000', secretAccessKey: 'alice-secret' } });
    await expectKmsError(gone.send(new ListKeysCommand({})), 'UnrecognizedClientException');
    gone.destroy();
    // A request that failed authentication reached no service: CloudTrail has nothing from that key.
    expect(await lookup('AccessKeyId', 'AKIAALICE0000000')).toHaveLength(1);
  });

  test('throttled KMS calls are recorded with errorCode ThrottlingException', () =>
    withEmulator({ quotaScale: 1 }, async (emu2, kms2) => {
      const trail2 = cloudTrailClient(emu2);
      try {
        // DisableKey allows 5/s: a burst of 12 on an unknown key gets NotFound for the admitted ones.
        await Promise.allSettled(Array.from({ length: 12 }, () => kms2.send(new DisableKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' }))));
        const events =
          (await trail2.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'DisableKey' }] }))).Events ?? [];
        expect(events).toHaveLength(12);
        const codes = events.map((e) => record(e).errorCode);
        expect(codes.filter((c) => c === 'ThrottlingException').length).toBeGreaterThanOrEqual(1);
        expect(codes.filter((c) => c === 'NotFoundException').length).toBeGreaterThanOrEqual(1);
      } finally {
        trail2.destroy();
      }
    }));
});

describe('DeleteKey service event', () => {
  async function deleteKeys(keys: string[]): Promise<void> {
    for (const k of keys) await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await emu.admin.advance(7 * DAY_MS + 1000);
  }

  test('CloudHSM key, store CONNECTED: AwsServiceEvent by AWS Internal with the backing key deleted (SUCCESS)', async () => {
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/gone', TargetKeyId: hsmKey }));
    await deleteKeys([hsmKey]);
    const [deletion] = await emu.admin.deletions();
    const events = await lookup('EventName', 'DeleteKey');
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({
      EventSource: 'kms.amazonaws.com',
      ReadOnly: 'false',
      Resources: [{ ResourceType: 'AWS::KMS::Key', ResourceName: keyArnOf(emu, hsmKey) }],
    });
    expect(event.AccessKeyId).toBeUndefined();
    expect(event.Username).toBeUndefined();
    expect(event.EventTime?.getTime()).toBe(Math.floor(deletion.time / 1000) * 1000);
    const r = record(event);
    expect(r).toMatchObject({
      userIdentity: { accountId: emu.account, invokedBy: 'AWS Internal' },
      sourceIPAddress: 'AWS Internal',
      userAgent: 'AWS Internal',
      requestParameters: null,
      responseElements: { keyId: keyArnOf(emu, hsmKey) },
      eventType: 'AwsServiceEvent',
      readOnly: false,
      managementEvent: true,
      eventCategory: 'Management',
      additionalEventData: { customKeyStoreId: hsmStore, clusterId: expect.stringMatching(/^cluster-/) },
    });
    expect(r.requestID).toBeUndefined();
    const backingKeys = JSON.parse(r.additionalEventData?.backingKeys ?? '') as { keyHandle: string; backingKeyId: string }[];
    const status = JSON.parse(r.additionalEventData?.backingKeysDeletionStatus ?? '') as unknown;
    expect(backingKeys).toEqual([{ keyHandle: expect.stringMatching(/^\d+$/), backingKeyId: expect.stringMatching(/^[0-9a-f]{32}$/) }]);
    expect(status).toEqual([{ ...backingKeys[0], deletionStatus: 'SUCCESS' }]);
    // The same event is found by the key ARN, with the earlier calls.
    expect((await lookup('ResourceName', keyArnOf(emu, hsmKey))).map((e) => e.EventName)).toEqual(['DeleteKey', 'ScheduleKeyDeletion', 'CreateAlias']);
  });

  test('CloudHSM store disconnected at expiry → FAILURE; XKS names the external key; default store has no additionalEventData', async () => {
    for (const k of [hsmKey, xksKey, plainKey]) await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsmStore }));
    await emu.admin.advance(7 * DAY_MS + 1000);
    const byKey = new Map((await lookup('EventName', 'DeleteKey')).map((e) => [e.Resources?.[0]?.ResourceName, record(e)]));
    expect(JSON.parse(byKey.get(keyArnOf(emu, hsmKey))?.additionalEventData?.backingKeysDeletionStatus ?? '')).toEqual([
      expect.objectContaining({ deletionStatus: 'FAILURE' }),
    ]);
    expect(byKey.get(keyArnOf(emu, xksKey))!.additionalEventData).toEqual({ customKeyStoreId: xksStore, xksKeyId: `xks-${xksKey}` });
    expect(byKey.get(keyArnOf(emu, plainKey))!.additionalEventData).toBeUndefined();
  });
});

describe('delivery, windows and paging', () => {
  test('events appear after the delivery delay (emulated time); the admin view shows undelivered ones', async () => {
    await emu.admin.setCloudTrailDelivery({ delayMs: 15 * 60_000 });
    await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext }));
    expect(await lookup('ResourceName', keyArnOf(emu, plainKey))).toEqual([]);
    expect(await emu.admin.cloudTrail()).toMatchObject({ delayMs: 900_000, jitterMs: 0, events: expect.any(Number), undelivered: expect.any(Number) });
    const pending = (await emu.admin.cloudTrailEvents()).filter((e) => !e.delivered);
    expect(pending.map((e) => e.record.eventName)).toContain('Encrypt');
    await emu.admin.advance(14 * 60_000);
    expect(await lookup('ResourceName', keyArnOf(emu, plainKey))).toEqual([]);
    await emu.admin.advance(60_000 + 1000);
    expect((await lookup('ResourceName', keyArnOf(emu, plainKey))).map((e) => e.EventName)).toEqual(['Encrypt']);
    // reset restores the configured delivery (0 here).
    await emu.admin.reset();
    expect((await emu.admin.cloudTrail()).delayMs).toBe(0);
  });

  test('the cloudTrailDelayMs option; jitter keeps each event within [delay, delay + jitter]', () =>
    withEmulator({ cloudTrailDelayMs: 60_000, cloudTrailDelayJitterMs: 30_000, seed: 7 }, async (emu2, kms2) => {
      const [[k]] = (await emu2.admin.seed({ keys: [{ count: 1 }] })).keyIds;
      for (let i = 0; i < 5; i++) await kms2.send(new EncryptCommand({ KeyId: k, Plaintext: plaintext }));
      const events = (await emu2.admin.cloudTrailEvents()).filter((e) => e.record.eventName === 'Encrypt');
      for (const e of events) {
        const lag = e.deliverAt - Date.parse(e.record.eventTime as string);
        expect(lag).toBeGreaterThanOrEqual(60_000);
        expect(lag).toBeLessThan(91_000 + 1000);
      }
    }));

  test('newest first, MaxResults ≤ 50 (default 50), NextToken paging; the SDK paginator walks every page', async () => {
    for (let i = 0; i < 120; i++) await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext }));
    const arn = keyArnOf(emu, plainKey);
    const first = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: arn }] }));
    expect(first.Events).toHaveLength(50);
    expect(first.NextToken).toBeDefined();
    const all: Event[] = [];
    for await (const page of paginateLookupEvents(
      { client: trail, pageSize: 50 },
      { LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: arn }] },
    )) {
      expect((page.Events ?? []).length).toBeLessThanOrEqual(50);
      all.push(...(page.Events ?? []));
    }
    expect(all).toHaveLength(120);
    expect(new Set(all.map((e) => e.EventId)).size).toBe(120);
    const times = all.map((e) => e.EventTime!.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const small = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: arn }], MaxResults: 7 }));
    expect(small.Events).toHaveLength(7);
    expect(small.Events?.map((e) => e.EventId)).toEqual(all.slice(0, 7).map((e) => e.EventId));
    // The token is bound to its parameters.
    await expectKmsError(
      trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }], NextToken: first.NextToken })),
      'InvalidNextTokenException',
    );
    await expectKmsError(trail.send(new LookupEventsCommand({ NextToken: 'garbage' })), 'InvalidNextTokenException');
  });

  test('StartTime / EndTime bound the events (inclusive); events older than 90 days are gone', async () => {
    await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext }));
    const { nowMs: t1 } = await emu.admin.advance(10 * DAY_MS);
    await kms.send(new DescribeKeyCommand({ KeyId: plainKey }));
    const arn = keyArnOf(emu, plainKey);
    expect((await lookup('ResourceName', arn, { StartTime: new Date(t1 - 1000) })).map((e) => e.EventName)).toEqual(['DescribeKey']);
    expect((await lookup('ResourceName', arn, { EndTime: new Date(t1 - DAY_MS) })).map((e) => e.EventName)).toEqual(['Encrypt']);
    expect((await lookup('ResourceName', arn)).map((e) => e.EventName)).toEqual(['DescribeKey', 'Encrypt']);
    await emu.admin.advance(85 * DAY_MS);
    expect((await lookup('ResourceName', arn)).map((e) => e.EventName)).toEqual(['DescribeKey']);
  });

  test('each attribute filters: EventId, EventName, ReadOnly, ResourceType, EventSource; LookupEvents calls are recorded too', async () => {
    await kms.send(new EncryptCommand({ KeyId: plainKey, Plaintext: plaintext }));
    await kms.send(new DisableKeyCommand({ KeyId: plainKey }));
    const [encrypt] = await lookup('EventName', 'Encrypt');
    expect((await lookup('EventId', encrypt.EventId!)).map((e) => e.EventId)).toEqual([encrypt.EventId]);
    expect((await lookup('ReadOnly', 'false')).map((e) => e.EventName)).toEqual(['DisableKey']);
    expect((await lookup('ResourceType', 'AWS::KMS::Key')).map((e) => e.EventName)).toEqual(['DisableKey', 'Encrypt']);
    const kmsEvents = await lookup('EventSource', 'kms.amazonaws.com');
    expect(kmsEvents.map((e) => e.EventName)).toEqual(['DisableKey', 'Encrypt']);
    const own = await lookup('EventSource', 'cloudtrail.amazonaws.com');
    expect(own.length).toBeGreaterThanOrEqual(5);
    expect(record(own[0])).toMatchObject({
      eventName: 'LookupEvents',
      readOnly: true,
      requestParameters: { lookupAttributes: [{ attributeKey: 'EventSource', attributeValue: 'kms.amazonaws.com' }] },
    });
    expect(await lookup('ResourceName', keyArnOf(emu, plainKey).replace(plainKey, '00000000-0000-4000-8000-000000000000'))).toEqual([]);
  });

  test('maxEvents: the oldest events are dropped beyond the cap (background tick)', async () => {
    expect(await emu.admin.setCloudTrailDelivery({ maxEvents: 10 })).toEqual({ delayMs: 0, jitterMs: 0, maxEvents: 10 });
    for (let i = 0; i < 25; i++) await kms.send(new DescribeKeyCommand({ KeyId: plainKey }));
    const info = await waitFor(
      async () => {
        const current = await emu.admin.cloudTrail();
        return current.events <= 10 ? current : undefined;
      },
      5000,
      100,
    );
    expect(info.events).toBe(10);
    const events = await emu.admin.cloudTrailEvents();
    // The newest survive.
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
    expect(events[events.length - 1]?.record.eventName).toBe('DescribeKey');
    await expect(emu.admin.setCloudTrailDelivery({ maxEvents: 0 })).rejects.toThrow(/maxEvents must be an integer >= 1/);
  });

  test('seeded past usage: GetKeyLastUsage and a matching CloudTrail event', async () => {
    const { nowMs } = await emu.admin.now();
    const at = nowMs - 3 * DAY_MS;
    const [[k]] = (
      await emu.admin.seed({
        keys: [
          {
            count: 1,
            creationDate: nowMs - 100 * DAY_MS,
            lastUsage: { at, operation: 'GenerateDataKey', principalArn: `arn:aws:iam::${emu.account}:user/batch-job` },
          },
        ],
      })
    ).keyIds;
    const usage = await kms.send(new GetKeyLastUsageCommand({ KeyId: k }));
    expect(usage.KeyLastUsage).toMatchObject({ Operation: 'GenerateDataKey', Timestamp: new Date(Math.floor(at / 1000) * 1000) });
    const [event] = await lookup('EventId', usage.KeyLastUsage!.CloudTrailEventId!);
    expect(event).toMatchObject({ EventName: 'GenerateDataKey', Username: 'batch-job', Resources: [{ ResourceName: keyArnOf(emu, k) }] });
    expect(record(event).requestID).toBe(usage.KeyLastUsage?.KmsRequestId);
    await expect(emu.admin.seed({ keys: [{ lastUsage: { at: nowMs + DAY_MS } }] })).rejects.toThrow(/lastUsage.at/);
  });
});

describe('validation errors', () => {
  test.each([
    ['MaxResults 51', 'InvalidMaxResultsException', { MaxResults: 51 }],
    ['MaxResults 0', 'InvalidMaxResultsException', { MaxResults: 0 }],
    [
      'two lookup attributes',
      'InvalidLookupAttributesException',
      {
        LookupAttributes: [
          { AttributeKey: 'EventName', AttributeValue: 'Encrypt' },
          { AttributeKey: 'EventName', AttributeValue: 'Decrypt' },
        ],
      },
    ],
    ['an unknown AttributeKey', 'InvalidLookupAttributesException', { LookupAttributes: [{ AttributeKey: 'Nope', AttributeValue: 'x' }] }],
    ['ReadOnly other than true/false', 'InvalidLookupAttributesException', { LookupAttributes: [{ AttributeKey: 'ReadOnly', AttributeValue: 'maybe' }] }],
    [
      'a value over 2000 characters (_ counts twice)',
      'InvalidLookupAttributesException',
      { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: '_'.repeat(1001) }] },
    ],
    ['StartTime after EndTime', 'InvalidTimeRangeException', { StartTime: new Date(2_000_000), EndTime: new Date(1_000_000) }],
    ['an EventCategory other than insight', 'InvalidEventCategoryException', { EventCategory: 'other' }],
  ] as [string, string, LookupEventsCommandInput][])('%s → %s (400)', async (_label, name, input) => {
    const err = await expectKmsError(trail.send(new LookupEventsCommand(input)), name);
    expect(err.$fault).toBe('client');
  });

  test('EventCategory insight returns no events (the emulator keeps none)', async () => {
    await kms.send(new ListKeysCommand({}));
    expect((await trail.send(new LookupEventsCommand({ EventCategory: 'insight' }))).Events).toEqual([]);
  });
});

describe('protocol', () => {
  /** A raw request signed for `service`, to check routing and signing names. */
  async function raw(target: string, body: string, service: string): Promise<{ status: number; body: string }> {
    const url = new URL(emu.url);
    const headers = { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target };
    const signer = new SignatureV4({ credentials: emu.credentials, region: emu.region, service, sha256: Sha256 });
    const signed = await signer.sign(
      new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body }),
    );
    return new Promise((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { ...signed.headers, 'content-length': String(Buffer.byteLength(body)) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  test("botocore's full target works; the SigV4 signing name must be cloudtrail (and kms for KMS)", async () => {
    const full = await raw('com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents', '{"MaxResults":5}', 'cloudtrail');
    expect(full.status).toBe(200);
    expect(JSON.parse(full.body)).toHaveProperty('Events');
    const wrongScope = await raw('CloudTrail_20131101.LookupEvents', '{}', 'kms');
    expect(wrongScope.status).toBe(400);
    expect(JSON.parse(wrongScope.body)).toEqual({
      __type: 'InvalidSignatureException',
      message: "Credential should be scoped to correct service: 'cloudtrail'.",
    });
    const kmsWithCloudTrailScope = await raw('TrentService.ListKeys', '{}', 'cloudtrail');
    expect(JSON.parse(kmsWithCloudTrailScope.body).__type).toBe('InvalidSignatureException');
    const unknown = await raw('CloudTrail_20131101.CreateTrail', '{}', 'cloudtrail');
    expect(JSON.parse(unknown.body).__type).toBe('UnknownOperationException');
  });

  test('LookupEvents: 2 requests per second per account (ThrottlingException "Rate exceeded", 400), audited', () =>
    withEmulator({ quotaScale: 1 }, async (emu2) => {
      const trail2 = cloudTrailClient(emu2);
      try {
        const started = performance.now();
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => trail2.send(new LookupEventsCommand({}))));
        const elapsedS = (performance.now() - started) / 1000;
        const ok = results.filter((r) => r.status === 'fulfilled').length;
        expect(ok).toBeGreaterThanOrEqual(2);
        expect(ok).toBeLessThanOrEqual(2 + Math.ceil(elapsedS * 2) + 1);
        const err = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as SdkError;
        expect({ name: err.name, message: err.message, status: err.$metadata.httpStatusCode }).toEqual({
          name: 'ThrottlingException',
          message: 'Rate exceeded',
          status: 400,
        });
        expect((await emu2.admin.stats()).throttled.LookupEvents).toBe(8 - ok);
        expect((await emu2.admin.audit({ operation: 'LookupEvents' })).length).toBe(8);
        // The SDK's standard retries absorb a small burst.
        const retrying = cloudTrailClient(emu2, { maxAttempts: 3 });
        await new Promise((r) => setTimeout(r, 1100));
        const retried = await Promise.allSettled(Array.from({ length: 3 }, () => retrying.send(new LookupEventsCommand({}))));
        expect(retried.filter((r) => r.status === 'fulfilled').length).toBe(3);
        retrying.destroy();
        // The quota is adjustable like the KMS ones.
        expect((await emu2.admin.setQuotaOverrides({ LookupEvents: 50 })).rates.LookupEvents).toBe(50);
      } finally {
        trail2.destroy();
      }
    }));
});

test('the event history survives a restart of a persisted emulator', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-trail-'));
  const statePath = path.join(dir, 'state.json');
  let first: RunningEmulator | undefined = await startEmulator({ statePath, quotaScale: 0 });
  let second: RunningEmulator | undefined;
  try {
    const client = kmsClient(first);
    const [[k]] = (await first.admin.seed({ stores: [{ name: 'p', connectionState: 'CONNECTED' }], keys: [{ customKeyStoreId: 'p' }] })).keyIds;
    await client.send(new EncryptCommand({ KeyId: k, Plaintext: plaintext }));
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await first.admin.advance(8 * DAY_MS);
    client.destroy();
    await first.close();
    first = undefined;
    second = await startEmulator({ statePath, quotaScale: 0 });
    const trail2 = cloudTrailClient(second);
    const names = (
      (await trail2.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: keyArnOf(second, k) }] }))).Events ?? []
    ).map((e) => e.EventName);
    trail2.destroy();
    expect(names).toEqual(['DeleteKey', 'ScheduleKeyDeletion', 'Encrypt']);
  } finally {
    await first?.close();
    await second?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
