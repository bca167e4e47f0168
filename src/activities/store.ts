import type { ResetGuarded } from '../shared/reset-guard';
import { refuseResetRun } from './reset-guard';
import type { CustomKeyStoresListEntry } from '@aws-sdk/client-kms';
import { activityInfo, heartbeat, log, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ConnectionState, CustomKeyStoreType, StoreInfo } from '../shared/types';
import { createAwsGateway, type AwsCallOptions, type AwsGateway } from './aws-gateway';
import type { ActivityDeps } from './deps';
import { errorName, toActivityFailure } from './kms-errors';

export interface StoreRef extends ResetGuarded {
  customKeyStoreId: string;
}

export interface StoreWaitInput extends StoreRef {
  pollIntervalMs: number;
  /** Give up after this long in total. */
  timeoutMs: number;
}

export interface ConnectInput extends StoreWaitInput {
  /** Connect attempts (a FAILED attempt is disconnected, then retried) before giving up. */
  maxAttempts: number;
}

export interface ConnectionResult {
  connectionState: ConnectionState;
  connectionErrorCode?: string;
  attempts: number;
  /** Every ConnectionErrorCode seen, oldest first, for the operator. */
  errorCodes: string[];
}

function toStoreInfo(entry: CustomKeyStoresListEntry): StoreInfo {
  return {
    customKeyStoreId: entry.CustomKeyStoreId as string,
    name: entry.CustomKeyStoreName ?? '',
    type: (entry.CustomKeyStoreType ?? 'AWS_CLOUDHSM') as CustomKeyStoreType,
    connectionState: entry.ConnectionState as ConnectionState,
    connectionErrorCode: entry.ConnectionErrorCode,
    cloudHsmClusterId: entry.CloudHsmClusterId,
    xksProxyUriEndpoint: entry.XksProxyConfiguration?.UriEndpoint,
    xksProxyConnectivity: entry.XksProxyConfiguration?.Connectivity,
  };
}

/** DescribeCustomKeyStores for one store. A missing store is a permanent `CustomKeyStoreNotFoundException`. */
export async function readStore(aws: AwsGateway, customKeyStoreId: string, options?: AwsCallOptions): Promise<StoreInfo> {
  const entries = await aws.describeCustomKeyStore(customKeyStoreId, options);
  const entry = entries.find((s) => s.CustomKeyStoreId === customKeyStoreId);
  if (!entry) {
    // KMS answers an unknown ID with an exception, never an empty list; an empty list is a broken endpoint.
    throw ApplicationFailure.nonRetryable(`DescribeCustomKeyStores returned no entry for ${customKeyStoreId}`, 'CustomKeyStoreNotFoundException');
  }
  return toStoreInfo(entry);
}

async function pollUntil(aws: AwsGateway, input: StoreWaitInput, done: (s: StoreInfo) => boolean, what: string): Promise<StoreInfo> {
  const deadline = Date.now() + input.timeoutMs;
  for (;;) {
    const store = await readStore(aws, input.customKeyStoreId);
    heartbeat({ connectionState: store.connectionState });
    if (done(store)) return store;
    if (Date.now() + input.pollIntervalMs > deadline) {
      throw ApplicationFailure.nonRetryable(
        `${what}: store ${input.customKeyStoreId} still ${store.connectionState}${store.connectionErrorCode ? ` (${store.connectionErrorCode})` : ''} after ${Math.round(input.timeoutMs / 1000)} s`,
        'StoreStateTimeout',
      );
    }
    await sleep(input.pollIntervalMs);
  }
}

/**
 * DisconnectCustomKeyStore. A re-send after a lost response finds the store already DISCONNECTING or
 * DISCONNECTED and gets CustomKeyStoreInvalidStateException: that is the state we asked for.
 */
async function sendDisconnect(aws: AwsGateway, customKeyStoreId: string): Promise<void> {
  try {
    await aws.disconnectCustomKeyStore(customKeyStoreId);
  } catch (err) {
    if (errorName(err) !== 'CustomKeyStoreInvalidStateException') throw err;
  }
}

/** {@link readStore}, or null when DescribeCustomKeyStores answers CustomKeyStoreNotFoundException. */
export async function readStoreIfExists(aws: AwsGateway, customKeyStoreId: string, options?: AwsCallOptions): Promise<StoreInfo | null> {
  try {
    return await readStore(aws, customKeyStoreId, options);
  } catch (err) {
    if (errorName(err) === 'CustomKeyStoreNotFoundException' || (err instanceof ApplicationFailure && err.type === 'CustomKeyStoreNotFoundException'))
      return null;
    throw err;
  }
}

