import { ApplicationFailure, log, patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { workflowIdFor } from '../shared/messages';
import { DecommissionPhaseAttribute } from '../shared/search-attributes';
import type { DecommissionInput, DecommissionReport, Phase } from '../shared/types';
import { formatProblems, validateDecommissionInput } from '../shared/validation';
import { registerHandlers } from './handlers';
import { KeyLedger, type LedgerChunk } from './ledger';
import { PHASES } from './phases';
import { Run, type Transition } from './run';
import { initialPortalState, initialState, initialUsageState, type CarriedRun, type RunState } from './run-state';
import { PORTAL_PATCH, settleNotifications } from './portal';
import { finish } from './finish';
import { awaitingApproval } from './steps/approval';
import { connecting } from './steps/connection';
import { cancelled, completed, dryRunComplete, failed } from './steps/ends';
import { inventory } from './steps/inventory';
import { quietPeriod } from './steps/quiet-period';
import { validating } from './steps/preflight';
import { rollingBack } from './steps/rollback';
import { scheduling } from './steps/schedule';
import { deleting, disconnecting } from './steps/teardown';
import { verifying } from './steps/verify';
import { waiting } from './steps/waiting';

/** The runbook: one step per phase. BLOCKED is a pause inside a step, never a step of its own. */
const STEPS: Record<Exclude<Phase, 'BLOCKED'>, (run: Run) => Promise<Transition>> = {
  VALIDATING: validating,
  INVENTORY: inventory,
  AWAITING_APPROVAL: awaitingApproval,
  CONNECTING: connecting,
  QUIET_PERIOD: quietPeriod,
  SCHEDULING: scheduling,
  WAITING: waiting,
  VERIFYING: verifying,
  DISCONNECTING: disconnecting,
  DELETING: deleting,
  ROLLING_BACK: rollingBack,
  COMPLETED: completed,
  DRY_RUN_COMPLETE: dryRunComplete,
  CANCELLED: cancelled,
  FAILED: failed,
};

function failAtStart(type: string, message: string, details?: unknown): never {
  upsertSearchAttributes([{ key: DecommissionPhaseAttribute, value: 'FAILED' }]);
  throw ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? undefined : [details] });
}

/**
 * Marker recorded by every run that gathers usage evidence (0.3.0 on). A run that began on 0.2.0 has no
 * marker: it replays, and goes on after a deploy, without the new activities and phase.
 */
export const USAGE_EVIDENCE_PATCH = 'decommission-usage-evidence-v3';

/** A new run's state: the request validated once, here, and the one-run-per-store rule enforced. */
function startState(input: DecommissionInput): RunState {
  // The shortest quiet period is the deployment's: checked once its policy is loaded (VALIDATING).
  const { input: cfg, problems } = validateDecommissionInput(input, { minQuietPeriodMs: 1 });
  if (!cfg) return failAtStart('InvalidDecommissionInput', `Invalid decommission input, nothing was changed: ${formatProblems(problems)}`, problems);
  const expected = workflowIdFor(cfg.customKeyStoreId);
  if (workflowInfo().workflowId !== expected) {
    // Temporal's workflow-ID uniqueness is the lock that keeps two runs off one store: a run started
    // under any other ID could schedule (and roll back) keys another run owns.
    return failAtStart(
      'OneDecommissionPerStore',
      `This decommission must run as workflow ID ${expected} (one decommission per store); it was started as ${workflowInfo().workflowId}. Nothing was changed.`,
    );
  }
  return initialState(cfg, Date.now());
}

/** A continued run's state: its own continue-as-new carried it (entry.ts checked), under the same workflow ID. */
function resumedState(carried: CarriedRun): RunState {
  const expected = workflowIdFor(carried.state.cfg.customKeyStoreId);
  if (workflowInfo().workflowId !== expected) {
    return failAtStart(
      'OneDecommissionPerStore',
      `This decommission must run as workflow ID ${expected} (one decommission per store); it runs as ${workflowInfo().workflowId}. Nothing was changed.`,
    );
  }
  return carried.state;
}

/**
 * Decommissions one AWS KMS custom key store in AWS's prescribed order, as an explicit phase machine
 * (`phases.ts` says what each phase does and what cancel, approve and resolve mean in it):
 * inventory, approval, connect (CloudHSM), schedule every key, keep the store connected through the
 * waiting period, verify the keys are gone, disconnect, delete.
 *
 * @param input the request, exactly as sent (validated here for a new run: a raw `temporal workflow start` bypasses the client)
 * @param carried state carried across continue-as-new; never pass it yourself
 * @param ledgerChunks the key ledger carried across continue-as-new, in chunks that keep each payload small
 */
export async function decommissionCustomKeyStore(input: DecommissionInput, carried?: CarriedRun, ...ledgerChunks: LedgerChunk[]): Promise<DecommissionReport> {
  // A resumed run keeps the configuration it was started with: a tightened validator never fails it.
  const state = carried ? resumedState(carried) : startState(input);
  // A continued run keeps what it began with: usage evidence only if its state carries it.
  if (!carried && patched(USAGE_EVIDENCE_PATCH)) state.usage = initialUsageState();
  // Likewise verified identities and notifications: only runs that start on 0.4.0 or later.
  if (!carried && patched(PORTAL_PATCH)) state.portal = initialPortalState();
  const run = new Run(input, state, KeyLedger.fromChunks(ledgerChunks));
  registerHandlers(run);
  run.publish();
  for (;;) {
    const phase = run.state.phase;
    if (phase === 'BLOCKED') throw ApplicationFailure.nonRetryable('BLOCKED is not a runbook phase', 'InvalidRunState');
    const transition = await run.runStep(STEPS[phase]);
    noteIgnoredTemporalCancel(run, phase);
    if ('end' in transition) {
      await settleNotifications(run);
      return finish(run, transition.end);
    }
    // A cancel accepted in this phase is honoured at the transition, whatever the step chose next.
    const next = run.state.cancel && transition.to !== 'ROLLING_BACK' && transition.to !== 'CANCELLED' ? run.cancelTransition() : transition;
    run.enter(next.to, next.next);
    await run.continueAsNewIfSuggested();
  }
}

/**
 * Temporal's cancel cannot be refused like the update; one that arrives in a phase that refuses cancel
 * (every key already deleted) is recorded and used up: the run goes on, even if it later returns to a
 * phase that would accept a cancel.
 */
function noteIgnoredTemporalCancel(run: Run, ranIn: Phase): void {
  if (run.state.cancel || run.state.temporalCancelIgnored || PHASES[ranIn].cancel.accepted || !run.temporalCancelRequested()) return;
  run.state.temporalCancelIgnored = true;
  const detail = `Temporal cancel requested in ${ranIn}: every key was already deleted, so there was nothing to restore; recorded and not acted on, the run went on`;
  run.state.decisions.push({ what: 'cancel-ignored', by: 'temporal-cancel', at: Date.now(), detail });
  log.warn(detail);
}
