import { DecommissionClient } from '../../client/decommission-client';
import { renderReportMarkdown } from '../../client/report-markdown';
import type { Phase } from '../../shared/types';
import { jsonSchemaOf } from '../schemas/json';
import { PHASES, listSchema, reportSchema, statusSchema } from '../schemas/responses';
import { errorResponses } from './errors';
import { idParams, type ApiRoute } from './types';

/** Largest `limit` of a list: a portal pages by filters, not through thousands of rows. */
export const MAX_LIST_LIMIT = 1000;

interface ListQuery {
  phase?: Phase;
  store?: string;
  running?: 'true' | 'false';
  limit?: string;
}

/** Reading: list, status, report. Any verified identity may read (no role): a portal shows runs to everyone who signs in. */
export const readRoutes: ApiRoute[] = [
  {
    method: 'GET',
    url: '/v1/decommissions',
    access: 'authenticated',
    schema: {
      operationId: 'listDecommissions',
      summary: 'List decommissions, newest first',
      tags: ['decommissions'],
      // Query values are strings on the wire; the API does not coerce types anywhere (bodies included).
      querystring: {
        type: 'object',
        properties: {
          phase: { type: 'string', enum: [...PHASES], description: 'only runs in this phase' },
          store: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$', description: 'only runs of this custom key store' },
          running: { type: 'string', enum: ['true', 'false'], description: 'true: only running decommissions' },
          limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: `at most this many rows (default 100, at most ${MAX_LIST_LIMIT})` },
        },
        additionalProperties: false,
      },
      response: { 200: jsonSchemaOf(listSchema, 'output'), ...errorResponses(400, 401, 503) },
    },
    handler: async (ctx, request) => {
      const query = request.query as ListQuery;
      const limit = Math.min(Number(query.limit ?? 100), MAX_LIST_LIMIT);
      const decommissions = [];
      let truncated = false;
      for await (const d of ctx.client.listDecommissions({ phase: query.phase, customKeyStoreId: query.store, runningOnly: query.running === 'true' })) {
        if (decommissions.length === limit) {
          truncated = true;
          break;
        }
        decommissions.push({
          workflowId: d.workflowId,
          runId: d.runId,
          ...(d.customKeyStoreId ? { customKeyStoreId: d.customKeyStoreId } : {}),
          ...(d.phase ? { phase: d.phase } : {}),
          status: d.status,
          startTime: d.startTime.toISOString(),
          ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
        });
      }
      return { decommissions, truncated };
    },
  },
  {
    method: 'GET',
    url: '/v1/decommissions/:id',
    access: 'authenticated',
    schema: {
      operationId: 'getDecommission',
      summary: 'Status of a decommission: phase, counts, blocker, next action, people',
      tags: ['decommissions'],
      params: idParams,
      response: { 200: jsonSchemaOf(statusSchema, 'output'), ...errorResponses(400, 401, 404, 503) },
    },
    handler: async (ctx, request) => {
      const { id } = request.params as { id: string };
      const workflowId = DecommissionClient.workflowId(id);
      const status = await ctx.client.getStatus(workflowId);
      return { workflowId, links: { approvalPage: ctx.links.approvalPage(workflowId), webUi: ctx.links.webUi(workflowId) }, ...status };
    },
  },
  {
    method: 'GET',
    url: '/v1/decommissions/:id/report',
    access: 'authenticated',
    schema: {
      operationId: 'getDecommissionReport',
      summary: 'Final report of an ended decommission (JSON, or Markdown with `Accept: text/markdown` or `?format=markdown`)',
      tags: ['decommissions'],
      params: idParams,
      querystring: {
        type: 'object',
        properties: { format: { type: 'string', enum: ['json', 'markdown'], description: 'overrides the Accept header' } },
        additionalProperties: false,
      },
      response: { 200: jsonSchemaOf(reportSchema, 'output'), ...errorResponses(400, 401, 404, 409, 503) },
      alternativeContent: { 200: { 'text/markdown': { type: 'string' } } },
    },
    handler: async (ctx, request, reply) => {
      const { id } = request.params as { id: string };
      const { format } = request.query as { format?: 'json' | 'markdown' };
      const report = await ctx.client.getReport(id);
      const markdown = format ? format === 'markdown' : prefersMarkdown(request.headers.accept);
      if (!markdown) return report;
      return reply.type('text/markdown; charset=utf-8').send(renderReportMarkdown(report));
    },
  },
];

/** True when the Accept header ranks text/markdown above JSON (absent or `*\/*`: JSON). */
function prefersMarkdown(accept: string | undefined): boolean {
  if (!accept) return false;
  const quality = (type: string): number => {
    for (const part of accept.split(',')) {
      const [media = '', ...params] = part.trim().split(';');
      if (media.trim().toLowerCase() !== type) continue;
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return q ? Number(q.slice(2)) || 0 : 1;
    }
    return 0;
  };
  return quality('text/markdown') > quality('application/json');
}
