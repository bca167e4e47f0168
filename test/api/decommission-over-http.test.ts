import { createDecisionVerifier } from '../../src/decisions/signing';
import { DEV_USERS } from '../../src/devtools/dev-issuer';
import { withoutSignature, type DecisionKind } from '../../src/shared/decisions';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, uniqueStoreId } from '../support/harness';
import { fastInput, mutatingCalls, seedStoreVia, successfulCalls } from '../support/scenario';
import { startApiHarness, type ApiHarness } from './api-harness';

/**
 * A portal driving whole decommissions over HTTP with development identities: alice (requester) asks, bob
 * (approver) approves, the run completes; the identities the workflow records are the tokens' subjects, and
 * the decisions reached it signed by the API. Four-eyes holds on subjects: dave, who holds both the requester
 * and the approver role, cannot approve his own request.
 */

const DAY_MS = 400; // a 7-day waiting period lasts 2.8 s on the emulator's clock

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness({ harness: { emulator: { dayMs: DAY_MS } } });
});
afterAll(async () => {
  await api?.close();
});

const timing = fastInput('unused').timing;

async function phaseOverHttp(storeId: string, phases: string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return eventually(
    async () => (await api.call('carol', 'GET', `/v1/decommissions/${storeId}`)).body as Record<string, unknown>,
    (status) => phases.includes(status.phase as string),
    timeoutMs,
    `phase ${phases.join('|')} of ${storeId} over HTTP`,
  );
}

/** The decisions as the workflow received them: the start input and each accepted update's argument. */
async function receivedDecisions(storeId: string): Promise<{ kind: DecisionKind; request: Record<string, unknown> }[]> {
  const history = await api.h.temporal.workflow.getHandle(workflowIdFor(storeId)).fetchHistory();
  const decode = (data: Uint8Array | null | undefined) => JSON.parse(Buffer.from(data ?? []).toString('utf8')) as Record<string, unknown>;
  const decisions: { kind: DecisionKind; request: Record<string, unknown> }[] = [];
  for (const event of history.events ?? []) {
    const started = event.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (started) decisions.push({ kind: 'start', request: decode(started.data) });
    const accepted = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    const arg = accepted?.input?.args?.payloads?.[0];
    if (accepted && arg) decisions.push({ kind: accepted.input?.name as DecisionKind, request: decode(arg.data) });
  }
  return decisions;
}

