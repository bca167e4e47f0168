import { Client, Connection, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowExecutionStatusName, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { decommissionCustomKeyStore } from '../workflows';
import {
  approveUpdate,
  cancelUpdate,
  reportKeysQuery,
  reportQuery,
  resolveUpdate,
  statusQuery,
  TASK_QUEUE,
  WORKFLOW_TYPE,
  workflowIdFor,
  type UpdateAck,
} from '../shared/messages';
import { CustomKeyStoreIdAttribute, DecommissionPhaseAttribute } from '../shared/search-attributes';
import type {
  ApproveRequest,
  CancelRequest,
  DecommissionInput,
  DecommissionReport,
  DecommissionStatus,
  InputProblem,
  Phase,
  ReportKey,
  ReportKeysPage,
  ResolveRequest,
} from '../shared/types';
import { formatDuration } from '../shared/duration';
import { validateApproveRequest, validateCancelRequest, validateDecommissionInput, validateResolveRequest } from '../shared/validation';
import { minQuietPeriodFromEnv } from './env';
import { DecommissionAlreadyRunningError, DecommissionNotFoundError, DecommissionStillRunningError, InvalidInputError, UpdateRejectedError } from './errors';

const WORKFLOW_ID_PREFIX = workflowIdFor('');

/** How to reach Temporal. Without `client`, a connection is made from `@temporalio/envconfig` (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key). */
export interface DecommissionClientOptions {
  client?: Client;
  /** Task queue the worker polls. Default `kms-decommission`. */
  taskQueue?: string;
  /**
   * The deployment's shortest `quietPeriod` (the worker's `DECOMMISSION_MIN_QUIET_PERIOD`), so that a request
   * the worker would refuse is refused here, before anything reaches Temporal. Default: the validator's, 1 day.
   */
  minimumQuietPeriodMs?: number;
}

export interface StartOptions {
  /** Throw {@link DecommissionAlreadyRunningError} instead of returning the running decommission. */
  failIfRunning?: boolean;
}

/** What `startDecommission` did. */
export interface StartResult {
  workflowId: string;
  runId?: string;
  /** True when a decommission of this store was already running: nothing new was started. */
  alreadyRunning: boolean;
}

/** One row of {@link DecommissionClient.listDecommissions}. */
export interface DecommissionSummary {
  workflowId: string;
  runId: string;
  customKeyStoreId?: string;
  phase?: Phase;
  status: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime?: Date;
}

/**
 * The ops-portal client: start, approve, cancel, resolve, inspect and list decommissions.
 * Every method takes a store ID (`cks-…`) or a workflow ID (`kms-decommission-cks-…`).
 */
export class DecommissionClient {
  readonly client: Client;
  readonly taskQueue: string;
  /** Shortest `quietPeriod` accepted by {@link startDecommission}; undefined: the validator's default (1 day). */
  readonly minimumQuietPeriodMs?: number;

  constructor(options: DecommissionClientOptions & { client: Client }) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
    this.minimumQuietPeriodMs = options.minimumQuietPeriodMs;
  }

  /**
   * Connects using the Temporal environment configuration. Unless `minimumQuietPeriodMs` is given, the
   * deployment's minimum quiet period is read from `DECOMMISSION_MIN_QUIET_PERIOD` when set (an invalid value
   * throws an Error naming the variable).
   *
   * @example
   * const client = await DecommissionClient.connect({ taskQueue: 'kms-decommission' });
   */
  static async connect(options: Omit<DecommissionClientOptions, 'client'> & { address?: string; namespace?: string } = {}): Promise<DecommissionClient> {
    const minimumQuietPeriodMs = options.minimumQuietPeriodMs ?? minQuietPeriodFromEnv();
    const { connectionOptions, namespace } = loadClientConnectConfig();
    const connection = await Connection.connect({ ...connectionOptions, ...(options.address ? { address: options.address } : {}) });
    return new DecommissionClient({
      ...options,
      minimumQuietPeriodMs,
      client: new Client({ connection, namespace: options.namespace ?? namespace ?? 'default' }),
    });
  }

  /** Closes the underlying connection. */
  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /** Workflow ID for a store ID; a workflow ID is returned unchanged. */
  static workflowId(storeOrWorkflowId: string): string {
    return storeOrWorkflowId.startsWith(WORKFLOW_ID_PREFIX) ? storeOrWorkflowId : workflowIdFor(storeOrWorkflowId);
  }

  private handle(storeOrWorkflowId: string): WorkflowHandle<typeof decommissionCustomKeyStore> {
    return this.client.workflow.getHandle<typeof decommissionCustomKeyStore>(DecommissionClient.workflowId(storeOrWorkflowId));
  }

  /**
   * Starts a decommission. The input is validated first (a `quietPeriod` against this client's
   * `minimumQuietPeriodMs`): a bad request throws {@link InvalidInputError} naming every field and rule, and
   * nothing reaches Temporal. One store has at most one running
   * decommission: starting again returns the running one (`alreadyRunning: true`).
   *
   * @example
   * const started = await client.startDecommission({ customKeyStoreId: 'cks-1234567890abcdef0', requestedBy: 'alice', pendingWindowInDays: 7 });
   */
  async startDecommission(input: DecommissionInput, options: StartOptions = {}): Promise<StartResult> {
    const { input: cfg, problems } = validateDecommissionInput(input, { minQuietPeriodMs: this.minimumQuietPeriodMs });
    if (!cfg) throw new InvalidInputError(problems);
    const workflowId = workflowIdFor(cfg.customKeyStoreId);
    try {
      const handle = await this.client.workflow.start<typeof decommissionCustomKeyStore>(WORKFLOW_TYPE, {
        taskQueue: this.taskQueue,
        workflowId,
        args: [input],
        // FAIL + catching the error (rather than USE_EXISTING) tells us reliably whether we started a run.
        workflowIdConflictPolicy: 'FAIL',
        // A cancelled or failed decommission may be started again for the same store.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `Decommission KMS custom key store ${cfg.customKeyStoreId}${cfg.dryRun ? ' (dry run)' : ''} · ${cfg.pendingWindowInDays}-day window${cfg.ticket ? ` · ${cfg.ticket}` : ''}`,
        staticDetails: [
          `**Store**: \`${cfg.customKeyStoreId}\``,
          `**Requested by**: ${cfg.requestedBy}`,
          cfg.ticket ? `**Ticket**: ${cfg.ticket}` : undefined,
          `**Waiting period**: ${cfg.pendingWindowInDays} days`,
          // The policy is the worker's, loaded by the run at its start (status.policy); the request cannot set it.
          `**Approval**: per the deployment's approval policy (worker setting; default: required, four-eyes)`,
          cfg.dryRun ? '**Dry run**: inventory only, nothing is changed' : undefined,
          cfg.expectedKeyCount !== undefined ? `**Expected keys**: ${cfg.expectedKeyCount}` : undefined,
          cfg.recentUseWindowMs !== undefined ? `**Recent-use window**: ${formatDuration(cfg.recentUseWindowMs)}` : undefined,
          cfg.quietPeriodMs !== undefined
            ? `**Quiet period**: ${formatDuration(cfg.quietPeriodMs)} (keys disabled and watched before deletion is scheduled)`
            : undefined,
          cfg.watchUsage === false ? '**Attempted-use watch**: off' : undefined,
        ]
          .filter(Boolean)
          .join('\n\n'),
        typedSearchAttributes: [
          { key: CustomKeyStoreIdAttribute, value: cfg.customKeyStoreId },
          { key: DecommissionPhaseAttribute, value: 'VALIDATING' },
        ],
      });
      return { workflowId, runId: handle.firstExecutionRunId, alreadyRunning: false };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const running = await this.handle(workflowId).describe();
      if (options.failIfRunning) throw new DecommissionAlreadyRunningError(workflowId, running.runId);
      return { workflowId, runId: running.runId, alreadyRunning: true };
    }
  }

  /**
   * Approves the inventoried plan. Rejected ({@link UpdateRejectedError}) unless the run awaits approval,
   * or when the approver is the requester (four-eyes, unless the deployment's approval policy allows
   * self-approval: the worker's `DECOMMISSION_ALLOW_SELF_APPROVAL`). When the inventory found keys used
   * within the recent-use window (`getStatus().usage.recentlyUsed` > 0), `acknowledgeRecentlyUsedKeys` must
   * be exactly that count.
   *
   * @example
   * await client.approve('cks-1234567890abcdef0', { approver: 'bob', comment: 'CAB-77 approved' });
   * await client.approve('cks-1234567890abcdef0', { approver: 'bob', acknowledgeRecentlyUsedKeys: 2 });
   */
  async approve(storeOrWorkflowId: string, request: ApproveRequest): Promise<UpdateAck> {
    this.check(validateApproveRequest(request).problems, 'approve request');
    return this.update(storeOrWorkflowId, 'approve', () => this.handle(storeOrWorkflowId).executeUpdate(approveUpdate, { args: [request] }));
  }

  /**
   * Cancels. Before scheduling nothing has changed; during scheduling, the waiting period or verification
   * the keys this run scheduled that KMS has not deleted yet get their deletion cancelled and their prior
   * state restored (keys already deleted are reported as such). Rejected once DISCONNECTING began.
   *
   * @example
   * await client.cancel('cks-1234567890abcdef0', { by: 'bob', reason: 'wrong store' });
   */
  async cancel(storeOrWorkflowId: string, request: CancelRequest): Promise<UpdateAck> {
    this.check(validateCancelRequest(request).problems, 'cancel request');
    return this.update(storeOrWorkflowId, 'cancel', () => this.handle(storeOrWorkflowId).executeUpdate(cancelUpdate, { args: [request] }));
  }

  /**
   * Resolves a BLOCKED run with one of the actions its blocker allows (see `getStatus().blocker.allowedActions`).
   * `blockerId` must be the current `getStatus().blocker.id`: a resolve naming another blocker (already
   * resolved, or not the current one) is rejected, so a late or repeated decision never answers the next
   * blocker. `schedule-new-keys`, `reschedule` and `proceed` need someone other than the requester.
   *
   * @example
   * const { blocker } = await client.getStatus('cks-1234567890abcdef0');
   * await client.resolve('cks-1234567890abcdef0', { by: 'bob', action: 'schedule-new-keys', blockerId: blocker!.id });
   */
  async resolve(storeOrWorkflowId: string, request: ResolveRequest): Promise<UpdateAck> {
    this.check(validateResolveRequest(request).problems, 'resolve request');
    return this.update(storeOrWorkflowId, 'resolve', () => this.handle(storeOrWorkflowId).executeUpdate(resolveUpdate, { args: [request] }));
  }

  /**
   * Current phase, counts, DeletionDates, next action, blocker and people.
   *
   * @example
   * const { phase, counts } = await client.getStatus('cks-1234567890abcdef0');
   */
  async getStatus(storeOrWorkflowId: string): Promise<DecommissionStatus> {
    return this.call(storeOrWorkflowId, () => this.handle(storeOrWorkflowId).query(statusQuery));
  }

  /**
   * The final report with every key (pages through the `reportKeys` query for stores larger than the
   * inline limit). For a run that has not ended, throws unless `wait` is set. A FAILED run yields a
   * report built from its last status and failure message.
   *
   * @example
   * const report = await client.getReport('cks-1234567890abcdef0', { wait: true });
   */
  async getReport(storeOrWorkflowId: string, options: { wait?: boolean } = {}): Promise<DecommissionReport> {
    const handle = this.handle(storeOrWorkflowId);
    const description = await this.call(storeOrWorkflowId, () => handle.describe());
    if (description.status.name === 'RUNNING' && !options.wait) {
      const status = await this.getStatus(storeOrWorkflowId);
      throw new DecommissionStillRunningError(handle.workflowId, status.phase);
    }
    let report: DecommissionReport;
    try {
      report = await handle.result();
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      // A cancelled decommission closes as Canceled, which carries no result: its report is a query.
      const cancelled = err.cause instanceof CancelledFailure ? await handle.query(reportQuery).catch(() => undefined) : undefined;
      if (!cancelled) return this.failedReport(storeOrWorkflowId, err);
      report = cancelled;
    }
    if (report.keysTruncated) report = { ...report, keys: await this.allReportKeys(storeOrWorkflowId), keysTruncated: false };
    return report;
  }

  /**
   * One page of the per-key report (running or ended runs): what a portal pages through for a plan of
   * thousands of keys. At most the inline limit per page.
   *
   * @example
   * const { keys, total, nextOffset } = await client.getReportKeys('cks-1234567890abcdef0', { offset: 0, limit: 50 });
   */
  async getReportKeys(storeOrWorkflowId: string, page: { offset?: number; limit?: number } = {}): Promise<ReportKeysPage> {
    return this.call(storeOrWorkflowId, () => this.handle(storeOrWorkflowId).query(reportKeysQuery, page));
  }

  private async allReportKeys(storeOrWorkflowId: string): Promise<ReportKey[]> {
    const keys: ReportKey[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
      const page: ReportKeysPage = await this.handle(storeOrWorkflowId).query(reportKeysQuery, { offset });
      keys.push(...page.keys);
      offset = page.nextOffset;
    }
    return keys;
  }

  private async failedReport(storeOrWorkflowId: string, err: WorkflowFailedError): Promise<DecommissionReport> {
    const reason = err.cause?.message ?? err.message;
    let status: DecommissionStatus | undefined;
    try {
      status = await this.getStatus(storeOrWorkflowId);
    } catch {
      // Invalid input fails before any handler exists: there is no status to query.
    }
    return {
      outcome: 'FAILED',
      customKeyStoreId: status?.customKeyStoreId ?? DecommissionClient.workflowId(storeOrWorkflowId).slice(WORKFLOW_ID_PREFIX.length),
      store: status?.store,
      pendingWindowInDays: 0,
      startedAt: status?.startedAt ?? 0,
      endedAt: Date.now(),
      decisions: [],
      counts: status?.counts ?? { inventoried: 0, toSchedule: 0, scheduled: 0, alreadyPending: 0, deleted: 0, remaining: 0, rolledBack: 0 },
      notes: [],
      reason,
      keyCount: status?.counts.inventoried ?? 0,
      keys: [],
      keysTruncated: false,
    };
  }

  /**
   * Decommissions visible to Temporal's search attributes, newest first.
   *
   * @example
   * for await (const d of client.listDecommissions({ phase: 'WAITING' })) console.log(d.workflowId, d.phase);
   */
  async *listDecommissions(filter: { phase?: Phase; customKeyStoreId?: string; runningOnly?: boolean } = {}): AsyncIterable<DecommissionSummary> {
    const clauses = [`WorkflowType = '${WORKFLOW_TYPE}'`];
    if (filter.phase) clauses.push(`${DecommissionPhaseAttribute.name} = '${filter.phase.replace(/'/g, '')}'`);
    if (filter.customKeyStoreId) clauses.push(`${CustomKeyStoreIdAttribute.name} = '${filter.customKeyStoreId.replace(/'/g, '')}'`);
    if (filter.runningOnly) clauses.push(`ExecutionStatus = 'Running'`);
    for await (const wf of this.client.workflow.list({ query: clauses.join(' AND ') })) {
      yield {
        workflowId: wf.workflowId,
        runId: wf.runId,
        customKeyStoreId: wf.typedSearchAttributes.get(CustomKeyStoreIdAttribute),
        phase: wf.typedSearchAttributes.get(DecommissionPhaseAttribute) as Phase | undefined,
        status: wf.status.name,
        startTime: wf.startTime,
        closeTime: wf.closeTime,
      };
    }
  }

  private check(problems: InputProblem[], what: string): void {
    if (problems.length > 0) throw new InvalidInputError(problems, what);
  }

  private async update(storeOrWorkflowId: string, name: string, run: () => Promise<UpdateAck>): Promise<UpdateAck> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new UpdateRejectedError(name, err.cause?.message ?? err.message, err);
      if (err instanceof WorkflowNotFoundError) {
        // Temporal answers "not found" for updates to a closed run: tell which it is.
        const ended = await this.handle(storeOrWorkflowId)
          .describe()
          .catch(() => undefined);
        if (ended) {
          const phase = await this.getStatus(storeOrWorkflowId).then(
            (st) => st.phase,
            () => ended.status.name,
          );
          throw new UpdateRejectedError(name, `the run already ended in ${phase}`, err);
        }
        throw new DecommissionNotFoundError(DecommissionClient.workflowId(storeOrWorkflowId));
      }
      throw err;
    }
  }

  private async call<T>(storeOrWorkflowId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new DecommissionNotFoundError(DecommissionClient.workflowId(storeOrWorkflowId));
      throw err;
    }
  }
}
