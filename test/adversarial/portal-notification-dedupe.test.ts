import { SNSClient } from '@aws-sdk/client-sns';
import { snsTopicSink } from '../../src/activities/notify-sinks';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, seedStore, waitForPhase } from '../support/scenario';

/**
 * Adversarial (issue 13 §4, notifications): the dedupe key is documented as "unique per run and transition"
 * (src/shared/notifications.ts) but is `${workflowId}/${transition}`, and every decommission of a store runs
 * under the same workflow ID (`kms-decommission-<store>`, reuse policy ALLOW_DUPLICATE). On an SNS FIFO topic the
 * key's hash is the MessageDeduplicationId, so SNS silently drops the next run's AWAITING_APPROVAL (or
 * CANCELLED, FAILED, BLOCKED/<kind>-1 …) published within 5 minutes of the previous run's, while the run's status
 * says it was delivered. Consumers of a standard topic or the webhook are told to drop a repeated dedupeKey:
 * they would drop it forever. Approvers are never told that the new run awaits them.
 *
 * Expected (asserted): each run's AWAITING_APPROVAL reaches the topic.
 */

let h: Harness;
let snsEmulator: RunningEmulator;
let sns: SNSClient;
let topicArn: string;

beforeAll(async () => {
  snsEmulator = await startEmulator({ quotaScale: 0 });
  sns = new SNSClient({ endpoint: snsEmulator.url, region: snsEmulator.region, credentials: snsEmulator.credentials, maxAttempts: 1 });
  topicArn = `arn:aws:sns:${snsEmulator.region}:${snsEmulator.account}:decommissions.fifo`;
  h = await startHarness({ emulator: { dayMs: 2_000 }, deps: { notify: { sinks: [snsTopicSink(sns, topicArn)] } } });
});
afterAll(async () => {
  await h?.close();
  sns?.destroy();
  await snsEmulator?.close();
});

async function awaitingApprovalMessages(workflowId: string): Promise<number> {
  const messages = await snsEmulator.admin.snsMessages(topicArn);
  return messages.filter(
    (m) => m.messageAttributes.workflowId?.stringValue === workflowId && m.messageAttributes.transition?.stringValue === 'AWAITING_APPROVAL',
  ).length;
}

test("a store's second decommission within 5 minutes: its AWAITING_APPROVAL notification reaches the FIFO topic", async () => {
  const store = await seedStore(h, { enabled: 1, disabled: 0, bystanders: 0, aliases: false });
  const workflowId = workflowIdFor(store.storeId);

  // Run 1: awaits approval (notified), then the requester cancels it (wrong ticket).
  await h.decommissions.startDecommission(fastInput(store.storeId, { ticket: 'CHG-1' }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await eventually(
    () => awaitingApprovalMessages(workflowId),
    (n) => n === 1,
    20_000,
    'run 1 notified',
  );
  await h.decommissions.cancel(store.storeId, { by: 'alice', reason: 'wrong ticket' });
  expect((await h.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');

  // Run 2, a minute later at most: the approvers must be told again.
  await h.decommissions.startDecommission(fastInput(store.storeId, { ticket: 'CHG-2' }));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  const status = await eventually(
    () => h.decommissions.getStatus(store.storeId),
    (s) => s.notifications?.[0]?.status !== 'pending',
    20_000,
    'run 2 notification settled',
  );
  try {
    expect({
      statusSays: status.notifications?.map((n) => [n.transition, n.status, n.delivered]),
      topicHolds: await awaitingApprovalMessages(workflowId),
    }).toEqual({ statusSays: [['AWAITING_APPROVAL', 'delivered', ['sns']]], topicHolds: 2 });
  } finally {
    await h.temporal.workflow
      .getHandle(workflowId)
      .terminate('adversarial test cleanup')
      .catch(() => undefined);
  }
}, 120_000);
