import { formatDuration, parseDuration } from './duration';
import { RESOLVE_ACTIONS, type ApproveRequest, type CancelRequest, type InputProblem, type NormalizedInput, type ResolveRequest } from './types';

// Runs in the workflow sandbox as well as in the client and CLI: pure functions only.

const DAY_MS = 86_400_000;
const STORE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const MAX_NAME_LENGTH = 256;
const MAX_TEXT_LENGTH = 1_024;

const INPUT_FIELDS = [
  'customKeyStoreId',
  'requestedBy',
  'pendingWindowInDays',
  'dryRun',
  'approvalTimeout',
  'expectedKeyCount',
  'reconnect',
  'ticket',
  'recentUseWindow',
  'quietPeriod',
  'watchUsage',
  'timing',
] as const;

const TIMING_DEFAULTS_MS = {
  storePollInterval: 30_000,
  driftCheckInterval: DAY_MS,
  verifyInterval: 3_600_000,
  verifyPatience: 26 * 3_600_000,
  connectionCheckInterval: 5 * 60_000,
  usageCheckInterval: 15 * 60_000,
  cloudTrailDeliveryLag: 20 * 60_000,
} as const;

/**
 * Fields that once were part of a request and are now the deployment's approval policy (worker
 * configuration): a requester must never be able to switch four-eyes off for their own decommission.
 */
const POLICY_FIELDS: Record<string, string> = {
  requireApproval: 'DECOMMISSION_REQUIRE_APPROVAL',
  allowSelfApproval: 'DECOMMISSION_ALLOW_SELF_APPROVAL',
};

/** Shortest interval accepted: anything faster would poll KMS's 5 rps store operations into throttling. */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 60 * DAY_MS;

export const DEFAULTS = {
  pendingWindowInDays: 30,
  approvalTimeoutMs: 7 * DAY_MS,
  recentUseWindowMs: 30 * DAY_MS,
  timing: TIMING_DEFAULTS_MS,
} as const;

/** Longest quiet period: keys disabled for longer than a quarter are a decision of their own, not a scream test. */
export const MAX_QUIET_PERIOD_MS = 90 * DAY_MS;
/** Shortest quiet period unless a deployment sets its own minimum (`DECOMMISSION_MIN_QUIET_PERIOD`). */
export const DEFAULT_MIN_QUIET_PERIOD_MS = DAY_MS;

/** Limits that belong to the deployment rather than to the request. */
export interface ValidationLimits {
  /** Shortest `quietPeriod` accepted. Default {@link DEFAULT_MIN_QUIET_PERIOD_MS}. */
  minQuietPeriodMs?: number;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a person's name or identity: required, trimmed, 1–256 printable characters. */
function checkName(problems: InputProblem[], field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) {
    problems.push({ field, rule: 'is required' });
    return undefined;
  }
  if (typeof value !== 'string') {
    problems.push({ field, rule: `must be a string, got ${describe(value)}` });
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed.length === 0) problems.push({ field, rule: 'must not be empty' });
  else if (trimmed.length > MAX_NAME_LENGTH) problems.push({ field, rule: `must be at most ${MAX_NAME_LENGTH} characters, got ${trimmed.length}` });
  // eslint-disable-next-line no-control-regex
  else if (/[\u0000-\u001f\u007f]/.test(trimmed)) problems.push({ field, rule: 'must not contain control characters' });
  else return trimmed;
  return undefined;
}

function checkOptionalText(problems: InputProblem[], field: string, value: unknown, max = MAX_TEXT_LENGTH): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    problems.push({ field, rule: `must be a string, got ${describe(value)}` });
    return undefined;
  }
  if (value.length > max) {
    problems.push({ field, rule: `must be at most ${max} characters, got ${value.length}` });
    return undefined;
  }
  return value.trim() || undefined;
}

function checkBoolean(problems: InputProblem[], field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') problems.push({ field, rule: `must be true or false, got ${describe(value)}` });
  return typeof value === 'boolean' ? value : fallback;
}

function checkDuration(problems: InputProblem[], field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) {
    problems.push({ field, rule: `must be milliseconds or a duration such as "30s", "1h", "1 day", got ${describe(value)}` });
    return fallback;
  }
  if (ms < min || ms > max) {
    problems.push({ field, rule: `must be between ${min} ms and ${max / DAY_MS} days, got ${describe(value)}` });
    return fallback;
  }
  return ms;
}

/** Validates a custom key store ID; returns the problem or undefined. */
export function checkCustomKeyStoreId(value: unknown): InputProblem | undefined {
  const field = 'customKeyStoreId';
  if (value === undefined || value === null) return { field, rule: 'is required' };
  if (typeof value !== 'string') return { field, rule: `must be a string, got ${describe(value)}` };
  if (value.length === 0) return { field, rule: 'must not be empty' };
  if (value.length > 64) return { field, rule: `must be at most 64 characters, got ${value.length}` };
  if (!STORE_ID_PATTERN.test(value))
    return { field, rule: `must contain only letters, digits and hyphens (like cks-1234567890abcdef0), got ${describe(value)}` };
  return undefined;
}

