import { DecommissionClient } from '../../client/decommission-client';
import type { InputProblem } from '../../shared/types';
import { validateApproveRequest, validateCancelRequest, validateDecommissionInput, validateResolveRequest } from '../../shared/validation';
import type { ApiContext, Identity, Role } from '../context';
import type { ApproveBody, CancelBody, ResolveBody, StartBody } from '../decisions';
import { jsonSchemaOf } from '../schemas/json';
import { approveBodySchema, cancelBodySchema, resolveBodySchema, startBodySchema } from '../schemas/requests';
import { startResultSchema, updateAckSchema } from '../schemas/responses';
import { errorResponses } from './errors';
import { idParams, required, type ApiRoute, type JsonSchema } from './types';

const IDENTITY_NOTE =
  "The API sets the identity field to the caller's verified token subject and signs the decision; a body naming requestedBy, approver, by or signature is refused (400).";

/** Decisions: start (requester), approve (approver), cancel and resolve (operator), all through the one {@link DecisionService}. */
export const decisionRoutes: ApiRoute[] = [
  {
    method: 'POST',
    url: '/v1/decommissions',
    access: 'requester',
    decision: true,
    schema: {
      operationId: 'startDecommission',
      summary: 'Start a decommission (or a dry run: `dryRun: true`)',
      description: `${IDENTITY_NOTE} Starting a store that already has a running decommission starts nothing and answers that run (200, alreadyRunning).`,
      tags: ['decisions'],
      body: startBodySchema,
      response: {
        201: { ...jsonSchemaOf(startResultSchema, 'output'), description: 'started' },
        200: { ...jsonSchemaOf(startResultSchema, 'output'), description: 'already running: nothing new was started' },
        ...errorResponses(400, 401, 403, 503),
      },
    },
    explainInvalidBody: (ctx, body) =>
      explain(body, 'requestedBy', (filled) => validateDecommissionInput(filled, { minQuietPeriodMs: ctx.client.minimumQuietPeriodMs }).problems),
    handler: async (ctx, request, reply, who) => {
      const started = await ctx.decide.start(required(who), request.body as StartBody);
      const links = { approvalPage: ctx.links.approvalPage(started.workflowId), webUi: ctx.links.webUi(started.workflowId) };
      return reply.code(started.alreadyRunning ? 200 : 201).send({ ...started, links });
    },
  },
  update(
    'approve',
    'approver',
    'Approve the inventoried plan (four-eyes: the approver must not be the requester)',
    approveBodySchema,
    (body) => explain(body, 'approver', (filled) => validateApproveRequest(filled).problems),
    (ctx, who, id, body) => ctx.decide.approve(who, id, body as ApproveBody),
  ),
  update(
    'cancel',
    'operator',
    'Cancel (rolls back keys this run scheduled that KMS has not deleted yet)',
    cancelBodySchema,
    (body) => explain(body, 'by', (filled) => validateCancelRequest(filled).problems),
    (ctx, who, id, body) => ctx.decide.cancel(who, id, body as CancelBody),
  ),
  update(
    'resolve',
    'operator',
    'Resolve the current blocker with one of its allowed actions (schedule-new-keys, reschedule and proceed delete or may orphan key material: they need the approver role too)',
    resolveBodySchema,
    (body) => explain(body, 'by', (filled) => validateResolveRequest(filled).problems),
    (ctx, who, id, body) => ctx.decide.resolve(who, id, body as ResolveBody),
  ),
];

/** A decision on an existing run: `POST /v1/decommissions/:id/<kind>`, answered with the workflow's acknowledgement. */
function update(
  kind: 'approve' | 'cancel' | 'resolve',
  access: Role,
  summary: string,
  body: JsonSchema,
  explainBody: (body: unknown) => InputProblem[],
  act: (ctx: ApiContext, who: Identity, workflowId: string, body: unknown) => Promise<unknown>,
): ApiRoute {
  return {
    method: 'POST',
    url: `/v1/decommissions/:id/${kind}`,
    access,
    decision: true,
    schema: {
      operationId: `${kind}Decommission`,
      summary,
      description: IDENTITY_NOTE,
      tags: ['decisions'],
      params: idParams,
      body,
      response: { 200: jsonSchemaOf(updateAckSchema, 'output'), ...errorResponses(400, 401, 403, 404, 409, 503) },
    },
    explainInvalidBody: (_ctx, raw) => explainBody(raw),
    handler: async (ctx, request, _reply, who) => {
      const { id } = request.params as { id: string };
      return act(ctx, required(who), DecommissionClient.workflowId(id), request.body);
    },
  };
}

/** Fields a caller never sends: they are not "allowed" in an API body, whatever the workflow's contract lists. */
const API_SET = new Set(['requestedBy', 'approver', 'by', 'signature']);

/**
 * The contract validator's problems with a body, its identity field filled (the API sets it), worded for the
 * API: the identity and signature fields are left out of "allowed" lists. Nothing for a body that is not an
 * object (the JSON Schema's finding is clearer there).
 */
function explain(body: unknown, identityField: string, validate: (filled: Record<string, unknown>) => InputProblem[]): InputProblem[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  return validate({ ...(body as Record<string, unknown>), [identityField]: 'api-caller' })
    .filter((problem) => problem.field !== identityField)
    .map((problem) => ({
      field: problem.field,
      rule: problem.rule.replace(
        /\(allowed: ([^)]*)\)/,
        (_all, list: string) =>
          `(allowed: ${list
            .split(', ')
            .filter((f) => !API_SET.has(f))
            .join(', ')})`,
      ),
    }));
}
