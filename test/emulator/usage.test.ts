/**
 * "An application still using key X": periodic callers inside the emulator (admin API and option) whose
 * calls — and, once the key is disabled or pending deletion, their failures — show up in CloudTrail.
 */
import { CloudTrailClient, type Event, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DisableKeyCommand, EnableKeyCommand, GetKeyLastUsageCommand, type KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import type { RunningEmulator, UsageSimulatorInfo } from '../../src/emulator';
import { keyArnOf, useSharedEmulator, waitFor, withEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let trail: CloudTrailClient;
let key: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
  trail = new CloudTrailClient({ endpoint: started.url, region: started.region, credentials: started.credentials, maxAttempts: 1 });
});

afterAll(() => trail.destroy());

beforeEach(async () => {
  await emu.admin.reset();
  [[key]] = (
    await emu.admin.seed({ stores: [{ name: 'hsm', connectionState: 'CONNECTED' }], keys: [{ customKeyStoreId: 'hsm', aliasPrefix: 'alias/payments' }] })
  ).keyIds;
});

async function keyEvents(keyId: string): Promise<Event[]> {
  return (
    (await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: keyArnOf(emu, keyId) }] }))).Events ?? []
  );
}

/** Waits until the simulator has seen `count` calls with `outcome`. */
async function outcomes(id: string, outcome: string, count = 1): Promise<UsageSimulatorInfo> {
  return waitFor(async () => {
    const info = (await emu.admin.usage()).find((u) => u.id === id);
    return info && (info.outcomes[outcome] ?? 0) >= count ? info : undefined;
  }, 10_000);
}

test('Encrypt + Decrypt every N ms as a named principal from its own address; failures follow the key state', async () => {
  const started = await emu.admin.startUsage({ keyId: 'alias/payments-0', everyMs: 100, principal: 'payments-app', sourceAddress: '127.0.0.5' });
  expect(started).toMatchObject({
    id: expect.stringMatching(/^usage-\d+$/),
    keyId: 'alias/payments-0',
    everyMs: 100,
    principalArn: `arn:aws:iam::${emu.account}:user/payments-app`,
    accessKeyId: expect.stringMatching(/^AKIA/),
    operations: ['Encrypt', 'Decrypt'],
    sourceAddress: '127.0.0.5',
  });
  await outcomes(started.id, 'OK', 4);

  const ok = await keyEvents(key);
  expect(new Set(ok.map((e) => e.EventName))).toEqual(new Set(['Encrypt', 'Decrypt']));
  const r = JSON.parse(ok[0].CloudTrailEvent!);
  expect(ok[0]).toMatchObject({ Username: 'payments-app', AccessKeyId: started.accessKeyId });
  expect(r).toMatchObject({
    sourceIPAddress: '127.0.0.5',
    userAgent: expect.stringContaining('app/payments-app'),
    userIdentity: { type: 'IAMUser', userName: 'payments-app' },
    additionalEventData: { customKeyStoreId: expect.stringMatching(/^cks-/) },
    requestParameters: { keyId: 'alias/payments-0', encryptionContext: { app: 'payments-app' } },
  });
  expect(r.errorCode).toBeUndefined();
  const usage = await kms.send(new GetKeyLastUsageCommand({ KeyId: key }));
  expect(['Encrypt', 'Decrypt']).toContain(usage.KeyLastUsage?.Operation);

  // Quiet period: the key is disabled → the application fails with DisabledException, in CloudTrail.
  await kms.send(new DisableKeyCommand({ KeyId: key }));
  const disabled = await outcomes(started.id, 'DisabledException', 2);
  expect(disabled.lastError).toMatchObject({ name: 'DisabledException', message: `${keyArnOf(emu, key)} is disabled.` });
  await waitFor(async () => ((await keyEvents(key)).some((e) => JSON.parse(e.CloudTrailEvent!).errorCode === 'DisabledException') ? true : undefined));

  // Waiting period: pending deletion → KMSInvalidStateException.
  await kms.send(new EnableKeyCommand({ KeyId: key }));
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key, PendingWindowInDays: 7 }));
  await outcomes(started.id, 'KMSInvalidStateException', 2);
  const failing = (await keyEvents(key)).map(
    (e) => JSON.parse(e.CloudTrailEvent!) as { errorCode?: string; errorMessage?: string; userIdentity: { userName: string } },
  );
  const attempt = failing.find((e) => e.errorCode === 'KMSInvalidStateException');
  expect(attempt).toMatchObject({ errorMessage: `${keyArnOf(emu, key)} is pending deletion.`, userIdentity: { userName: 'payments-app' } });

  // Stopped: no more calls; its identity is gone again.
  const stopped = await emu.admin.stopUsage(started.id);
  expect(stopped.calls).toBeGreaterThan(0);
  expect(await emu.admin.usage()).toEqual([]);
  const count = (await emu.admin.audit()).length;
  await new Promise((r) => setTimeout(r, 300));
  expect((await emu.admin.audit()).length).toBe(count);
  expect((await emu.admin.identities()).map((i) => i.accessKeyId)).not.toContain(started.accessKeyId);
  await expect(emu.admin.stopUsage(started.id)).rejects.toThrow(/404/);
});

