/**
 * FROZEN: the 0.1.0 `decommissionCustomKeyStore` workflow (src/workflows/decommission.ts at 8249dad),
 * copied verbatim with its imports re-pointed to frozen copies in this directory.
 *
 * What it is for: src/workflows/entry.ts sends here every run whose history lacks the patch marker
 * `decommission-phase-machine-v2` (started by 0.1.0) and every continue-as-new chain started by 0.1.0
 * (resume state without `schemaVersion`). A run lasts 7–40 days (longer while BLOCKED), so 0.2.0 workers
 * must replay and finish such runs with the exact command sequence 0.1.0 recorded.
 *
 * Why frozen: any change to the order, number or type of commands (activities, timers, search-attribute
 * upserts, continue-as-new) breaks replay of in-flight 0.1.0 runs with TMPRL1100. Do not refactor, do not
 * "fix" and do not re-point its imports to the live src/shared or src/workflows modules; the replay test
 * (test/replay.test.ts on test/histories/0.1.0/) guards it.
 *
 * One deliberate change from 8249dad: finishCancelled's rollback loop is driven by the outcomes recorded
 * in history (take the remaining rollback candidates, send the first ROLLBACK_BATCH, apply the outcomes,
 * repeat until none is left) instead of index slices of a list computed up front. b113fb3 raised
 * ROLLBACK_BATCH from 250 to 1,000 without patched(), so a rollback recorded by a pre-b113fb3 worker
 * (ceil(n/250) rollbackKeys activities) did not replay on 8249dad (defect 5). Replay compares command
 * types and order, not activity inputs, so the result-driven loop replays both batch sizes
 * (test/histories/0.1.0/rollback-300-keys-batch-250.json and rollback-300-keys-batch-1000.json).
 *
 * When it can be deleted (with the legacy branch of entry.ts): once no open run lacks the marker. The
 * marker is a `core_patch` marker whose payload is base64 JSON, so a plain grep does not find it; an
 * operator lists the open runs and checks each one's current history:
 *
 *   temporal workflow list --query 'WorkflowType="decommissionCustomKeyStore" AND ExecutionStatus="Running"' -o json \
 *     | jq -r '.[].execution.workflowId' \
 *     | while read -r id; do
 *         temporal workflow show -w "$id" -o json | jq -e 'any(.events[].markerRecordedEventAttributes
 *           | select(.markerName == "core_patch") | .details["patch-data"].payloads[0].data | @base64d | fromjson;
 *           .id == "decommission-phase-machine-v2")' > /dev/null || echo "$id: still on 0.1.0"
 *       done
 *
 * No output: nothing runs on this code any more. (The shorter
 * `temporal workflow list --query 'WorkflowType="decommissionCustomKeyStore" AND ExecutionStatus="Running" AND StartTime < "<0.2.0 rollout, RFC 3339>"'`
 * misses 0.1.0 chains that continued-as-new after the rollout: a new run has a new StartTime.) Deleting
 * this code also means the histories in test/histories/0.1.0/ no longer replay: retire that directory
 * from test/replay.test.ts in the same change; the files themselves stay (SHA256SUMS is append-only).
 */
import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { approveUpdate, cancelUpdate, reportKeysQuery, resolveUpdate, statusQuery, type UpdateAck } from './shared/messages';
import { CustomKeyStoreIdAttribute, DecommissionPhaseAttribute } from './shared/search-attributes';
import {
  FINAL_PHASES,
  REPORT_INLINE_KEYS,
  type AuditRecord,
  type Blocker,
  type DecommissionInput,
  type DecommissionReport,
  type DecommissionStatus,
  type InventoriedKey,
  type NormalizedInput,
  type Phase,
  type ResolveAction,
  type StoreInfo,
} from './shared/types';
import {
  formatProblems,
  samePerson,
  validateApproveRequest,
  validateCancelRequest,
  validateDecommissionInput,
  validateResolveRequest,
} from './shared/validation';
import type { DriftScan } from '../../../activities';
import { batch, quick, storeWaitStub } from './activity-stubs';
import { KeyLedger, type LedgerChunk, type LedgerEntry } from './ledger';
import { describeFailure, failureType } from './failures';
import { count, iso, renderCurrentDetails } from './render';
import { buildReport } from './report';

/** Keys per scheduleKeys activity: about 35 s at 15/s, and ~0.012 history events per key. */
const SCHEDULE_BATCH = 500;
/** Keys per rollbackKeys activity: 200 s at 5/s; fewer hand-offs between activities keep the rate near the quota. */
const ROLLBACK_BATCH = 1_000;
/** Keys per checkKeys activity (DescribeKey is cheap: 2,000/s); 2,000 IDs are about 80 KiB of input. */
const CHECK_BATCH = 2_000;
/** Store keys per inventory activity result: about 70 bytes each (more with aliases) keeps results near 100 KiB. */
const INVENTORY_PAGE_KEYS = 1_000;
/** Keys not pending deletion that one drift scan reports by ID (the total is always counted). */
const DRIFT_REPORT_KEYS = 1_000;
const STORE_WAIT_TIMEOUT_MS = 30 * 60_000;
const CONNECT_ATTEMPTS = 3;
/** HasCMKs / InvalidState loops between verify, disconnect and delete before asking the operator. */
const MAX_DELETE_ROUNDS = 3;
/** Largest ledger carried across continue-as-new (the server rejects inputs over 2 MB; this leaves room for the rest). */
const MAX_CARRIED_BYTES = 1_200_000;

/** State carried across continue-as-new, next to the ledger chunks. */
export interface ResumeState {
  phase: Phase;
  previousPhase?: Phase;
  store?: StoreInfo;
  startedAt: number;
  decisions: AuditRecord[];
  approvedBy?: string;
  cancel?: { by: string; reason: string; at: number };
  scannedKeys: number;
  scheduling?: { startedAt: number; finishedAt?: number };
  continuedAsNew: number;
  notes: string[];
  proceedDisconnected: boolean;
  notConnectedSince?: number;
  /** Last check that saw the store CONNECTED: a disconnect found later may have happened any time after it. */
  lastSeenConnectedAt?: number;
  disconnectedIntervals: [number, number | null][];
  verifyExtensionMs: number;
  deleteRounds: number;
  lastError?: string;
  /** The store was deleted outside this workflow and the operator chose to proceed. */
  deleted?: boolean;
}

