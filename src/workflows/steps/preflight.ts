import { formatDuration } from '../../shared/duration';
import { DEFAULT_MIN_QUIET_PERIOD_MS, MAX_QUIET_PERIOD_MS } from '../../shared/validation';
import { quick } from '../activity-stubs';
import { UNVERIFIED_DECISION, verifyStartSignature } from '../portal';
import type { Run, Transition } from '../run';

/** VALIDATING: the deployment's approval policy, and the store as it is now. Changes nothing. */
export async function validating(run: Run): Promise<Transition> {
  run.progress({ what: 'Load the approval policy and describe the custom key store' });
  run.state.policy ??= await quick.loadPolicy.executeWithOptions({ summary: 'Preflight: load the deployment approval policy' }, []);
  const refused = await verifyStartSignature(run);
  if (refused) {
    run.state.failure = { type: UNVERIFIED_DECISION, message: `Decommission refused, nothing was changed: ${refused}` };
    return { to: 'FAILED' };
  }
  const store = await quick.describeStore.executeWithOptions({ summary: `Preflight: describe custom key store ${run.cfg.customKeyStoreId}` }, [
    { customKeyStoreId: run.cfg.customKeyStoreId },
  ]);
  const minQuiet = run.policy.minimumQuietPeriodMs ?? DEFAULT_MIN_QUIET_PERIOD_MS;
  if (run.usage && run.cfg.quietPeriodMs !== undefined && run.cfg.quietPeriodMs < minQuiet) {
    // The shortest quiet period is the deployment's, known only once its policy is loaded.
    run.state.failure = {
      type: 'InvalidDecommissionInput',
      message: `Invalid decommission input, nothing was changed: quietPeriod: must be between ${formatDuration(minQuiet)} and ${formatDuration(MAX_QUIET_PERIOD_MS)} (this deployment's minimum), got ${formatDuration(run.cfg.quietPeriodMs)}`,
    };
    return { to: 'FAILED' };
  }
  run.state.store = store;
  if (store.connectionState === 'CONNECTED') run.markConnected();
  return { to: 'INVENTORY', next: { what: 'DescribeKey every key of the account (ListKeys has no store filter)' } };
}