/** True unless DescribeCustomKeyStores answers CustomKeyStoreNotFoundException. */
export async function storeExists(aws: AwsGateway, customKeyStoreId: string): Promise<boolean> {
  try {
    return (await readStoreIfExists(aws, customKeyStoreId)) !== null;
  } catch (err) {
    throw toActivityFailure(err, `DescribeCustomKeyStores ${customKeyStoreId}`);
  }
}

export interface WatchStoreInput extends StoreRef {
  /** Watch until the wall clock reaches this epoch ms (at least one check is always made). */
  untilMs: number;
  /** Time between two DescribeCustomKeyStores (at least {@link MIN_WATCH_POLL_MS}). */
  pollIntervalMs: number;
}

export interface WatchStoreResult {
  /** UNTIL: CONNECTED at every check up to `untilMs`. NOT_CONNECTED: a check saw another state. GONE: the store no longer exists. */
  outcome: 'UNTIL' | 'NOT_CONNECTED' | 'GONE';
  /** The store as the last check saw it (absent when GONE). */
  store?: StoreInfo;
  /** When the last check that saw CONNECTED was sent (epoch ms; across attempts). The store left CONNECTED after this… */
  lastSeenConnectedAt?: number;
  /** …and before this: when the check that saw it not CONNECTED (or gone) was answered. */
  firstSeenNotConnectedAt?: number;
  /** DescribeCustomKeyStores checks made, across attempts. */
  checks: number;
}

/** What {@link watchStore} heartbeats, and resumes from on a retry. */
interface WatchCheckpoint {
  lastSeenConnectedAt?: number;
  checks: number;
}

/** Lower bound of {@link WatchStoreInput.pollIntervalMs}: a zero interval would spin on DescribeCustomKeyStores. */
export const MIN_WATCH_POLL_MS = 100;

/**
 * Waits `ms`, heartbeating every second: a heartbeat is what brings a cancellation (and what tells the
 * server the worker is alive), so a long poll interval must not mean a long deaf stretch. Rejects with
 * the activity's CancelledFailure as soon as a cancellation is delivered.
 */
export async function pauseHeartbeating(ms: number, beat: () => void): Promise<void> {
  const end = Date.now() + ms;
  for (let left = ms; left > 0; left = end - Date.now()) {
    await sleep(Math.min(left, 1_000));
    beat();
  }
}