/** A validator's refusal: non-retryable, so clients do not present it as something to try again. */
function rejected(reason: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(reason, 'UpdateRejected');
}

/** Raised inside the run when a cancel was accepted; unwinds to the rollback. */
class CancelRequested extends Error {}

const DRIFT_SUMMARY_KEYS = 50;

/**
 * Decommissions one AWS KMS custom key store in AWS's prescribed order: inventory, approval, connect
 * (CloudHSM), schedule every key, keep the store connected through the waiting period, verify the keys
 * are gone, disconnect, delete. Every irreversible step is preceded by a check and followed by proof.
 *
 * @param input the request (validated here again: a raw `temporal workflow start --input` bypasses the client)
 * @param resume state carried across continue-as-new; never pass it yourself
 * @param ledgerChunks the key ledger carried across continue-as-new, in chunks that keep each payload small
 */
export async function decommissionCustomKeyStoreV0_1(
  input: DecommissionInput,
  resume?: ResumeState,
  ...ledgerChunks: LedgerChunk[]
): Promise<DecommissionReport> {
  const { input: cfg, problems } = validateDecommissionInput(input);
  if (!cfg) {
    upsertSearchAttributes([{ key: DecommissionPhaseAttribute, value: 'FAILED' }]);
    throw ApplicationFailure.create({
      type: 'InvalidDecommissionInput',
      message: `Invalid decommission input, nothing was changed: ${formatProblems(problems)}`,
      nonRetryable: true,
      details: [problems],
    });
  }
  return new DecommissionRun(cfg, resume, KeyLedger.fromChunks(ledgerChunks)).execute();
}

class DecommissionRun {
  private readonly s: ResumeState;
  private blocker?: Blocker;
  private resolution?: { by: string; action: ResolveAction; comment?: string };
  private nextAction?: { what: string; at?: number };
  private lastPublishedPhase?: Phase;
  private canDeferred = false;

  constructor(
    private readonly cfg: NormalizedInput,
    resume: ResumeState | undefined,
    private readonly ledger: KeyLedger,
  ) {
    this.s = resume ?? {
      phase: 'VALIDATING',
      startedAt: Date.now(),
      decisions: [{ what: 'requested', by: cfg.requestedBy, at: Date.now(), detail: cfg.ticket }],
      scannedKeys: 0,
      continuedAsNew: 0,
      notes: [],
      proceedDisconnected: false,
      disconnectedIntervals: [],
      verifyExtensionMs: 0,
      deleteRounds: 0,
    };
    this.registerHandlers();
  }

  // ---------------------------------------------------------------------------------------------
  // Handlers

  private registerHandlers(): void {
    setHandler(statusQuery, () => this.status());
    setHandler(reportKeysQuery, ({ offset = 0, limit = REPORT_INLINE_KEYS } = {}) => {
      const size = Math.max(1, Math.min(limit, REPORT_INLINE_KEYS));
      const keys = this.ledger.reportKeys(offset, size);
      const next = offset + keys.length;
      return { keys, total: this.ledger.size, nextOffset: next < this.ledger.size ? next : undefined };
    });

    setHandler(
      approveUpdate,
      (request): UpdateAck => {
        const { request: r } = validateApproveRequest(request);
        const approver = (r as NonNullable<typeof r>).approver;
        this.s.approvedBy = approver;
        this.s.decisions.push({ what: 'approved', by: approver, at: Date.now(), detail: r?.comment });
        log.info('decommission approved', { approver });
        return {
          accepted: true,
          phase: this.s.phase,
          message: `Approved by ${approver}: scheduling ${count(this.ledger.counts().toSchedule)} keys for deletion`,
        };
      },
      {
        validator: (request) => {
          const { request: r, problems } = validateApproveRequest(request);
          if (!r) throw rejected(`Invalid approve request: ${formatProblems(problems)}`);
          if (this.s.approvedBy) throw rejected(`Already approved by ${this.s.approvedBy}`);
          if (this.s.phase !== 'AWAITING_APPROVAL') throw rejected(`approve is only accepted in phase AWAITING_APPROVAL; this run is in ${this.s.phase}`);
          if (this.s.cancel) throw rejected(`The run is being cancelled by ${this.s.cancel.by}`);
          if (!this.cfg.allowSelfApproval && samePerson(r.approver, this.cfg.requestedBy)) {
            throw rejected(
              `Four-eyes rule: approver "${r.approver}" requested this decommission; another person must approve (or start it with allowSelfApproval)`,
            );
          }
        },
        description: 'Approve the inventoried plan: {approver, comment?}. The approver must not be the requester.',
      },
    );

    setHandler(
      cancelUpdate,
      (request): UpdateAck => {
        const r = validateCancelRequest(request).request as NonNullable<ReturnType<typeof validateCancelRequest>['request']>;
        this.s.cancel = { by: r.by, reason: r.reason, at: Date.now() };
        this.s.decisions.push({ what: 'cancelled', by: r.by, at: Date.now(), detail: r.reason });
        const toRestore = this.ledger.rollbackCandidates().length;
        return {
          accepted: true,
          phase: this.s.phase,
          message:
            toRestore > 0
              ? `Cancelling: deletion of ${count(toRestore)} keys will be cancelled and their states restored`
              : 'Cancelling: nothing was changed in KMS',
        };
      },
      {
        validator: (request) => {
          const { request: r, problems } = validateCancelRequest(request);
          if (!r) throw rejected(`Invalid cancel request: ${formatProblems(problems)}`);
          if (FINAL_PHASES.includes(this.s.phase)) throw rejected(`The run already ended in ${this.s.phase}`);
          if (this.s.cancel) throw rejected(`Already cancelled by ${this.s.cancel.by}`);
          if (this.pastPointOfNoReturn()) {
            throw rejected(
              `Too late to cancel: every key is deleted and disconnecting the store began (phase ${this.effectivePhase()}); there is nothing left to roll back`,
            );
          }
        },
        description: 'Cancel: {by, reason}. Restores keys this run scheduled. Rejected once DISCONNECTING began.',
      },
    );

    setHandler(
      resolveUpdate,
      (request): UpdateAck => {
        const r = validateResolveRequest(request).request as NonNullable<ReturnType<typeof validateResolveRequest>['request']>;
        this.resolution = r;
        this.s.decisions.push({
          what: 'resolved',
          by: r.by,
          at: Date.now(),
          detail: `${r.action} (${this.blocker?.kind})${r.comment ? `: ${r.comment}` : ''}`,
        });
        return { accepted: true, phase: this.s.phase, message: `Resolved ${this.blocker?.kind} with ${r.action}` };
      },
      {
        validator: (request) => {
          const { request: r, problems } = validateResolveRequest(request);
          if (!r) throw rejected(`Invalid resolve request: ${formatProblems(problems)}`);
          if (this.s.phase !== 'BLOCKED' || !this.blocker) throw rejected(`resolve is only accepted in phase BLOCKED; this run is in ${this.s.phase}`);
          if (this.resolution) throw rejected(`Already resolved by ${this.resolution.by} (${this.resolution.action})`);
          if (!this.blocker.allowedActions.includes(r.action)) {
            throw rejected(`action "${r.action}" does not resolve ${this.blocker.kind}; allowed: ${this.blocker.allowedActions.join(', ')} (or cancel)`);
          }
          // Scheduling more keys is a new deletion decision: the four-eyes rule applies again.
          if ((r.action === 'schedule-new-keys' || r.action === 'reschedule') && !this.cfg.allowSelfApproval && samePerson(r.by, this.cfg.requestedBy)) {
            throw rejected(`Four-eyes rule: "${r.by}" requested this decommission; another person must approve deleting more keys`);
          }
        },
        description: 'Resolve a BLOCKED run: {by, action, comment?}; the action must be one the blocker allows.',
      },
    );
  }

