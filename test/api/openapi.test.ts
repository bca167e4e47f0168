import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OPENAPI_FILE, openApiDocument, openApiText } from '../../src/api/server';
import type { OpenApiDocument, OpenApiOperation } from '../../src/api/openapi';
import { DEV_USERS } from '../../src/devtools/dev-issuer';
import { eventually, uniqueStoreId } from '../support/harness';
import { seedStoreVia, waitForPhase } from '../support/scenario';
import { startApiHarness, type ApiAnswer, type ApiHarness } from './api-harness';

/**
 * The OpenAPI document is generated from the routes' schemas and checked in; the contract tests derive from it:
 * every operation it lists is called, and every answer (success and error) must be one of the statuses the
 * document gives for that operation, in a documented media type, with a body its schema accepts (zod's
 * `fromJSONSchema` reads the document's JSON Schema).
 */

test('docs/openapi.json is the generated document (regenerate: npm run api -- --openapi)', () => {
  // Compared as JSON: the checked-in file is Prettier-formatted, the generated text is not.
  expect(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'))).toEqual(JSON.parse(openApiText()));
});

describe('contract', () => {
  let api: ApiHarness;
  const doc: OpenApiDocument = openApiDocument();
  beforeAll(async () => {
    api = await startApiHarness({ harness: { emulator: { dayMs: 400 } } });
  });
  afterAll(async () => {
    await api?.close();
  });

  interface Observation {
    operationId: string;
    case: string;
    answer: ApiAnswer;
    requestBody?: unknown;
  }
  const observations: Observation[] = [];
  const operations = new Map<string, { path: string; method: string; operation: OpenApiOperation }>();
  for (const [path, byMethod] of Object.entries(doc.paths))
    for (const [method, operation] of Object.entries(byMethod)) operations.set(operation.operationId, { path, method, operation });

  type Who = Parameters<ApiHarness['call']>[0];
  /** Calls an operation by its operationId, the path filled from `params`, and records the answer. */
  async function call(operationId: string, name: string, who: Who, params: Record<string, string> = {}, body?: unknown, query = ''): Promise<ApiAnswer> {
    const op = operations.get(operationId);
    if (!op) throw new Error(`the document has no operation ${operationId}`);
    const path = op.path.replace(/\{(\w+)\}/g, (_all, name: string) => encodeURIComponent(params[name] ?? ''));
    const answer = await api.call(who, op.method.toUpperCase() as 'GET' | 'POST', `${path}${query}`, body);
    observations.push({ operationId, case: name, answer, requestBody: body });
    return answer;
  }

  const timing = { storePollInterval: 100, driftCheckInterval: 500, verifyInterval: 200, verifyPatience: '60s', connectionCheckInterval: 200 };

  test('every operation, its successes and its documented errors', async () => {
    const anon = { headers: {} };
    await call('health', 'live', anon);
    await call('openApi', 'document', anon);

    // A dry run: started, listed, reported (JSON and Markdown).
    const dry = await seedStoreVia(api.h.emulator.admin, { enabled: 2 });
    await call('startDecommission', 'dry run', 'alice', {}, { customKeyStoreId: dry.storeId, dryRun: true, timing });
    await waitForPhase(api.h, dry.storeId, 'DRY_RUN_COMPLETE');
    await call('getDecommissionReport', 'dry-run report', 'carol', { id: dry.storeId });
    const markdown = await call(
      'getDecommissionReport',
      'dry-run report as Markdown',
      { token: await api.issuer.mint('carol'), headers: { accept: 'text/markdown' } },
      { id: dry.storeId },
    );
    expect(markdown.headers.get('content-type')).toMatch(/^text\/markdown/);

    // A real run through approve, a blocker resolved, and a cancel (which rolls back).
    const store = await seedStoreVia(api.h.emulator.admin, { enabled: 2 });
    await call('startDecommission', 'start', 'alice', {}, { customKeyStoreId: store.storeId, pendingWindowInDays: 30, timing });
    await call('startDecommission', 'start again (already running)', 'alice', {}, { customKeyStoreId: store.storeId, pendingWindowInDays: 30, timing });
    await waitForPhase(api.h, store.storeId, 'AWAITING_APPROVAL');
    await call('getDecommission', 'status', 'mallory', { id: store.storeId });
    await call('getDecommissionReport', 'report of a running run', 'carol', { id: store.storeId });
    await call('listDecommissions', 'list by store', 'carol', {}, undefined, `?store=${store.storeId}&running=true&limit=5`);
    await call('listDecommissions', 'list by phase', 'carol', {}, undefined, '?phase=AWAITING_APPROVAL');
    await call('approveDecommission', 'approve', 'bob', { id: store.storeId }, { comment: 'CAB ok' });
    await waitForPhase(api.h, store.storeId, 'WAITING');
    await call('resolveDecommission', 'resolve with no blocker', 'carol', { id: store.storeId }, { action: 'reconnect', blockerId: 'STORE_NOT_CONNECTED-1' });
    await api.h.emulator.admin.setStoreState(store.storeId, { connectionState: 'DISCONNECTED' });
    const blocked = await waitForPhase(api.h, store.storeId, 'BLOCKED');
    await call(
      'resolveDecommission',
      'resolve',
      'carol',
      { id: store.storeId },
      { action: 'reconnect', blockerId: blocked.blocker?.id, comment: 'reconnect it' },
    );
    await waitForPhase(api.h, store.storeId, 'WAITING');
    await call('cancelDecommission', 'cancel', 'bob', { id: store.storeId }, { reason: 'changed our mind' });
    await waitForPhase(api.h, store.storeId, 'CANCELLED');
    await call('approveDecommission', 'approve an ended run', 'bob', { id: store.storeId }, {});
    await call('cancelDecommission', 'cancel an ended run', 'bob', { id: store.storeId }, { reason: 'again' });
    await eventually(
      async () => (await api.call('carol', 'GET', `/v1/decommissions/${store.storeId}/report`)).status,
      (s) => s === 200,
      10_000,
      'the cancelled run’s report',
    );
    await call('getDecommissionReport', 'cancelled report', 'carol', { id: store.storeId });

    // Errors every operation documents.
    // A store no test ever decommissioned (the dev server is shared by every suite).
    const unknown = uniqueStoreId();
    for (const [operationId, { operation }] of operations) {
      if (operation.security?.length === 0) continue;
      const hasId = operation.parameters?.some((p) => p.in === 'path');
      const body = operation.requestBody ? {} : undefined;
      await call(operationId, 'no token', anon, { id: unknown }, body);
      await call(operationId, 'expired token', { token: await api.issuer.mint('bob', { expiresInSeconds: -300 }) }, { id: unknown }, body);
      if (operation['x-required-role']) await call(operationId, 'missing role', 'mallory', { id: unknown }, body);
      if (hasId)
        await call(
          operationId,
          'malformed id',
          'bob',
          { id: 'not an id!' },
          operationId === 'resolveDecommission' ? { action: 'retry', blockerId: 'X-1' } : body,
        );
      if (hasId && operationId !== 'resolveDecommission')
        await call(operationId, 'unknown id', 'bob', { id: unknown }, operationId === 'cancelDecommission' ? { reason: 'x' } : body);
      if (operation.requestBody) await call(operationId, 'bad body', 'dave', { id: unknown }, { unexpected: true });
    }
    await call('resolveDecommission', 'unknown id', 'carol', { id: unknown }, { action: 'retry', blockerId: 'STEP_FAILED-1' });
    await call('listDecommissions', 'bad filter', 'carol', {}, undefined, '?phase=SLEEPING');

    // Every answer is documented for its operation: status, media type, body shape.
    const failures: string[] = [];
    for (const o of observations) {
      const { operation } = operations.get(o.operationId)!;
      const documented = operation.responses[String(o.answer.status)];
      if (!documented) {
        failures.push(`${o.operationId} (${o.case}): status ${o.answer.status} is not documented: ${o.answer.text.slice(0, 200)}`);
        continue;
      }
      const mediaType = (o.answer.headers.get('content-type') ?? '').split(';')[0].trim();
      const content = documented.content[mediaType];
      if (!content) {
        failures.push(`${o.operationId} (${o.case}): ${mediaType} is not a documented media type of ${o.answer.status}`);
        continue;
      }
      const parsed = z.fromJSONSchema(content.schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(o.answer.body);
      if (!parsed.success)
        failures.push(`${o.operationId} (${o.case}) ${o.answer.status}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      // What a success was sent is what the document says a request may be.
      if (o.answer.status < 300 && o.requestBody !== undefined && operation.requestBody) {
        const sent = z
          .fromJSONSchema(operation.requestBody.content['application/json'].schema as Parameters<typeof z.fromJSONSchema>[0])
          .safeParse(o.requestBody);
        if (!sent.success) failures.push(`${o.operationId} (${o.case}): the accepted request does not match the documented body`);
      }
    }
    expect(failures).toEqual([]);

    // Coverage: every operation succeeded at least once, and every documented status but 503 was seen.
    const seen = new Map<string, Set<string>>();
    for (const o of observations) seen.set(o.operationId, (seen.get(o.operationId) ?? new Set()).add(String(o.answer.status)));
    const missing: string[] = [];
    for (const [operationId, { operation }] of operations)
      for (const status of Object.keys(operation.responses))
        if (status !== '503' && !seen.get(operationId)?.has(status)) missing.push(`${operationId} ${status}`);
    expect(missing).toEqual([]);

    // The run's decisions are the callers' subjects.
    const report = observations.find((o) => o.case === 'cancelled report')!.answer.body as { decisions: { what: string; by: string }[] };
    expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual([
      `requested:${DEV_USERS.alice.subject}`,
      `approved:${DEV_USERS.bob.subject}`,
      `resolved:${DEV_USERS.carol.subject}`,
      `cancelled:${DEV_USERS.bob.subject}`,
    ]);
  }, 120_000);

  test('GET /openapi.json serves the generated document', async () => {
    const served = await api.call({ headers: {} }, 'GET', '/openapi.json');
    expect(served.status).toBe(200);
    expect(served.body).toEqual(doc);
  });
});
