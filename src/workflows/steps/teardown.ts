import { resetGuard } from '../portal';
import type { StoreInfo } from '../../shared/types';
import { quick, storeWaitStub } from '../activity-stubs';
import { describeFailure, failureType } from '../failures';
import type { Run, Transition } from '../run';
import { storeGone } from './connection';

const STORE_WAIT_TIMEOUT_MS = 30 * 60_000;
/** HasCMKs / InvalidState loops between verify, disconnect and delete before asking the operator. */
const MAX_DELETE_ROUNDS = 3;

/** Runs a teardown call; a store deleted meanwhile asks to proceed, any other failure blocks for retry. */
async function teardownCall<T>(run: Run, what: 'disconnect' | 'delete', call: () => Promise<T>): Promise<T | 'STORE_DELETED'> {
  for (;;) {
    try {
      const result = await call();
      run.state.lastError = undefined;
      return result;
    } catch (err) {
      if (failureType(err) === 'CustomKeyStoreNotFoundException') {
        await storeGone(run, what);
        return 'STORE_DELETED';
      }
      const error = describeFailure(err);
      run.state.lastError = `${what}: ${error}`;
      await run.block({
        kind: what === 'disconnect' ? 'DISCONNECT_FAILED' : 'DELETE_FAILED',
        step: what,
        error,
        message: `${what} failed: ${error}`,
        allowedActions: ['retry'],
      });
    }
  }
}

/** DISCONNECTING: every key is confirmed deleted, so the store can let go of its HSM cluster. */
export async function disconnecting(run: Run): Promise<Transition> {
  if (run.state.storeDeleted) return { to: 'COMPLETED' };
  const poll = run.cfg.timing.storePollIntervalMs;
  run.progress({ what: 'Disconnect the store (every key is confirmed deleted)' });
  const store = await teardownCall(run, 'disconnect', () =>
    storeWaitStub(poll, STORE_WAIT_TIMEOUT_MS).disconnectStore.executeWithOptions({ summary: 'Disconnect store and wait for DISCONNECTED' }, [
      { customKeyStoreId: run.cfg.customKeyStoreId, pollIntervalMs: poll, timeoutMs: STORE_WAIT_TIMEOUT_MS, ...resetGuard() },
    ]),
  );
  if (store === 'STORE_DELETED') return { to: 'COMPLETED' };
  run.state.store = store as StoreInfo;
  return { to: 'DELETING' };
}

/** DELETING: DeleteCustomKeyStore, confirmed by CustomKeyStoreNotFoundException. */
export async function deleting(run: Run): Promise<Transition> {
  run.progress({ what: 'DeleteCustomKeyStore' });
  const outcome = await teardownCall(run, 'delete', () =>
    quick.deleteStore.executeWithOptions({ summary: `Delete custom key store ${run.cfg.customKeyStoreId}` }, [
      { customKeyStoreId: run.cfg.customKeyStoreId, ...resetGuard() },
    ]),
  );
  if (outcome === 'STORE_DELETED' || outcome.result === 'DELETED') return { to: 'COMPLETED' };
  if (outcome.result === 'ALREADY_GONE') {
    await storeGone(run, 'DeleteCustomKeyStore (it answered CustomKeyStoreNotFoundException)');
    return { to: 'COMPLETED' };
  }
  run.state.deleteRounds++;
  if (run.state.deleteRounds > MAX_DELETE_ROUNDS) {
    await run.block({
      kind: 'DELETE_FAILED',
      step: 'delete',
      error: `${outcome.result}: ${outcome.message ?? ''}`,
      message: `DeleteCustomKeyStore keeps failing (${outcome.result}): ${outcome.message ?? ''}`,
      allowedActions: ['retry'],
    });
    run.state.deleteRounds = 0;
    return { to: 'DELETING' };
  }
  // HasCMKs: a key appeared (or deletion lagged) after verification. InvalidState: someone reconnected.
  run.state.lastError = `DeleteCustomKeyStore: ${outcome.result}: ${outcome.message ?? ''}`;
  return { to: outcome.result === 'HAS_KEYS' ? 'VERIFYING' : 'DISCONNECTING' };
}