/**
 * Validates raw workflow input and applies defaults. Every problem is reported, not just the first,
 * so an operator fixes a bad request in one round trip.
 */
export function validateDecommissionInput(raw: unknown, limits: ValidationLimits = {}): { input?: NormalizedInput; problems: InputProblem[] } {
  const problems: InputProblem[] = [];
  if (!isPlainObject(raw)) {
    return { problems: [{ field: '(input)', rule: `must be a JSON object, got ${describe(raw)}` }] };
  }
  for (const key of Object.keys(raw)) {
    const setting = Object.prototype.hasOwnProperty.call(POLICY_FIELDS, key) ? POLICY_FIELDS[key] : undefined;
    if (setting) problems.push({ field: key, rule: `is the deployment's approval policy, not part of a request (the worker's ${setting} setting decides it)` });
    else if (!(INPUT_FIELDS as readonly string[]).includes(key))
      problems.push({ field: key, rule: `is not a known field (allowed: ${INPUT_FIELDS.join(', ')})` });
  }
  const storeProblem = checkCustomKeyStoreId(raw.customKeyStoreId);
  if (storeProblem) problems.push(storeProblem);
  const requestedBy = checkName(problems, 'requestedBy', raw.requestedBy);

  let pendingWindowInDays: number = DEFAULTS.pendingWindowInDays;
  if (raw.pendingWindowInDays !== undefined) {
    const w = raw.pendingWindowInDays;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 7 || w > 30) {
      problems.push({ field: 'pendingWindowInDays', rule: `must be an integer from 7 to 30 (KMS waiting period in days), got ${describe(w)}` });
    } else pendingWindowInDays = w;
  }

  const dryRun = checkBoolean(problems, 'dryRun', raw.dryRun, false);
  const reconnect = checkBoolean(problems, 'reconnect', raw.reconnect, true);
  const approvalTimeoutMs = checkDuration(problems, 'approvalTimeout', raw.approvalTimeout, DEFAULTS.approvalTimeoutMs, 1_000, 30 * DAY_MS);

  let expectedKeyCount: number | undefined;
  if (raw.expectedKeyCount !== undefined) {
    const c = raw.expectedKeyCount;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 100_000) {
      problems.push({ field: 'expectedKeyCount', rule: `must be an integer from 0 to 100000, got ${describe(c)}` });
    } else expectedKeyCount = c;
  }
  const ticket = checkOptionalText(problems, 'ticket', raw.ticket, 128);
  const recentUseWindowMs = checkDuration(problems, 'recentUseWindow', raw.recentUseWindow, DEFAULTS.recentUseWindowMs, 3_600_000, 365 * DAY_MS);
  const watchUsage = checkBoolean(problems, 'watchUsage', raw.watchUsage, true);
  let quietPeriodMs: number | undefined;
  if (raw.quietPeriod !== undefined && raw.quietPeriod !== null) {
    const min = limits.minQuietPeriodMs ?? DEFAULT_MIN_QUIET_PERIOD_MS;
    const ms = parseDuration(raw.quietPeriod);
    if (ms === undefined) problems.push({ field: 'quietPeriod', rule: `must be a duration such as "14 days" or "1 day", got ${describe(raw.quietPeriod)}` });
    else if (ms < min || ms > MAX_QUIET_PERIOD_MS)
      problems.push({
        field: 'quietPeriod',
        rule: `must be between ${formatDuration(min)} and ${formatDuration(MAX_QUIET_PERIOD_MS)}${min === DEFAULT_MIN_QUIET_PERIOD_MS ? '' : " (this deployment's minimum)"}, got ${describe(raw.quietPeriod)}`,
      });
    else if (!watchUsage) problems.push({ field: 'watchUsage', rule: 'must not be false with a quietPeriod: the quiet period is the watch for attempted use' });
    else quietPeriodMs = ms;
  }

  const timing = { ...TIMING_DEFAULTS_MS };
  if (raw.timing !== undefined) {
    if (!isPlainObject(raw.timing)) problems.push({ field: 'timing', rule: `must be an object, got ${describe(raw.timing)}` });
    else {
      for (const key of Object.keys(raw.timing)) {
        if (!(key in TIMING_DEFAULTS_MS))
          problems.push({ field: `timing.${key}`, rule: `is not a known field (allowed: ${Object.keys(TIMING_DEFAULTS_MS).join(', ')})` });
      }
      for (const key of Object.keys(TIMING_DEFAULTS_MS) as (keyof typeof TIMING_DEFAULTS_MS)[]) {
        timing[key] = checkDuration(problems, `timing.${key}`, raw.timing[key], TIMING_DEFAULTS_MS[key], MIN_INTERVAL_MS, MAX_INTERVAL_MS) as never;
      }
    }
  }

  if (problems.length > 0 || requestedBy === undefined) return { problems };
  return {
    problems,
    input: {
      customKeyStoreId: raw.customKeyStoreId as string,
      requestedBy,
      pendingWindowInDays,
      dryRun,
      approvalTimeoutMs,
      expectedKeyCount,
      reconnect,
      ticket,
      recentUseWindowMs,
      ...(quietPeriodMs !== undefined ? { quietPeriodMs } : {}),
      watchUsage,
      timing: {
        storePollIntervalMs: timing.storePollInterval,
        driftCheckIntervalMs: timing.driftCheckInterval,
        verifyIntervalMs: timing.verifyInterval,
        verifyPatienceMs: timing.verifyPatience,
        connectionCheckIntervalMs: timing.connectionCheckInterval,
        usageCheckIntervalMs: timing.usageCheckInterval,
        cloudTrailDeliveryLagMs: timing.cloudTrailDeliveryLag,
      },
    },
  };
}

