import type { ConnectionResult } from '../../activities';
import type { StoreInfo } from '../../shared/types';
import { quick, storeWaitStub } from '../activity-stubs';
import { failureType } from '../failures';
import { count, iso } from '../render';
import type { Run, Transition } from '../run';
import { quietPeriodDue } from './quiet-period';

const STORE_WAIT_TIMEOUT_MS = 30 * 60_000;
const CONNECT_ATTEMPTS = 3;

/** ConnectCustomKeyStore and wait (FAILED is disconnected first, bounded attempts). */
export async function connectStore(run: Run, summary: string): Promise<ConnectionResult> {
  const poll = run.cfg.timing.storePollIntervalMs;
  // Set before the call: a cancel acknowledged while it runs must not claim that nothing changed.
  run.state.connectRequested = true;
  const result = await run.attempt('connect', () =>
    storeWaitStub(poll, STORE_WAIT_TIMEOUT_MS).connectStore.executeWithOptions({ summary }, [
      { customKeyStoreId: run.cfg.customKeyStoreId, pollIntervalMs: poll, timeoutMs: STORE_WAIT_TIMEOUT_MS, maxAttempts: CONNECT_ATTEMPTS },
    ]),
  );
  run.state.store = { ...(run.state.store as StoreInfo), connectionState: result.connectionState, connectionErrorCode: result.connectionErrorCode };
  // A failed attempt opens no "not connected" window by itself: the blocker that follows decides (proceed opens one).
  if (result.connectionState === 'CONNECTED') run.markConnected();
  return result;
}

/** The operator chose to go on with a CloudHSM store that is not CONNECTED (a four-eyes decision). */
export function proceedDisconnected(run: Run): void {
  run.state.proceedDisconnected = true;
  run.state.notes.push(
    `Operator proceeded with the store ${run.state.store?.connectionState}: KMS cannot delete the HSM key material of keys whose waiting period ends while it is not CONNECTED.`,
  );
  run.markNotConnected();
}

/** CONNECTING (CloudHSM): KMS deletes HSM key material only while the store is CONNECTED. */
export async function connecting(run: Run): Promise<Transition> {
  for (;;) {
    const before = run.state.store as StoreInfo;
    if (!run.cfg.reconnect && !run.state.reconnectApproved) {
      const decision = await run.block({
        kind: 'STORE_NOT_CONNECTED',
        message: `Store is ${before.connectionState} and reconnect=false: scheduling now would orphan the HSM key material of ${count(run.ledger.size)} keys (label = key ARN). Reconnect, or proceed knowingly (a second person must agree).`,
        allowedActions: ['reconnect', 'proceed'],
        connectionState: before.connectionState,
        connectionErrorCode: before.connectionErrorCode,
        lastSeenConnectedAt: run.state.lastSeenConnectedAt,
      });
      if (decision.action === 'proceed') {
        proceedDisconnected(run);
        return { to: quietPeriodDue(run) ? 'QUIET_PERIOD' : 'SCHEDULING' };
      }
      run.state.reconnectApproved = true;
    }
    const result = await connectStore(run, 'Connect store so KMS can delete HSM key material');
    if (result.connectionState === 'CONNECTED') return { to: quietPeriodDue(run) ? 'QUIET_PERIOD' : 'SCHEDULING' };
    const decision = await run.block({
      kind: 'CONNECT_FAILED',
      message: `Could not connect the store after ${result.attempts} attempt(s): ${result.connectionState}${result.connectionErrorCode ? ` (${result.connectionErrorCode})` : ''}. Scheduling without a connected store would orphan HSM key material. Fix the cause (see ConnectionErrorCode), then reconnect; or proceed knowingly (a second person must agree).`,
      allowedActions: ['reconnect', 'proceed'],
      connectionState: result.connectionState,
      connectionErrorCode: result.connectionErrorCode,
      lastSeenConnectedAt: run.state.lastSeenConnectedAt,
    });
    if (decision.action === 'proceed') {
      proceedDisconnected(run);
      return { to: quietPeriodDue(run) ? 'QUIET_PERIOD' : 'SCHEDULING' };
    }
    run.state.reconnectApproved = true;
  }
}

/**
 * The store as DescribeCustomKeyStores sees it now, acting on what would make finishing unsafe: gone
 * (blocks until an operator proceeds), or a CloudHSM store not CONNECTED (blocks: reconnect or proceed).
 * Returns when the run may go on.
 */
export async function checkStore(run: Run, purpose: string, prefetched?: StoreInfo | null): Promise<void> {
  const store =
    prefetched !== undefined
      ? prefetched
      : await run.attempt(`${purpose}: describe store`, () =>
          quick.describeStore
            .executeWithOptions({ summary: `${purpose}: store connection state` }, [{ customKeyStoreId: run.cfg.customKeyStoreId }])
            .catch((err: unknown) => {
              if (failureType(err) === 'CustomKeyStoreNotFoundException') return null;
              throw err;
            }),
        );
  if (!store) return storeGone(run, purpose);
  run.setStore(store);
  if (store.type === 'AWS_CLOUDHSM' && store.connectionState !== 'CONNECTED' && !run.state.proceedDisconnected) await storeNotConnected(run, store);
}

/** The store was deleted outside this workflow (KMS only allows that once it holds no keys). */
export async function storeGone(run: Run, during: string): Promise<void> {
  await run.block({
    kind: 'STORE_DELETED',
    message: `Store ${run.cfg.customKeyStoreId} no longer exists (seen during ${during}): it was deleted outside this workflow, which KMS only allows once the store holds no keys. Proceed to verify the keys and finish (a second person must agree), or cancel.`,
    allowedActions: ['proceed'],
  });
  run.state.notes.push(`The store was deleted outside this workflow (seen during ${during}); the operator chose to proceed.`);
  if (run.state.store) run.state.store = { ...run.state.store, connectionState: 'DISCONNECTED' };
  run.state.storeDeleted = true;
}

/** A CloudHSM store found not CONNECTED while keys still await deletion: reconnect, or proceed knowingly. */
export async function storeNotConnected(run: Run, store: StoreInfo, lastSeenConnectedAt = run.state.lastSeenConnectedAt): Promise<void> {
  let current = store;
  for (;;) {
    run.markNotConnected(lastSeenConnectedAt);
    const decision = await run.block({
      kind: 'STORE_NOT_CONNECTED',
      message: `Store is ${current.connectionState}${current.connectionErrorCode ? ` (${current.connectionErrorCode})` : ''}; it was last seen CONNECTED at ${iso(lastSeenConnectedAt)}. If it is not CONNECTED when a key's DeletionDate passes, KMS cannot delete that key's HSM material and it is orphaned (label = key ARN). Reconnect, or proceed knowingly (a second person must agree).`,
      allowedActions: ['reconnect', 'proceed'],
      connectionState: current.connectionState,
      connectionErrorCode: current.connectionErrorCode,
      lastSeenConnectedAt,
    });
    if (decision.action === 'proceed') return proceedDisconnected(run);
    const result = await connectStore(run, 'Reconnect the store');
    if (result.connectionState === 'CONNECTED') return;
    current = run.state.store as StoreInfo;
  }
}
