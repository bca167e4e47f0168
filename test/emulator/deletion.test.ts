/** ScheduleKeyDeletion / CancelKeyDeletion and deletion on the emulated clock (reference §3.4, §3.5, §5). */
import {
  CancelKeyDeletionCommand,
  ConnectCustomKeyStoreCommand,
  DeleteCustomKeyStoreCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EnableKeyCommand,
  type KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { aliasArnOf, DAY_MS, expectKmsError, keyArnOf, withEmulator, useSharedEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let hsm: string;
let xks: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
  ({
    storeIds: [hsm, xks],
  } = await emu.admin.seed({
    stores: [
      { name: 'hsm', connectionState: 'CONNECTED' },
      { name: 'xks', type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' },
    ],
  }));
});

async function seedKeys(count: number, customKeyStoreId?: string, aliasPrefix?: string): Promise<string[]> {
  return (await emu.admin.seed({ keys: [{ count, customKeyStoreId, aliasPrefix }] })).keyIds[0];
}

describe('ScheduleKeyDeletion', () => {
  test('defaults to 30 days and answers the key ARN, DeletionDate, PendingDeletion and the window', async () => {
    const [k] = await seedKeys(1, hsm);
    const { nowMs } = await emu.admin.now();
    const out = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k }));
    expect(out).toMatchObject({ KeyId: keyArnOf(emu, k), KeyState: 'PendingDeletion', PendingWindowInDays: 30 });
    expect(out.DeletionDate!.getTime() - nowMs).toBeGreaterThanOrEqual(30 * DAY_MS);
    expect(out.DeletionDate!.getTime() - nowMs).toBeLessThan(30 * DAY_MS + 5_000);
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata!;
    expect({ state: m.KeyState, enabled: m.Enabled, date: m.DeletionDate?.getTime() }).toEqual({
      state: 'PendingDeletion',
      enabled: false,
      date: out.DeletionDate!.getTime(),
    });
  });

  test('accepts 7–30 days only: ValidationException "PendingWindowInDays must be between 7 and 30"', async () => {
    const [a, b] = await seedKeys(2);
    for (const days of [0, 1, 6, 31, 365]) {
      await expectKmsError(
        kms.send(new ScheduleKeyDeletionCommand({ KeyId: a, PendingWindowInDays: days })),
        'ValidationException',
        'PendingWindowInDays must be between 7 and 30',
      );
    }
    expect((await kms.send(new ScheduleKeyDeletionCommand({ KeyId: a, PendingWindowInDays: 7 }))).PendingWindowInDays).toBe(7);
    expect((await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyArnOf(emu, b), PendingWindowInDays: 30 }))).PendingWindowInDays).toBe(30);
  });

  test('is not idempotent: a second call is KMSInvalidStateException and does not move the date', async () => {
    const [k] = await seedKeys(1, hsm);
    const first = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await emu.admin.advance(DAY_MS);
    await expectKmsError(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 })),
      'KMSInvalidStateException',
      `${keyArnOf(emu, k)} is pending deletion.`,
    );
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata!;
    expect(m.DeletionDate?.getTime()).toBe(first.DeletionDate?.getTime());
  });

  test('works on Disabled and on Unavailable keys (disconnected store)', async () => {
    const [d, u] = await seedKeys(2, hsm);
    await kms.send(new DisableKeyCommand({ KeyId: d }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: d, PendingWindowInDays: 7 }));
    await emu.admin.setStoreState(hsm, { connectionState: 'DISCONNECTED' });
    expect((await kms.send(new DescribeKeyCommand({ KeyId: u }))).KeyMetadata?.KeyState).toBe('Unavailable');
    expect((await kms.send(new ScheduleKeyDeletionCommand({ KeyId: u, PendingWindowInDays: 7 }))).KeyState).toBe('PendingDeletion');
    expect((await kms.send(new DescribeKeyCommand({ KeyId: u }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
  });

  test('unknown keys are NotFoundException', async () => {
    const missing = '12345678-1234-4234-8234-123456789012';
    await expectKmsError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: missing })), 'NotFoundException', `Key '${keyArnOf(emu, missing)}' does not exist`);
  });
});

describe('CancelKeyDeletion', () => {
  test('leaves the key Disabled and answers the key ARN; EnableKey afterwards restores it', async () => {
    const [k] = await seedKeys(1, hsm);
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    const out = await kms.send(new CancelKeyDeletionCommand({ KeyId: k }));
    expect(out.KeyId).toBe(keyArnOf(emu, k));
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata!;
    expect({ state: m.KeyState, date: m.DeletionDate }).toEqual({ state: 'Disabled', date: undefined });
    await kms.send(new EnableKeyCommand({ KeyId: k }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.KeyState).toBe('Enabled');
    await emu.admin.advance(8 * DAY_MS);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.KeyState).toBe('Enabled');
  });

  test('fails with "<ARN> is not pending deletion." unless the key is pending deletion', async () => {
    const [k] = await seedKeys(1, hsm);
    await expectKmsError(kms.send(new CancelKeyDeletionCommand({ KeyId: k })), 'KMSInvalidStateException', `${keyArnOf(emu, k)} is not pending deletion.`);
    await emu.admin.setStoreState(hsm, { connectionState: 'DISCONNECTED' });
    await expectKmsError(kms.send(new CancelKeyDeletionCommand({ KeyId: k })), 'KMSInvalidStateException', `${keyArnOf(emu, k)} is not pending deletion.`);
  });

  test('works while the store is disconnected: Unavailable until reconnect, then Disabled', async () => {
    const [k] = await seedKeys(1, hsm);
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    await emu.admin.advance(30_000);
    await kms.send(new CancelKeyDeletionCommand({ KeyId: k }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.KeyState).toBe('Unavailable');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    await emu.admin.advance(60_000);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.KeyState).toBe('Disabled');
  });
});