test('a role-session principal, GenerateDataKey, and an existing identity of that principal is reused', async () => {
  const arn = `arn:aws:sts::${emu.account}:assumed-role/batch/nightly-run`;
  const identity = await emu.admin.addIdentity({ arn });
  const sim = await emu.admin.startUsage({ keyId: key, everyMs: 100, principal: arn, operations: ['GenerateDataKey', 'Decrypt'] });
  expect(sim.accessKeyId).toBe(identity.accessKeyId);
  await outcomes(sim.id, 'OK', 4);
  const events = await keyEvents(key);
  expect(new Set(events.map((e) => e.EventName))).toEqual(new Set(['GenerateDataKey', 'Decrypt']));
  expect(events[0].Username).toBe('nightly-run');
  await emu.admin.stopUsage(sim.id);
  // Not created by the simulator: it stays.
  expect((await emu.admin.identities()).map((i) => i.accessKeyId)).toContain(identity.accessKeyId);
});

test('invalid specs are refused (400); reset stops every simulator', async () => {
  await expect(emu.admin.startUsage({ keyId: key, everyMs: 10 })).rejects.toThrow(/everyMs must be an integer between 50/);
  await expect(emu.admin.startUsage({ keyId: key, operations: ['Sign' as 'Encrypt'] })).rejects.toThrow(/operations must be/);
  await expect(emu.admin.startUsage({ keyId: key, sourceAddress: '10.0.0.1' })).rejects.toThrow(/loopback/);
  await expect(emu.admin.startUsage({ keyId: key, principal: 'arn:aws:iam::999999999999:user/x' })).rejects.toThrow(/account/);
  await expect(emu.admin.startUsage({ keyId: '' })).rejects.toThrow(/keyId/);
  await emu.admin.startUsage({ keyId: key, everyMs: 200 });
  await emu.admin.startUsage({ keyId: key, everyMs: 200, principal: 'other-app' });
  expect(await emu.admin.usage()).toHaveLength(2);
  await emu.admin.reset();
  expect(await emu.admin.usage()).toEqual([]);
});

test('the usage option starts simulators with the emulator: NotFoundException until the key exists, then successes', () =>
  withEmulator({ usage: [{ keyId: 'alias/legacy', everyMs: 100, principal: 'legacy-app' }] }, async (emu2) => {
    const [sim] = await emu2.admin.usage();
    expect(sim).toMatchObject({ keyId: 'alias/legacy', principalArn: `arn:aws:iam::${emu2.account}:user/legacy-app` });
    await waitFor(async () => (((await emu2.admin.usage())[0]?.outcomes.NotFoundException ?? 0) > 0 ? true : undefined));
    await emu2.admin.seed({ keys: [{ ids: ['legacy-key'] }], aliases: [{ aliasName: 'alias/legacy', targetKeyId: 'legacy-key' }] });
    await waitFor(async () => (((await emu2.admin.usage())[0]?.outcomes.OK ?? 0) > 0 ? true : undefined));
  }));
