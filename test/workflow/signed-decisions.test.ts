import { generateDecisionKeyPair, importDecisionSigningKey, createDecisionVerifier, type DecisionSigningKey } from '../../src/decisions/signing';
import type { DecisionKind } from '../../src/shared/decisions';
import { signedAsPortal, type SignOptions } from '../support/signing';
import { workflowIdFor } from '../../src/shared/messages';
import type { DecommissionInput } from '../../src/shared/types';
import { startHarness, type Harness } from '../support/harness';
import { createKeyOutOfBand, fastInput, mutatingCalls, seedStore, waitForPhase } from '../support/scenario';

/**
 * A deployment that requires signed decisions (issue 13 §2): the workflow verifies the portal API's signature
 * of every decision in an activity before acting on it. Everything here is what someone with only Temporal
 * namespace access (the raw CLI, a client of their own) could try: no signature, another person's
 * signature, a signature moved to another request, run or kind, an expired one, one from an untrusted key,
 * the same one twice.
 */

let h: Harness;
let apiKey: DecisionSigningKey;
let strangerKey: DecisionSigningKey;

beforeAll(async () => {
  const trusted = await generateDecisionKeyPair('api-1');
  const stranger = await generateDecisionKeyPair('api-1'); // same kid, other key: the signature itself must fail
  apiKey = await importDecisionSigningKey(trusted.privateJwk);
  strangerKey = await importDecisionSigningKey(stranger.privateJwk);
  h = await startHarness({
    emulator: { dayMs: 1_000 },
    deps: {
      policy: { requireApproval: true, allowSelfApproval: false, requireSignedDecisions: true },
      verifyDecision: createDecisionVerifier(trusted.publicJwks),
    },
  });
});
afterAll(async () => {
  await h?.close();
});

/** What the portal API does: the identity field is the subject, and the request without signature is signed. */
function signed<R extends object>(kind: DecisionKind, storeId: string, sub: string, request: R, options: SignOptions & { key?: DecisionSigningKey } = {}) {
  return signedAsPortal(h, options.key ?? apiKey, kind, storeId, sub, request, options);
}

async function signedStart(storeId: string, extra: Partial<DecommissionInput> = {}): Promise<DecommissionInput> {
  return signed('start', storeId, 'alice', fastInput(storeId, extra));
}

/** How a run refused at its start ends: FAILED, with the reason, nothing changed. */
async function refusedAtStart(storeId: string): Promise<string> {
  const report = await h.decommissions.getReport(storeId, { wait: true });
  expect(report.outcome).toBe('FAILED');
  return report.reason ?? '';
}

test('an unsigned start (the raw Temporal CLI) fails before reading or changing anything', async () => {
  const store = await seedStore(h, { enabled: 1 });
  await h.decommissions.startDecommission(fastInput(store.storeId));
  expect(await refusedAtStart(store.storeId)).toMatch(
    /nothing was changed: this deployment requires signed decisions: start the decommission through the portal API/,
  );
  expect(await mutatingCalls(h, store)).toEqual([]);
});

