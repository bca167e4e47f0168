/** Custom key store operations, the connection-state machine and its invalid-state matrix (reference §3.7–3.13, §4). */
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  type KMSClient,
  paginateDescribeCustomKeyStores,
  ScheduleKeyDeletionCommand,
  UpdateCustomKeyStoreCommand,
  type CustomKeyStoresListEntry,
} from '@aws-sdk/client-kms';
import type { ConnectionState, RunningEmulator } from '../../src/emulator';
import { cloudHsmStoreInput, DAY_MS, expectKmsError, withEmulator, xksStoreInput, useSharedEmulator } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
});

async function describeStore(id: string): Promise<CustomKeyStoresListEntry> {
  const out = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
  expect(out.CustomKeyStores).toHaveLength(1);
  return out.CustomKeyStores![0];
}

async function seedStore(state: ConnectionState, type: 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE' = 'AWS_CLOUDHSM', connectionErrorCode?: string): Promise<string> {
  const { storeIds } = await emu.admin.seed({ stores: [{ name: `${type}-${state}-${Math.random()}`, type, connectionState: state, connectionErrorCode }] });
  return storeIds[0];
}

describe('CreateCustomKeyStore', () => {
  test('creates a DISCONNECTED CloudHSM store with a cks- id and never returns the password', async () => {
    const { CustomKeyStoreId } = await kms.send(new CreateCustomKeyStoreCommand(cloudHsmStoreInput('hsm-1')));
    expect(CustomKeyStoreId).toMatch(/^cks-[0-9a-f]{17}$/);
    const store = await describeStore(CustomKeyStoreId!);
    expect(store).toMatchObject({
      CustomKeyStoreId,
      CustomKeyStoreName: 'hsm-1',
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
      CloudHsmClusterId: 'cluster-abcdefghijk',
      TrustAnchorCertificate: expect.stringContaining('BEGIN CERTIFICATE'),
    });
    expect(store.ConnectionErrorCode).toBeUndefined();
    expect(store.CreationDate).toBeInstanceOf(Date);
    expect(JSON.stringify(store)).not.toContain('kmsPassword1');
  });

  test('creates an XKS store (public endpoint) and reports its proxy configuration without the secret', async () => {
    const { CustomKeyStoreId } = await kms.send(new CreateCustomKeyStoreCommand(xksStoreInput('xks-1')));
    const store = await describeStore(CustomKeyStoreId!);
    expect(store).toMatchObject({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      ConnectionState: 'DISCONNECTED',
      XksProxyConfiguration: {
        Connectivity: 'PUBLIC_ENDPOINT',
        AccessKeyId: 'ABCDEFGHIJKLMNOPQRST',
        UriEndpoint: 'https://xks.example.com',
        UriPath: '/example/kms/xks/v1',
      },
    });
    expect(store.CloudHsmClusterId).toBeUndefined();
    expect(JSON.stringify(store)).not.toContain('a'.repeat(43));
  });

  test('validates fields server-side (ValidationException)', async () => {
    const cases: [string, object][] = [
      ['missing name', { ...cloudHsmStoreInput('x'), CustomKeyStoreName: undefined }],
      ['bad cluster id', cloudHsmStoreInput('x', 'cluster-1')],
      ['short password', { ...cloudHsmStoreInput('x'), KeyStorePassword: 'short' }],
      ['missing trust anchor', { ...cloudHsmStoreInput('x'), TrustAnchorCertificate: undefined }],
      ['bad XKS path', { ...xksStoreInput('x'), XksProxyUriPath: '/kms/xks/v1/extra' }],
      ['XKS endpoint with port', { ...xksStoreInput('x'), XksProxyUriEndpoint: 'https://xks.example.com:8443' }],
      [
        'bad XKS access key',
        { ...xksStoreInput('x'), XksProxyAuthenticationCredential: { AccessKeyId: 'lowercase-is-invalid-here', RawSecretAccessKey: 'a'.repeat(43) } },
      ],
      ['VPC without service name', { ...xksStoreInput('x'), XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE' }],
      ['XKS fields on a CloudHSM store', { ...cloudHsmStoreInput('x'), XksProxyUriPath: '/kms/xks/v1' }],
    ];
    for (const [label, input] of cases) {
      const err = await expectKmsError(kms.send(new CreateCustomKeyStoreCommand(input as never)), 'ValidationException');
      expect({ label, message: err.message.length > 0 }).toEqual({ label, message: true });
    }
    const missing = await expectKmsError(
      kms.send(new CreateCustomKeyStoreCommand({ ...cloudHsmStoreInput('x'), CustomKeyStoreName: undefined } as never)),
      'ValidationException',
    );
    expect(missing.message).toBe("1 validation error detected: Value null at 'customKeyStoreName' failed to satisfy constraint: Member must not be null");
  });

  test('rejects a duplicate name, a cluster in use and an XKS URI in use', async () => {
    await kms.send(new CreateCustomKeyStoreCommand(cloudHsmStoreInput('dup')));
    await expectKmsError(kms.send(new CreateCustomKeyStoreCommand(cloudHsmStoreInput('dup', 'cluster-bbbbbbbbbbb'))), 'CustomKeyStoreNameInUseException');
    await expectKmsError(kms.send(new CreateCustomKeyStoreCommand(cloudHsmStoreInput('other'))), 'CloudHsmClusterInUseException');
    await kms.send(new CreateCustomKeyStoreCommand(xksStoreInput('xks-a')));
    await expectKmsError(kms.send(new CreateCustomKeyStoreCommand(xksStoreInput('xks-b'))), 'XksProxyUriInUseException');
  });

  test('allows at most 10 stores per account (LimitExceededException)', async () => {
    await emu.admin.seed({ stores: Array.from({ length: 10 }, (_, i) => ({ name: `s${i}` })) });
    await expectKmsError(kms.send(new CreateCustomKeyStoreCommand(cloudHsmStoreInput('eleventh'))), 'LimitExceededException');
  });
});

describe('DescribeCustomKeyStores', () => {
  test('an empty account answers an empty list, not an error', async () => {
    const out = await kms.send(new DescribeCustomKeyStoresCommand({}));
    expect(out.CustomKeyStores).toEqual([]);
    expect(out.Truncated).toBe(false);
  });

  test('an unknown id or name is CustomKeyStoreNotFoundException, both filters are ValidationException', async () => {
    const id = await seedStore('DISCONNECTED');
    await expectKmsError(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: 'cks-00000000000000000' })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'nope' })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id, CustomKeyStoreName: 'x' })), 'ValidationException');
  });

  test('finds a store by name', async () => {
    await emu.admin.seed({ stores: [{ name: 'by-name', type: 'EXTERNAL_KEY_STORE' }] });
    const out = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'by-name' }));
    expect(out.CustomKeyStores?.map((s) => s.CustomKeyStoreName)).toEqual(['by-name']);
  });

  test('paginates with opaque markers and rejects foreign markers', async () => {
    await emu.admin.seed({ stores: Array.from({ length: 5 }, (_, i) => ({ name: `p${i}` })) });
    const first = await kms.send(new DescribeCustomKeyStoresCommand({ Limit: 2 }));
    expect(first.CustomKeyStores).toHaveLength(2);
    expect(first.Truncated).toBe(true);
    const names: string[] = [];
    for await (const page of paginateDescribeCustomKeyStores({ client: kms, pageSize: 2 }, {}))
      names.push(...(page.CustomKeyStores ?? []).map((s) => s.CustomKeyStoreName!));
    expect(names).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    await expectKmsError(kms.send(new DescribeCustomKeyStoresCommand({ Marker: 'Zm9yZWlnbg.bWFya2Vy' })), 'InvalidMarkerException');
    await expectKmsError(kms.send(new DescribeCustomKeyStoresCommand({ Limit: 0 })), 'ValidationException');
  });
});