  private effectivePhase(): Phase {
    return this.s.phase === 'BLOCKED' ? (this.s.previousPhase ?? 'BLOCKED') : this.s.phase;
  }

  private pastPointOfNoReturn(): boolean {
    const p = this.effectivePhase();
    return p === 'DISCONNECTING' || p === 'DELETING';
  }

  // ---------------------------------------------------------------------------------------------
  // Status, details, search attributes

  status(): DecommissionStatus {
    const dates = this.ledger.allDeletionDates();
    return {
      customKeyStoreId: this.cfg.customKeyStoreId,
      phase: this.s.phase,
      previousPhase: this.s.previousPhase,
      dryRun: this.cfg.dryRun,
      store: this.s.store,
      requestedBy: this.cfg.requestedBy,
      approvedBy: this.s.approvedBy,
      ticket: this.cfg.ticket,
      counts: this.ledger.counts(),
      scannedKeys: this.s.scannedKeys,
      earliestDeletionDate: dates.length ? Math.min(...dates) : undefined,
      latestDeletionDate: dates.length ? Math.max(...dates) : undefined,
      nextAction: this.nextAction?.what,
      nextActionAt: this.nextAction?.at,
      blocker: this.blocker,
      lastError: this.s.lastError,
      startedAt: this.s.startedAt,
      scheduling: this.s.scheduling,
      continuedAsNew: this.s.continuedAsNew,
    };
  }

  private publish(): void {
    if (this.lastPublishedPhase !== this.s.phase) {
      upsertSearchAttributes([
        { key: CustomKeyStoreIdAttribute, value: this.cfg.customKeyStoreId },
        { key: DecommissionPhaseAttribute, value: this.s.phase },
      ]);
      this.lastPublishedPhase = this.s.phase;
    }
    setCurrentDetails(renderCurrentDetails(this.status(), Date.now()));
  }

  private enter(phase: Phase, next?: { what: string; at?: number }): void {
    if (phase !== this.s.phase) log.info('phase', { from: this.s.phase, to: phase });
    this.s.phase = phase;
    this.nextAction = next;
    this.publish();
  }

  private progress(next?: { what: string; at?: number }): void {
    this.nextAction = next;
    this.publish();
  }

  // ---------------------------------------------------------------------------------------------
  // Main loop

  async execute(): Promise<DecommissionReport> {
    this.publish();
    try {
      for (;;) {
        const report = await this.step();
        if (report) return report;
        await this.continueAsNewIfSuggested();
      }
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      if (err instanceof CancelRequested) return await CancellationScope.nonCancellable(() => this.finishCancelled());
      if (isCancellation(err)) {
        // Temporal's own workflow cancel: same effect as the cancel update.
        if (!this.s.cancel) {
          this.s.cancel = { by: 'temporal-cancel', reason: 'workflow cancel requested through Temporal', at: Date.now() };
          this.s.decisions.push({ what: 'cancelled', by: 'temporal-cancel', at: Date.now(), detail: 'workflow cancel request' });
        }
        return await CancellationScope.nonCancellable(() => this.finishCancelled());
      }
      const failedIn = this.effectivePhase();
      this.s.lastError = describeFailure(err);
      this.enter('FAILED');
      // Only steps before any change can fail the run (later ones park it in BLOCKED), so say so plainly.
      throw ApplicationFailure.create({
        type: failureType(err) ?? 'DecommissionFailed',
        message: `Decommission of ${this.cfg.customKeyStoreId} failed in ${failedIn}: ${describeFailure(err)}${this.s.scheduling ? '' : '. Nothing was changed in KMS.'}`,
        nonRetryable: true,
        cause: err instanceof Error ? err : undefined,
      });
    }
  }

  /** Runs the current phase; returns the report when the run has ended. */
  private async step(): Promise<DecommissionReport | undefined> {
    switch (this.s.phase) {
      case 'VALIDATING':
        return this.preflight();
      case 'INVENTORY':
        return this.inventory();
      case 'AWAITING_APPROVAL':
        return this.awaitApproval();
      case 'CONNECTING':
        return this.connect();
      case 'SCHEDULING':
        return this.schedule();
      case 'WAITING':
        return this.waitForDeletionDates();
      case 'VERIFYING':
        return this.verify();
      case 'DISCONNECTING':
        return this.disconnect();
      case 'DELETING':
        return this.deleteStore();
      case 'ROLLING_BACK':
        throw new CancelRequested();
      case 'BLOCKED':
        // Only reachable after continue-as-new from a blocked point, which we never do: resume the phase.
        this.s.phase = this.s.previousPhase ?? 'VALIDATING';
        return undefined;
      default:
        throw ApplicationFailure.nonRetryable(`Run resumed in final phase ${this.s.phase}`, 'InvalidResumeState');
    }
  }