describe('deletion at DeletionDate', () => {
  test('removes the key and its aliases exactly when the waiting period ends', async () => {
    const [k, other] = await seedKeys(2, hsm, 'alias/victim');
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    const { nowMs } = await emu.admin.now();
    await emu.admin.advance(scheduled.DeletionDate!.getTime() - nowMs - 1_000);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    expect((await kms.send(new ListKeysCommand({}))).Keys?.map((x) => x.KeyId)).toContain(k);
    await emu.admin.advance(1_001);
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: k })), 'NotFoundException', `Key '${keyArnOf(emu, k)}' does not exist`);
    await expectKmsError(
      kms.send(new DescribeKeyCommand({ KeyId: 'alias/victim-0' })),
      'NotFoundException',
      `Alias ${aliasArnOf(emu, 'alias/victim-0')} is not found.`,
    );
    await expectKmsError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: k })), 'NotFoundException');
    await expectKmsError(kms.send(new CancelKeyDeletionCommand({ KeyId: k })), 'NotFoundException');
    expect((await kms.send(new ListKeysCommand({}))).Keys?.map((x) => x.KeyId)).toEqual([other]);
    expect((await kms.send(new ListAliasesCommand({}))).Aliases?.map((a) => a.AliasName)).toEqual(['alias/victim-1']);
    const [event] = await emu.admin.deletions();
    expect(event).toEqual({
      time: scheduled.DeletionDate!.getTime(),
      keyId: k,
      keyArn: keyArnOf(emu, k),
      customKeyStoreId: hsm,
      customKeyStoreType: 'AWS_CLOUDHSM',
      backingKey: 'MATERIAL_DELETED',
      hsmLabel: keyArnOf(emu, k),
      aliases: ['alias/victim-0'],
    });
  });

  test('records ORPHANED for CloudHSM keys whose store is not CONNECTED at that moment, EXTERNAL_KEY_RETAINED for XKS', async () => {
    const [h] = await seedKeys(1, hsm);
    const [x] = await seedKeys(1, xks);
    const [plain] = await seedKeys(1);
    for (const k of [h, x, plain]) await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    // Disconnect completes (30 s) long before the 7 days are over, in the same clock jump.
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    await emu.admin.advance(8 * DAY_MS);
    const events = await emu.admin.deletions();
    const byKey = Object.fromEntries(events.map((e) => [e.keyId, e]));
    expect(byKey[h]).toMatchObject({ backingKey: 'ORPHANED', hsmLabel: keyArnOf(emu, h), customKeyStoreType: 'AWS_CLOUDHSM' });
    expect(byKey[x]).toMatchObject({ backingKey: 'EXTERNAL_KEY_RETAINED', customKeyStoreId: xks, customKeyStoreType: 'EXTERNAL_KEY_STORE' });
    expect(byKey[x].hsmLabel).toBeUndefined();
    expect(byKey[plain]).toEqual({ time: expect.any(Number), keyId: plain, keyArn: keyArnOf(emu, plain), backingKey: 'MATERIAL_DELETED', aliases: [] });
  });

  test('what counts is the store state at expiry, not during the waiting period', async () => {
    const [k] = await seedKeys(1, hsm);
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    await emu.admin.advance(3 * DAY_MS);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    await emu.admin.advance(5 * DAY_MS);
    expect((await emu.admin.deletions())[0].backingKey).toBe('MATERIAL_DELETED');
  });

  test('deletionLagHours delays the deletion past DeletionDate on the emulated clock', () =>
    withEmulator({ deletionLagHours: 12 }, async (lagged, client) => {
      const [[k]] = (await lagged.admin.seed({ keys: [{}] })).keyIds;
      const out = await client.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
      await lagged.admin.advance(7 * DAY_MS + 11 * 3_600_000);
      expect((await client.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
      await lagged.admin.advance(3_600_000);
      await expectKmsError(client.send(new DescribeKeyCommand({ KeyId: k })), 'NotFoundException');
      expect((await lagged.admin.deletions())[0].time).toBe(out.DeletionDate!.getTime() + 12 * 3_600_000);
    }));

  test('a short emulated day deletes keys in real time, without any clock advance', () =>
    withEmulator({ dayMs: 10 }, async (fast, client) => {
      const [[k]] = (await fast.admin.seed({ keys: [{}] })).keyIds;
      await client.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
      await new Promise((r) => setTimeout(r, 200));
      await expectKmsError(client.send(new DescribeKeyCommand({ KeyId: k })), 'NotFoundException');
    }));

  test('end to end: schedule all keys, wait, disconnect, delete the store', async () => {
    const keys = await seedKeys(5, hsm, 'alias/e2e');
    for (const k of keys) await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }));
    await expectKmsError(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: hsm })), 'CustomKeyStoreInvalidStateException');
    await emu.admin.advance(7 * DAY_MS + 1);
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    await emu.admin.advance(30_000);
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    const events = await emu.admin.deletions();
    expect(events.map((e) => e.backingKey)).toEqual(Array(5).fill('MATERIAL_DELETED'));
    expect(events.flatMap((e) => e.aliases).sort()).toEqual(['alias/e2e-0', 'alias/e2e-1', 'alias/e2e-2', 'alias/e2e-3', 'alias/e2e-4']);
  });
});
