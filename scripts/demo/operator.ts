/**
 * The demo's on-call side, acting on what the live view sees: once the keys are scheduled, "someone"
 * disconnects the CloudHSM store in the KMS console (through the emulator's admin API); the workflow's
 * connection check notices, parks the run in BLOCKED, and bob answers that blocker, by its id, with a
 * reconnect. Had nobody noticed, every key whose DeletionDate passed while the store was disconnected would
 * have left its HSM key material orphaned in the cluster.
 */
import { UpdateRejectedError, type DecommissionClient, type DecommissionStatus } from '../../src/client';
import type { EmulatorAdminClient } from '../../src/emulator';

/** What the operator did, for the demo's final checks. */
export interface DemoOperator {
  /** For `watchDecommission`'s `onStatus`. */
  onStatus(status: DecommissionStatus, note: (text: string) => void): void;
  /** Waits for the operator's pending actions; returns what went wrong (empty when it all went as planned). */
  settle(): Promise<string[]>;
}

export function demoOperator(client: DecommissionClient, admin: EmulatorAdminClient, storeId: string, cli: string): DemoOperator {
  const pending: Promise<unknown>[] = [];
  const problems: string[] = [];
  let disconnected = false;
  const answered = new Set<string>();

  const act = (work: Promise<unknown>) => pending.push(work.catch((err: unknown) => problems.push((err as Error).message)));

  return {
    onStatus(status, note) {
      if (status.phase === 'WAITING' && !disconnected) {
        disconnected = true;
        act(
          admin.setStoreState(storeId, { connectionState: 'DISCONNECTED' }).then(() => {
            note(
              `Someone disconnects ${storeId} in the KMS console (simulated): KMS could not delete the HSM key material of a key whose DeletionDate passes now.`,
            );
          }),
        );
      }
      const blocker = status.phase === 'BLOCKED' ? status.blocker : undefined;
      if (!blocker || answered.has(blocker.id)) return;
      answered.add(blocker.id);
      if (blocker.kind !== 'STORE_NOT_CONNECTED' || !blocker.allowedActions.includes('reconnect')) {
        problems.push(`unexpected blocker ${blocker.id}: ${blocker.message}`);
        return;
      }
      const comment = 'store disconnected by mistake; reconnect before any DeletionDate';
      note(`bob answers ${blocker.id}: ${cli} resolve ${storeId} --blocker ${blocker.id} --action reconnect --by bob --comment "${comment}"`);
      act(
        client.resolve(storeId, { by: 'bob', action: 'reconnect', blockerId: blocker.id, comment }).then(
          (ack) => note(`  → ${ack.message}`),
          (err: unknown) => {
            if (!(err instanceof UpdateRejectedError)) throw err;
            note(`  → rejected: ${err.reason}`);
            problems.push(`bob's resolve of ${blocker.id} was rejected: ${err.reason}`);
          },
        ),
      );
    },
    async settle() {
      await Promise.all(pending);
      if (!disconnected) problems.push('the run never reached the waiting period, so the store was never disconnected');
      else if (answered.size === 0) problems.push('the store was disconnected during the waiting period, but the run never blocked for it');
      return problems;
    },
  };
}