  private async continueAsNewIfSuggested(): Promise<void> {
    const info = workflowInfo();
    if (!info.continueAsNewSuggested || this.canDeferred) return;
    const chunks = this.ledger.chunks();
    const carriedBytes = chunks.reduce((sum, c) => sum + JSON.stringify(c).length, 0);
    if (carriedBytes > MAX_CARRIED_BYTES) {
      // The server rejects a continue-as-new input over 2 MB. The history is still far from Temporal's
      // hard limits (51,200 events / 50 MB), so keep going in this run rather than fail; say so.
      this.canDeferred = true;
      const note = `Continue-as-new deferred: the ledger of ${count(this.ledger.size)} keys (${Math.round(carriedBytes / 1024)} KiB) is too large to carry; history is ${info.historyLength} events / ${Math.round(info.historySize / 1024)} KiB, below Temporal's 51,200-event / 50 MB limits.`;
      log.warn(note);
      this.s.notes.push(note);
      return;
    }
    // Let in-flight update handlers finish so no approve/cancel/resolve is cut off.
    await condition(allHandlersFinished);
    const carried: ResumeState = { ...this.s, continuedAsNew: this.s.continuedAsNew + 1 };
    log.info('continuing as new', { historyLength: info.historyLength, keys: this.ledger.size, carriedBytes });
    await continueAsNew<typeof decommissionCustomKeyStoreV0_1>(this.originalInput(), carried, ...chunks);
  }

  private originalInput(): DecommissionInput {
    const c = this.cfg;
    return {
      customKeyStoreId: c.customKeyStoreId,
      requestedBy: c.requestedBy,
      pendingWindowInDays: c.pendingWindowInDays,
      dryRun: c.dryRun,
      requireApproval: c.requireApproval,
      allowSelfApproval: c.allowSelfApproval,
      approvalTimeout: c.approvalTimeoutMs,
      expectedKeyCount: c.expectedKeyCount,
      reconnect: c.reconnect,
      ticket: c.ticket,
      timing: {
        storePollInterval: c.timing.storePollIntervalMs,
        driftCheckInterval: c.timing.driftCheckIntervalMs,
        verifyInterval: c.timing.verifyIntervalMs,
        verifyPatience: c.timing.verifyPatienceMs,
      },
    };
  }

  private throwIfCancelled(): void {
    if (this.s.cancel) throw new CancelRequested();
  }

  /**
   * Parks the run in BLOCKED until an operator resolves (or cancels). Returns the chosen action; the
   * caller applies it. Nothing proceeds past drift without a person deciding.
   */
  private async block(blocker: Omit<Blocker, 'since'>): Promise<ResolveAction> {
    this.blocker = { ...blocker, since: Date.now() };
    this.resolution = undefined;
    this.s.previousPhase = this.s.phase === 'BLOCKED' ? this.s.previousPhase : this.s.phase;
    log.warn('blocked', { kind: blocker.kind, message: blocker.message });
    this.enter('BLOCKED', { what: `Operator decision: resolve with ${blocker.allowedActions.join(' | ')} or cancel` });
    await condition(() => this.resolution !== undefined || this.s.cancel !== undefined);
    // Read through a function: TypeScript narrowed `this.resolution` to undefined above, but a handler has set it since.
    const action = this.pendingResolution()?.action;
    const previous = this.s.previousPhase as Phase;
    this.blocker = undefined;
    this.resolution = undefined;
    this.enter(previous);
    this.throwIfCancelled();
    return action as ResolveAction;
  }

  private pendingResolution() {
    return this.resolution;
  }

