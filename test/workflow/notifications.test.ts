import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, createCloudTrailClient, createKmsClient, createKmsRateLimiter } from '../../src/activities';
import { slackWebhookSink } from '../../src/activities/notify-sinks';
import { workflowIdFor } from '../../src/shared/messages';
import { eventually, startHarness, temporalAddress, workflowBundle, type Harness } from '../support/harness';
import { createKeyOutOfBand, fastInput, seedStore, waitForPhase } from '../support/scenario';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/**
 * Notifications (issue 13 §4) from the workflow's side: one per transition that needs a person or ends the
 * run, however often the sink fails, however often the worker restarts; a sink that is down never holds the
 * run up; the status says what was delivered.
 */

let receiver: WebhookReceiver;
let h: Harness;
const links = { portalUrl: 'https://portal.example.com', temporalUiUrl: 'http://localhost:8233' };

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  h = await startHarness({ emulator: { dayMs: 1_500 }, deps: { notify: { sinks: [slackWebhookSink(receiver.url)], links } } });
});
afterAll(async () => {
  await h?.close();
  await receiver?.close();
});

/** The dedupe keys of the messages the channel would show for one run, in order, without the workflow and run IDs. */
function acceptedKeys(workflowId: string): string[] {
  return receiver
    .accepted()
    .map((r) => r.body)
    .filter((b) => b.includes(workflowId))
    .map((b) => (b.match(new RegExp(`${workflowId}/[0-9a-f-]{36}/([A-Z_]+(?:/[A-Z_]+-\\d+)?)`)) ?? ['', ''])[1] as string);
}

test('each transition is notified once, through sink failures; a sink that is down does not hold the run up', async () => {
  const store = await seedStore(h, { enabled: 2 });
  const workflowId = workflowIdFor(store.storeId);
  receiver.failNext(2); // the first notification's first two attempts fail
  await h.decommissions.startDecommission(fastInput(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await eventually(
    async () => receiver.requests.length,
    (n) => n >= 1,
    10_000,
    'the first attempt',
  );
  // The approval is accepted and the run moves on while its notification is still being retried.
  await h.decommissions.approve(store.storeId, { approver: 'bob' });
  const movedOn = await waitForPhase(h, store.storeId, ['SCHEDULING', 'WAITING']);
  expect(movedOn.notifications?.[0]).toEqual(expect.objectContaining({ key: `${workflowId}/${movedOn.firstRunId}/AWAITING_APPROVAL`, status: 'pending' }));

  await waitForPhase(h, store.storeId, 'WAITING');
  await createKeyOutOfBand(h, store.storeId);
  const blocked = await waitForPhase(h, store.storeId, 'BLOCKED', 30_000);
  const blockerId = blocked.blocker?.id as string;
  await h.decommissions.resolve(store.storeId, { by: 'carol', action: 'schedule-new-keys', blockerId });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');

  expect(acceptedKeys(workflowId)).toEqual(['AWAITING_APPROVAL', `BLOCKED/${blockerId}`, 'COMPLETED']);
  // The two failures went to the first attempts (AWAITING_APPROVAL's, then whichever came next); each retried once.
  const ours = receiver.requests.filter((r) => r.body.includes(workflowId));
  expect(ours[0]?.body).toMatch(/\/AWAITING_APPROVAL/);
  expect(ours.map((r) => r.answer).sort()).toEqual([200, 200, 200, 500, 500]);
  const status = await h.decommissions.getStatus(store.storeId);
  expect(status.notifications?.map((n) => [n.transition, n.status, n.delivered])).toEqual([
    ['AWAITING_APPROVAL', 'delivered', ['slack']],
    ['BLOCKED', 'delivered', ['slack']],
    ['COMPLETED', 'delivered', ['slack']],
  ]);
  const blockedMessage = receiver.accepted().find((r) => r.body.includes(workflowId) && r.body.includes('/BLOCKED/'))?.body ?? '';
  expect(blockedMessage).toContain(blockerId);
  expect(blockedMessage).toContain(`${links.portalUrl}/decommissions/${workflowId}`);
  expect(blockedMessage).toContain(`${links.temporalUiUrl}/namespaces/default/workflows/${workflowId}`);
  for (const r of receiver.requests) expect(r.body).not.toContain(receiver.secret);
}, 120_000);

test('a cancel notifies CANCELLED once, before the run closes', async () => {
  const store = await seedStore(h, { enabled: 1 });
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission(fastInput(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await h.decommissions.cancel(store.storeId, { by: 'carol', reason: 'wrong store' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('CANCELLED');
  // Already delivered when the run closed: the end of the run waits for it.
  expect(acceptedKeys(workflowId)).toEqual(['AWAITING_APPROVAL', 'CANCELLED']);
  const cancelled = receiver.accepted().find((r) => r.body.includes(workflowId) && r.body.includes('/CANCELLED'))?.body ?? '';
  expect(cancelled).toContain('wrong store');
}, 60_000);

test('a worker restart replays the run and sends nothing twice', async () => {
  const store = await seedStore(h, { enabled: 1 });
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission(fastInput(store.storeId));
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
  await eventually(
    () => h.decommissions.getStatus(store.storeId),
    (s) => s.notifications?.[0]?.status === 'delivered',
    15_000,
    'AWAITING_APPROVAL delivered',
  );
  // The harness's worker stops; a fresh one (no cached workflow: it replays the history) takes over.
  h.worker.shutdown();
  await eventually(
    async () => h.worker.getState(),
    (s) => s === 'STOPPED',
    30_000,
    'the first worker stopped',
  );
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const sdkConfig = { endpoint: h.emulator.url, region: h.emulator.region, credentials: h.emulator.credentials };
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: h.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({
      kms: createKmsClient(sdkConfig),
      cloudTrail: createCloudTrailClient(sdkConfig),
      limiter: createKmsRateLimiter({ quotaScale: 0 }),
      notify: { sinks: [slackWebhookSink(receiver.url)], links },
    }),
  });
  await worker.runUntil(async () => {
    await h.decommissions.approve(store.storeId, { approver: 'bob' });
    const report = await h.decommissions.getReport(store.storeId, { wait: true });
    expect(report.outcome).toBe('COMPLETED');
  });
  await connection.close();
  expect(acceptedKeys(workflowId)).toEqual(['AWAITING_APPROVAL', 'COMPLETED']);
}, 120_000);
