/** GetKeyLastUsage: the last successful cryptographic operation, tracking start and creation date. */
import {
  DecryptCommand,
  DisableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GetKeyLastUsageCommand,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { DAY_MS, expectKmsError, keyArnOf, useSharedEmulator, withEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let key: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
  [[key]] = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds;
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const plaintext = new TextEncoder().encode('x');

test('a key never used: KeyLastUsage is an empty object, TrackingStartDate = KeyCreationDate, KeyId is the bare id', async () => {
  const out = await kms.send(new GetKeyLastUsageCommand({ KeyId: keyArnOf(emu, key) }));
  expect(out.KeyId).toBe(key);
  expect(out.KeyLastUsage).toEqual({});
  expect(out.KeyCreationDate).toBeInstanceOf(Date);
  expect(out.TrackingStartDate?.getTime()).toBe(out.KeyCreationDate?.getTime());
});

test('reports the last successful operation with its time (whole seconds), request id and CloudTrail event id', async () => {
  const { nowMs } = await emu.admin.now();
  const enc = await kms.send(new EncryptCommand({ KeyId: key, Plaintext: plaintext }));
  let out = await kms.send(new GetKeyLastUsageCommand({ KeyId: key }));
  expect(out.KeyLastUsage).toEqual({
    Operation: 'Encrypt',
    Timestamp: expect.any(Date),
    KmsRequestId: enc.$metadata.requestId,
    CloudTrailEventId: expect.stringMatching(UUID),
  });
  const ts = out.KeyLastUsage?.Timestamp?.getTime() as number;
  expect(ts % 1000).toBe(0);
  expect(ts).toBeGreaterThanOrEqual(Math.floor(nowMs / 1000) * 1000);
  expect(ts).toBeLessThanOrEqual(Date.now() + 1000);

  for (const [operation, call] of [
    ['Decrypt', () => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))],
    ['GenerateDataKey', () => kms.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256' }))],
    ['GenerateDataKeyWithoutPlaintext', () => kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key, NumberOfBytes: 8 }))],
  ] as const) {
    const result = await call();
    out = await kms.send(new GetKeyLastUsageCommand({ KeyId: key }));
    expect(out.KeyLastUsage).toMatchObject({ Operation: operation, KmsRequestId: result.$metadata.requestId });
  }
});

test('failed operations do not count (DisabledException, InvalidCiphertext, DryRun); management calls do not count', async () => {
  await kms.send(new EncryptCommand({ KeyId: key, Plaintext: plaintext }));
  const before = (await kms.send(new GetKeyLastUsageCommand({ KeyId: key }))).KeyLastUsage;
  await expectKmsError(kms.send(new EncryptCommand({ KeyId: key, Plaintext: plaintext, DryRun: true })), 'DryRunOperationException');
  await expectKmsError(kms.send(new DecryptCommand({ CiphertextBlob: new TextEncoder().encode('junk') })), 'InvalidCiphertextException');
  await kms.send(new DisableKeyCommand({ KeyId: key }));
  await expectKmsError(kms.send(new EncryptCommand({ KeyId: key, Plaintext: plaintext })), 'DisabledException');
  expect((await kms.send(new GetKeyLastUsageCommand({ KeyId: key }))).KeyLastUsage).toEqual(before);
});

test('works in every key state (PendingDeletion included); unknown key → NotFoundException; aliases are not accepted', async () => {
  await kms.send(new EncryptCommand({ KeyId: key, Plaintext: plaintext }));
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 7 }));
  expect((await kms.send(new GetKeyLastUsageCommand({ KeyId: key }))).KeyLastUsage?.Operation).toBe('Encrypt');
  await expectKmsError(kms.send(new GetKeyLastUsageCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })), 'NotFoundException', /does not exist/);
  await emu.admin.seed({ aliases: [{ aliasName: 'alias/u', targetKeyId: key }] });
  await expectKmsError(kms.send(new GetKeyLastUsageCommand({ KeyId: 'alias/u' })), 'NotFoundException', 'Invalid keyId alias/u');
  await expectKmsError(kms.send(new GetKeyLastUsageCommand({ KeyId: 'arn:aws:kms:nope' })), 'InvalidArnException');
  await emu.admin.advance(8 * DAY_MS);
  await expectKmsError(kms.send(new GetKeyLastUsageCommand({ KeyId: key })), 'NotFoundException', `Key '${keyArnOf(emu, key)}' does not exist`);
});

