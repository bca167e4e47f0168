/**
 * What every scenario shares (config, build, Temporal) and the per-scenario environment: a fresh emulator
 * process with the latency fault set, and optionally a fresh worker process on a task queue of its own,
 * so that no pacing state, cache or memory carries over between scenarios.
 */
import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DecommissionClient } from '../src/client';
import type { EmulatorAdminClient } from '../src/emulator';
import type { DecommissionInput, DecommissionStatus, Phase } from '../src/shared/types';
import type { BenchBuild } from './build';
import type { BenchConfig } from './config';
import { startEmulatorProcess, startWorkerProcess, type EmulatorProcess, type WorkerProcess } from './processes';
import type { WorkerMemory } from './types';

export interface BenchContext {
  cfg: BenchConfig;
  build: BenchBuild;
  temporalAddress: string;
  client: Client;
  /** Child process logs go here. */
  logDir: string;
  log(line: string): void;
}

export interface EnvironmentOptions {
  /** Real milliseconds per emulated day (how long the 7-day waiting period lasts). */
  dayMs: number;
  /** Start a worker process (baselines need none). Default true. */
  worker?: boolean;
  /** Quota scale of this environment (emulator and worker pacing); default the configured one. */
  quotaScale?: number;
}

export interface Environment {
  emulator: EmulatorProcess;
  worker?: WorkerProcess;
  decommissions: DecommissionClient;
  /** Applies the latency fault; call after seeding (a reset clears faults). */
  applyLatency(): Promise<void>;
  /** Starts the worker (if not yet), e.g. after a measurement that must not compete with it; `nodeFlags` add to the configured ones. */
  startWorker(nodeFlags?: string): Promise<WorkerProcess>;
  /** Stops the worker, keeping the emulator; returns the worker's memory figures. */
  stopWorker(): Promise<WorkerMemory | undefined>;
  /** Stops the worker (if still running; returns its memory figures) and the emulator. */
  close(): Promise<WorkerMemory | undefined>;
}

export async function openEnvironment(ctx: BenchContext, name: string, options: EnvironmentOptions): Promise<Environment> {
  const { cfg, build } = ctx;
  const quotaScale = options.quotaScale ?? cfg.quotaScale;
  const emulator = await startEmulatorProcess(build, {
    quotaScale,
    dayMs: options.dayMs,
    seed: cfg.seed,
    logFile: path.join(ctx.logDir, `${name}-emulator.log`),
  });
  const taskQueue = `bench-${name}-${randomUUID().slice(0, 8)}`;
  let worker: WorkerProcess | undefined;
  let memory: WorkerMemory | undefined;
  const env: Environment = {
    emulator,
    decommissions: new DecommissionClient({ client: ctx.client, taskQueue }),
    async applyLatency() {
      await emulator.admin.setFaults([{ operation: '*', latencyMs: cfg.latencyMs, jitterMs: cfg.jitterMs }]);
    },
    async startWorker(nodeFlags?: string) {
      worker ??= await startWorkerProcess(build, {
        temporalAddress: ctx.temporalAddress,
        taskQueue,
        emulatorUrl: emulator.url,
        quotaScale,
        utilization: cfg.utilization,
        nodeFlags: [cfg.workerNodeFlags, nodeFlags].filter(Boolean).join(' '),
        extraEnv: cfg.workerEnv,
        logFile: path.join(ctx.logDir, `${name}-worker.log`),
      });
      env.worker = worker;
      return worker;
    },
    async stopWorker() {
      if (!worker) return memory;
      const stopping = worker;
      worker = undefined;
      env.worker = undefined;
      memory = await stopping.stop();
      return memory;
    },
    async close() {
      try {
        await env.stopWorker();
      } finally {
        await emulator.stop();
      }
      return memory;
    },
  };
  try {
    if (options.worker !== false) await env.startWorker();
  } catch (err) {
    await emulator.stop();
    throw err;
  }
  return env;
}

export interface ApprovedRun {
  /** The store's key ids, as seeded. */
  keys: Set<string>;
  /** Audit sequence number before the run's first call. */
  mark: number;
  /** Wall clock at the start. */
  t0: number;
  started: { workflowId: string; runId?: string };
}

/**
 * Seeds a CONNECTED store with `count` Enabled keys, turns latency on, starts a decommission of it and
 * approves it once it waits for approval: the common start of every single-store scenario.
 */
export async function startApprovedRun(
  env: Environment,
  store: string,
  name: string,
  count: number,
  input: DecommissionInput = benchInput(store),
): Promise<ApprovedRun> {
  await env.emulator.admin.seed({ stores: [{ id: store, name, connectionState: 'CONNECTED' }] });
  const seeded = await env.emulator.admin.seed({ keys: [{ count, customKeyStoreId: store, keyState: 'Enabled' }] });
  await env.applyLatency();
  const mark = await auditMark(env.emulator.admin);
  const t0 = Date.now();
  const started = await env.decommissions.startDecommission(input);
  await waitForStatus(env.decommissions, store, inPhase('AWAITING_APPROVAL'), 600_000, 'AWAITING_APPROVAL');
  await env.decommissions.approve(store, { approver: 'bench-approver' });
  return { keys: new Set(seeded.keyIds[0]), mark, t0, started };
}

