/** CreateAlias, DeleteAlias, ListAliases (reference §3.3). */
import { CreateAliasCommand, DeleteAliasCommand, type KMSClient, ListAliasesCommand, paginateListAliases } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { aliasArnOf, expectKmsError, keyArnOf, useSharedEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let keyA: string;
let keyB: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
  [[keyA, keyB]] = (await emu.admin.seed({ keys: [{ count: 2 }] })).keyIds;
});

test('CreateAlias by key id or ARN, then ListAliases shows name, ARN, target and dates', async () => {
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/one', TargetKeyId: keyA }));
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/two', TargetKeyId: keyArnOf(emu, keyB) }));
  const { Aliases, Truncated } = await kms.send(new ListAliasesCommand({}));
  expect(Truncated).toBe(false);
  expect(Aliases?.map((a) => [a.AliasName, a.AliasArn, a.TargetKeyId])).toEqual([
    ['alias/one', aliasArnOf(emu, 'alias/one'), keyA],
    ['alias/two', aliasArnOf(emu, 'alias/two'), keyB],
  ]);
  expect(Aliases?.[0].CreationDate).toBeInstanceOf(Date);
});

test('ListAliases filters by key id or key ARN; an alias or an unknown key as filter is NotFoundException', async () => {
  await emu.admin.seed({
    aliases: [
      { aliasName: 'alias/a1', targetKeyId: keyA },
      { aliasName: 'alias/b1', targetKeyId: keyB },
      { aliasName: 'alias/a2', targetKeyId: keyA },
    ],
  });
  const byId = await kms.send(new ListAliasesCommand({ KeyId: keyA }));
  expect(byId.Aliases?.map((a) => a.AliasName)).toEqual(['alias/a1', 'alias/a2']);
  const byArn = await kms.send(new ListAliasesCommand({ KeyId: keyArnOf(emu, keyB) }));
  expect(byArn.Aliases?.map((a) => a.AliasName)).toEqual(['alias/b1']);
  await expectKmsError(kms.send(new ListAliasesCommand({ KeyId: '00000000-0000-4000-8000-00000000abcd' })), 'NotFoundException');
  await expectKmsError(kms.send(new ListAliasesCommand({ KeyId: 'alias/a1' })), 'NotFoundException', 'Invalid keyId alias/a1');
});

test('CreateAlias rejects duplicates, bad names, reserved names, aliases as targets and unknown targets', async () => {
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: keyA }));
  await expectKmsError(
    kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: keyB })),
    'AlreadyExistsException',
    `An alias with the name ${aliasArnOf(emu, 'alias/dup')} already exists`,
  );
  await expectKmsError(kms.send(new CreateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: keyA })), 'ValidationException');
  await expectKmsError(kms.send(new CreateAliasCommand({ AliasName: 'alias/bad name', TargetKeyId: keyA })), 'ValidationException');
  await expectKmsError(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/ebs', TargetKeyId: keyA })), 'ValidationException');
  await expectKmsError(kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: 'alias/dup' })), 'NotFoundException');
  const missing = '00000000-0000-4000-8000-00000000beef';
  await expectKmsError(
    kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: missing })),
    'NotFoundException',
    `Key '${keyArnOf(emu, missing)}' does not exist`,
  );
});

test('DeleteAlias removes the alias; an unknown alias is "Alias <ARN> is not found."', async () => {
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/gone', TargetKeyId: keyA }));
  const out = await kms.send(new DeleteAliasCommand({ AliasName: 'alias/gone' }));
  expect(Object.keys(out)).toEqual(['$metadata']);
  expect((await kms.send(new ListAliasesCommand({}))).Aliases).toEqual([]);
  await expectKmsError(
    kms.send(new DeleteAliasCommand({ AliasName: 'alias/gone' })),
    'NotFoundException',
    `Alias ${aliasArnOf(emu, 'alias/gone')} is not found.`,
  );
});

test('ListAliases paginates (default 50, max 100) and rejects foreign markers', async () => {
  await emu.admin.seed({ keys: [{ count: 60, aliasPrefix: 'alias/p' }] });
  const first = await kms.send(new ListAliasesCommand({}));
  expect(first.Aliases).toHaveLength(50);
  expect(first.Truncated).toBe(true);
  const names: string[] = [];
  for await (const page of paginateListAliases({ client: kms, pageSize: 7 }, {})) names.push(...(page.Aliases ?? []).map((a) => a.AliasName!));
  expect(names).toHaveLength(60);
  expect(new Set(names).size).toBe(60);
  await expectKmsError(kms.send(new ListAliasesCommand({ Limit: 101 })), 'ValidationException');
  // A marker issued for an unfiltered listing is not valid for a filtered one.
  await expectKmsError(kms.send(new ListAliasesCommand({ KeyId: keyA, Marker: first.NextMarker })), 'InvalidMarkerException');
});