describe('connection state machine', () => {
  test('Connect: DISCONNECTED → CONNECTING → CONNECTED after connectMs (emulated)', async () => {
    const id = await seedStore('DISCONNECTED');
    expect(await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }))).toEqual({ $metadata: expect.anything() });
    expect((await describeStore(id)).ConnectionState).toBe('CONNECTING');
    await emu.admin.advance(59_000);
    expect((await describeStore(id)).ConnectionState).toBe('CONNECTING');
    await emu.admin.advance(1_000);
    expect((await describeStore(id)).ConnectionState).toBe('CONNECTED');
  });

  test('Disconnect: CONNECTED → DISCONNECTING → DISCONNECTED after disconnectMs', async () => {
    const id = await seedStore('CONNECTED');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await describeStore(id)).ConnectionState).toBe('DISCONNECTING');
    await emu.admin.advance(30_000);
    expect((await describeStore(id)).ConnectionState).toBe('DISCONNECTED');
  });

  test('transitions also complete in real time', () =>
    withEmulator({ connectMs: 50, disconnectMs: 50 }, async (fast, client) => {
      const { storeIds } = await fast.admin.seed({ stores: [{ name: 'rt' }] });
      await client.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeIds[0] }));
      await new Promise((r) => setTimeout(r, 120));
      const out = await client.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeIds[0] }));
      expect(out.CustomKeyStores?.[0].ConnectionState).toBe('CONNECTED');
    }));

  test('an injected slow failure ends in FAILED with the ConnectionErrorCode; FAILED must be disconnected before reconnecting', async () => {
    const id = await seedStore('DISCONNECTED');
    await emu.admin.failNextConnects(id, { count: 1, connectionErrorCode: 'USER_LOGGED_IN' });
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await describeStore(id)).ConnectionState).toBe('CONNECTING');
    await emu.admin.advance(60_000);
    expect(await describeStore(id)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: 'USER_LOGGED_IN' });
    await expectKmsError(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })), 'CustomKeyStoreInvalidStateException');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const disconnecting = await describeStore(id);
    expect(disconnecting.ConnectionState).toBe('DISCONNECTING');
    expect(disconnecting.ConnectionErrorCode).toBeUndefined();
    await emu.admin.advance(30_000);
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await emu.admin.advance(60_000);
    expect((await describeStore(id)).ConnectionState).toBe('CONNECTED');
  });

  test('fast connect failures fail the call itself and leave the store DISCONNECTED', async () => {
    const id = await seedStore('DISCONNECTED');
    await emu.admin.failNextConnects(id, { count: 2, connectionErrorCode: 'CloudHsmClusterNotActiveException' });
    await expectKmsError(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })), 'CloudHsmClusterNotActiveException', /is not active/);
    expect((await describeStore(id)).ConnectionState).toBe('DISCONNECTED');
    await expectKmsError(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })), 'CloudHsmClusterNotActiveException');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await describeStore(id)).ConnectionState).toBe('CONNECTING');
    await expect(emu.admin.failNextConnects(id, { count: 1, connectionErrorCode: 'NOT_A_CODE' })).rejects.toThrow(/connectionErrorCode must be one of/);
  });

  test('an out-of-band FAILED state with any error code can be forced through the admin API', async () => {
    const id = await seedStore('CONNECTED');
    await emu.admin.setStoreState(id, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOCKED_OUT' });
    expect(await describeStore(id)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: 'USER_LOCKED_OUT' });
    const xks = await seedStore('FAILED', 'EXTERNAL_KEY_STORE', 'XKS_PROXY_TIMED_OUT');
    expect(await describeStore(xks)).toMatchObject({ ConnectionState: 'FAILED', ConnectionErrorCode: 'XKS_PROXY_TIMED_OUT' });
  });

  test('unknown store ids are CustomKeyStoreNotFoundException for every store operation', async () => {
    const CustomKeyStoreId = 'cks-ffffffffffffffff0';
    await expectKmsError(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId, NewCustomKeyStoreName: 'n' })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId })), 'CustomKeyStoreNotFoundException');
  });
});