/** One line per problem, `field: rule`, for error messages. */
export function formatProblems(problems: InputProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.rule}`).join('; ');
}

function checkKnownFields(problems: InputProblem[], raw: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key)) problems.push({ field: key, rule: `is not a known field (allowed: ${allowed.join(', ')})` });
  }
}

/** Shape checks of the `approve` update's argument (the workflow adds the phase and four-eyes rules). */
export function validateApproveRequest(raw: unknown): { request?: ApproveRequest; problems: InputProblem[] } {
  if (!isPlainObject(raw)) return { problems: [{ field: '(approve)', rule: `must be a JSON object like {"approver":"bob"}, got ${describe(raw)}` }] };
  const problems: InputProblem[] = [];
  checkKnownFields(problems, raw, ['approver', 'comment', 'acknowledgeRecentlyUsedKeys']);
  const approver = checkName(problems, 'approver', raw.approver);
  const comment = checkOptionalText(problems, 'comment', raw.comment);
  const ack = raw.acknowledgeRecentlyUsedKeys;
  if (ack !== undefined && (typeof ack !== 'number' || !Number.isInteger(ack) || ack < 0))
    problems.push({
      field: 'acknowledgeRecentlyUsedKeys',
      rule: `must be a whole number (the count of recently used keys in status.usage.recentlyUsed), got ${describe(ack)}`,
    });
  if (problems.length || !approver) return { problems };
  return { problems, request: { approver, comment, ...(typeof ack === 'number' ? { acknowledgeRecentlyUsedKeys: ack } : {}) } };
}

/** Shape checks of the `cancel` update's argument. */
export function validateCancelRequest(raw: unknown): { request?: CancelRequest; problems: InputProblem[] } {
  if (!isPlainObject(raw))
    return { problems: [{ field: '(cancel)', rule: `must be a JSON object like {"by":"bob","reason":"wrong store"}, got ${describe(raw)}` }] };
  const problems: InputProblem[] = [];
  checkKnownFields(problems, raw, ['by', 'reason']);
  const by = checkName(problems, 'by', raw.by);
  const reason = checkName(problems, 'reason', raw.reason);
  return problems.length || !by || !reason ? { problems } : { problems, request: { by, reason } };
}

/** Shape checks of the `resolve` update's argument (the workflow checks the action against the blocker). */
export function validateResolveRequest(raw: unknown): { request?: ResolveRequest; problems: InputProblem[] } {
  if (!isPlainObject(raw))
    return {
      problems: [
        { field: '(resolve)', rule: `must be a JSON object like {"by":"bob","action":"reconnect","blockerId":"CONNECT_FAILED-1"}, got ${describe(raw)}` },
      ],
    };
  const problems: InputProblem[] = [];
  checkKnownFields(problems, raw, ['by', 'action', 'blockerId', 'comment']);
  const by = checkName(problems, 'by', raw.by);
  let blockerId: string | undefined;
  if (raw.blockerId === undefined || raw.blockerId === null)
    problems.push({ field: 'blockerId', rule: 'is required: the id of the blocker this decision answers (status.blocker.id, e.g. "CONNECT_FAILED-1")' });
  else if (typeof raw.blockerId !== 'string' || !/^[A-Z_]+-\d{1,6}$/.test(raw.blockerId))
    problems.push({ field: 'blockerId', rule: `must look like KIND-n (e.g. "CONNECT_FAILED-1"), got ${describe(raw.blockerId)}` });
  else blockerId = raw.blockerId;
  const comment = checkOptionalText(problems, 'comment', raw.comment);
  let action: ResolveRequest['action'] | undefined;
  if (raw.action === undefined) problems.push({ field: 'action', rule: `is required (one of: ${RESOLVE_ACTIONS.join(', ')})` });
  else if (typeof raw.action !== 'string' || !(RESOLVE_ACTIONS as readonly string[]).includes(raw.action)) {
    problems.push({ field: 'action', rule: `must be one of ${RESOLVE_ACTIONS.join(', ')}, got ${describe(raw.action)}` });
  } else action = raw.action as ResolveRequest['action'];
  return problems.length || !by || !action || !blockerId ? { problems } : { problems, request: { by, action, blockerId, comment } };
}

/** Same person? Names are compared case-insensitively so "Alice" cannot approve "alice"'s request. */
export function samePerson(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}