  /** Runs an activity; a final failure parks the run in BLOCKED (retry or cancel) instead of failing with KMS half-changed. */
  private async attempt<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const result = await run();
        this.s.lastError = undefined;
        return result;
      } catch (err) {
        if (isCancellation(err)) throw err;
        this.s.lastError = `${what}: ${describeFailure(err)}`;
        await this.block({ kind: 'STEP_FAILED', message: `${what} failed: ${describeFailure(err)}`, allowedActions: ['retry'] });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Phases

  private async preflight(): Promise<undefined> {
    this.progress({ what: 'Describe the custom key store' });
    this.s.store = await quick.describeStore.executeWithOptions({ summary: `Preflight: describe custom key store ${this.cfg.customKeyStoreId}` }, [
      { customKeyStoreId: this.cfg.customKeyStoreId },
    ]);
    if (this.s.store.connectionState === 'CONNECTED') this.s.lastSeenConnectedAt = Date.now();
    this.enter('INVENTORY', { what: 'DescribeKey every key of the account (ListKeys has no store filter)' });
    return undefined;
  }

  /** Full scan of the account; returns the store's keys in pages (never the whole list in one payload). */
  private async scanStore(purpose: string, withAliases: boolean, onPage: (keys: InventoriedKey[], arnPrefix: string | undefined) => void): Promise<void> {
    let marker: string | undefined;
    let scanned = 0;
    do {
      const scan = () =>
        batch.inventoryScan.executeWithOptions(
          { summary: `${purpose}: DescribeKey every account key (ListKeys has no store filter), from key #${count(scanned + 1)}` },
          [{ customKeyStoreId: this.cfg.customKeyStoreId, startMarker: marker, maxStoreKeys: INVENTORY_PAGE_KEYS, withAliases }],
        );
      // Before any change a failed inventory fails the run (fail closed); afterwards it must not strand scheduled keys.
      const page = this.s.scheduling ? await this.attempt(purpose, scan) : await scan();
      scanned += page.scanned;
      marker = page.nextMarker;
      onPage(page.keys, page.arnPrefix);
      this.s.scannedKeys = scanned;
      this.publish();
    } while (marker);
  }

  private async inventory(): Promise<DecommissionReport | undefined> {
    await this.scanStore('Inventory', true, (keys, arnPrefix) => this.ledger.addInventoried(keys, arnPrefix));
    const n = this.ledger.size;
    if (this.cfg.expectedKeyCount !== undefined && n !== this.cfg.expectedKeyCount) {
      throw ApplicationFailure.nonRetryable(
        `Guardrail: expectedKeyCount is ${this.cfg.expectedKeyCount} but store ${this.cfg.customKeyStoreId} holds ${n} keys`,
        'ExpectedKeyCountMismatch',
      );
    }
    if (this.cfg.dryRun) {
      this.s.notes.push(...this.planNotes());
      this.enter('DRY_RUN_COMPLETE');
      return this.report('DRY_RUN_COMPLETE');
    }
    if (this.cfg.requireApproval) {
      this.enter('AWAITING_APPROVAL', { what: `Approval by someone other than ${this.cfg.requestedBy}`, at: Date.now() + this.cfg.approvalTimeoutMs });
    } else {
      this.enter(this.needsConnect() ? 'CONNECTING' : 'SCHEDULING');
    }
    return undefined;
  }

  private planNotes(): string[] {
    const c = this.ledger.counts();
    const notes = [
      `Dry run: would schedule ${count(c.toSchedule)} keys with a ${this.cfg.pendingWindowInDays}-day window; ${count(c.alreadyPending)} already pending.`,
    ];
    if (this.needsConnect()) notes.push(`Would connect the store first (now ${this.s.store?.connectionState}) so KMS can delete the HSM key material.`);
    return notes;
  }

  private async awaitApproval(): Promise<DecommissionReport | undefined> {
    const deadline = this.s.startedAt + this.cfg.approvalTimeoutMs;
    const remaining = Math.max(1, deadline - Date.now());
    const decided = await condition(() => this.s.approvedBy !== undefined || this.s.cancel !== undefined, remaining, {
      summary: `Awaiting approval until ${iso(deadline)}`,
    });
    this.throwIfCancelled();
    if (!decided) {
      this.s.decisions.push({ what: 'approval-timeout', by: 'workflow', at: Date.now(), detail: `no approval within ${this.cfg.approvalTimeoutMs} ms` });
      this.s.notes.push('No approval arrived in time; nothing was changed in KMS.');
      this.enter('CANCELLED');
      return this.report('CANCELLED', 'approval timed out');
    }
    this.enter(this.needsConnect() ? 'CONNECTING' : 'SCHEDULING');
    return undefined;
  }

  /** CloudHSM only: KMS can delete HSM key material only while the store is CONNECTED. */
  private needsConnect(): boolean {
    return (
      this.s.store?.type === 'AWS_CLOUDHSM' &&
      this.s.store.connectionState !== 'CONNECTED' &&
      this.ledger.toSchedule().length + this.ledger.awaitingDeletion().length > 0
    );
  }

  private async connect(): Promise<undefined> {
    for (;;) {
      this.throwIfCancelled();
      const before = this.s.store as StoreInfo;
      if (!this.cfg.reconnect) {
        const action = await this.block({
          kind: 'STORE_NOT_CONNECTED',
          message: `Store is ${before.connectionState} and reconnect=false: scheduling now would orphan the HSM key material of ${count(this.ledger.size)} keys (label = key ARN).`,
          allowedActions: ['reconnect', 'proceed'],
          connectionState: before.connectionState,
        });
        if (action === 'proceed') return this.proceedDisconnected('SCHEDULING');
      }
      const result = await this.connectStore('Connect store so KMS can delete HSM key material');
      if (result.connectionState === 'CONNECTED') {
        this.enter('SCHEDULING');
        return undefined;
      }
      const action = await this.block({
        kind: 'CONNECT_FAILED',
        message: `Could not connect the store after ${result.attempts} attempt(s): ${result.connectionState}${result.connectionErrorCode ? ` (${result.connectionErrorCode})` : ''}. Scheduling without a connected store would orphan HSM key material. Fix the cause (see ConnectionErrorCode), then reconnect.`,
        allowedActions: ['reconnect', 'proceed'],
        connectionState: result.connectionState,
        connectionErrorCode: result.connectionErrorCode,
      });
      if (action === 'proceed') return this.proceedDisconnected('SCHEDULING');
      this.cfg.reconnect = true; // an explicit "reconnect" overrides reconnect=false
    }
  }

  private async connectStore(summary: string) {
    const poll = this.cfg.timing.storePollIntervalMs;
    const result = await this.attempt('connect', () =>
      storeWaitStub(poll, STORE_WAIT_TIMEOUT_MS).connectStore.executeWithOptions({ summary }, [
        { customKeyStoreId: this.cfg.customKeyStoreId, pollIntervalMs: poll, timeoutMs: STORE_WAIT_TIMEOUT_MS, maxAttempts: CONNECT_ATTEMPTS },
      ]),
    );
    this.s.store = { ...(this.s.store as StoreInfo), connectionState: result.connectionState, connectionErrorCode: result.connectionErrorCode };
    if (result.connectionState === 'CONNECTED') this.markConnected();
    return result;
  }

  private proceedDisconnected(next: Phase): undefined {
    this.s.proceedDisconnected = true;
    this.s.notes.push(
      `Operator proceeded with the store ${this.s.store?.connectionState}: KMS cannot delete the HSM key material of keys whose waiting period ends while it is not CONNECTED.`,
    );
    this.markNotConnected();
    this.enter(next);
    return undefined;
  }

  private markNotConnected(): void {
    if (this.s.notConnectedSince === undefined) {
      this.s.notConnectedSince = this.s.lastSeenConnectedAt ?? Date.now();
      this.s.disconnectedIntervals.push([this.s.notConnectedSince, null]);
    }
  }

  private markConnected(): void {
    this.s.lastSeenConnectedAt = Date.now();
    if (this.s.notConnectedSince !== undefined) {
      const open = this.s.disconnectedIntervals[this.s.disconnectedIntervals.length - 1];
      if (open) open[1] = Date.now();
      this.s.notConnectedSince = undefined;
    }
  }

  private async schedule(): Promise<undefined> {
    const todo = this.ledger.toSchedule();
    const total = this.ledger.counts().scheduled + todo.length;
    this.s.scheduling = this.s.scheduling?.finishedAt === undefined && this.s.scheduling ? this.s.scheduling : { startedAt: Date.now() };
    for (let i = 0; i < todo.length; i += SCHEDULE_BATCH) {
      this.throwIfCancelled();
      const keyIds = todo.slice(i, i + SCHEDULE_BATCH).map((e) => e.keyId);
      const done = total - todo.length + i;
      this.progress({ what: `Schedule deletion: keys ${count(done + 1)}–${count(done + keyIds.length)} of ${count(total)}` });
      this.ledger.markAttempted(keyIds);
      const result = await this.attempt('schedule', () =>
        batch.scheduleKeys.executeWithOptions(
          {
            summary: `Schedule deletion: keys ${count(done + 1)}–${count(done + keyIds.length)} of ${count(total)} (${this.cfg.pendingWindowInDays}-day window)`,
          },
          [{ customKeyStoreId: this.cfg.customKeyStoreId, keyIds, pendingWindowInDays: this.cfg.pendingWindowInDays }],
        ),
      );
      this.ledger.applySchedule(result.outcomes, result.notInStore, Date.now());
      if (result.notInStore.length)
        this.s.notes.push(
          `${result.notInStore.length} key(s) no longer belonged to the store and were not scheduled: ${result.notInStore.slice(0, 10).join(', ')}`,
        );
      this.publish();
      if (i + SCHEDULE_BATCH < todo.length) await this.continueAsNewIfSuggested();
    }
    this.s.scheduling.finishedAt = Date.now();
    this.enter('WAITING');
    return undefined;
  }

  private latestDeletionDate(): number | undefined {
    const dates = this.ledger.pendingDeletionDates();
    return dates.length ? Math.max(...dates) : undefined;
  }

  private async waitForDeletionDates(): Promise<undefined> {
    for (;;) {
      const latest = this.latestDeletionDate();
      if (latest === undefined || Date.now() >= latest) break;
      const wake = Math.min(latest, Date.now() + this.cfg.timing.driftCheckIntervalMs);
      this.progress({ what: wake < latest ? 'Drift check' : 'Verify that KMS deleted the keys', at: wake });
      await condition(() => this.s.cancel !== undefined, Math.max(1, wake - Date.now()), {
        summary: `Waiting period until ${iso(latest)} (next drift check ${iso(wake)})`,
      });
      this.throwIfCancelled();
      if (Date.now() < latest) {
        const drifted = await this.driftCheck();
        if (drifted) return undefined; // the resolution changed the plan; re-enter the phase it chose
        await this.continueAsNewIfSuggested();
      }
    }
    this.enter('VERIFYING');
    return undefined;
  }

  /**
   * Looks for everything that would make finishing unsafe: the store gone or not CONNECTED (CloudHSM
   * material would be orphaned), scheduled keys no longer pending, new keys in the store.
   * Returns true when an operator decision changed the phase.
   */
  private async driftCheck(): Promise<boolean> {
    this.progress({ what: 'Drift check: store state, scheduled keys, new keys' });
    const scan = await this.attempt('drift scan', () =>
      batch.driftScan.executeWithOptions({ summary: 'Drift check: store state, and DescribeKey every account key for store keys not pending deletion' }, [
        { customKeyStoreId: this.cfg.customKeyStoreId, maxReported: DRIFT_REPORT_KEYS },
      ]),
    );
    this.s.scannedKeys = scan.scanned;
    if (await this.storeDrift(scan.store)) return true;
    return this.keyDrift(scan);
  }

  /** Store gone, or (CloudHSM) not CONNECTED. */
  private async storeDrift(prefetched?: StoreInfo | null): Promise<boolean> {
    const store =
      prefetched !== undefined
        ? prefetched
        : await this.attempt('drift check: describe store', () =>
            quick.describeStore
              .executeWithOptions({ summary: 'Drift check: store connection state' }, [{ customKeyStoreId: this.cfg.customKeyStoreId }])
              .catch((err: unknown) => {
                if (failureType(err) === 'CustomKeyStoreNotFoundException') return undefined;
                throw err;
              }),
          );
    if (!store) {
      await this.block({
        kind: 'STORE_DELETED',
        message: `Store ${this.cfg.customKeyStoreId} no longer exists: it was deleted outside this workflow (KMS only allows that once the store holds no keys). Proceed to verify the keys and finish, or cancel.`,
        allowedActions: ['proceed'],
      });
      this.s.notes.push('The store was deleted outside this workflow; the operator chose to proceed.');
      this.s.store = { ...(this.s.store as StoreInfo), connectionState: 'DISCONNECTED' };
      this.s.deleted = true;
      return false;
    }
    this.s.store = store;
    if (store.type !== 'AWS_CLOUDHSM') return false;
    if (store.connectionState === 'CONNECTED') {
      this.markConnected();
      return false;
    }
    this.markNotConnected();
    if (this.s.proceedDisconnected) return false;
    const action = await this.block({
      kind: 'STORE_NOT_CONNECTED',
      message: `Store is ${store.connectionState}${store.connectionErrorCode ? ` (${store.connectionErrorCode})` : ''} during the waiting period: if it is not CONNECTED when a key's DeletionDate passes, KMS cannot delete that key's HSM material and it is orphaned (label = key ARN). Reconnect, or proceed knowingly.`,
      allowedActions: ['reconnect', 'proceed'],
      connectionState: store.connectionState,
      connectionErrorCode: store.connectionErrorCode,
    });
    if (action === 'proceed') {
      this.proceedDisconnected(this.s.phase);
      return false;
    }
    const result = await this.connectStore('Reconnect store during the waiting period');
    if (result.connectionState !== 'CONNECTED') return this.storeDrift();
    return false;
  }

  /**
   * One whole-account scan finds both kinds of key drift: keys of the store that are not pending deletion
   * are either new (never inventoried) or scheduled keys someone cancelled.
   */
  private async keyDrift(scan: DriftScan): Promise<boolean> {
    const suspects = this.ledger.expectedPending(scan.notPending.map((k) => k.keyId)).map((e) => e.keyId);
    if (suspects.length > 0 && (await this.cancelledDrift(suspects))) return true;
    const fresh = scan.notPending.filter((k) => !this.ledger.has(k.keyId));
    if (fresh.length > 0) return this.newKeysFound(fresh, scan.arnPrefix, scan.notPendingTotal - (scan.notPending.length - fresh.length));
    return false;
  }

  /** Keys this run expects pending that read otherwise: confirmed with repeated reads (stale reads lie), then BLOCKED. */
  private async cancelledDrift(keyIds: string[]): Promise<boolean> {
    const checks = await this.attempt('confirm drift', () =>
      batch.checkKeys.executeWithOptions({ summary: `Drift check: confirm ${count(keyIds.length)} key(s) no longer pending deletion` }, [
        { customKeyStoreId: this.cfg.customKeyStoreId, keyIds, confirmReads: 2, confirmDelayMs: Math.min(2_000, this.cfg.timing.verifyIntervalMs) },
      ]),
    );
    const notPending = this.ledger.applyChecks(checks, Date.now());
    if (notPending.length === 0) return false;
    await this.blockOnCancelledKeys(notPending.map((e) => e.keyId));
    return true;
  }

  private async blockOnCancelledKeys(ids: string[]): Promise<void> {
    await this.block({
      kind: 'KEYS_NOT_PENDING',
      message: `${count(ids.length)} scheduled key(s) are no longer pending deletion (cancelled outside this workflow): ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}. The store cannot be deleted while they exist. Reschedule them (a second person must agree), or cancel.`,
      allowedActions: ['reschedule'],
      keyIds: ids.slice(0, DRIFT_SUMMARY_KEYS),
      keyCount: ids.length,
    });
    this.ledger.markForReschedule(ids);
    this.enter(this.needsConnect() ? 'CONNECTING' : 'SCHEDULING');
  }

  /** Keys in the store that this run has never seen: created after the inventory. Blocks until a second person decides. */
  private async newKeysFound(fresh: InventoriedKey[], arnPrefix: string | undefined, total: number): Promise<boolean> {
    const ids = fresh.map((k) => k.keyId);
    await this.block({
      kind: 'NEW_KEYS',
      message: `${count(total)} key(s) appeared in the store after approval: ${ids.slice(0, 5).join(', ')}${total > 5 ? ', …' : ''}. They were not approved for deletion and would block deleting the store. Schedule them (a second person must agree), or cancel.`,
      allowedActions: ['schedule-new-keys'],
      keyIds: ids.slice(0, DRIFT_SUMMARY_KEYS),
      keyCount: total,
    });
    this.ledger.addInventoried(fresh, arnPrefix);
    this.enter(this.needsConnect() ? 'CONNECTING' : 'SCHEDULING');
    return true;
  }

  /** DescribeKey of every key awaiting deletion, in pages; records deletions, returns keys no longer pending. */
  private async checkAwaiting(purpose: string, confirmReads: number): Promise<LedgerEntry[]> {
    const awaiting = this.ledger.awaitingDeletion();
    const notPending: LedgerEntry[] = [];
    for (let i = 0; i < awaiting.length; i += CHECK_BATCH) {
      const keyIds = awaiting.slice(i, i + CHECK_BATCH).map((e) => e.keyId);
      const checks = await this.attempt('check keys', () =>
        batch.checkKeys.executeWithOptions({ summary: `${purpose}: keys ${count(i + 1)}–${count(i + keyIds.length)} of ${count(awaiting.length)}` }, [
          { customKeyStoreId: this.cfg.customKeyStoreId, keyIds, confirmReads, confirmDelayMs: Math.min(2_000, this.cfg.timing.verifyIntervalMs) },
        ]),
      );
      notPending.push(...this.ledger.applyChecks(checks, Date.now()));
      this.publish();
    }
    this.publish();
    return notPending;
  }

  private async verify(): Promise<DecommissionReport | undefined> {
    for (;;) {
      this.throwIfCancelled();
      // The store's connection matters only while KMS still has keys (and their HSM material) to delete;
      // after a HasCMKs round trip the store is legitimately DISCONNECTED here.
      if (!this.s.deleted && this.ledger.awaitingDeletion().length > 0 && (await this.storeDrift())) return undefined;
      const notPending = await this.checkAwaiting('Verify: DescribeKey scheduled keys', 2);
      if (notPending.length > 0) {
        await this.blockOnCancelledKeys(notPending.map((e) => e.keyId));
        return undefined;
      }
      const remaining = this.ledger.awaitingDeletion().length;
      if (remaining === 0) break;
      const latest = this.latestDeletionDate() ?? Date.now();
      const deadline = latest + this.cfg.timing.verifyPatienceMs + this.s.verifyExtensionMs;
      if (Date.now() >= deadline) {
        await this.block({
          kind: 'VERIFY_TIMEOUT',
          message: `${count(remaining)} key(s) still exist ${Math.round((Date.now() - latest) / 60_000)} min after the latest DeletionDate (${iso(latest)}); KMS may lag up to 24 h. Keep waiting, or cancel.`,
          allowedActions: ['keep-waiting'],
          keyIds: this.ledger
            .awaitingDeletion()
            .slice(0, DRIFT_SUMMARY_KEYS)
            .map((e) => e.keyId),
          keyCount: remaining,
        });
        this.s.verifyExtensionMs += this.cfg.timing.verifyPatienceMs;
        continue;
      }
      const wake = Math.min(deadline, Date.now() + this.cfg.timing.verifyIntervalMs);
      this.progress({ what: `Re-check ${count(remaining)} key(s) still pending deletion`, at: wake });
      await condition(() => this.s.cancel !== undefined, Math.max(1, wake - Date.now()), {
        summary: `Verify: ${count(remaining)} key(s) not yet deleted by KMS; re-check at ${iso(wake)}`,
      });
      await this.continueAsNewIfSuggested();
    }
    // The store must now be empty: anything left was created after approval (or missed) and blocks deletion.
    const left: { keys: InventoriedKey[]; arnPrefix?: string } = { keys: [] };
    await this.scanStore('Final inventory', false, (keys, arnPrefix) => {
      left.keys.push(...keys);
      left.arnPrefix ??= arnPrefix;
    });
    const fresh = left.keys.filter((k) => !this.ledger.has(k.keyId));
    if (fresh.length > 0) return this.newKeysFound(fresh, left.arnPrefix, fresh.length).then(() => undefined);
    if (left.keys.length > 0) {
      // A read from before the deletion (eventual consistency): verify those keys again.
      for (const key of left.keys) this.ledger.unconfirmDeletion(key.keyId);
      await condition(() => this.s.cancel !== undefined, this.cfg.timing.verifyIntervalMs, {
        summary: 'Final inventory still lists deleted keys: verify again',
      });
      return undefined;
    }
    if (this.s.deleted) return this.complete();
    this.enter('DISCONNECTING');
    return undefined;
  }

  private async disconnect(): Promise<DecommissionReport | undefined> {
    if (this.s.deleted) return this.complete();
    const poll = this.cfg.timing.storePollIntervalMs;
    this.progress({ what: 'Disconnect the store (every key is confirmed deleted)' });
    const store = await this.attemptNonCancellable('disconnect', () =>
      storeWaitStub(poll, STORE_WAIT_TIMEOUT_MS).disconnectStore.executeWithOptions({ summary: 'Disconnect store and wait for DISCONNECTED' }, [
        { customKeyStoreId: this.cfg.customKeyStoreId, pollIntervalMs: poll, timeoutMs: STORE_WAIT_TIMEOUT_MS },
      ]),
    );
    if (store === 'STORE_DELETED') return this.complete();
    this.s.store = store;
    this.enter('DELETING');
    return undefined;
  }

  /** Like {@link attempt}, but the activity itself cannot be interrupted by a cancel: past this point there is nothing to roll back. */
  private async attemptNonCancellable<T>(what: string, run: () => Promise<T>): Promise<T | 'STORE_DELETED'> {
    for (;;) {
      try {
        const result = await CancellationScope.nonCancellable(run);
        this.s.lastError = undefined;
        return result;
      } catch (err) {
        if (failureType(err) === 'CustomKeyStoreNotFoundException') {
          await this.block({
            kind: 'STORE_DELETED',
            message: `Store ${this.cfg.customKeyStoreId} was deleted outside this workflow during ${what}.`,
            allowedActions: ['proceed'],
          });
          this.s.notes.push(`The store was deleted outside this workflow during ${what}; the operator chose to proceed.`);
          this.s.deleted = true;
          return 'STORE_DELETED';
        }
        this.s.lastError = `${what}: ${describeFailure(err)}`;
        await this.block({
          kind: what === 'disconnect' ? 'DISCONNECT_FAILED' : 'DELETE_FAILED',
          message: `${what} failed: ${describeFailure(err)}`,
          allowedActions: ['retry'],
        });
      }
    }
  }

  private async deleteStore(): Promise<DecommissionReport | undefined> {
    this.progress({ what: 'DeleteCustomKeyStore' });
    const outcome = await this.attemptNonCancellable('delete', () =>
      quick.deleteStore.executeWithOptions({ summary: `Delete custom key store ${this.cfg.customKeyStoreId}` }, [
        { customKeyStoreId: this.cfg.customKeyStoreId },
      ]),
    );
    if (outcome === 'STORE_DELETED') return this.complete();
    if (outcome.result === 'DELETED') return this.complete();
    if (outcome.result === 'ALREADY_GONE') {
      await this.block({
        kind: 'STORE_DELETED',
        message: `DeleteCustomKeyStore answered CustomKeyStoreNotFoundException: the store was deleted outside this workflow.`,
        allowedActions: ['proceed'],
      });
      this.s.notes.push('The store was already deleted outside this workflow when this run tried to delete it.');
      return this.complete();
    }
    this.s.deleteRounds++;
    if (this.s.deleteRounds > MAX_DELETE_ROUNDS) {
      await this.block({
        kind: 'DELETE_FAILED',
        message: `DeleteCustomKeyStore keeps failing (${outcome.result}): ${outcome.message ?? ''}`,
        allowedActions: ['retry'],
      });
      this.s.deleteRounds = 0;
      return undefined;
    }
    // HasCMKs: a key appeared (or deletion lagged) after verification. InvalidState: someone reconnected.
    this.s.lastError = `DeleteCustomKeyStore: ${outcome.result}: ${outcome.message ?? ''}`;
    this.enter(outcome.result === 'HAS_KEYS' ? 'VERIFYING' : 'DISCONNECTING');
    return undefined;
  }

  private complete(): DecommissionReport {
    this.enter('COMPLETED');
    return this.report('COMPLETED');
  }

  // ---------------------------------------------------------------------------------------------
  // Cancellation and rollback

  private async finishCancelled(): Promise<DecommissionReport> {
    const reason = `${this.s.cancel?.reason ?? 'cancelled'} (by ${this.s.cancel?.by ?? 'unknown'})`;
    if (this.pastPointOfNoReturn()) {
      this.s.notes.push('Cancelled after the keys were deleted and the store disconnect began: the store may be left DISCONNECTED but not deleted.');
      this.enter('CANCELLED');
      return this.report('CANCELLED', reason);
    }
    const total = this.ledger.rollbackCandidates().length;
    if (total > 0) {
      this.enter('ROLLING_BACK');
      // The one deliberate change to the frozen 0.1.0 code (see the header): the loop is driven by the
      // outcomes recorded in history, not by slices of a list computed up front, so the number of
      // rollbackKeys activities follows the batch size the run was recorded with (250 before b113fb3,
      // 1,000 from b113fb3 on). applyRollback marks every key it got an outcome for (rolledBack is set,
      // so rollbackCandidates() drops it) and rollbackKeys returns one outcome per key it was given.
      for (;;) {
        const candidates = this.ledger.rollbackCandidates();
        if (candidates.length === 0) break;
        const keys = candidates.slice(0, ROLLBACK_BATCH);
        const done = total - candidates.length;
        this.progress({ what: `Roll back: keys ${count(done + 1)}–${count(done + keys.length)} of ${count(total)}` });
        const outcomes = await this.attempt('rollback', () =>
          batch.rollbackKeys.executeWithOptions(
            { summary: `Roll back: cancel deletion of keys ${count(done + 1)}–${count(done + keys.length)} of ${count(total)} and restore their state` },
            [{ keys }],
          ),
        );
        this.ledger.applyRollback(outcomes, Date.now());
        // Only a guard against looping forever: a batch whose result marked no key at all stops the loop.
        if (this.ledger.rollbackCandidates().length >= candidates.length) break;
      }
      const counts = this.ledger.counts();
      this.s.notes.push(
        `Rollback restored ${count(counts.rolledBack)} key(s) to their state before this run; ${count(counts.deleted)} key(s) were already deleted and cannot be restored.`,
      );
    } else {
      this.s.notes.push('Cancelled before any key was scheduled: nothing was changed in KMS.');
    }
    this.enter('CANCELLED');
    return this.report('CANCELLED', reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Report

  private report(outcome: DecommissionReport['outcome'], reason?: string): DecommissionReport {
    return buildReport({ outcome, reason, cfg: this.cfg, state: this.s, status: this.status(), ledger: this.ledger, endedAt: Date.now() });
  }
}
