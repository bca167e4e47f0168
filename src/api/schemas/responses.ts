import { z } from 'zod';
import { RESOLVE_ACTIONS, type Phase } from '../../shared/types';
import { RUNBOOK_ORDER } from '../../workflows/phases';

/**
 * What the API answers, as zod schemas: the OpenAPI document's response schemas come from these, and the
 * contract tests check real answers against them. The objects are open (`loose`): the workflow's status and
 * report gain fields over releases, and a portal must ignore the ones it does not know. Fields the API
 * documents are checked for type; timestamps are epoch milliseconds, as in the client library.
 */

/** Every phase, in the runbook's order: the phase table's own list (`workflows/phases.ts`), as a zod enum needs it. */
export const PHASES = RUNBOOK_ORDER as readonly Phase[] as [Phase, ...Phase[]];

const epochMs = z.number().describe('epoch milliseconds');

/** `{error, message}`: every answer that is not a success. */
export const errorSchema = z
  .object({
    error: z.string().describe('machine-readable code, e.g. token_expired, missing_role, invalid_request, rejected, not_found'),
    message: z.string().describe('for people: what was wrong and what to do'),
    problems: z
      .array(z.object({ field: z.string(), rule: z.string() }))
      .optional()
      .describe('invalid_request: every field that broke a rule, and the rule'),
  })
  .meta({ title: 'Error' });

export const linksSchema = z.object({
  approvalPage: z.string().describe('the approval page of this run'),
  webUi: z.string().describe("the run in Temporal's Web UI"),
});

export const startResultSchema = z
  .object({
    workflowId: z.string(),
    runId: z.string().optional(),
    alreadyRunning: z.boolean().describe('a decommission of this store was already running: nothing new was started (answered 200, not 201)'),
    links: linksSchema,
  })
  .meta({ title: 'StartResult' });

export const updateAckSchema = z
  .object({ accepted: z.literal(true), phase: z.string(), message: z.string() })
  .meta({ title: 'DecisionAccepted', description: 'The workflow accepted the decision.' });

const countsSchema = z.object({
  inventoried: z.number(),
  toSchedule: z.number(),
  scheduled: z.number(),
  alreadyPending: z.number(),
  deleted: z.number(),
  remaining: z.number(),
  rolledBack: z.number(),
});

const storeSchema = z.object({ customKeyStoreId: z.string(), name: z.string(), type: z.string(), connectionState: z.string() }).loose();

const blockerSchema = z
  .object({
    id: z.string().describe('what a resolve names as blockerId'),
    kind: z.string(),
    message: z.string(),
    since: epochMs,
    allowedActions: z.array(z.enum(RESOLVE_ACTIONS as [string, ...string[]])),
  })
  .loose();

export const statusSchema = z
  .object({
    workflowId: z.string(),
    links: linksSchema,
    customKeyStoreId: z.string(),
    phase: z.enum(PHASES),
    previousPhase: z.enum(PHASES).optional(),
    dryRun: z.boolean(),
    store: storeSchema.optional(),
    requestedBy: z.string().describe("the requester's verified subject (for runs started through the API)"),
    approvedBy: z.string().optional(),
    ticket: z.string().optional(),
    counts: countsSchema,
    earliestDeletionDate: epochMs.optional(),
    latestDeletionDate: epochMs.optional(),
    nextAction: z.string().optional(),
    nextActionAt: epochMs.optional(),
    blocker: blockerSchema.optional(),
    lastError: z.string().optional(),
    startedAt: epochMs,
  })
  .loose()
  .meta({ title: 'DecommissionStatus', description: "The run's status query, with its workflow ID and links." });

export const summarySchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  customKeyStoreId: z.string().optional(),
  phase: z.enum(PHASES).optional(),
  status: z.string().describe("Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, …"),
  startTime: z.string().describe('ISO 8601'),
  closeTime: z.string().optional().describe('ISO 8601'),
});

export const listSchema = z
  .object({
    decommissions: z.array(summarySchema).describe('newest first'),
    truncated: z.boolean().describe('more matched than `limit`'),
  })
  .meta({ title: 'DecommissionList' });

const reportKeySchema = z.object({ keyId: z.string(), arn: z.string(), aliases: z.array(z.string()), priorState: z.string(), scheduledBy: z.string() }).loose();

export const reportSchema = z
  .object({
    outcome: z.enum(['COMPLETED', 'DRY_RUN_COMPLETE', 'CANCELLED', 'FAILED']),
    customKeyStoreId: z.string(),
    ticket: z.string().optional(),
    pendingWindowInDays: z.number(),
    startedAt: epochMs,
    endedAt: epochMs,
    decisions: z.array(z.object({ what: z.string(), by: z.string(), at: epochMs, detail: z.string().optional() })),
    counts: countsSchema,
    notes: z.array(z.string()),
    reason: z.string().optional(),
    keyCount: z.number(),
    keys: z.array(reportKeySchema).describe('every key (the API pages through large stores)'),
    keysTruncated: z.boolean(),
  })
  .loose()
  .meta({ title: 'DecommissionReport' });

export const healthSchema = z.object({ status: z.literal('ok') });