export function createStoreActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  const aws = createAwsGateway(deps);

  /**
   * Watches a store's connection: DescribeCustomKeyStores (paced like every store call) every
   * `pollIntervalMs` until the wall clock reaches `untilMs` (UNTIL), or a check finds the store not
   * CONNECTED (NOT_CONNECTED, with the window in which it changed) or gone (GONE). Heartbeats after every
   * check and every second in between, resumes its count and window from the last heartbeat on a
   * retry, and stops within about a second of a cancellation.
   */
  async function watchStore(input: WatchStoreInput): Promise<WatchStoreResult> {
    const id = input.customKeyStoreId;
    const restored = activityInfo().heartbeatDetails as WatchCheckpoint | undefined;
    const progress: WatchCheckpoint = { checks: restored?.checks ?? 0, lastSeenConnectedAt: restored?.lastSeenConnectedAt };
    const beat = () => heartbeat({ ...progress });
    const interval = Math.max(input.pollIntervalMs, MIN_WATCH_POLL_MS);
    try {
      for (;;) {
        const sentAt = now();
        const store = await readStoreIfExists(aws, id, { keepAlive: beat });
        const answeredAt = now();
        progress.checks++;
        if (!store || store.connectionState !== 'CONNECTED') {
          beat();
          return {
            outcome: store ? 'NOT_CONNECTED' : 'GONE',
            ...(store ? { store } : {}),
            lastSeenConnectedAt: progress.lastSeenConnectedAt,
            firstSeenNotConnectedAt: answeredAt,
            checks: progress.checks,
          };
        }
        progress.lastSeenConnectedAt = sentAt;
        beat();
        const left = input.untilMs - now();
        if (left <= 0) return { outcome: 'UNTIL', store, lastSeenConnectedAt: progress.lastSeenConnectedAt, checks: progress.checks };
        await pauseHeartbeating(Math.min(interval, left), beat);
      }
    } catch (err) {
      throw toActivityFailure(err, `watch ${id}`);
    }
  }

  return {
    watchStore,

    /** Preflight: type, connection state, cluster or proxy of the store. Changes nothing. */
    async describeStore(input: StoreRef): Promise<StoreInfo> {
      try {
        return await readStore(aws, input.customKeyStoreId);
      } catch (err) {
        throw toActivityFailure(err, `DescribeCustomKeyStores ${input.customKeyStoreId}`);
      }
    },

    /**
     * Brings a store to CONNECTED: a FAILED store is disconnected first (KMS refuses to connect it),
     * then connected and polled. A FAILED outcome is retried up to `maxAttempts`; the result carries
     * the ConnectionErrorCode rather than throwing, so the workflow can ask the operator.
     */
    async connectStore(input: ConnectInput): Promise<ConnectionResult> {
      const errorCodes: string[] = [];
      let attempts = 0;
      const id = input.customKeyStoreId;
      try {
        for (;;) {
          const store = await readStore(aws, id);
          const state = store.connectionState;
          const giveUp = () => ({ connectionState: state, connectionErrorCode: store.connectionErrorCode, attempts, errorCodes });
          if (state === 'CONNECTED') return giveUp();
          if (state === 'CONNECTING') await pollUntil(aws, input, (s) => s.connectionState !== 'CONNECTING', 'connect');
          else if (state === 'DISCONNECTING') await pollUntil(aws, input, (s) => s.connectionState !== 'DISCONNECTING', 'disconnect');
          else if (state === 'FAILED') {
            if (store.connectionErrorCode) errorCodes.push(store.connectionErrorCode);
            if (attempts >= input.maxAttempts) return giveUp();
            // KMS refuses to connect a FAILED store: it must be disconnected first.
            await sendDisconnect(aws, id);
            await pollUntil(aws, input, (s) => s.connectionState === 'DISCONNECTED', 'disconnect before reconnect');
          } else {
            if (attempts >= input.maxAttempts) return giveUp();
            attempts++;
            log.info('connecting custom key store', { customKeyStoreId: id, attempt: attempts });
            await aws.connectCustomKeyStore(id);
            await pollUntil(aws, input, (s) => s.connectionState === 'CONNECTED' || s.connectionState === 'FAILED', 'connect');
          }
        }
      } catch (err) {
        // Synchronous connect refusals (CloudHsmClusterNotActiveException…) are answers for the operator, not crashes.
        const name = errorName(err);
        if (/^CloudHsm|^Xks/.test(name)) {
          return { connectionState: 'DISCONNECTED', connectionErrorCode: name, attempts, errorCodes: [...errorCodes, name] };
        }
        throw toActivityFailure(err, `connect ${id}`);
      }
    },

    /** Disconnects (unless already DISCONNECTED) and waits for DISCONNECTED. */
    async disconnectStore(input: StoreWaitInput): Promise<StoreInfo> {
      refuseResetRun(input);
      try {
        let store = await readStore(aws, input.customKeyStoreId);
        if (store.connectionState === 'DISCONNECTED') return store;
        if (store.connectionState !== 'DISCONNECTING') await sendDisconnect(aws, input.customKeyStoreId);
        store = await pollUntil(aws, input, (s) => s.connectionState === 'DISCONNECTED', 'disconnect');
        return store;
      } catch (err) {
        throw toActivityFailure(err, `disconnect ${input.customKeyStoreId}`);
      }
    },

    /**
     * DeleteCustomKeyStore, then confirms the ID answers CustomKeyStoreNotFoundException.
     * HasCMKs and InvalidState are returned (not thrown) so the workflow can go back a step.
     */
    async deleteStore(input: StoreRef): Promise<{ result: 'DELETED' | 'ALREADY_GONE' | 'HAS_KEYS' | 'INVALID_STATE'; message?: string }> {
      refuseResetRun(input);
      let sends = activityInfo().attempt > 1 ? 1 : 0;
      try {
        await aws.deleteCustomKeyStore(input.customKeyStoreId, { onSend: () => sends++ });
      } catch (err) {
        const name = errorName(err);
        if (name === 'CustomKeyStoreHasCMKsException') return { result: 'HAS_KEYS', message: (err as Error).message };
        if (name === 'CustomKeyStoreInvalidStateException') return { result: 'INVALID_STATE', message: (err as Error).message };
        // NotFound after an earlier send whose answer was lost (5xx, reset, crashed attempt) is that send's success.
        if (name === 'CustomKeyStoreNotFoundException') return { result: sends > 1 ? 'DELETED' : 'ALREADY_GONE' };
        throw toActivityFailure(err, `DeleteCustomKeyStore ${input.customKeyStoreId}`);
      }
      // Reads are eventually consistent: give DescribeCustomKeyStores some seconds to stop listing the store.
      for (let read = 0; read < 10; read++) {
        if (!(await storeExists(aws, input.customKeyStoreId))) return { result: 'DELETED' };
        await sleep(1_000);
      }
      throw ApplicationFailure.retryable(`store ${input.customKeyStoreId} still listed 10 s after DeleteCustomKeyStore`, 'StoreStillListed');
    },
  };
}