describe('per-state matrix (reference §4 table)', () => {
  type Expect = 'ok' | 'InvalidState' | 'ok-noop';
  const STATES: ConnectionState[] = ['DISCONNECTED', 'CONNECTING', 'CONNECTED', 'DISCONNECTING', 'FAILED'];
  const MATRIX: Record<string, Record<ConnectionState, Expect>> = {
    ConnectCustomKeyStore: { DISCONNECTED: 'ok', CONNECTING: 'ok-noop', CONNECTED: 'ok-noop', DISCONNECTING: 'InvalidState', FAILED: 'InvalidState' },
    DisconnectCustomKeyStore: { DISCONNECTED: 'InvalidState', CONNECTING: 'ok', CONNECTED: 'ok', DISCONNECTING: 'InvalidState', FAILED: 'ok' },
    DeleteCustomKeyStore: { DISCONNECTED: 'ok', CONNECTING: 'InvalidState', CONNECTED: 'InvalidState', DISCONNECTING: 'InvalidState', FAILED: 'InvalidState' },
    'UpdateCustomKeyStore(name)': { DISCONNECTED: 'ok', CONNECTING: 'InvalidState', CONNECTED: 'ok', DISCONNECTING: 'InvalidState', FAILED: 'InvalidState' },
    'UpdateCustomKeyStore(password)': {
      DISCONNECTED: 'ok',
      CONNECTING: 'InvalidState',
      CONNECTED: 'InvalidState',
      DISCONNECTING: 'InvalidState',
      FAILED: 'InvalidState',
    },
    'CreateKey(in store)': { DISCONNECTED: 'InvalidState', CONNECTING: 'InvalidState', CONNECTED: 'ok', DISCONNECTING: 'InvalidState', FAILED: 'InvalidState' },
  };
  const AFTER: Record<string, Partial<Record<ConnectionState, ConnectionState | 'gone'>>> = {
    ConnectCustomKeyStore: { DISCONNECTED: 'CONNECTING', CONNECTING: 'CONNECTING', CONNECTED: 'CONNECTED' },
    DisconnectCustomKeyStore: { CONNECTING: 'DISCONNECTING', CONNECTED: 'DISCONNECTING', FAILED: 'DISCONNECTING' },
    DeleteCustomKeyStore: { DISCONNECTED: 'gone' },
  };

  const cases = Object.entries(MATRIX).flatMap(([op, row]) => STATES.map((state) => [op, state, row[state]] as const));

  test.each(cases)('%s in %s → %s', async (op, state, expected) => {
    const id = await seedStore(state);
    const call = (): Promise<unknown> => {
      switch (op) {
        case 'ConnectCustomKeyStore':
          return kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
        case 'DisconnectCustomKeyStore':
          return kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
        case 'DeleteCustomKeyStore':
          return kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
        case 'UpdateCustomKeyStore(name)':
          return kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, NewCustomKeyStoreName: `renamed-${id}` }));
        case 'UpdateCustomKeyStore(password)':
          return kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, KeyStorePassword: 'newPassword1' }));
        default:
          return kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }));
      }
    };
    if (expected === 'InvalidState') {
      const err = await expectKmsError(call(), 'CustomKeyStoreInvalidStateException');
      expect(err.message).toContain(state);
      expect((await describeStore(id)).ConnectionState).toBe(state);
      return;
    }
    await call();
    const after = AFTER[op]?.[state];
    if (after === 'gone') {
      await expectKmsError(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id })), 'CustomKeyStoreNotFoundException');
    } else {
      expect((await describeStore(id)).ConnectionState).toBe(after ?? state);
    }
  });
});

