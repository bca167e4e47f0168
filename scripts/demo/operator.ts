/**
 * The demo's on-call side, acting on what the live view sees:
 *
 * - KEY_IN_USE: the application that still uses a key of the store fails against it once the quiet period
 *   disabled it (DisabledException), and the run's CloudTrail watch parks the run in BLOCKED, naming the
 *   caller. The operator's choice is cancel (the rollback re-enables exactly the keys this run disabled:
 *   nothing is deleted) or proceed (a second person: delete the keys anyway). bob proceeds, by the
 *   blocker's id: the application's team retired that job, its failures are expected.
 * - STORE_NOT_CONNECTED: once the keys are scheduled, "someone" disconnects the CloudHSM store in the KMS
 *   console (through the emulator's admin API); the connection check notices and bob answers with a
 *   reconnect. Had nobody noticed, every key whose DeletionDate passed while the store was disconnected
 *   would have left its HSM key material orphaned in the cluster.
 */
import { UpdateRejectedError, type DecommissionClient, type DecommissionStatus, type ResolveAction } from '../../src/client';
import type { EmulatorAdminClient } from '../../src/emulator';

/** What the operator did, for the demo's final checks. */
export interface DemoOperator {
  /** For `watchDecommission`'s `onStatus`. */
  onStatus(status: DecommissionStatus, note: (text: string) => void): void;
  /** Waits for the operator's pending actions; returns what went wrong (empty when it all went as planned). */
  settle(): Promise<string[]>;
}

/** The application the emulator's usage simulator plays: the caller a KEY_IN_USE blocker must name. */
export interface DemoApplication {
  keyId: string;
  principalArn: string;
}

export function demoOperator(client: DecommissionClient, admin: EmulatorAdminClient, storeId: string, cli: string, app: DemoApplication): DemoOperator {
  const pending: Promise<unknown>[] = [];
  const problems: string[] = [];
  let disconnected = false;
  const answered = new Map<string, string>(); // blocker id → kind

  const act = (work: Promise<unknown>) => pending.push(work.catch((err: unknown) => problems.push((err as Error).message)));

  const resolve = (blockerId: string, action: ResolveAction, comment: string, note: (text: string) => void) => {
    note(`bob answers ${blockerId}: ${cli} resolve ${storeId} --blocker ${blockerId} --action ${action} --by bob --comment "${comment}"`);
    act(
      client.resolve(storeId, { by: 'bob', action, blockerId, comment }).then(
        (ack) => note(`  → ${ack.message}`),
        (err: unknown) => {
          if (!(err instanceof UpdateRejectedError)) throw err;
          note(`  → rejected: ${err.reason}`);
          problems.push(`bob's resolve of ${blockerId} was rejected: ${err.reason}`);
        },
      ),
    );
  };

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
      answered.set(blocker.id, blocker.kind);
      if (blocker.kind === 'KEY_IN_USE') {
        const named = blocker.findings.some((f) => f.caller === app.principalArn && f.keyId === app.keyId);
        if (!named) problems.push(`${blocker.id} does not name ${app.principalArn} on ${app.keyId}: ${blocker.message}`);
        note(
          `The operator's choice on ${blocker.id}: cancel (the rollback re-enables the ${status.usage?.quietPeriod?.disabled ?? 'disabled'} key(s) this run disabled; nothing is deleted) or proceed (a second person deletes them anyway).`,
        );
        resolve(blocker.id, 'proceed', 'settlement batch job retired in CHG-2040; its failures are expected', note);
        return;
      }
      if (blocker.kind === 'STORE_NOT_CONNECTED' && blocker.allowedActions.includes('reconnect')) {
        resolve(blocker.id, 'reconnect', 'store disconnected by mistake; reconnect before any DeletionDate', note);
        return;
      }
      problems.push(`unexpected blocker ${blocker.id}: ${blocker.message}`);
    },
    async settle() {
      await Promise.all(pending);
      const kinds = [...answered.values()];
      if (!kinds.includes('KEY_IN_USE')) problems.push(`the application kept using ${app.keyId}, but the run never blocked with KEY_IN_USE`);
      if (!disconnected) problems.push('the run never reached the waiting period, so the store was never disconnected');
      else if (!kinds.includes('STORE_NOT_CONNECTED')) problems.push('the store was disconnected during the waiting period, but the run never blocked for it');
      return problems;
    },
  };
}