test('tracking start: older keys report it as TrackingStartDate; uses before it are not reported; null restores', async () => {
  const { nowMs } = await emu.admin.now();
  const old = (await emu.admin.seed({ keys: [{ count: 1, creationDate: nowMs - 400 * DAY_MS }] })).keyIds[0][0];
  await kms.send(new EncryptCommand({ KeyId: old, Plaintext: plaintext }));
  const trackingStart = nowMs + 10 * DAY_MS;
  expect(await emu.admin.setKeyUsageTrackingStart(new Date(trackingStart).toISOString())).toEqual({ startDate: trackingStart });
  expect(await emu.admin.keyUsageTracking()).toEqual({ startDate: trackingStart });
  await emu.admin.advance(20 * DAY_MS);

  // Created before tracking began, used only before it: no record, "may have been used before".
  let out = await kms.send(new GetKeyLastUsageCommand({ KeyId: old }));
  expect(out.KeyLastUsage).toEqual({});
  expect(out.TrackingStartDate?.getTime()).toBe(trackingStart);
  expect(out.KeyCreationDate!.getTime()).toBeLessThan(out.TrackingStartDate!.getTime());

  // A key created after the tracking start reports its own creation date.
  const young = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds[0][0];
  out = await kms.send(new GetKeyLastUsageCommand({ KeyId: young }));
  expect(out.TrackingStartDate?.getTime()).toBe(out.KeyCreationDate?.getTime());

  // A use after the tracking start is reported.
  await kms.send(new EncryptCommand({ KeyId: old, Plaintext: plaintext }));
  expect((await kms.send(new GetKeyLastUsageCommand({ KeyId: old }))).KeyLastUsage?.Operation).toBe('Encrypt');

  await emu.admin.setKeyUsageTrackingStart(null);
  expect((await kms.send(new GetKeyLastUsageCommand({ KeyId: old }))).TrackingStartDate?.getTime()).toBe(nowMs - 400 * DAY_MS);
  await expect(emu.admin.setKeyUsageTrackingStart('soon')).rejects.toThrow(/startDate must be/);
  await expect(emu.admin.seed({ keys: [{ creationDate: Date.now() + 10 * DAY_MS * 100 }] })).rejects.toThrow(/creationDate must be/);
});

test('the trackingStartDate option sets the start; reset goes back to it', () =>
  withEmulator({ trackingStartDate: '2020-01-01T00:00:00Z' }, async (emu2, kms2) => {
    const { nowMs } = await emu2.admin.now();
    const [[k]] = (await emu2.admin.seed({ keys: [{ count: 1, creationDate: Date.parse('2019-06-01T00:00:00Z') }] })).keyIds;
    expect((await kms2.send(new GetKeyLastUsageCommand({ KeyId: k }))).TrackingStartDate?.toISOString()).toBe('2020-01-01T00:00:00.000Z');
    await emu2.admin.setKeyUsageTrackingStart(nowMs);
    await emu2.admin.reset();
    expect(await emu2.admin.keyUsageTracking()).toEqual({ startDate: Date.parse('2020-01-01T00:00:00Z') });
  }));

test('GetKeyLastUsage has its own 5 rps quota', () =>
  withEmulator({ quotaScale: 1 }, async (emu2, kms2) => {
    const [[k]] = (await emu2.admin.seed({ keys: [{ count: 1 }] })).keyIds;
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => kms2.send(new GetKeyLastUsageCommand({ KeyId: k }))));
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(5);
    expect(results.filter((r) => r.status === 'rejected').length).toBeGreaterThanOrEqual(3);
    expect((await emu2.admin.stats()).throttled.GetKeyLastUsage).toBeGreaterThanOrEqual(3);
  }));