test('a start signed for someone else than requestedBy, or whose request changed after signing, is refused', async () => {
  const store = await seedStore(h, { enabled: 1 });
  const changed = { ...(await signed('start', store.storeId, 'bob', fastInput(store.storeId, { requestedBy: 'bob' }))), requestedBy: 'alice' };
  await h.decommissions.startDecommission(changed);
  expect(await refusedAtStart(store.storeId)).toMatch(/signed request differs from the request received/);

  const other = await seedStore(h, { enabled: 1 });
  const asBob = await signed('start', other.storeId, 'bob', fastInput(other.storeId, { requestedBy: 'alice' }));
  await h.decommissions.startDecommission(asBob);
  expect(await refusedAtStart(other.storeId)).toMatch(/requestedBy must be the signature's verified subject "bob"/);
  expect([...(await mutatingCalls(h, store)), ...(await mutatingCalls(h, other))]).toEqual([]);
});

test('approve: only a valid signature of someone other than the verified requester, once, is accepted', async () => {
  const store = await seedStore(h, { enabled: 2 });
  const other = await seedStore(h, { enabled: 1 });
  await h.decommissions.startDecommission(await signedStart(store.storeId));
  const awaiting = await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  expect(awaiting.requester).toEqual({ subject: 'alice', name: 'alice@example.com', verified: true });

  const refusals: [string, object, RegExp][] = [
    ['unsigned (raw CLI)', { approver: 'bob' }, /requires signed decisions: approve through the portal API/],
    ['signed by the requester', await signed('approve', store.storeId, 'alice', { approver: 'alice' }), /Four-eyes rule/],
    [
      'bob signed, approver changed to carol',
      { ...(await signed('approve', store.storeId, 'bob', { approver: 'bob' })), approver: 'carol' },
      /signed request differs/,
    ],
    ['comment added after signing', { ...(await signed('approve', store.storeId, 'bob', { approver: 'bob' })), comment: 'lgtm' }, /signed request differs/],
    [
      'signed for another store',
      await signed('approve', store.storeId, 'bob', { approver: 'bob' }, { workflowId: workflowIdFor(other.storeId) }),
      /signature is for workflow kms-decommission-cks-/,
    ],
    [
      'signed for an earlier decommission of this store',
      await signed('approve', store.storeId, 'bob', { approver: 'bob' }, { run: 'an-earlier-run' }),
      /signature is for another decommission of this store \(run an-earlier-run\)/,
    ],
    ['a cancel signature on an approve', await signed('cancel', store.storeId, 'bob', { approver: 'bob' }), /signature is for a cancel decision, not approve/],
    ['an untrusted key', await signed('approve', store.storeId, 'bob', { approver: 'bob' }, { key: strangerKey }), /bad signature/],
    ['expired', await signed('approve', store.storeId, 'bob', { approver: 'bob' }, { ttlSeconds: -120 }), /expired/],
    ['garbage', { approver: 'bob', signature: 'a.b.c' }, /signature not accepted/],
  ];
  for (const [what, request, reason] of refusals) {
    await expect(h.decommissions.approve(store.storeId, request as { approver: string })).rejects.toThrow(reason);
    expect([what, (await h.decommissions.getStatus(store.storeId)).approvedBy]).toEqual([what, undefined]);
  }
  expect(await mutatingCalls(h, store)).toEqual([]);

  const approval = await signed('approve', store.storeId, 'bob', { approver: 'bob', comment: 'CAB-7' });
  const ack = await h.decommissions.approve(store.storeId, approval);
  expect(ack.message).toMatch(/^Approved by bob/);
  // The same signed approval again: refused, whatever the state (here: already approved).
  await expect(h.decommissions.approve(store.storeId, approval)).rejects.toThrow(/Already approved by bob|already used once/);
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  expect(report.decisions.filter((d) => d.what === 'requested' || d.what === 'approved')).toEqual([
    expect.objectContaining({ what: 'requested', by: 'alice', verified: true, name: 'alice@example.com' }),
    expect.objectContaining({ what: 'approved', by: 'bob', verified: true, name: 'bob@example.com', detail: 'CAB-7' }),
  ]);
}, 90_000);

test('two signed approvals at once: exactly one is accepted', async () => {
  const store = await seedStore(h, { enabled: 1 });
  await h.decommissions.startDecommission(await signedStart(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  const results = await Promise.allSettled([
    h.decommissions.approve(store.storeId, await signed('approve', store.storeId, 'bob', { approver: 'bob' })),
    h.decommissions.approve(store.storeId, await signed('approve', store.storeId, 'carol', { approver: 'carol' })),
  ]);
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([
    expect.stringMatching(/Already approved/),
  ]);
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.decisions.filter((d) => d.what === 'approved')).toHaveLength(1);
}, 90_000);

test('cancel and resolve: unsigned refused; the requester cannot resolve a deletion decision with a signature of their own', async () => {
  const store = await seedStore(h, { enabled: 1 });
  await h.decommissions.startDecommission(await signedStart(store.storeId, { pendingWindowInDays: 7 }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.approve(store.storeId, await signed('approve', store.storeId, 'bob', { approver: 'bob' }));
  await waitForPhase(h, store.storeId, 'WAITING');
  await createKeyOutOfBand(h, store.storeId);
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  const blockerId = blocked.blocker?.id as string;
  expect(blocked.blocker?.allowedActions).toContain('schedule-new-keys');

  await expect(h.decommissions.resolve(store.storeId, { by: 'bob', action: 'schedule-new-keys', blockerId })).rejects.toThrow(
    /requires signed decisions: resolve/,
  );
  await expect(h.decommissions.cancel(store.storeId, { by: 'bob', reason: 'unsigned' })).rejects.toThrow(/requires signed decisions: cancel/);
  await expect(
    h.decommissions.resolve(store.storeId, await signed('resolve', store.storeId, 'alice', { by: 'alice', action: 'schedule-new-keys', blockerId })),
  ).rejects.toThrow(/Four-eyes rule: "alice" requested this decommission/);
  // alice's own signature, with bob's name put in afterwards: the signature no longer matches.
  const aliceAsBob = { ...(await signed('resolve', store.storeId, 'alice', { by: 'alice', action: 'schedule-new-keys' as const, blockerId })), by: 'bob' };
  await expect(h.decommissions.resolve(store.storeId, aliceAsBob)).rejects.toThrow(/signed request differs/);
  expect((await h.decommissions.getStatus(store.storeId)).phase).toBe('BLOCKED');

  // A signed cancel by an operator is accepted and restores the keys.
  const ack = await h.decommissions.cancel(store.storeId, await signed('cancel', store.storeId, 'carol', { by: 'carol', reason: 'new key found' }));
  expect(ack.message).toMatch(/^Cancelling/);
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  expect(report.decisions.find((d) => d.what === 'cancelled')).toEqual(expect.objectContaining({ by: 'carol', verified: true }));
}, 120_000);
