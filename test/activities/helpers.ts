/**
 * Shared setup for the activity suites: activities wired to the in-process emulator (through
 * `@aws-sdk/client-kms`), run in the SDK's activity test environment (heartbeats, cancellation).
 */
import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, createKmsRateLimiter, type ActivityDeps, type KmsOperation } from '../../src/activities';
import type { AuditEntry, RunningEmulator, SeedKeys } from '../../src/emulator';
import { kmsClient } from '../emulator/helpers';

export const STORE = 'cks-activity0000001';

/** Activities on `kms`, unpaced except for `paces` (requests per second per operation). */
export function activitiesFor(kms: KMSClient, deps: Partial<ActivityDeps> = {}, paces: Partial<Record<KmsOperation, number>> = {}) {
  return createActivities({ kms, limiter: createKmsRateLimiter({ quotaScale: 0, overrides: paces }), ...deps });
}

/** An empty emulator with one CONNECTED store and the given keys; the key IDs per spec, in order. */
export async function seedStore(emu: RunningEmulator, keys: SeedKeys[]): Promise<string[][]> {
  await emu.admin.reset();
  await emu.admin.seed({ stores: [{ id: STORE, name: 'activities', connectionState: 'CONNECTED' }] });
  return (await emu.admin.seed({ keys: keys.map((k) => ({ customKeyStoreId: STORE, ...k })) })).keyIds;
}

/** A fresh activity environment that records every heartbeat's details (and logs only errors: failures are expected here). */
export function recordingEnv(info: Partial<Info> = {}): { env: MockActivityEnvironment; beats: unknown[] } {
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  const beats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => beats.push(details));
  return { env, beats };
}

/**
 * A KMS client for the activities that records when each request leaves it (after signing, just before
 * the HTTP send): what "no call starts after the cancel" is about, whatever the emulator's load.
 */
export function recordingClient(emu: RunningEmulator): { kms: KMSClient; sends: { operation: string; at: number }[] } {
  const kms = kmsClient(emu);
  const sends: { operation: string; at: number }[] = [];
  kms.middlewareStack.add(
    (next, context) => async (args) => {
      sends.push({ operation: String(context.commandName).replace(/Command$/, ''), at: Date.now() });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'recordSends' },
  );
  return { kms, sends };
}

/** State-changing KMS calls the emulator received, optionally of one operation. */
export async function mutatingCalls(emu: RunningEmulator, operation?: string): Promise<AuditEntry[]> {
  return (await emu.admin.audit(operation ? { operation } : {})).filter((e) => e.mutating);
}

export async function keyState(kms: KMSClient, keyId: string): Promise<string | undefined> {
  try {
    return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
  } catch (err) {
    if ((err as Error).name === 'NotFoundException') return undefined;
    throw err;
  }
}

/** Resolves once `check` returns true (polled every 10 ms). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Awaits a promise expected to reject and returns the rejection with the time it took from `since`. */
export async function rejection(promise: Promise<unknown>, since = Date.now()): Promise<{ error: unknown; afterMs: number }> {
  try {
    await promise;
  } catch (error) {
    return { error, afterMs: Date.now() - since };
  }
  throw new Error('expected a rejection, but the activity completed');
}
