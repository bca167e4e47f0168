import type { InputProblem } from '../shared/types';

/** Base class of every error the decommission client throws. */
export class DecommissionClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The request broke input rules. Nothing was sent to Temporal, and nothing changed in KMS.
 *
 * @example
 * try { await client.startDecommission({ customKeyStoreId: 'cks 1', requestedBy: '' }) }
 * catch (err) { if (err instanceof InvalidInputError) console.error(err.problems) }
 */
export class InvalidInputError extends DecommissionClientError {
  constructor(
    readonly problems: InputProblem[],
    what = 'decommission input',
  ) {
    super(`Invalid ${what}: ${problems.map((p) => `${p.field}: ${p.rule}`).join('; ')}`);
  }
}

/** A decommission of this store is already running (only with `failIfRunning`; by default `start` returns the running one). */
export class DecommissionAlreadyRunningError extends DecommissionClientError {
  constructor(
    readonly workflowId: string,
    readonly runId?: string,
  ) {
    super(`A decommission of this store is already running: workflow ${workflowId}${runId ? ` (run ${runId})` : ''}`);
  }
}

/** No decommission workflow with this ID exists (or it is outside the namespace's retention). */
export class DecommissionNotFoundError extends DecommissionClientError {
  constructor(readonly workflowId: string) {
    super(`No decommission found with workflow ID ${workflowId}`);
  }
}

/**
 * The workflow refused an update (approve, cancel, resolve); `reason` is the validator's explanation,
 * e.g. the four-eyes rule or the wrong phase. The workflow's state did not change.
 */
export class UpdateRejectedError extends DecommissionClientError {
  constructor(
    readonly update: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`${update} rejected: ${reason}`, { cause });
  }
}

/** The report was asked for while the run is still going (pass `wait` to wait for it). */
export class DecommissionStillRunningError extends DecommissionClientError {
  constructor(
    readonly workflowId: string,
    readonly phase: string,
  ) {
    super(`Decommission ${workflowId} is still running (phase ${phase}); pass wait to wait for its report`);
  }
}