/**
 * Decommission input for the benchmark: 7-day window (the emulator's day length decides the real wait), no
 * drift check during a short wait. The approval step (so concurrent runs can be released together) is the
 * bench worker's approval policy (see `startWorkerProcess`), not part of the request.
 */
export function benchInput(customKeyStoreId: string, extra: Partial<DecommissionInput> = {}): DecommissionInput {
  return {
    customKeyStoreId,
    requestedBy: 'bench-requester',
    pendingWindowInDays: 7,
    ticket: 'BENCH',
    timing: { storePollInterval: 200, driftCheckInterval: 3_600_000, verifyInterval: 1_000, verifyPatience: 300_000 },
    ...extra,
  };
}

/** Polls the status query until `done`; throws with the last status on timeout or when the run blocks or fails. */
export async function waitForStatus(
  decommissions: DecommissionClient,
  storeOrWorkflowId: string,
  done: (s: DecommissionStatus) => boolean,
  timeoutMs: number,
  what: string,
  pollMs = 500,
): Promise<DecommissionStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: DecommissionStatus | undefined;
  let lastStuckCheck = Date.now();
  for (;;) {
    try {
      last = await decommissions.getStatus(storeOrWorkflowId);
    } catch {
      // The first workflow task may not have run yet (no query handler): keep polling until the deadline.
    }
    if (last && done(last)) return last;
    if (last?.phase === 'BLOCKED' || last?.phase === 'FAILED') {
      throw new Error(
        `${storeOrWorkflowId} is ${last.phase} while waiting for ${what}: ${last.blocker ? `${last.blocker.id}: ${last.blocker.message}` : (last.lastError ?? '')}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} of ${storeOrWorkflowId}; last phase ${last?.phase ?? 'unknown'}`);
    if (Date.now() - lastStuckCheck > 15_000) {
      lastStuckCheck = Date.now();
      await failIfStuck(decommissions, storeOrWorkflowId);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * A workflow task that keeps failing (non-determinism, a payload over the server's limit…) leaves the
 * status query answering the last good state forever: detect it from the pending task's attempt count.
 */
export async function failIfStuck(decommissions: DecommissionClient, storeOrWorkflowId: string): Promise<void> {
  const handle = decommissions.client.workflow.getHandle(DecommissionClient.workflowId(storeOrWorkflowId));
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING' && description.status.name !== 'COMPLETED') {
    throw new Error(`${handle.workflowId} is ${description.status.name} (see its history in the dev server)`);
  }
  const attempt = description.raw.pendingWorkflowTask?.attempt ?? 0;
  if (attempt < 3) return;
  const history = await handle.fetchHistory();
  const failed = [...(history.events ?? [])].reverse().find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
  // Timed-out tasks (a busy worker replaying evicted runs) recover on their own; a task that fails does not.
  if (!failed && attempt < 20) return;
  throw new Error(
    `${handle.workflowId} is stuck: workflow task attempt ${attempt}, last failure ${failed?.cause ?? '?'}: ${failed?.failure?.message ?? 'unknown'}`,
  );
}

/**
 * Waits until `count` runs on the task queue match a visibility query (e.g. a DecommissionPhase), without
 * querying each run: status queries of many runs make the worker replay evicted ones and skew its memory.
 */
export async function waitForCount(client: Client, taskQueue: string, where: string, count: number, timeoutMs: number, what: string): Promise<void> {
  const query = `TaskQueue = '${taskQueue}' AND ${where}`;
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = (await client.workflow.count(query)).count;
    if (seen >= count) return;
    const failed = (
      await client.workflow.count(
        `TaskQueue = '${taskQueue}' AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed' AND ExecutionStatus != 'ContinuedAsNew'`,
      )
    ).count;
    if (failed > 0) throw new Error(`${failed} run(s) on ${taskQueue} ended neither Running nor Completed while waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${seen} of ${count} runs`);
}

/** Visibility clause for a phase, from the workflow's DecommissionPhase search attribute. */
export function phaseIs(phase: Phase): string {
  return `DecommissionPhase = '${phase}'`;
}

export const inPhase =
  (...phases: Phase[]) =>
  (s: DecommissionStatus): boolean =>
    phases.includes(s.phase);

/** A store name/id pair for seeding; ids look like real ones. */
export function storeId(scenario: string, index: number): string {
  const tag = Buffer.from(`${scenario}-${index}`).toString('hex').slice(0, 13).padEnd(13, '0');
  return `cks-${index.toString(16).padStart(4, '0')}${tag}`;
}

/**
 * Sequence number of the latest audit entry: every KMS request adds exactly one entry, numbered from 1,
 * so the request count is the last sequence number. Pass it as `sinceSeq` to see only later calls.
 */
export async function auditMark(admin: EmulatorAdminClient): Promise<number> {
  const stats = await admin.stats();
  return Object.values(stats.requests).reduce((a, b) => a + b, 0);
}