describe('DeleteCustomKeyStore', () => {
  test('requires zero keys — PendingDeletion keys count — and afterwards the id is gone', async () => {
    const { storeIds, keyIds } = await emu.admin.seed({
      stores: [{ name: 'del', connectionState: 'CONNECTED' }],
      keys: [
        { customKeyStoreId: 'del', count: 1 },
        { customKeyStoreId: 'del', count: 1, keyState: 'PendingDeletion', pendingWindowInDays: 7 },
      ],
    });
    const id = storeIds[0];
    await emu.admin.setStoreState(id, { connectionState: 'DISCONNECTED' });
    await expectKmsError(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id })), 'CustomKeyStoreHasCMKsException', /2 KMS key/);
    // Keys of a DISCONNECTED store (Unavailable) can still be scheduled.
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyIds[0][0], PendingWindowInDays: 30 }));
    await emu.admin.advance(7 * DAY_MS);
    await expectKmsError(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id })), 'CustomKeyStoreHasCMKsException', /1 KMS key/);
    await emu.admin.advance(23 * DAY_MS);
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await expectKmsError(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id })), 'CustomKeyStoreNotFoundException');
    await expectKmsError(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })), 'CustomKeyStoreNotFoundException');
  });

  test('the connection-state check comes before the key check', async () => {
    await emu.admin.seed({ stores: [{ name: 'both', connectionState: 'CONNECTED' }], keys: [{ customKeyStoreId: 'both' }] });
    const [store] = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'both' }))).CustomKeyStores!;
    await expectKmsError(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId })), 'CustomKeyStoreInvalidStateException');
  });
});

describe('UpdateCustomKeyStore', () => {
  test('XKS: name, credential and path may change while CONNECTED; the endpoint needs DISCONNECTED', async () => {
    const id = await seedStore('CONNECTED', 'EXTERNAL_KEY_STORE');
    await kms.send(
      new UpdateCustomKeyStoreCommand({
        CustomKeyStoreId: id,
        NewCustomKeyStoreName: 'xks-renamed',
        XksProxyUriPath: '/v2/kms/xks/v2',
        XksProxyAuthenticationCredential: { AccessKeyId: 'ZYXWVUTSRQPONMLKJIHG', RawSecretAccessKey: 'b'.repeat(43) },
      }),
    );
    expect(await describeStore(id)).toMatchObject({
      CustomKeyStoreName: 'xks-renamed',
      XksProxyConfiguration: { UriPath: '/v2/kms/xks/v2', AccessKeyId: 'ZYXWVUTSRQPONMLKJIHG' },
    });
    await expectKmsError(
      kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyUriEndpoint: 'https://other.example.com' })),
      'CustomKeyStoreInvalidStateException',
    );
  });

  test('CloudHSM: cluster and password need DISCONNECTED; a taken name is CustomKeyStoreNameInUseException', async () => {
    await emu.admin.seed({ stores: [{ name: 'taken' }] });
    const id = await seedStore('DISCONNECTED');
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, CloudHsmClusterId: 'cluster-newclusterid', KeyStorePassword: 'another-pass' }));
    expect((await describeStore(id)).CloudHsmClusterId).toBe('cluster-newclusterid');
    await expectKmsError(
      kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, NewCustomKeyStoreName: 'taken' })),
      'CustomKeyStoreNameInUseException',
    );
    await expectKmsError(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyUriPath: '/kms/xks/v1' })), 'ValidationException');
  });
});
