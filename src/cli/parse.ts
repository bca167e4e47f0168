import { InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import type { DecommissionInput, InputProblem, Phase } from '../shared/types';
import { workflowIdFor } from '../shared/messages';
import { checkCustomKeyStoreId } from '../shared/validation';
import { UsageError } from './exit-codes';

/** Every phase, for `--phase` choices. A Record so that a new Phase fails to compile until it is listed. */
const PHASE_SET: Record<Phase, true> = {
  VALIDATING: true,
  INVENTORY: true,
  AWAITING_APPROVAL: true,
  CONNECTING: true,
  QUIET_PERIOD: true,
  SCHEDULING: true,
  WAITING: true,
  VERIFYING: true,
  DISCONNECTING: true,
  DELETING: true,
  ROLLING_BACK: true,
  BLOCKED: true,
  COMPLETED: true,
  DRY_RUN_COMPLETE: true,
  CANCELLED: true,
  FAILED: true,
};
/** Every {@link Phase}, in the order a run goes through them. */
export const PHASES = Object.keys(PHASE_SET) as Phase[];

/**
 * A commander argument parser that accepts only a plain decimal integer within bounds. `Number()` and
 * `parseInt()` both accept things an operator did not mean ("7.5" → 7, "1e1" → 10, "" → 0).
 *
 * @example
 * new Option('--window <days>').argParser(integerArg(0, 100_000))
 */
export function integerArg(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`must be an integer, got "${value}".`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}, got ${value}.`);
    return n;
  };
}

/**
 * Parses a `<store>` argument: a store ID (`cks-…`) or a workflow ID (`kms-decommission-cks-…`).
 * Returned unchanged when valid; the client accepts both forms.
 */
export function storeArg(value: string): string {
  const problem = checkCustomKeyStoreId(storeIdOf(value));
  if (problem) throw new InvalidArgumentError(`${problem.rule}.`);
  return value;
}

/** The workflow ID of a store or workflow ID. */
export function workflowIdOf(storeOrWorkflowId: string): string {
  return workflowIdFor(storeIdOf(storeOrWorkflowId));
}

/** The store ID of a store or workflow ID. */
export function storeIdOf(storeOrWorkflowId: string): string {
  const prefix = workflowIdFor('');
  return storeOrWorkflowId.startsWith(prefix) ? storeOrWorkflowId.slice(prefix.length) : storeOrWorkflowId;
}

/** Flags of `start`, keyed by the DecommissionInput field they set (dotted for timing). */
export const START_FLAGS: Readonly<Record<string, string>> = {
  customKeyStoreId: '--store',
  requestedBy: '--requested-by',
  pendingWindowInDays: '--window',
  dryRun: '--dry-run',
  approvalTimeout: '--approval-timeout',
  expectedKeyCount: '--expected-keys',
  reconnect: '--no-reconnect',
  ticket: '--ticket',
  recentUseWindow: '--recent-use-window',
  quietPeriod: '--quiet-period',
  watchUsage: '--no-watch-usage',
  'timing.storePollInterval': '--timing-store-poll-interval',
  'timing.driftCheckInterval': '--timing-drift-check-interval',
  'timing.verifyInterval': '--timing-verify-interval',
  'timing.verifyPatience': '--timing-verify-patience',
  'timing.connectionCheckInterval': '--timing-connection-check-interval',
  'timing.usageCheckInterval': '--timing-usage-check-interval',
  'timing.cloudTrailDeliveryLag': '--timing-cloudtrail-delivery-lag',
};

/**
 * `start` flags that used to set the approval policy per request. It is the deployment's now (a requester
 * must not be able to switch four-eyes off for their own decommission): the worker's environment sets it.
 */
export const REMOVED_POLICY_FLAGS = {
  approval: { flag: '--no-approval', setting: 'DECOMMISSION_REQUIRE_APPROVAL', value: 'false' },
  allowSelfApproval: { flag: '--allow-self-approval', setting: 'DECOMMISSION_ALLOW_SELF_APPROVAL', value: 'true' },
} as const satisfies Record<string, { flag: string; setting: string; value: string }>;

/** Commander's option key of a removed policy flag. */
export type RemovedPolicyOption = keyof typeof REMOVED_POLICY_FLAGS;

/** The usage error for a removed policy flag: what decides it now, and where. */
export function removedPolicyFlagMessage(option: RemovedPolicyOption): string {
  const { flag, setting, value } = REMOVED_POLICY_FLAGS[option];
  return `${flag} is no longer a start option: the approval policy is the deployment's, not the request's. It is set on the worker (${setting}=${value} in the worker's environment) and applies to every decommission that worker runs`;
}

/** Option values of `start` as commander hands them over (`reconnect` comes from `--no-reconnect`). */
export interface StartFlags {
  store?: string;
  requestedBy?: string;
  window?: number;
  dryRun?: boolean;
  approvalTimeout?: string;
  expectedKeys?: number;
  reconnect?: boolean;
  ticket?: string;
  recentUseWindow?: string;
  quietPeriod?: string;
  /** False from `--no-watch-usage`. */
  watchUsage?: boolean;
  timingStorePollInterval?: string;
  timingDriftCheckInterval?: string;
  timingVerifyInterval?: string;
  timingVerifyPatience?: string;
  timingConnectionCheckInterval?: string;
  timingUsageCheckInterval?: string;
  timingCloudtrailDeliveryLag?: string;
  input?: string;
  inputFile?: string;
}

/**
 * Builds workflow input from flags. Only flags the operator gave are set, so every default stays the
 * workflow's own (one source of truth for defaults).
 */
export function inputFromFlags(flags: StartFlags): DecommissionInput {
  const input: Partial<DecommissionInput> & Record<string, unknown> = {};
  if (flags.store !== undefined) input.customKeyStoreId = flags.store;
  if (flags.requestedBy !== undefined) input.requestedBy = flags.requestedBy;
  if (flags.window !== undefined) input.pendingWindowInDays = flags.window;
  if (flags.dryRun) input.dryRun = true;
  if (flags.approvalTimeout !== undefined) input.approvalTimeout = flags.approvalTimeout;
  if (flags.expectedKeys !== undefined) input.expectedKeyCount = flags.expectedKeys;
  if (flags.reconnect === false) input.reconnect = false;
  if (flags.ticket !== undefined) input.ticket = flags.ticket;
  if (flags.recentUseWindow !== undefined) input.recentUseWindow = flags.recentUseWindow;
  if (flags.quietPeriod !== undefined) input.quietPeriod = flags.quietPeriod;
  if (flags.watchUsage === false) input.watchUsage = false;
  const timing: NonNullable<DecommissionInput['timing']> = {};
  if (flags.timingStorePollInterval !== undefined) timing.storePollInterval = flags.timingStorePollInterval;
  if (flags.timingDriftCheckInterval !== undefined) timing.driftCheckInterval = flags.timingDriftCheckInterval;
  if (flags.timingVerifyInterval !== undefined) timing.verifyInterval = flags.timingVerifyInterval;
  if (flags.timingVerifyPatience !== undefined) timing.verifyPatience = flags.timingVerifyPatience;
  if (flags.timingConnectionCheckInterval !== undefined) timing.connectionCheckInterval = flags.timingConnectionCheckInterval;
  if (flags.timingUsageCheckInterval !== undefined) timing.usageCheckInterval = flags.timingUsageCheckInterval;
  if (flags.timingCloudtrailDeliveryLag !== undefined) timing.cloudTrailDeliveryLag = flags.timingCloudtrailDeliveryLag;
  if (Object.keys(timing).length > 0) input.timing = timing;
  return input as DecommissionInput;
}

/**
 * Parses the raw JSON of `--input` / `--input-file`. Only the JSON syntax is checked here; the fields are
 * validated by the same rules as the workflow's, so the CLI never accepts what the workflow would refuse.
 *
 * @param source how the operator passed it, for the message (`--input` or `--input-file <path>`)
 */
export function parseJsonInput(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads `--input-file` (`-` for stdin). */
export function readInputFile(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --input-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * `field (--flag): rule; …` — each problem with the flag that sets the field, so the operator knows what to
 * change on the command line.
 */
export function describeProblems(problems: InputProblem[], flags: Readonly<Record<string, string>> = {}): string {
  return problems.map((p) => (flags[p.field] ? `${p.field} (${flags[p.field]}): ${p.rule}` : `${p.field}: ${p.rule}`)).join('; ');
}
