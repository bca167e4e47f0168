import {
  ConnectCustomKeyStoreCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  type CustomKeyStoresListEntry,
} from '@aws-sdk/client-kms';
import { activityInfo, heartbeat, log, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ConnectionState, CustomKeyStoreType, StoreInfo } from '../shared/types';
import type { ActivityDeps } from './deps';
import { callKms } from './kms-call';
import { errorName, toActivityFailure } from './kms-errors';

export interface StoreRef {
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
export async function readStore(deps: ActivityDeps, customKeyStoreId: string): Promise<StoreInfo> {
  const out = await callKms(deps, 'DescribeCustomKeyStores', (abortSignal) =>
    deps.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: customKeyStoreId }), { abortSignal }),
  );
  const entry = out.CustomKeyStores?.find((s) => s.CustomKeyStoreId === customKeyStoreId);
  if (!entry) {
    // KMS answers an unknown ID with an exception, never an empty list; an empty list is a broken endpoint.
    throw ApplicationFailure.nonRetryable(`DescribeCustomKeyStores returned no entry for ${customKeyStoreId}`, 'CustomKeyStoreNotFoundException');
  }
  return toStoreInfo(entry);
}

async function pollUntil(deps: ActivityDeps, input: StoreWaitInput, done: (s: StoreInfo) => boolean, what: string): Promise<StoreInfo> {
  const deadline = Date.now() + input.timeoutMs;
  for (;;) {
    const store = await readStore(deps, input.customKeyStoreId);
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
async function sendDisconnect(deps: ActivityDeps, customKeyStoreId: string): Promise<void> {
  try {
    await callKms(deps, 'DisconnectCustomKeyStore', (abortSignal) => deps.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: customKeyStoreId }), { abortSignal }));
  } catch (err) {
    if (errorName(err) !== 'CustomKeyStoreInvalidStateException') throw err;
  }
}

/** True unless DescribeCustomKeyStores answers CustomKeyStoreNotFoundException. */
export async function storeExists(deps: ActivityDeps, customKeyStoreId: string): Promise<boolean> {
  try {
    await readStore(deps, customKeyStoreId);
    return true;
  } catch (err) {
    if (errorName(err) === 'CustomKeyStoreNotFoundException' || (err instanceof ApplicationFailure && err.type === 'CustomKeyStoreNotFoundException')) return false;
    throw toActivityFailure(err, `DescribeCustomKeyStores ${customKeyStoreId}`);
  }
}

export function createStoreActivities(deps: ActivityDeps) {
  return {
    /** Preflight: type, connection state, cluster or proxy of the store. Changes nothing. */
    async describeStore(input: StoreRef): Promise<StoreInfo> {
      try {
        return await readStore(deps, input.customKeyStoreId);
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
          const store = await readStore(deps, id);
          const state = store.connectionState;
          const giveUp = () => ({ connectionState: state, connectionErrorCode: store.connectionErrorCode, attempts, errorCodes });
          if (state === 'CONNECTED') return giveUp();
          if (state === 'CONNECTING') await pollUntil(deps, input, (s) => s.connectionState !== 'CONNECTING', 'connect');
          else if (state === 'DISCONNECTING') await pollUntil(deps, input, (s) => s.connectionState !== 'DISCONNECTING', 'disconnect');
          else if (state === 'FAILED') {
            if (store.connectionErrorCode) errorCodes.push(store.connectionErrorCode);
            if (attempts >= input.maxAttempts) return giveUp();
            // KMS refuses to connect a FAILED store: it must be disconnected first.
            await sendDisconnect(deps, id);
            await pollUntil(deps, input, (s) => s.connectionState === 'DISCONNECTED', 'disconnect before reconnect');
          } else {
            if (attempts >= input.maxAttempts) return giveUp();
            attempts++;
            log.info('connecting custom key store', { customKeyStoreId: id, attempt: attempts });
            await callKms(deps, 'ConnectCustomKeyStore', (abortSignal) =>
              deps.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }), { abortSignal }),
            );
            await pollUntil(deps, input, (s) => s.connectionState === 'CONNECTED' || s.connectionState === 'FAILED', 'connect');
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
      try {
        let store = await readStore(deps, input.customKeyStoreId);
        if (store.connectionState === 'DISCONNECTED') return store;
        if (store.connectionState !== 'DISCONNECTING') await sendDisconnect(deps, input.customKeyStoreId);
        store = await pollUntil(deps, input, (s) => s.connectionState === 'DISCONNECTED', 'disconnect');
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
      let sends = activityInfo().attempt > 1 ? 1 : 0;
      try {
        await callKms(deps, 'DeleteCustomKeyStore', (abortSignal) => {
          sends++;
          return deps.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: input.customKeyStoreId }), { abortSignal });
        });
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
        if (!(await storeExists(deps, input.customKeyStoreId))) return { result: 'DELETED' };
        await sleep(1_000);
      }
      throw ApplicationFailure.retryable(`store ${input.customKeyStoreId} still listed 10 s after DeleteCustomKeyStore`, 'StoreStillListed');
    },
  };
}
