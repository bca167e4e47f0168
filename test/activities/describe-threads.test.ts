/**
 * DescribeKey on worker threads: what crosses the thread boundary must be exactly what the SDK gives on
 * the main thread (metadata with its Dates; errors with the `name` and HTTP status that retries are
 * decided on), cancellation must not wait for the thread, and the pool must never keep a process alive.
 */
import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { RunningEmulator } from '../../src/emulator';
import { createDescribeThreads, THREAD_EXITED, type DescribeThreads } from '../../src/activities/describe-threads';
import { classifyKmsError } from '../../src/activities/kms-errors';
import { useSharedEmulator } from '../emulator/helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let threads: DescribeThreads;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
  threads = createDescribeThreads(2, { endpoint: emu.url, region: emu.region, credentials: { ...emu.credentials } });
});
afterAll(() => threads.close());

beforeEach(() => emu.admin.reset());

test('metadata from a thread equals what the SDK returns on the main thread, Dates included', async () => {
  await emu.admin.seed({ stores: [{ id: 'cks-threads00000001', name: 'threads', connectionState: 'CONNECTED' }] });
  const seeded = await emu.admin.seed({ keys: [{ count: 3, customKeyStoreId: 'cks-threads00000001', keyState: 'PendingDeletion' }, { count: 3 }] });
  for (const keyId of seeded.keyIds.flat()) {
    const direct = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    const viaThread = await threads.describeKey(keyId);
    expect(viaThread.KeyMetadata).toEqual(direct.KeyMetadata);
    // A real Date (of the main realm: jest's own `Date` global is another realm's, so no instanceof here).
    expect(Object.prototype.toString.call(viaThread.KeyMetadata?.CreationDate)).toBe('[object Date]');
  }
  const pending = await threads.describeKey(seeded.keyIds[0][0]);
  expect(pending.KeyMetadata?.DeletionDate?.getTime()).toBe(
    (await kms.send(new DescribeKeyCommand({ KeyId: seeded.keyIds[0][0] }))).KeyMetadata?.DeletionDate?.getTime(),
  );
  expect(pending.KeyMetadata?.CustomKeyStoreId).toBe('cks-threads00000001');
});

test.each([
  ['a missing key', undefined, 'NotFoundException', 400, 'permanent'],
  ['an internal error', 'KMSInternalException', 'KMSInternalException', 500, 'transient'],
  ['throttling', 'ThrottlingException', 'ThrottlingException', 400, 'throttled'],
  ['access denied', 'AccessDeniedException', 'AccessDeniedException', 400, 'permanent'],
] as const)(
  '%s crosses the thread boundary with its name and HTTP status, and is classified as on the main thread',
  async (_what, injected, name, status, kind) => {
    const [[keyId]] = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds;
    if (injected) await emu.admin.setFaults([{ operation: 'DescribeKey', errorRate: 1, errorType: injected, count: 1 }]);
    const target = injected ? keyId : '00000000-0000-0000-0000-000000000000';
    const direct = await kms.send(new DescribeKeyCommand({ KeyId: target })).catch((e: unknown) => e);
    if (injected) await emu.admin.setFaults([{ operation: 'DescribeKey', errorRate: 1, errorType: injected, count: 1 }]);
    const viaThread = await threads.describeKey(target).catch((e: unknown) => e);
    expect(viaThread).toBeInstanceOf(Error);
    expect(viaThread).toMatchObject({ name, $metadata: { httpStatusCode: status } });
    expect((viaThread as Error).message).toBe((direct as Error).message);
    expect(classifyKmsError(viaThread)).toBe(kind);
    expect(classifyKmsError(direct)).toBe(kind);
  },
);

test('a cancelled call is answered at once, without waiting for the thread', async () => {
  const [[keyId]] = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds;
  await emu.admin.setFaults([{ operation: 'DescribeKey', latencyMs: 3_000 }]);
  const controller = new AbortController();
  const started = performance.now();
  const call = threads.describeKey(keyId, controller.signal);
  setTimeout(() => controller.abort(new Error('activity cancelled')), 100);
  await expect(call).rejects.toThrow('activity cancelled');
  expect(performance.now() - started).toBeLessThan(1_500);
});

test('closing the pool fails the calls still waiting with a retryable error', async () => {
  const own = createDescribeThreads(1, { endpoint: emu.url, region: emu.region, credentials: { ...emu.credentials } });
  const [[keyId]] = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds;
  await own.describeKey(keyId); // thread up
  await emu.admin.setFaults([{ operation: 'DescribeKey', latencyMs: 3_000 }]);
  const waiting = own.describeKey(keyId).catch((e: unknown) => e);
  await own.close();
  const error = await waiting;
  expect(error).toMatchObject({ name: THREAD_EXITED });
  expect(classifyKmsError(error)).toBe('transient');
});

test('an unclosed pool keeps its process alive only while a call is in flight', async () => {
  const [[keyId]] = (await emu.admin.seed({ keys: [{ count: 1 }] })).keyIds;
  const root = path.resolve(__dirname, '..', '..');
  const script = `
    const { createDescribeThreads } = require('./src/activities/describe-threads');
    const pool = createDescribeThreads(2, ${JSON.stringify({ endpoint: emu.url, region: emu.region, credentials: emu.credentials })});
    pool.describeKey(${JSON.stringify(keyId)}).then((out) => console.log('described', out.KeyMetadata.KeyId));
  `;
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, 30_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  expect(out).toContain(`described ${keyId}`);
  expect(code).toBe(0);
}, 40_000);
