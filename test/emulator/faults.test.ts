/** Admin-injected faults: forced errors, latency, resets, stale reads, ambiguous outcomes, reproducibility. */
import {
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  type KMSClient,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { expectKmsError, keyArnOf, type SdkError, withEmulator, useSharedEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let keyId: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
  [[keyId]] = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds;
});

test('errorRate 1 with count: KMSInternalException (500, server fault) exactly `count` times', async () => {
  await emu.admin.setFaults([{ operation: 'DescribeKey', errorRate: 1, errorType: 'KMSInternalException', count: 2 }]);
  for (let i = 0; i < 2; i++) {
    const err = await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: keyId })), 'KMSInternalException', /internal exception/, 500);
    expect(err.$fault).toBe('server');
  }
  await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  // Other operations are untouched.
  await kms.send(new ListKeysCommand({}));
});

test('DependencyTimeoutException is 500 and ThrottlingException is 400', async () => {
  await emu.admin.setFaults([
    { operation: 'ListKeys', errorRate: 1, errorType: 'DependencyTimeoutException' },
    { operation: 'DescribeKey', errorRate: 1, errorType: 'ThrottlingException' },
  ]);
  await expectKmsError(kms.send(new ListKeysCommand({})), 'DependencyTimeoutException', undefined, 500);
  await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: keyId })), 'ThrottlingException', undefined, 400);
});

test('the SDK retries injected 500s and succeeds on the third attempt', () =>
  withEmulator(
    {},
    async (e, client) => {
      const [[k]] = (await e.admin.seed({ keys: [{}] })).keyIds;
      await e.admin.setFaults([{ operation: 'DescribeKey', errorRate: 1, count: 2 }]);
      const out = await client.send(new DescribeKeyCommand({ KeyId: k }));
      expect(out.$metadata.attempts).toBe(3);
    },
    { maxAttempts: 3 },
  ));

test('afterCount lets the first N matching calls through', async () => {
  await emu.admin.setFaults([{ operation: '*', errorRate: 1, afterCount: 2, count: 1 }]);
  await kms.send(new ListKeysCommand({}));
  await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  await expectKmsError(kms.send(new ListKeysCommand({})), 'KMSInternalException', undefined, 500);
  await kms.send(new ListKeysCommand({}));
});

test("'*' faults never touch the admin API", async () => {
  await emu.admin.setFaults([{ operation: '*', errorRate: 1, resetRate: 1, latencyMs: 2000 }]);
  const started = Date.now();
  expect((await emu.admin.stats()).keys).toBe(1);
  await emu.admin.seed({ keys: [{}] });
  expect(Date.now() - started).toBeLessThan(1500);
  await emu.admin.clearFaults();
  await kms.send(new ListKeysCommand({}));
});

test('latencyMs + jitterMs delay the response', async () => {
  await emu.admin.setFaults([{ operation: 'ListKeys', latencyMs: 200, jitterMs: 50 }]);
  const started = Date.now();
  await kms.send(new ListKeysCommand({}));
  const elapsed = Date.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(195);
  expect(elapsed).toBeLessThan(1500);
  // The audit tells when the request was counted against the quota apart from when it was answered.
  const [entry] = await emu.admin.audit({ operation: 'ListKeys' });
  expect(entry.admittedAt).toBeDefined();
  expect(entry.time - (entry.admittedAt as number)).toBeGreaterThanOrEqual(195);
  expect(entry.time - (entry.admittedAt as number)).toBeLessThanOrEqual(elapsed + 5);
});

test('resetRate destroys the connection without a response', async () => {
  await emu.admin.setFaults([{ operation: 'ListKeys', resetRate: 1, count: 1 }]);
  let error: SdkError | undefined;
  try {
    await kms.send(new ListKeysCommand({}));
  } catch (e) {
    error = e as SdkError;
  }
  expect(error).toBeDefined();
  expect(error?.$metadata?.httpStatusCode).toBeUndefined();
  expect(String((error as unknown as { code?: string }).code ?? error?.message)).toMatch(/ECONNRESET|socket hang up/i);
  await kms.send(new ListKeysCommand({}));
  const [entry] = await emu.admin.audit({ operation: 'ListKeys' });
  expect(entry).toMatchObject({ outcome: 'ConnectionReset', injectedFault: true });
});

test("when 'after': the call takes effect but the caller sees an error (ambiguous outcome)", async () => {
  await emu.admin.setFaults([{ operation: 'ScheduleKeyDeletion', errorRate: 1, errorType: 'DependencyTimeoutException', when: 'after', count: 1 }]);
  await expectKmsError(kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })), 'DependencyTimeoutException', undefined, 500);
  expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
  await expectKmsError(
    kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })),
    'KMSInvalidStateException',
    `${keyArnOf(emu, keyId)} is pending deletion.`,
  );
});

test('staleReadMs: DescribeKey shows the state before the latest write for N ms (incl. not-yet-visible new keys)', async () => {
  await emu.admin.setFaults([{ operation: 'DescribeKey', staleReadMs: 400 }]);
  await kms.send(new DisableKeyCommand({ KeyId: keyId }));
  expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Enabled');
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
  await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId! })), 'NotFoundException');
  await new Promise((r) => setTimeout(r, 450));
  expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Disabled');
  expect((await kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId! }))).KeyMetadata?.KeyState).toBe('Enabled');
});

test('staleReadMs: DescribeCustomKeyStores lags behind a Disconnect', async () => {
  const [store] = (await emu.admin.seed({ stores: [{ name: 'stale', connectionState: 'CONNECTED' }] })).storeIds;
  await emu.admin.setFaults([{ operation: 'DescribeCustomKeyStores', staleReadMs: 300 }]);
  await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: store }));
  const stale = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: store }));
  expect(stale.CustomKeyStores?.[0].ConnectionState).toBe('CONNECTED');
  await new Promise((r) => setTimeout(r, 350));
  const fresh = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: store }));
  expect(fresh.CustomKeyStores?.[0].ConnectionState).toBe('DISCONNECTING');
});

test('a seeded emulator produces the same fault pattern every run', async () => {
  const pattern = (): Promise<string> =>
    withEmulator({ seed: 42 }, async (e, client) => {
      await e.admin.setFaults([{ operation: 'ListKeys', errorRate: 0.5 }]);
      let out = '';
      for (let i = 0; i < 24; i++) {
        out += await client.send(new ListKeysCommand({})).then(
          () => '.',
          () => 'x',
        );
      }
      return out;
    });
  const first = await pattern();
  expect(first).toMatch(/x/);
  expect(first).toMatch(/\./);
  expect(await pattern()).toBe(first);
});

test('invalid fault specs are rejected by the admin API', async () => {
  await expect(emu.admin.setFaults([{ operation: 'ListKeys', errorRate: 2 }])).rejects.toThrow(/errorRate must be a number between 0 and 1/);
  await expect(emu.admin.setFaults([{ operation: 'ListKeys', errorType: 'Nope' as never, errorRate: 1 }])).rejects.toThrow(/errorType/);
});
