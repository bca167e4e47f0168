import {
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { DEFAULT_APPROVAL_POLICY, type ApprovalPolicy } from '../shared/policy';
import { CustomKeyStoreIdAttribute, DecommissionPhaseAttribute } from '../shared/search-attributes';
import type {
  AuditRecord,
  Blocker,
  DecommissionInput,
  DecommissionReport,
  DecommissionStatus,
  NormalizedInput,
  Phase,
  StoreInfo,
  UsageSummary,
} from '../shared/types';
import { describeFailure, failureType } from './failures';
import type { KeyLedger } from './ledger';
import { PHASES } from './phases';
import { renderCurrentDetails, count } from './render';
import { notificationsForStatus, notifyTransition, settleNotifications } from './portal';
import { buildReport } from './report';
import { RUN_STATE_SCHEMA_VERSION, type CarriedRun, type Resolution, type RunState, type UsageState } from './run-state';

/** Moves the run to another phase. */
export interface PhaseTransition {
  to: Phase;
  next?: NextAction;
}

/** What a phase hands back to the run loop: the next phase, or the end of the run. */
export type Transition = PhaseTransition | { end: DecommissionReport };

/** Shown in status and the Web UI: what the run does next, and when. */
export interface NextAction {
  what: string;
  at?: number;
}

/** A blocker as a phase raises it; the run adds `id` and `since`. */
export type BlockerSpec = Blocker extends infer B ? (B extends Blocker ? Omit<B, 'id' | 'since'> : never) : never;

/** Most decisions the status carries (the report has them all). */
const STATUS_DECISIONS = 50;

/** Largest ledger carried across continue-as-new (the server rejects inputs over 2 MB; this leaves room for the rest). */
const MAX_CARRIED_BYTES = 1_200_000;

/**
 * The state and the shared mechanics of one decommission run: status, blockers, cancellation scopes,
 * continue-as-new. Phases (in `steps/`) use it; only the run loop in `decommission.ts` changes `phase`.
 */
export class Run {
  /** The decision answering the current blocker, set by the `resolve` update. */
  private resolution?: Resolution;
  /** Scope of the phase step in progress: an accepted `cancel` cancels it. */
  private stepScope?: CancellationScope;
  private nextAction?: NextAction;
  private lastPublishedPhase?: Phase;
  private canDeferred = false;
  /** Notifications being sent (never awaited by the steps). */
  private readonly sendingNotifications = new Set<Promise<void>>();
  /** The final report, for the `report` query of a run that closed as Canceled (which carries no result). */
  finalReport?: DecommissionReport;

  constructor(
    readonly rawInput: DecommissionInput,
    readonly state: RunState,
    readonly ledger: KeyLedger,
  ) {}

  get cfg(): NormalizedInput {
    return this.state.cfg;
  }

  get policy(): ApprovalPolicy {
    return this.state.policy ?? DEFAULT_APPROVAL_POLICY;
  }

  /** BLOCKED while paused on a blocker, the runbook phase otherwise. */
  displayPhase(): Phase {
    return this.state.blocker ? 'BLOCKED' : this.state.phase;
  }

  /** Usage evidence, for runs that gather it (started on 0.3.0 or later). */
  get usage(): UsageState | undefined {
    return this.state.usage;
  }

  /** Whether this run may have changed a key: from the first quiet-period or scheduling batch on. */
  changedKeys(): boolean {
    return this.state.scheduling !== undefined || this.state.usage?.quiet !== undefined;
  }

  /** The usage evidence as status, the Web UI and the report show it. */
  usageSummary(): UsageSummary | undefined {
    const u = this.state.usage;
    if (!u) return undefined;
    const w = u.watch;
    return {
      recentUseWindowMs: this.cfg.recentUseWindowMs as number,
      checkedAt: u.checkedAt,
      classes: u.classes,
      recentlyUsed: u.classes.USED_RECENTLY,
      recentKeys: u.recentKeys,
      quietPeriod:
        this.cfg.quietPeriodMs !== undefined
          ? { ms: this.cfg.quietPeriodMs, startedAt: u.quiet?.startedAt, endsAt: u.quiet?.endsAt, disabled: u.quiet?.disabled ?? 0, endedAt: u.quiet?.endedAt }
          : undefined,
      watch:
        this.cfg.watchUsage !== false
          ? {
              checks: w.checks,
              checkedUntil: w.checkedUntil,
              lookupCalls: w.lookupCalls,
              findings: w.findings,
              acknowledged: w.acknowledged.length,
              ...(w.stoppedBy !== undefined ? { stoppedBy: w.stoppedBy } : {}),
            }
          : undefined,
      deletionEvidence: u.evidence ? { found: u.evidence.found, of: u.evidence.of, lookedUntil: u.evidence.scannedUntil, done: u.evidence.done } : undefined,
    };
  }

  // -----------------------------------------------------------------------------------------------
  // Status, details, search attributes

  status(): DecommissionStatus {
    const dates = this.ledger.allDeletionDates();
    const s = this.state;
    return {
      customKeyStoreId: this.cfg.customKeyStoreId,
      phase: this.displayPhase(),
      previousPhase: s.blocker ? s.phase : undefined,
      dryRun: this.cfg.dryRun,
      store: s.store,
      requestedBy: this.cfg.requestedBy,
      approvedBy: s.approvedBy,
      ticket: this.cfg.ticket,
      policy: s.policy,
      cancel: s.cancel,
      counts: this.ledger.counts(),
      scannedKeys: s.scannedKeys,
      earliestDeletionDate: dates.length ? Math.min(...dates) : undefined,
      latestDeletionDate: dates.length ? Math.max(...dates) : undefined,
      nextAction: this.nextAction?.what,
      nextActionAt: this.nextAction?.at,
      blocker: s.blocker,
      lastError: s.lastError,
      startedAt: s.startedAt,
      scheduling: s.scheduling,
      continuedAsNew: s.continuedAsNew,
      ...(s.usage ? { usage: this.usageSummary() } : {}),
      ...(s.portal?.requester ? { requester: { ...s.portal.requester, verified: true as const } } : {}),
      ...(s.portal
        ? {
            firstRunId: workflowInfo().firstExecutionRunId,
            notifications: notificationsForStatus(this),
            pendingWindowInDays: this.cfg.pendingWindowInDays,
            approvalDeadline: s.startedAt + this.cfg.approvalTimeoutMs,
            decisions: s.decisions.slice(-STATUS_DECISIONS),
          }
        : {}),
    };
  }

  publish(): void {
    const phase = this.displayPhase();
    if (this.lastPublishedPhase !== phase) {
      upsertSearchAttributes([
        { key: CustomKeyStoreIdAttribute, value: this.cfg.customKeyStoreId },
        { key: DecommissionPhaseAttribute, value: phase },
      ]);
      this.lastPublishedPhase = phase;
    }
    setCurrentDetails(renderCurrentDetails(this.status(), Date.now()));
  }

  /** The run loop's transition; nothing else changes `phase`. */
  enter(phase: Phase, next?: NextAction): void {
    if (phase !== this.state.phase) log.info('phase', { from: this.state.phase, to: phase });
    this.state.phase = phase;
    this.nextAction = next;
    this.publish();
    if (phase === 'AWAITING_APPROVAL' || phase === 'COMPLETED' || phase === 'CANCELLED' || phase === 'FAILED') notifyTransition(this, phase);
  }

  /** Keeps a notification being sent, so continue-as-new and the end of the run can wait for it. */
  trackNotification(sending: Promise<void>): void {
    this.sendingNotifications.add(sending);
    void sending.finally(() => {
      this.sendingNotifications.delete(sending);
      this.publish();
    });
  }

  notificationsPending(): boolean {
    return this.sendingNotifications.size > 0;
  }

  progress(next?: NextAction): void {
    this.nextAction = next;
    this.publish();
  }

  report(outcome: DecommissionReport['outcome'], reason?: string): DecommissionReport {
    return buildReport({ outcome, reason, cfg: this.cfg, state: this.state, status: this.status(), ledger: this.ledger, endedAt: Date.now() });
  }

  // -----------------------------------------------------------------------------------------------
  // Cancellation

  /** Accepted `cancel` update: recorded, and the phase step in progress is told to stop. */
  acceptCancel(by: string, reason: string, verified: Pick<AuditRecord, 'verified' | 'name'> = {}): void {
    this.state.cancel = { by, reason, at: Date.now() };
    this.state.decisions.push({ what: 'cancelled', by, at: Date.now(), detail: reason, ...verified });
    this.stepScope?.cancel();
  }

  /** Temporal's own cancel request: the same as the update, by "temporal-cancel". */
  recordTemporalCancel(): void {
    if (this.state.cancel) return;
    this.state.cancel = { by: 'temporal-cancel', reason: 'workflow cancel requested through Temporal', at: Date.now() };
    this.state.decisions.push({ what: 'cancelled', by: 'temporal-cancel', at: Date.now(), detail: 'workflow cancel request' });
  }

  /** Whether Temporal's cancel was requested for this run (the root scope is cancelled). */
  temporalCancelRequested(): boolean {
    return CancellationScope.current().consideredCancelled;
  }

  /**
   * Temporal's cancel, unless it arrived once every key was deleted: then it was recorded as ignored and
   * is used up — a later phase (a HasCMKs round trip back to VERIFYING) must not be cut short by it.
   */
  private temporalCancelPending(): boolean {
    return !this.state.temporalCancelIgnored && this.temporalCancelRequested();
  }

  /** Where an accepted cancel goes: restore what this run may have scheduled, or end at once. */
  cancelTransition(): PhaseTransition {
    return { to: this.ledger.rollbackCandidates().length > 0 ? 'ROLLING_BACK' : 'CANCELLED' };
  }

  /**
   * Runs a phase step. In phases where `cancel` is accepted, the step runs in a scope that an accepted
   * cancel (or Temporal's) cancels: timers and read-only activities stop at once, mutating activities
   * stop before their next key and the scope waits for that. Elsewhere the step cannot be interrupted.
   */
  async runStep(step: (run: Run) => Promise<Transition>): Promise<Transition> {
    // FAILED's step fails the workflow on purpose: nothing to catch there.
    if (this.state.phase === 'FAILED') return step(this);
    const cancellable = PHASES[this.state.phase].cancel.accepted && !this.state.cancel;
    if (PHASES[this.state.phase].cancel.accepted && this.state.cancel) return this.cancelTransition();
    try {
      return await this.inStepScope(cancellable, () => step(this));
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      if (this.isCancelOfThisRun(err)) return this.onCancelled();
      try {
        return await this.inStepScope(cancellable, () => this.unexpected(err));
      } catch (again) {
        if (this.isCancelOfThisRun(again)) return this.onCancelled();
        throw again;
      }
    }
  }

  private async inStepScope<T>(cancellable: boolean, fn: () => Promise<T>): Promise<T> {
    if (!cancellable) return CancellationScope.nonCancellable(fn);
    const run = async () => {
      const scope = new CancellationScope();
      this.stepScope = scope;
      try {
        return await scope.run(fn);
      } finally {
        this.stepScope = undefined;
      }
    };
    // After an ignored Temporal cancel the root scope stays cancelled: shield the step from it, while
    // the step's own scope still answers an accepted cancel update.
    return this.state.temporalCancelIgnored ? CancellationScope.nonCancellable(run) : run();
  }

  /** A cancellation caused by an accepted cancel or Temporal's cancel (not, say, an activity's own). */
  isCancelOfThisRun(err: unknown): boolean {
    return isCancellation(err) && (this.state.cancel !== undefined || this.temporalCancelPending());
  }

  private onCancelled(): PhaseTransition {
    this.recordTemporalCancel();
    return this.cancelTransition();
  }

  /**
   * A step threw something it did not handle. Before any key was changed the run fails closed (FAILED,
   * nothing changed); afterwards it must never strand scheduled keys, so it blocks for `retry` or cancel.
   * Either way no workflow task fails: a task-failure loop would leave no decision to an operator.
   */
  private async unexpected(err: unknown): Promise<Transition> {
    const failedIn = this.state.phase;
    const error = describeFailure(err);
    this.state.lastError = error;
    if (!this.changedKeys()) {
      this.state.failure = {
        type: failureType(err) ?? 'DecommissionFailed',
        message: `Decommission of ${this.cfg.customKeyStoreId} failed in ${failedIn}: ${error.replace(/\.+$/, '')}. Nothing was changed in KMS.`,
      };
      return { to: 'FAILED' };
    }
    log.error('step failed', { phase: failedIn, error });
    await this.block({
      kind: 'STEP_FAILED',
      step: failedIn,
      error,
      message: `${failedIn} failed: ${error}. Retry the phase, or cancel.`,
      allowedActions: ['retry'],
    });
    return { to: failedIn };
  }

  // -----------------------------------------------------------------------------------------------
  // Blockers

  /**
   * Parks the run until an operator resolves this blocker (naming its id) or cancels. Returns the
   * decision; the phase applies it. Nothing proceeds past a blocker without a person deciding.
   */
  async block(spec: BlockerSpec): Promise<Resolution> {
    this.state.blockerCount++;
    const blocker = { ...spec, id: `${spec.kind}-${this.state.blockerCount}`, since: Date.now() } as Blocker;
    this.state.blocker = blocker;
    this.resolution = undefined;
    log.warn('blocked', { id: blocker.id, message: blocker.message });
    this.progress({
      what: `Operator decision on ${blocker.id}: resolve with ${blocker.allowedActions.join(' | ')}${PHASES[this.state.phase].cancel.accepted ? ' or cancel' : ''}`,
    });
    notifyTransition(this, 'BLOCKED');
    try {
      await condition(() => this.resolution !== undefined);
      return this.takeResolution();
    } finally {
      this.state.blocker = undefined;
      this.resolution = undefined;
      this.nextAction = undefined; // the operator decision it named is made (or moot)
      this.publish();
    }
  }

  /** Read through a method: TypeScript narrowed `resolution` to undefined before the await. */
  private takeResolution(): Resolution {
    return this.resolution as Resolution;
  }

  /** Called by the `resolve` handler once its validator accepted the decision. */
  acceptResolution(resolution: Resolution, verified: Pick<AuditRecord, 'verified' | 'name'> = {}): void {
    this.resolution = resolution;
    this.state.decisions.push({
      what: 'resolved',
      by: resolution.by,
      at: Date.now(),
      detail: `${resolution.action} (${resolution.blockerId})${resolution.comment ? `: ${resolution.comment}` : ''}`,
      ...verified,
    });
  }

  hasPendingResolution(): boolean {
    return this.resolution !== undefined;
  }

  /** Runs an activity; a final failure parks the run in BLOCKED (retry or cancel) instead of failing with KMS half-changed. */
  async attempt<T>(step: string, run: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const result = await run();
        this.state.lastError = undefined;
        return result;
      } catch (err) {
        if (err instanceof ContinueAsNew || this.isCancelOfThisRun(err)) throw err;
        this.state.lastError = `${step}: ${describeFailure(err)}`;
        await this.block({
          kind: 'STEP_FAILED',
          step,
          error: describeFailure(err),
          message: `${step} failed: ${describeFailure(err)}`,
          allowedActions: ['retry'],
        });
      }
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Store connection bookkeeping (CloudHSM: material is deleted only while CONNECTED)

  setStore(store: StoreInfo): void {
    this.state.store = store;
    if (store.type !== 'AWS_CLOUDHSM') return;
    if (store.connectionState === 'CONNECTED') this.markConnected();
    else this.markNotConnected();
  }

  /** Opens a window in which the store may not have been CONNECTED, from the last check that saw it connected. */
  markNotConnected(since?: number): void {
    if (this.state.notConnectedSince !== undefined) return;
    this.state.notConnectedSince = since ?? this.state.lastSeenConnectedAt ?? Date.now();
    this.state.disconnectedIntervals.push([this.state.notConnectedSince, null]);
  }

  markConnected(at = Date.now()): void {
    this.state.lastSeenConnectedAt = Math.max(this.state.lastSeenConnectedAt ?? 0, at);
    if (this.state.notConnectedSince === undefined) return;
    const open = this.state.disconnectedIntervals[this.state.disconnectedIntervals.length - 1];
    if (open) open[1] = at;
    this.state.notConnectedSince = undefined;
  }

  /** CloudHSM only: KMS can delete HSM key material only while the store is CONNECTED. */
  needsConnect(): boolean {
    const store = this.state.store;
    return (
      store?.type === 'AWS_CLOUDHSM' &&
      store.connectionState !== 'CONNECTED' &&
      !this.state.proceedDisconnected &&
      this.ledger.toSchedule().length + this.ledger.awaitingDeletion().length > 0
    );
  }

  // -----------------------------------------------------------------------------------------------
  // Continue-as-new

  /** Keeps history small on long runs: the request unchanged, the state and the ledger carried over. */
  async continueAsNewIfSuggested(): Promise<void> {
    const info = workflowInfo();
    if (!info.continueAsNewSuggested || this.canDeferred || this.state.cancel || this.temporalCancelPending()) return;
    const chunks = this.ledger.chunks();
    const carriedBytes = chunks.reduce((sum, c) => sum + JSON.stringify(c).length, 0);
    if (carriedBytes > MAX_CARRIED_BYTES) {
      // The server rejects a continue-as-new input over 2 MB; the run stays far below Temporal's history
      // limits without it (see the README's history figures), so it goes on in this run and says so.
      this.canDeferred = true;
      const note = `Continue-as-new deferred: the ledger of ${count(this.ledger.size)} keys (${Math.round(carriedBytes / 1024)} KiB) is too large to carry; history is ${info.historyLength} events / ${Math.round(info.historySize / 1024)} KiB.`;
      log.warn(note);
      this.state.notes.push(note);
      return;
    }
    // Notifications being sent finish first (the next run must not send them again), then in-flight update
    // handlers, last: a decision that arrived while the notifications were waited for is not cut off.
    await settleNotifications(this, 31 * 60_000);
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    const carried: CarriedRun = {
      schemaVersion: RUN_STATE_SCHEMA_VERSION,
      state: { ...this.state, continuedAsNew: this.state.continuedAsNew + 1 },
      writtenByRunId: info.runId,
    };
    log.info('continuing as new', { historyLength: info.historyLength, keys: this.ledger.size, carriedBytes });
    await continueAsNew(this.rawInput, carried, ...chunks);
  }
}
