import { createDecisionVerifier, generateDecisionKeyPair } from '../../src/decisions/signing';
import { slackWebhookSink } from '../../src/activities/notify-sinks';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, seedStore } from '../support/scenario';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/**
 * Adversarial (issue 13 §2 and §4). On a deployment that requires signed decisions, an *unsigned* start (the raw
 * Temporal CLI: anyone with namespace access) is refused in VALIDATING and the run ends FAILED, and FAILED is
 * notified. The notification shows the request's free-text `requestedBy` and `ticket` as "Requested by" and
 * "Ticket", exactly like a verified request's: anyone with namespace access can post, at will and for any store
 * ID, a message into the ops channel (or the SNS topic that pages on-call) that names a real colleague as the
 * requester and carries a text of their choosing. The verified-identity work makes the portal and the status
 * mark verified identities; the notifications do not.
 *
 * Expected (asserted): no notification presents an unverified identity as the requester.
 */

let receiver: WebhookReceiver;
let h: Harness;

beforeAll(async () => {
  const trusted = await generateDecisionKeyPair('api-1');
  receiver = await startWebhookReceiver();
  h = await startHarness({
    emulator: { dayMs: 2_000 },
    deps: {
      policy: { requireApproval: true, allowSelfApproval: false, requireSignedDecisions: true },
      verifyDecision: createDecisionVerifier(trusted.publicJwks),
      notify: { sinks: [slackWebhookSink(receiver.url)], links: { portalUrl: 'https://portal.example.com' } },
    },
  });
});
afterAll(async () => {
  await h?.close();
  await receiver?.close();
});

test('an unsigned start (refused) is not announced as requested by whoever it names', async () => {
  const store = await seedStore(h, { enabled: 1, disabled: 0, bystanders: 0, aliases: false });
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission(
    fastInput(store.storeId, { requestedBy: 'dev|bob', ticket: 'CAB approved - re-approve at https://sso-portal.evil.example now' }),
  );
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('FAILED');
  const bodies = await eventually(
    async () => receiver.accepted().filter((r) => r.body.includes(workflowId)),
    (found) => found.length > 0,
    10_000,
    'a notification',
  ).catch(() => []);
  const claimsRequester = bodies.filter((r) => /Requested by\*?\\n(?!.*unverified)dev\|bob/.test(r.body));
  expect(claimsRequester.map((r) => JSON.parse(r.body) as unknown)).toEqual([]);
}, 60_000);
