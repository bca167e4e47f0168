/**
 * watchStore: DescribeCustomKeyStores every pollIntervalMs until untilMs (UNTIL), or until a check finds
 * the store not CONNECTED (NOT_CONNECTED, with the window in which it changed) or gone (GONE). Always at
 * least one check; heartbeats after each; resumes from its heartbeat; stops promptly when cancelled.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { CancelledFailure } from '@temporalio/common';
import type { RunningEmulator } from '../../src/emulator';
import type { WatchStoreResult } from '../../src/activities';
import { useSharedEmulator } from '../emulator/helpers';
import { activitiesFor, recordingEnv, rejection, seedStore, STORE } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

const describes = async () => (await emu.admin.audit({ operation: 'DescribeCustomKeyStores' })).length;
const watch = (input: { untilMs: number; pollIntervalMs: number; customKeyStoreId?: string }, heartbeatDetails?: unknown) => {
  const { watchStore } = activitiesFor(kms);
  const { env, beats } = recordingEnv({ heartbeatDetails });
  return { env, beats, result: env.run(watchStore, { customKeyStoreId: STORE, ...input }) as Promise<WatchStoreResult> };
};

test('a disconnect is detected within one poll, with the window in which it happened', async () => {
  await seedStore(emu, []);
  const { result, beats } = watch({ untilMs: Date.now() + 30_000, pollIntervalMs: 200 });
  await new Promise((r) => setTimeout(r, 700));
  // The change happens somewhere while the admin call is in flight.
  const changeSent = Date.now();
  await emu.admin.setStoreState(STORE, { connectionState: 'FAILED', connectionErrorCode: 'USER_LOCKED_OUT' });
  const changeDone = Date.now();
  const watched = await result;
  expect(watched).toMatchObject({
    outcome: 'NOT_CONNECTED',
    store: { customKeyStoreId: STORE, connectionState: 'FAILED', connectionErrorCode: 'USER_LOCKED_OUT' },
  });
  // Detected within one poll interval (plus slack for a loaded machine)…
  expect(watched.firstSeenNotConnectedAt! - changeDone).toBeLessThan(200 + 300);
  // …and the reported window holds the change.
  expect(watched.lastSeenConnectedAt).toBeLessThanOrEqual(changeDone);
  expect(watched.firstSeenNotConnectedAt).toBeGreaterThanOrEqual(changeSent);
  expect(watched.firstSeenNotConnectedAt).toBeGreaterThan(watched.lastSeenConnectedAt!);
  expect(watched.checks).toBeGreaterThanOrEqual(2);
  expect(beats[beats.length - 1]).toEqual({ checks: watched.checks, lastSeenConnectedAt: watched.lastSeenConnectedAt });
}, 30_000);

test('a store that disappears is GONE; one that never existed is GONE at the first check', async () => {
  await seedStore(emu, []);
  const { result } = watch({ untilMs: Date.now() + 30_000, pollIntervalMs: 100 });
  await new Promise((r) => setTimeout(r, 300));
  await emu.admin.reset(); // the store is gone
  const watched = await result;
  expect(watched).toMatchObject({ outcome: 'GONE' });
  expect(watched.store).toBeUndefined();
  expect(watched.lastSeenConnectedAt).toBeDefined();

  await expect(watch({ customKeyStoreId: 'cks-00000000000000000', untilMs: Date.now() + 30_000, pollIntervalMs: 100 }).result).resolves.toEqual({
    outcome: 'GONE',
    checks: 1,
    firstSeenNotConnectedAt: expect.any(Number),
  });
}, 30_000);

test('a store CONNECTED throughout: UNTIL at untilMs, and always at least one check', async () => {
  await seedStore(emu, []);
  const start = Date.now();
  const watched = await watch({ untilMs: start + 800, pollIntervalMs: 200 }).result;
  expect(watched).toMatchObject({ outcome: 'UNTIL', store: { connectionState: 'CONNECTED' } });
  expect(watched.checks).toBeGreaterThanOrEqual(2);
  expect(Date.now() - start).toBeGreaterThanOrEqual(800);
  expect(Date.now() - start).toBeLessThan(800 + 1_000);

  // A window already over still gets its one check.
  const before = await describes();
  await expect(watch({ untilMs: Date.now() - 1_000, pollIntervalMs: 60_000 }).result).resolves.toMatchObject({ outcome: 'UNTIL', checks: 1 });
  expect(await describes()).toBe(before + 1);
}, 30_000);

test('a retry resumes its count and window from the last heartbeat', async () => {
  await seedStore(emu, []);
  const watched = await watch({ untilMs: Date.now() - 1, pollIntervalMs: 100 }, { checks: 41, lastSeenConnectedAt: 1_000 }).result;
  expect(watched.checks).toBe(42);
  expect(watched.lastSeenConnectedAt).toBeGreaterThan(1_000);
  await emu.admin.setStoreState(STORE, { connectionState: 'DISCONNECTED' });
  await expect(watch({ untilMs: Date.now() + 10_000, pollIntervalMs: 100 }, { checks: 7, lastSeenConnectedAt: 1_000 }).result).resolves.toMatchObject({
    outcome: 'NOT_CONNECTED',
    checks: 8,
    lastSeenConnectedAt: 1_000,
  });
});

test('a cancel stops the watch promptly, even in the middle of a long poll interval', async () => {
  await seedStore(emu, []);
  const { env, result, beats } = watch({ untilMs: Date.now() + 120_000, pollIntervalMs: 60_000 });
  await new Promise((r) => setTimeout(r, 1_500));
  // It kept heartbeating while it waited: that is what lets a real worker hear the cancel.
  expect(beats.length).toBeGreaterThanOrEqual(2);
  const checks = await describes();
  const cancelledAt = Date.now();
  env.cancel();
  const { error, afterMs } = await rejection(result, cancelledAt);
  expect(error).toBeInstanceOf(CancelledFailure);
  expect(afterMs).toBeLessThan(1_000);
  await new Promise((r) => setTimeout(r, 300));
  expect(await describes()).toBe(checks);
}, 30_000);
