import { quick } from '../activity-stubs';
import type { Run, Transition } from '../run';

/** VALIDATING: the deployment's approval policy, and the store as it is now. Changes nothing. */
export async function validating(run: Run): Promise<Transition> {
  run.progress({ what: 'Load the approval policy and describe the custom key store' });
  run.state.policy ??= await quick.loadPolicy.executeWithOptions({ summary: 'Preflight: load the deployment approval policy' }, []);
  const store = await quick.describeStore.executeWithOptions({ summary: `Preflight: describe custom key store ${run.cfg.customKeyStoreId}` }, [
    { customKeyStoreId: run.cfg.customKeyStoreId },
  ]);
  run.state.store = store;
  if (store.connectionState === 'CONNECTED') run.markConnected();
  return { to: 'INVENTORY', next: { what: 'DescribeKey every key of the account (ListKeys has no store filter)' } };
}