test('alice requests, bob approves, over HTTP: COMPLETED, with verified subjects and signed decisions', async () => {
  const store = await seedStoreVia(api.h.emulator.admin, { enabled: 3, disabled: 1, aliases: true });
  const body = { customKeyStoreId: store.storeId, pendingWindowInDays: 7, ticket: 'CHG-4242', timing };

  const started = await api.call('alice', 'POST', '/v1/decommissions', body);
  expect(started.status).toBe(201);
  const workflowId = workflowIdFor(store.storeId);
  expect(started.body).toEqual({
    workflowId,
    runId: expect.any(String),
    alreadyRunning: false,
    links: {
      approvalPage: `http://portal.example.test/decommissions/${workflowId}`,
      webUi: `http://temporal-ui.example.test/namespaces/default/workflows/${workflowId}`,
    },
  });
  // Starting again starts nothing: the running one is answered, 200.
  const again = await api.call('alice', 'POST', '/v1/decommissions', body);
  expect([again.status, again.body.alreadyRunning, again.body.runId]).toEqual([200, true, started.body.runId]);

  const waiting = await phaseOverHttp(store.storeId, ['AWAITING_APPROVAL']);
  expect(waiting).toMatchObject({ workflowId, requestedBy: DEV_USERS.alice.subject, ticket: 'CHG-4242', counts: { inventoried: 4 } });
  // The report of a running decommission is not there yet.
  expect((await api.call('bob', 'GET', `/v1/decommissions/${workflowId}/report`)).body.error).toBe('still_running');
  // alice holds no approver role: refused by the API before the workflow is asked.
  expect((await api.call('alice', 'POST', `/v1/decommissions/${store.storeId}/approve`, {})).status).toBe(403);

  const approved = await api.call('bob', 'POST', `/v1/decommissions/${workflowId}/approve`, { comment: 'CAB-77 approved' });
  expect(approved.status).toBe(200);
  expect(approved.body).toMatchObject({ accepted: true, phase: expect.any(String), message: expect.any(String) });
  // A second approval is the workflow's to refuse: 409 with its reason.
  const twice = await api.call('bob', 'POST', `/v1/decommissions/${store.storeId}/approve`, {});
  expect(twice.status).toBe(409);
  expect(twice.body).toEqual({ error: 'rejected', message: expect.stringMatching(/approv|AWAITING_APPROVAL/i) });

  await phaseOverHttp(store.storeId, ['COMPLETED'], 90_000);
  const report = await api.call('alice', 'GET', `/v1/decommissions/${store.storeId}/report`);
  expect(report.status).toBe(200);
  expect(report.body).toMatchObject({ outcome: 'COMPLETED', ticket: 'CHG-4242', keyCount: 4, counts: { scheduled: 4, deleted: 4, remaining: 0 } });
  expect(report.body.decisions.map((d: { what: string; by: string }) => `${d.what}:${d.by}`)).toEqual([
    `requested:${DEV_USERS.alice.subject}`,
    `approved:${DEV_USERS.bob.subject}`,
  ]);
  for (const keyId of store.keyIds) expect((await successfulCalls(api.h, 'ScheduleKeyDeletion', [keyId])).length).toBe(1);

  const markdown = await api.call(
    { token: await api.issuer.mint('carol'), headers: { accept: 'text/markdown' } },
    'GET',
    `/v1/decommissions/${store.storeId}/report`,
  );
  expect(markdown.headers.get('content-type')).toMatch(/^text\/markdown/);
  expect(markdown.text).toMatch(/COMPLETED/);
  expect(markdown.text).toContain(DEV_USERS.bob.subject);
  const byQuery = await api.call('carol', 'GET', `/v1/decommissions/${store.storeId}/report?format=markdown`);
  expect(byQuery.text).toBe(markdown.text);

  const listed = await api.call('carol', 'GET', `/v1/decommissions?store=${store.storeId}`);
  expect(listed.body).toEqual({
    decommissions: [
      {
        workflowId,
        runId: started.body.runId,
        customKeyStoreId: store.storeId,
        phase: 'COMPLETED',
        status: 'COMPLETED',
        startTime: expect.any(String),
        closeTime: expect.any(String),
      },
    ],
    truncated: false,
  });
  // Search attributes reach the visibility store a moment after the run closes.
  await eventually(
    async () => (await api.call('carol', 'GET', `/v1/decommissions?store=${store.storeId}&phase=COMPLETED&running=false`)).body.decommissions.length,
    (n) => n === 1,
    10_000,
    'the completed run listed by phase',
  );
  expect((await api.call('carol', 'GET', `/v1/decommissions?store=${store.storeId}&running=true`)).body.decommissions).toEqual([]);

  // What the workflow received: the identity fields are the verified subjects, and each decision carries the
  // API's signature over exactly that request, which the worker's verifier accepts.
  const verify = createDecisionVerifier(api.decisionJwks);
  const decisions = await receivedDecisions(store.storeId);
  expect(decisions.map((d) => d.kind)).toEqual(['start', 'approve']);
  for (const { kind, request } of decisions) {
    expect(typeof request.signature).toBe('string');
    // Decisions about a running decommission are signed for it: its first run ID (the start's run).
    const received = {
      kind,
      workflowId,
      ...(kind === 'start' ? {} : { run: started.body.runId }),
      request: withoutSignature(request),
      signature: request.signature as string,
      receivedAt: Date.now(),
    };
    const verdict = await verify(received);
    expect(verdict).toMatchObject({ valid: true, subject: kind === 'start' ? DEV_USERS.alice.subject : DEV_USERS.bob.subject });
  }
  expect(decisions[0].request).toMatchObject({ requestedBy: DEV_USERS.alice.subject, ticket: 'CHG-4242' });
  expect(decisions[1].request).toMatchObject({ approver: DEV_USERS.bob.subject, comment: 'CAB-77 approved' });
}, 150_000);

test('four-eyes on subjects: dave holds requester and approver, and still cannot approve his own request; bob cancels', async () => {
  const store = await seedStoreVia(api.h.emulator.admin, { enabled: 2 });
  expect((await api.call('dave', 'POST', '/v1/decommissions', { customKeyStoreId: store.storeId, pendingWindowInDays: 7, timing })).status).toBe(201);
  await phaseOverHttp(store.storeId, ['AWAITING_APPROVAL']);

  const self = await api.call('dave', 'POST', `/v1/decommissions/${store.storeId}/approve`, { comment: 'my own' });
  expect(self.status).toBe(409);
  expect(self.body).toEqual({ error: 'rejected', message: expect.stringMatching(/Four-eyes rule/) });
  expect(self.body.message).toContain(DEV_USERS.dave.subject);
  // Nor by naming someone else in the body.
  const smuggled = await api.call('dave', 'POST', `/v1/decommissions/${store.storeId}/approve`, { approver: DEV_USERS.bob.subject });
  expect(smuggled.status).toBe(400);
  expect(smuggled.body.problems).toEqual([{ field: 'approver', rule: expect.stringMatching(/not accepted from the request body/) }]);

  const status = await api.call('dave', 'GET', `/v1/decommissions/${store.storeId}`);
  expect(status.body).toMatchObject({ phase: 'AWAITING_APPROVAL', requestedBy: DEV_USERS.dave.subject });
  expect(status.body.approvedBy).toBeUndefined();
  expect(await mutatingCalls(api.h, store)).toEqual([]);

  // dave may not cancel (no operator role); bob may.
  expect((await api.call('dave', 'POST', `/v1/decommissions/${store.storeId}/cancel`, { reason: 'mine' })).status).toBe(403);
  const cancelled = await api.call('bob', 'POST', `/v1/decommissions/${store.storeId}/cancel`, { reason: 'wrong store' });
  expect(cancelled.status).toBe(200);
  const ended = await phaseOverHttp(store.storeId, ['CANCELLED']);
  expect(ended.cancel).toMatchObject({ by: DEV_USERS.bob.subject, reason: 'wrong store' });
  expect(await mutatingCalls(api.h, store)).toEqual([]);
}, 90_000);

