/** ListKeys pagination (reference §3.1, §11.5): default 100, max 1000, opaque markers, short pages. */
import { type KMSClient, ListAliasesCommand, ListKeysCommand, paginateListKeys, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { DAY_MS, expectKmsError, kmsClient, startTestEmulator, withEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let keyIds: string[];

beforeAll(async () => {
  emu = await startTestEmulator();
  kms = kmsClient(emu);
  [keyIds] = (await emu.admin.seed({ keys: [{ count: 250, aliasPrefix: 'alias/pg' }] })).keyIds;
});

afterAll(async () => {
  kms.destroy();
  await emu.close();
});

async function listAll(client: KMSClient, limit?: number): Promise<{ ids: string[]; pages: number[] }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let marker: string | undefined;
  do {
    const out = await client.send(new ListKeysCommand({ Limit: limit, Marker: marker }));
    ids.push(...(out.Keys ?? []).map((k) => k.KeyId!));
    pages.push(out.Keys?.length ?? 0);
    expect(out.Truncated).toBe(out.NextMarker !== undefined);
    marker = out.NextMarker;
  } while (marker);
  return { ids, pages };
}

test('default Limit is 100; walking NextMarker returns every key once, in a stable order', async () => {
  const first = await kms.send(new ListKeysCommand({}));
  expect(first.Keys).toHaveLength(100);
  expect(first.Truncated).toBe(true);
  expect(first.Keys?.[0]).toEqual({ KeyId: keyIds[0], KeyArn: `arn:aws:kms:${emu.region}:${emu.account}:key/${keyIds[0]}` });
  const { ids, pages } = await listAll(kms);
  expect(pages).toEqual([100, 100, 50]);
  expect(ids).toEqual(keyIds);
});

test('Limit 1000 returns everything at once; Limit outside 1–1000 is ValidationException', async () => {
  const out = await kms.send(new ListKeysCommand({ Limit: 1000 }));
  expect(out.Keys).toHaveLength(250);
  expect(out.Truncated).toBe(false);
  expect(out.NextMarker).toBeUndefined();
  await expectKmsError(kms.send(new ListKeysCommand({ Limit: 0 })), 'ValidationException');
  await expectKmsError(kms.send(new ListKeysCommand({ Limit: 1001 })), 'ValidationException');
});

test('the SDK paginator collects all keys', async () => {
  const ids: string[] = [];
  for await (const page of paginateListKeys({ client: kms, pageSize: 33 }, {})) ids.push(...(page.Keys ?? []).map((k) => k.KeyId!));
  expect(ids).toEqual(keyIds);
});

test('PendingDeletion keys are listed until they are actually deleted', () =>
  withEmulator({}, async (fresh, client) => {
    const [[a, b]] = (await fresh.admin.seed({ keys: [{ count: 2 }] })).keyIds;
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: a, PendingWindowInDays: 7 }));
    expect((await client.send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).toEqual([a, b]);
    await fresh.admin.advance(7 * DAY_MS + 1);
    expect((await client.send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).toEqual([b]);
  }));

test('a marker stays valid when the key it points at is deleted in between', () =>
  withEmulator({}, async (fresh, client) => {
    const [ids] = (await fresh.admin.seed({ keys: [{ count: 6 }] })).keyIds;
    const page1 = await client.send(new ListKeysCommand({ Limit: 3 }));
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: ids[3], PendingWindowInDays: 7 }));
    await fresh.admin.advance(7 * DAY_MS + 1);
    const page2 = await client.send(new ListKeysCommand({ Limit: 3, Marker: page1.NextMarker }));
    expect(page2.Keys?.map((k) => k.KeyId)).toEqual([ids[4], ids[5]]);
    expect(page2.Truncated).toBe(false);
  }));

test('foreign markers are InvalidMarkerException: garbage, another operation, another emulator', async () => {
  await expectKmsError(kms.send(new ListKeysCommand({ Marker: 'bm90LWEtbWFya2Vy' })), 'InvalidMarkerException');
  const aliasMarker = (await kms.send(new ListAliasesCommand({ Limit: 1 }))).NextMarker;
  await expectKmsError(kms.send(new ListKeysCommand({ Marker: aliasMarker })), 'InvalidMarkerException');
  const foreign = await withEmulator({}, async (other, otherClient) => {
    await other.admin.seed({ keys: [{ count: 3 }] });
    return (await otherClient.send(new ListKeysCommand({ Limit: 1 }))).NextMarker;
  });
  await expectKmsError(kms.send(new ListKeysCommand({ Marker: foreign })), 'InvalidMarkerException');
});

test('shortPages returns fewer items than Limit while still truncated, and clients that follow NextMarker get everything', () =>
  withEmulator({ shortPages: true }, async (short, client) => {
    const [ids] = (await short.admin.seed({ keys: [{ count: 25 }] })).keyIds;
    const first = await client.send(new ListKeysCommand({ Limit: 10 }));
    expect(first.Keys).toHaveLength(5);
    expect(first.Truncated).toBe(true);
    const all = await listAll(client, 10);
    expect(all.pages).toEqual([5, 5, 5, 5, 5]);
    expect(all.ids).toEqual(ids);
  }));
