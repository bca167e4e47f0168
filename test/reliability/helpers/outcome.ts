import type { DecommissionClient, DecommissionReport, DecommissionStatus } from '../../../src/client';
import { FINAL_PHASES } from '../../../src/shared/types';
import { sleep } from './audit';

/** The run parked itself waiting for an operator: a scenario that must finish on its own failed. */
export class UnexpectedBlockError extends Error {
  constructor(readonly status: DecommissionStatus) {
    super(`run of ${status.customKeyStoreId} is BLOCKED (${status.blocker?.kind}): ${status.blocker?.message}; last error: ${status.lastError ?? 'none'}`);
    this.name = 'UnexpectedBlockError';
  }
}

/**
 * Waits for the run's report, failing at once (instead of at the test timeout) if the run goes BLOCKED:
 * in these scenarios every fault must be absorbed without a manual step.
 */
export async function reportWithoutManualStep(decommissions: DecommissionClient, storeId: string, timeoutMs = 180_000): Promise<DecommissionReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await decommissions.getStatus(storeId);
    if (status.phase === 'BLOCKED') throw new UnexpectedBlockError(status);
    if (FINAL_PHASES.includes(status.phase)) return decommissions.getReport(storeId, { wait: true });
    if (Date.now() > deadline) throw new Error(`run of ${storeId} still in ${status.phase} after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Waits until the run is BLOCKED or has ended, and returns that status. */
export async function settle(decommissions: DecommissionClient, storeId: string, timeoutMs = 120_000): Promise<DecommissionStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await decommissions.getStatus(storeId);
    if (status.phase === 'BLOCKED' || FINAL_PHASES.includes(status.phase)) return status;
    if (Date.now() > deadline) throw new Error(`run of ${storeId} still in ${status.phase} after ${timeoutMs} ms`);
    await sleep(250);
  }
}
