/**
 * Durability: snapshot + fsync'd journal. kill -9 after acknowledged mutations loses nothing; async
 * transitions and deletions survive restarts; corrupt state stops start-up with a clear error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConnectCustomKeyStoreCommand,
  CreateAliasCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { EmulatorAdminClient, startEmulator, StateFileError } from '../../src/emulator';
import { killHard, spawnCli, startCli, type CliRun } from './cli-process';
import { cloudHsmStoreInput, DAY_MS, expectKmsError } from './helpers';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-emu-state-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function clientFor(url: string): KMSClient {
  return new KMSClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
}

const CLI_FLAGS = ['--quota-scale', '0', '--connect-ms', '60000', '--disconnect-ms', '30000'];

test('kill -9 after acknowledged mutations loses nothing; async work resumes after restart', async () => {
  const state = path.join(dir, 'kms.json');
  let run: CliRun | undefined = await startCli(['--state', state, ...CLI_FLAGS]);
  try {
    let admin = new EmulatorAdminClient(run.url);
    let kms = clientFor(run.url);
    const [hsm] = (await admin.seed({ stores: [{ name: 'hsm', connectionState: 'CONNECTED' }] })).storeIds;
    const keys: string[] = [];
    for (let i = 0; i < 3; i++)
      keys.push((await kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: hsm, Description: `k${i}` }))).KeyMetadata!.KeyId!);
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/durable', TargetKeyId: keys[0] }));
    await kms.send(new DisableKeyCommand({ KeyId: keys[1] }));
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keys[2], PendingWindowInDays: 7 }));
    const { CustomKeyStoreId: second } = await kms.send(new CreateCustomKeyStoreCommand(cloudHsmStoreInput('second')));
    const advanced = await admin.advance(DAY_MS);
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: second }));
    kms.destroy();
    await killHard(run);
    expect(fs.statSync(`${state}.journal`).size).toBeGreaterThan(0);

    run = await startCli(['--state', state, ...CLI_FLAGS]);
    admin = new EmulatorAdminClient(run.url);
    kms = clientFor(run.url);
    expect((await admin.now()).nowMs).toBeGreaterThanOrEqual(advanced.nowMs);
    expect((await kms.send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).toEqual(keys);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/durable' }))).KeyMetadata?.KeyId).toBe(keys[0]);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keys[1] }))).KeyMetadata?.KeyState).toBe('Disabled');
    const pending = (await kms.send(new DescribeKeyCommand({ KeyId: keys[2] }))).KeyMetadata!;
    expect({ state: pending.KeyState, date: pending.DeletionDate?.getTime() }).toEqual({ state: 'PendingDeletion', date: scheduled.DeletionDate?.getTime() });
    const store = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: second }))).CustomKeyStores![0];
    expect(store.ConnectionState).toBe('CONNECTING');
    expect((await admin.audit({ operation: 'CreateKey' })).length).toBe(3);

    // The persisted target times are re-armed: the connect completes and the deletion fires.
    await admin.advance(7 * DAY_MS);
    expect((await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: second }))).CustomKeyStores![0].ConnectionState).toBe('CONNECTED');
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: keys[2] })), 'NotFoundException');
    expect((await admin.deletions()).map((d) => [d.keyId, d.backingKey])).toEqual([[keys[2], 'MATERIAL_DELETED']]);
    kms.destroy();

    // A torn last journal line (write cut short by kill -9) is dropped with a warning.
    await killHard(run);
    fs.appendFileSync(`${state}.journal`, '{"j":999,"n":1,"c":[{"k":"key-","id":"');
    run = await startCli(['--state', state, ...CLI_FLAGS]);
    expect(run.stderr()).toMatch(/torn final line/);
    kms = clientFor(run.url);
    expect((await kms.send(new ListKeysCommand({}))).Keys).toHaveLength(2);
    kms.destroy();

    // SIGTERM: clean shutdown, snapshot written, journal emptied, exit 0.
    run.proc.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    run = undefined;
    expect(fs.statSync(`${state}.journal`).size).toBe(0);
    expect(fs.existsSync(`${state}.lock`)).toBe(false);
    expect(fs.readFileSync(state, 'utf8')).toContain('alias/durable');
  } finally {
    if (run) await killHard(run);
  }
});

test('a corrupt snapshot stops start-up with the file and line, never an empty start', async () => {
  const state = path.join(dir, 'kms.json');
  const emu = await startEmulator({ statePath: state, quotaScale: 0 });
  await emu.admin.seed({ keys: [{ count: 3 }] });
  await emu.close();
  const lines = fs.readFileSync(state, 'utf8').split('\n');
  lines[2] = '{"k":"key","v":{"id":';
  fs.writeFileSync(state, lines.join('\n'));

  await expect(startEmulator({ statePath: state })).rejects.toThrow(StateFileError);
  await expect(startEmulator({ statePath: state })).rejects.toThrow(`Cannot load KMS emulator state from ${state} line 3: invalid JSON`);

  const run = spawnCli(['--port', '0', '--state', state]);
  expect(await run.exited).toBe(1);
  expect(run.stderr()).toContain(`${state} line 3`);
  expect(run.stdout()).not.toContain('listening');
});

test('a malformed complete journal line stops start-up; so does a record of the wrong shape', async () => {
  const state = path.join(dir, 'kms.json');
  const emu = await startEmulator({ statePath: state, quotaScale: 0 });
  await emu.admin.seed({ keys: [{ count: 1 }] });
  await emu.close();
  fs.writeFileSync(`${state}.journal`, '{"j":1,"n":1,"c":[]}\nnot json\n{"j":3,"n":1,"c":[]}\n');
  await expect(startEmulator({ statePath: state })).rejects.toThrow(`Cannot load KMS emulator state from ${state}.journal line 2: invalid JSON`);
  fs.writeFileSync(`${state}.journal`, '{"j":1,"n":1,"c":[{"k":"key","v":{"id":"x"}}]}\n');
  await expect(startEmulator({ statePath: state })).rejects.toThrow(/journal line 1: malformed key record/);
  fs.writeFileSync(state, 'garbage\n');
  await expect(startEmulator({ statePath: state })).rejects.toThrow(/line 1: invalid JSON/);
});

test('in-process restart keeps seeded state, markers, clock offset and background deletions', async () => {
  const state = path.join(dir, 'kms.json');
  let emu = await startEmulator({ statePath: state, quotaScale: 0, dayMs: 20 });
  let kms = clientFor(emu.url);
  const [keys] = (await emu.admin.seed({ keys: [{ count: 5 }] })).keyIds;
  const page = await kms.send(new ListKeysCommand({ Limit: 2 }));
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keys[4], PendingWindowInDays: 7 }));
  // 7 emulated days = 140 ms: the background timer deletes the key and journals it without any request.
  await new Promise((r) => setTimeout(r, 400));
  expect(fs.readFileSync(`${state}.journal`, 'utf8')).toContain('"k":"deletion"');
  kms.destroy();
  await emu.close();

  emu = await startEmulator({ statePath: state, quotaScale: 0, dayMs: 20 });
  kms = clientFor(emu.url);
  const rest = await kms.send(new ListKeysCommand({ Marker: page.NextMarker }));
  expect(rest.Keys?.map((k) => k.KeyId)).toEqual(keys.slice(2, 4));
  expect((await emu.admin.deletions()).map((d) => d.keyId)).toEqual([keys[4]]);
  expect((await kms.send(new ListAliasesCommand({}))).Aliases).toEqual([]);
  kms.destroy();
  await emu.close();
});

test('two emulators cannot share one state file', async () => {
  const state = path.join(dir, 'kms.json');
  const emu = await startEmulator({ statePath: state });
  try {
    await expect(startEmulator({ statePath: state })).rejects.toThrow(/already in use/);
  } finally {
    await emu.close();
  }
});