test('bad input: 400 naming each field and rule, in the contract’s words; unknown run: 404', async () => {
  const bad = await api.call('alice', 'POST', '/v1/decommissions', { customKeyStoreId: 'cks bad', pendingWindowInDays: 3, dryRun: 'yes', colour: 'red' });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toBe('invalid_request');
  expect(bad.body.problems).toEqual(
    expect.arrayContaining([
      { field: 'customKeyStoreId', rule: expect.stringMatching(/only letters, digits and hyphens/) },
      { field: 'pendingWindowInDays', rule: expect.stringMatching(/integer from 7 to 30/) },
      { field: 'dryRun', rule: expect.stringMatching(/true or false/) },
      { field: 'colour', rule: expect.stringMatching(/^is not a known field \(allowed: customKeyStoreId, /) },
    ]),
  );
  // The API's body lists no identity field as allowed: the caller cannot set one.
  expect(bad.body.problems.find((p: { field: string }) => p.field === 'colour').rule).not.toMatch(/requestedBy|signature/);
  // A rule JSON Schema cannot express (a duration's unit) is still the contract's.
  const unit = await api.call('alice', 'POST', '/v1/decommissions', { customKeyStoreId: 'cks-1234567890abcdef0', approvalTimeout: '3 fortnights' });
  expect(unit.status).toBe(400);
  expect(unit.body.problems).toEqual([{ field: 'approvalTimeout', rule: expect.stringMatching(/duration such as/) }]);

  const resolve = await api.call('bob', 'POST', '/v1/decommissions/cks-1234567890abcdef0/resolve', { action: 'explode', blockerId: 'x' });
  expect(resolve.status).toBe(400);
  expect(resolve.body.problems.map((p: { field: string }) => p.field).sort()).toEqual(['action', 'blockerId']);

  // A store no test ever decommissioned: the shared dev server keeps other tests' runs (and a closed run whose
  // test worker is gone cannot even answer a query).
  expect((await api.call('bob', 'POST', `/v1/decommissions/${uniqueStoreId()}/approve`, {})).status).toBe(404);
  expect((await api.call('bob', 'GET', '/v1/decommissions/not%20an%20id')).status).toBe(400);
  expect((await api.call('bob', 'GET', '/v1/nothing-here')).body.error).toBe('not_found');
});

describe('a deployment that requires signed decisions (DECOMMISSION_REQUIRE_SIGNED_DECISIONS, trusting the API’s key)', () => {
  let signed: ApiHarness;
  beforeAll(async () => {
    signed = await startApiHarness({ harness: { emulator: { dayMs: DAY_MS } }, requireSignedDecisions: true });
  });
  afterAll(async () => {
    await signed?.close();
  });

  test('the API’s signed decisions are accepted end to end; an unsigned approve is not; four-eyes compares the verified subjects', async () => {
    const store = await seedStoreVia(signed.h.emulator.admin, { enabled: 2 });
    expect((await signed.call('dave', 'POST', '/v1/decommissions', { customKeyStoreId: store.storeId, pendingWindowInDays: 7, timing })).status).toBe(201);
    await eventually(
      async () => (await signed.call('carol', 'GET', `/v1/decommissions/${store.storeId}`)).body.phase,
      (phase) => phase === 'AWAITING_APPROVAL',
      60_000,
      'the signed start to reach AWAITING_APPROVAL',
    );
    // The same approval without the API's signature (the client library, as the raw Temporal CLI would send it).
    await expect(signed.h.decommissions.approve(store.storeId, { approver: DEV_USERS.bob.subject })).rejects.toThrow(/signed/);
    const self = await signed.call('dave', 'POST', `/v1/decommissions/${store.storeId}/approve`, {});
    expect([self.status, self.body.error]).toEqual([409, 'rejected']);
    expect(self.body.message).toMatch(/Four-eyes/);
    const approved = await signed.call('bob', 'POST', `/v1/decommissions/${store.storeId}/approve`, { comment: 'signed' });
    expect(approved.status).toBe(200);
    const report = await signed.h.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
    expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual([`requested:${DEV_USERS.dave.subject}`, `approved:${DEV_USERS.bob.subject}`]);
  }, 90_000);
});
