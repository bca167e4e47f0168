/** Audit log, stats, clock and reset through the admin API. */
import { ConnectCustomKeyStoreCommand, DescribeKeyCommand, type KMSClient, ListKeysCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { DAY_MS, expectKmsError, useSharedEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
});

test('records every KMS request with ids, outcome, mutating flag, caller and emulated time', async () => {
  const {
    storeIds: [store],
    keyIds: [[key]],
  } = await emu.admin.seed({ stores: [{ name: 'aud', connectionState: 'CONNECTED' }], keys: [{ customKeyStoreId: 'aud', aliasPrefix: 'alias/aud' }] });
  await emu.admin.advance(3 * DAY_MS);
  const { nowMs } = await emu.admin.now();
  const described = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aud-0' }));
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 7 }));
  await expectKmsError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 7 })), 'KMSInvalidStateException');
  await expectKmsError(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: 'cks-00000000000000000' })), 'CustomKeyStoreNotFoundException');
  await kms.send(new ListKeysCommand({}));

  const entries = await emu.admin.audit();
  expect(entries.map((e) => [e.operation, e.outcome, e.mutating])).toEqual([
    ['DescribeKey', 'OK', false],
    ['ScheduleKeyDeletion', 'OK', true],
    ['ScheduleKeyDeletion', 'KMSInvalidStateException', true],
    ['ConnectCustomKeyStore', 'CustomKeyStoreNotFoundException', true],
    ['ListKeys', 'OK', false],
  ]);
  expect(entries[0]).toMatchObject({ keyId: key, customKeyStoreId: store, requestId: described.$metadata.requestId, accessKeyId: 'test' });
  expect(entries[3].customKeyStoreId).toBe('cks-00000000000000000');
  expect(entries[4].keyId).toBeUndefined();
  expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  expect(entries[0].time).toBeGreaterThanOrEqual(nowMs);
  expect(entries[0].time - nowMs).toBeLessThan(60_000);

  expect((await emu.admin.audit({ operation: 'ScheduleKeyDeletion' })).map((e) => e.seq)).toEqual([2, 3]);
  expect((await emu.admin.audit({ sinceSeq: 3 })).map((e) => e.seq)).toEqual([4, 5]);
});

test('stats count requests per operation plus stores and keys', async () => {
  await emu.admin.seed({ stores: [{ name: 's' }], keys: [{ count: 3 }] });
  await kms.send(new ListKeysCommand({}));
  await kms.send(new ListKeysCommand({}));
  expect(await emu.admin.stats()).toEqual({ stores: 1, keys: 3, requests: { ListKeys: 2 }, throttled: {} });
});

test('the clock only moves forward; reset empties everything and zeroes the offset', async () => {
  const before = await emu.admin.now();
  expect(before.dayMs).toBe(DAY_MS);
  expect(Math.abs(before.nowMs - Date.now())).toBeLessThan(5_000);
  const after = await emu.admin.advance(10 * DAY_MS);
  expect(after.nowMs - before.nowMs).toBeGreaterThanOrEqual(10 * DAY_MS);
  await expect(emu.admin.advance(-1)).rejects.toThrow(/ms must be a finite number >= 0/);
  await emu.admin.seed({ keys: [{ count: 2 }] });
  await kms.send(new ListKeysCommand({}));
  await emu.admin.setFaults([{ operation: '*', errorRate: 1 }]);
  await emu.admin.reset();
  expect(await emu.admin.stats()).toEqual({ stores: 0, keys: 0, requests: {}, throttled: {} });
  expect(await emu.admin.audit()).toEqual([]);
  expect(await emu.admin.deletions()).toEqual([]);
  expect(Math.abs((await emu.admin.now()).nowMs - Date.now())).toBeLessThan(5_000);
  await kms.send(new ListKeysCommand({})); // faults were cleared
});

test('seed validation is all-or-nothing and reports the offending field', async () => {
  await expect(emu.admin.seed({ stores: [{ name: 'a' }, { name: 'a' }] })).rejects.toThrow(/stores\[1\]\.name a is already used/);
  await expect(emu.admin.seed({ keys: [{ count: 2, customKeyStoreId: 'nope' }] })).rejects.toThrow(/keys\[0\]\.customKeyStoreId nope/);
  await expect(emu.admin.seed({ keys: [{ keyState: 'PendingDeletion', pendingWindowInDays: 3 }] })).rejects.toThrow(/pendingWindowInDays/);
  await expect(emu.admin.seed({ stores: Array.from({ length: 11 }, (_, i) => ({ name: `n${i}` })) })).rejects.toThrow(/at most 10/);
  expect(await emu.admin.stats()).toMatchObject({ stores: 0, keys: 0 });
  const { storeIds, keyIds } = await emu.admin.seed({
    stores: [{ id: 'cks-1234567890abcdef0', name: 'explicit', type: 'EXTERNAL_KEY_STORE', xksProxyUriEndpoint: 'https://proxy.example.com' }],
    keys: [{ ids: ['k-1', 'k-2'], customKeyStoreId: 'cks-1234567890abcdef0', keyState: 'Disabled', description: 'seeded' }],
    aliases: [{ aliasName: 'alias/explicit', targetKeyId: 'k-2' }],
  });
  expect(storeIds).toEqual(['cks-1234567890abcdef0']);
  expect(keyIds).toEqual([['k-1', 'k-2']]);
  const m = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/explicit' }))).KeyMetadata;
  expect(m).toMatchObject({
    KeyId: 'k-2',
    KeyState: 'Unavailable',
    Description: 'seeded',
    Origin: 'EXTERNAL_KEY_STORE',
    XksKeyConfiguration: { Id: 'xks-k-2' },
  });
});
