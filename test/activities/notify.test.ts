/**
 * The `notify` activity against a local webhook receiver and the emulator's SNS through the real SDK: each sink
 * gets a notification exactly once across attempts (the heartbeat checkpoint), a failing or hanging sink fails
 * the attempt retryably naming the sink and why — never the webhook URL — and the messages carry the blocker,
 * the links and the dedupe key. The last test runs the activity on a real worker, whose retries the server drives.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { SNSClient } from '@aws-sdk/client-sns';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { Info } from '@temporalio/activity';
import { createNotifyActivities, NOTIFICATION_SINK_FAILED, type NotifyActivities } from '../../src/activities/notify';
import { notificationsConfigured, notifyFromEnv } from '../../src/activities/notify-config';
import { slackWebhookSink, snsTopicSink, type NotificationSink } from '../../src/activities/notify-sinks';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { notificationKey, type NotificationInput, type NotifyResult } from '../../src/shared/notifications';
import { activitiesFromEnv } from '../../src/worker-options';
import { eventually, temporalAddress, uniqueStoreId } from '../support/harness';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

let emu: RunningEmulator;
let sns: SNSClient;
let hook: WebhookReceiver;

const PORTAL = 'https://portal.example.com/ops';
const WEB_UI = 'https://temporal.example.com';

beforeAll(async () => {
  emu = await startEmulator({ quotaScale: 0 });
  sns = new SNSClient({ endpoint: emu.url, region: emu.region, credentials: emu.credentials, maxAttempts: 1 });
});

afterAll(async () => {
  sns.destroy();
  await emu.close();
});

beforeEach(async () => {
  await emu.admin.reset();
  hook = await startWebhookReceiver();
});

afterEach(async () => {
  await hook.close();
});

const topic = (name: string): string => `arn:aws:sns:${emu.region}:${emu.account}:${name}`;
const STANDARD = (): string => topic('decommissions');
const FIFO = (): string => topic('decommissions.fifo');

function blockedInput(overrides: Partial<NotificationInput> = {}): NotificationInput {
  const workflowId = `kms-decommission-${uniqueStoreId()}`;
  return {
    key: notificationKey(workflowId, 'run-0001', 'BLOCKED', 'blk-7'),
    workflowId,
    customKeyStoreId: workflowId.slice('kms-decommission-'.length),
    transition: 'BLOCKED',
    summary: 'Key 1234abcd was used 2 hours ago by payments-app: a person must decide',
    requestedBy: 'alice@example.com',
    ticket: 'CHG-4711',
    blocker: {
      id: 'blk-7',
      kind: 'KEY_IN_USE',
      message: 'alias/payments was used by arn:aws:iam::111122223333:role/payments',
      allowedActions: ['proceed', 'cancel'],
    },
    at: Date.parse('2026-11-30T10:00:00.000Z'),
    ...overrides,
  };
}

function notifyVia(sinks: NotificationSink[], sendTimeoutMs?: number): NotifyActivities {
  return createNotifyActivities({ sinks, links: { portalUrl: PORTAL, temporalUiUrl: WEB_UI }, ...(sendTimeoutMs ? { sendTimeoutMs } : {}) });
}

function bothSinks(topicArn = STANDARD(), sendTimeoutMs?: number): NotifyActivities {
  return notifyVia([slackWebhookSink(hook.url), snsTopicSink(sns, topicArn)], sendTimeoutMs);
}

/** Every log line an activity attempt wrote, as text (to search for secrets). */
class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.lines.push(`${level} ${message} ${JSON.stringify(meta ?? {}, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

interface Attempt {
  result?: NotifyResult;
  error?: unknown;
  heartbeats: unknown[];
  logs: string[];
  elapsedMs: number;
}

/** One activity attempt; `info.heartbeatDetails` is what the server would hand the next attempt. */
async function attempt(activities: NotifyActivities, input: NotificationInput, info: Partial<Info> = {}, env?: MockActivityEnvironment): Promise<Attempt> {
  const logger = new CapturingLogger();
  const environment = env ?? new MockActivityEnvironment({ workflowNamespace: 'ops-ns', ...info }, { logger });
  const heartbeats: unknown[] = [];
  environment.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const started = Date.now();
  try {
    const result = (await environment.run(activities.notify, input)) as NotifyResult;
    return { result, heartbeats, logs: logger.lines, elapsedMs: Date.now() - started };
  } catch (error) {
    return { error, heartbeats, logs: logger.lines, elapsedMs: Date.now() - started };
  }
}

/** The failure a sink failure must be: retryable, typed, and naming the sinks without any secret. */
function sinkFailure(run: Attempt): ApplicationFailure {
  expect(run.error).toBeInstanceOf(ApplicationFailure);
  const failure = run.error as ApplicationFailure;
  expect(failure.type).toBe(NOTIFICATION_SINK_FAILED);
  expect(failure.nonRetryable).toBeFalsy();
  expectNoSecret(failure.message, JSON.stringify(failure.details), failure.stack ?? '', String(failure.cause ?? ''));
  return failure;
}

/** Neither the webhook URL nor its secret path nor the receiver's address appears in any of `texts`. */
function expectNoSecret(...texts: string[]): void {
  const port = new URL(hook.url).port;
  for (const text of texts) {
    expect(text).not.toContain(hook.secret);
    expect(text).not.toContain('/services/T0TEST');
    expect(text).not.toContain(`127.0.0.1:${port}`);
  }
}

describe('delivery', () => {
  test('one notification reaches each sink once, with the blocker, the links and the key, and never the webhook URL', async () => {
    const input = blockedInput();
    const run = await attempt(bothSinks(FIFO()), input);
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ delivered: ['slack', 'sns'] });

    const approvalPage = `${PORTAL}/decommissions/${input.workflowId}`;
    const webUi = `${WEB_UI}/namespaces/ops-ns/workflows/${input.workflowId}`;
    const expectContent = (text: string): void => {
      for (const part of [
        input.summary,
        input.customKeyStoreId,
        'BLOCKED',
        'blk-7',
        'KEY_IN_USE',
        'alias/payments was used by arn:aws:iam::111122223333:role/payments',
        'proceed',
        'cancel',
        'alice@example.com',
        'CHG-4711',
        approvalPage,
        webUi,
        input.key,
      ]) {
        expect(text).toContain(part);
      }
    };

    // Slack: one accepted JSON POST with text and Block Kit blocks.
    expect(hook.requests).toHaveLength(1);
    const [slack] = hook.accepted();
    expect(slack?.method).toBe('POST');
    expect(slack?.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(slack?.body ?? '{}') as { text: string; blocks: { type: string }[] };
    expect(body.text).toContain(input.customKeyStoreId);
    expect(body.blocks[0]?.type).toBe('header');
    expect(body.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'context']);
    expectContent(JSON.stringify(body.blocks));
    expect(JSON.stringify(body.blocks)).toContain(`<${approvalPage}|Open the approval page>`);

    // SNS: one message, text for people and the JSON document for machines, the key as an attribute, FIFO ids.
    const [message, ...more] = await emu.admin.snsMessages();
    expect(more).toEqual([]);
    expect(message?.subject).toBe(`KMS decommission blocked, a person must decide: ${input.customKeyStoreId}`);
    expect(message?.subject?.length).toBeLessThanOrEqual(100);
    expect(message?.messageAttributes.dedupeKey).toEqual({ dataType: 'String', stringValue: input.key });
    expect(message?.messageAttributes.transition).toEqual({ dataType: 'String', stringValue: 'BLOCKED' });
    expect(message?.messageGroupId).toBe(input.workflowId);
    expect(message?.messageDeduplicationId).toBe(createHash('sha256').update(input.key).digest('hex'));
    const structure = JSON.parse(message?.message ?? '{}') as Record<string, string>;
    expectContent(structure.default ?? '');
    expect(structure.email).toBe(structure.default);
    const document = JSON.parse(structure.sqs ?? '{}') as Record<string, unknown>;
    expect(document).toEqual({
      type: 'kms-decommission.notification',
      version: 1,
      key: input.key,
      workflowId: input.workflowId,
      customKeyStoreId: input.customKeyStoreId,
      transition: 'BLOCKED',
      summary: input.summary,
      requestedBy: 'alice@example.com',
      ticket: 'CHG-4711',
      blocker: input.blocker,
      at: '2026-11-30T10:00:00.000Z',
      links: { approvalPage, webUi },
    });

    expect(run.heartbeats.at(-1)).toEqual({ key: input.key, delivered: expect.arrayContaining(['slack', 'sns']) });
    expectNoSecret(slack?.body ?? '', JSON.stringify(await emu.admin.snsMessages()), JSON.stringify(run.heartbeats), ...run.logs);
  });

  test('links are left out when their bases are not configured', async () => {
    const input = blockedInput({ transition: 'COMPLETED', key: 'k/COMPLETED', blocker: undefined, ticket: undefined });
    const run = await attempt(createNotifyActivities({ sinks: [slackWebhookSink(hook.url), snsTopicSink(sns, STANDARD())] }), input);
    expect(run.result).toEqual({ delivered: ['slack', 'sns'] });
    const slack = hook.accepted()[0]?.body ?? '';
    expect(slack).not.toContain('https://');
    expect(slack).not.toContain('Blocker');
    expect(slack).not.toContain('Ticket');
    const text = (JSON.parse((await emu.admin.snsMessages())[0]?.message ?? '{}') as { default: string }).default;
    expect(text).not.toMatch(/Approval page|Temporal Web UI|Ticket|Blocker/);
    expect(text).toContain('Notification key: k/COMPLETED');
  });

  test('text from the run cannot mention @channel or forge links in Slack', async () => {
    const input = blockedInput({ summary: '<!channel> urgent: see <https://evil.example|the portal> & approve', ticket: '<@U123>' });
    await attempt(bothSinks(), input);
    const blocks = JSON.stringify((JSON.parse(hook.accepted()[0]?.body ?? '{}') as { blocks: unknown }).blocks);
    expect(blocks).not.toContain('<!channel>');
    expect(blocks).not.toContain('<https://evil.example');
    expect(blocks).not.toContain('<@U123>');
    expect(blocks).toContain('&lt;!channel&gt; urgent: see &lt;https://evil.example|the portal&gt; &amp; approve');
  });

  test('no sink configured: delivered [] at once, nothing sent, no checkpoint', async () => {
    const run = await attempt(createNotifyActivities({ sinks: [] }), blockedInput());
    expect(run.result).toEqual({ delivered: [] });
    expect(run.heartbeats).toEqual([]);
    expect(hook.requests).toEqual([]);
  });

  test('sinks must have distinct names (a checkpoint names sinks)', () => {
    expect(() => createNotifyActivities({ sinks: [slackWebhookSink(hook.url), slackWebhookSink(hook.url)] })).toThrow(/distinct names/);
  });
});

describe('failures and retries', () => {
  test('a failing Slack sink with SNS healthy: the error names slack and its status, SNS gets exactly one message, and the retry sends only to Slack', async () => {
    const activities = bothSinks(STANDARD()); // a standard topic: nothing would hide a second publish
    const input = blockedInput();
    hook.failNext(1, 500);
    const first = await attempt(activities, input);
    const failure = sinkFailure(first);
    expect(failure.message).toBe(`notification ${input.key} not delivered to slack (HTTP 500); already delivered to sns`);
    expect(failure.details).toEqual([{ failed: [{ sink: 'slack', reason: 'HTTP 500' }], delivered: ['sns'] }]);
    expect(first.heartbeats).toEqual([{ key: input.key, delivered: ['sns'] }]);
    expect(await emu.admin.snsMessages()).toHaveLength(1);
    expect(hook.accepted()).toHaveLength(0);

    const second = await attempt(activities, input, { attempt: 2, heartbeatDetails: first.heartbeats.at(-1) });
    expect(second.result).toEqual({ delivered: ['slack', 'sns'] });
    expect(await emu.admin.snsMessages()).toHaveLength(1);
    expect(hook.requests.map((r) => r.answer)).toEqual([500, 200]);
    expectNoSecret(...first.logs, ...second.logs);
    expect(first.logs.join('\n')).toContain('slack (HTTP 500)');
  });

  test('a failing SNS sink with Slack healthy: the error names sns and the AWS error; the retry publishes only to SNS', async () => {
    const activities = bothSinks(STANDARD());
    const input = blockedInput();
    await emu.admin.setFaults([{ operation: 'Publish', errorRate: 1, errorType: 'KMSInternalException', count: 1 }]);
    const first = await attempt(activities, input);
    expect(sinkFailure(first).message).toBe(`notification ${input.key} not delivered to sns (InternalErrorException (HTTP 500)); already delivered to slack`);
    const second = await attempt(activities, input, { attempt: 2, heartbeatDetails: first.heartbeats.at(-1) });
    expect(second.result).toEqual({ delivered: ['slack', 'sns'] });
    expect(hook.requests).toHaveLength(1);
    expect(await emu.admin.snsMessages()).toHaveLength(1);
  });

  test('both sinks failing: the error names both, nothing is checkpointed, the retry sends to both', async () => {
    const activities = bothSinks(STANDARD());
    const input = blockedInput();
    hook.failNext(1, 503);
    await emu.admin.setFaults([{ operation: 'Publish', errorRate: 1, errorType: 'AccessDeniedException', count: 1 }]);
    const first = await attempt(activities, input);
    expect(sinkFailure(first).message).toBe(`notification ${input.key} not delivered to slack (HTTP 503), sns (AuthorizationErrorException (HTTP 403))`);
    expect(first.heartbeats).toEqual([]);
    const second = await attempt(activities, input, { attempt: 2, heartbeatDetails: first.heartbeats.at(-1) });
    expect(second.result).toEqual({ delivered: ['slack', 'sns'] });
    expect(hook.accepted()).toHaveLength(1);
    expect(await emu.admin.snsMessages()).toHaveLength(1);
  });

  test('a hanging webhook times out: the attempt ends after the timeout naming slack, SNS is delivered', async () => {
    hook.hangNext(1);
    const input = blockedInput();
    const run = await attempt(bothSinks(STANDARD(), 500), input);
    expect(sinkFailure(run).message).toBe(`notification ${input.key} not delivered to slack (no answer within 500 ms); already delivered to sns`);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(450);
    expect(run.elapsedMs).toBeLessThan(5_000);
    expect(await emu.admin.snsMessages()).toHaveLength(1);
  });

  test('a hanging SNS endpoint times out and names sns; the late publish may still land, carrying the key', async () => {
    await emu.admin.setFaults([{ operation: 'Publish', latencyMs: 1_500, count: 1 }]);
    const input = blockedInput();
    const run = await attempt(bothSinks(STANDARD(), 400), input);
    expect(sinkFailure(run).message).toBe(`notification ${input.key} not delivered to sns (no answer within 400 ms); already delivered to slack`);
    expect(run.elapsedMs).toBeLessThan(1_400);
    // Like SNS, the emulator finishes a request its client gave up on: a retry would publish it again, which is why
    // the key travels with every message (and why a FIFO topic is the exactly-once choice).
    const late = await eventually(
      () => emu.admin.snsMessages(),
      (messages) => messages.length === 1,
      5_000,
      'the late publish',
    );
    expect(late[0]?.messageAttributes.dedupeKey?.stringValue).toBe(input.key);
  });

  test('an unreachable webhook: the error gives the connection error, never the URL', async () => {
    const gone = await startWebhookReceiver();
    await gone.close();
    const input = blockedInput();
    const run = await attempt(notifyVia([slackWebhookSink(gone.url)]), input);
    const failure = sinkFailure(run);
    expect(failure.message).toBe(`notification ${input.key} not delivered to slack (TypeError (ECONNREFUSED))`);
    for (const text of [failure.message, failure.stack ?? '', JSON.stringify(failure.details), ...run.logs]) {
      expect(text).not.toContain(gone.secret);
      expect(text).not.toContain(new URL(gone.url).host);
    }
  });

  test('a webhook that redirects is refused (the message goes nowhere but the configured URL)', async () => {
    const { createServer } = await import('node:http');
    const redirecting = createServer((_req, res) => {
      res.writeHead(302, { location: hook.url });
      res.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(redirecting.address() as { port: number }).port}/services/T/B/redirect-secret`;
      const run = await attempt(notifyVia([slackWebhookSink(url)]), blockedInput());
      expect(sinkFailure(run).message).toMatch(/slack \(TypeError\)/);
      expect(sinkFailure(run).message).not.toContain('redirect-secret');
      expect(hook.requests).toEqual([]);
    } finally {
      redirecting.close();
    }
  });

  test("FIFO: a publish SNS accepted but the client saw fail is sent again on retry and dropped by SNS's deduplication", async () => {
    await emu.admin.setFaults([{ operation: 'Publish', errorRate: 1, errorType: 'KMSInternalException', when: 'after', count: 1 }]);
    const activities = bothSinks(FIFO());
    const input = blockedInput();
    const first = await attempt(activities, input);
    expect(sinkFailure(first).message).toMatch(/not delivered to sns \(InternalErrorException \(HTTP 500\)\)/);
    const second = await attempt(activities, input, { attempt: 2, heartbeatDetails: first.heartbeats.at(-1) });
    expect(second.result).toEqual({ delivered: ['slack', 'sns'] });
    const [message, ...more] = await emu.admin.snsMessages();
    expect(more).toEqual([]);
    expect(message?.duplicates).toBe(1);
    expect(hook.requests).toHaveLength(1);
  });

  test('a checkpoint of another notification is ignored; one naming every sink sends nothing', async () => {
    const activities = bothSinks(STANDARD());
    const input = blockedInput();
    const stale = await attempt(activities, input, {
      attempt: 2,
      heartbeatDetails: { key: `${input.workflowId}/AWAITING_APPROVAL`, delivered: ['slack', 'sns'] },
    });
    expect(stale.result).toEqual({ delivered: ['slack', 'sns'] });
    expect(hook.requests).toHaveLength(1);
    const done = await attempt(activities, input, { attempt: 3, heartbeatDetails: { key: input.key, delivered: ['sns', 'slack'] } });
    expect(done.result).toEqual({ delivered: ['slack', 'sns'] });
    expect(done.heartbeats).toEqual([]);
    expect(hook.requests).toHaveLength(1);
    expect(await emu.admin.snsMessages()).toHaveLength(1);
    // Garbage details (another version's checkpoint) are no checkpoint at all.
    const garbage = await attempt(activities, blockedInput(), { attempt: 2, heartbeatDetails: 'slack,sns' });
    expect(garbage.result).toEqual({ delivered: ['slack', 'sns'] });
    expect(hook.requests).toHaveLength(2);
  });

  test('cancellation while a sink hangs ends the attempt as cancelled, not as a sink failure', async () => {
    hook.hangNext(1);
    const env = new MockActivityEnvironment({ workflowNamespace: 'ops-ns' }, { logger: new CapturingLogger() });
    const running = attempt(bothSinks(STANDARD(), 30_000), blockedInput(), {}, env);
    await new Promise((r) => setTimeout(r, 300));
    env.cancel();
    const run = await running;
    expect(run.error).toBeInstanceOf(CancelledFailure);
    expect(run.elapsedMs).toBeLessThan(5_000);
  });
});

describe('configuration from the environment', () => {
  const base = { DECOMMISSION_PORTAL_URL: `${PORTAL}/`, TEMPORAL_UI_URL: WEB_UI, TEMPORAL_NAMESPACE: 'ops-ns' };

  test('notificationsConfigured: a webhook or a topic, blank values count as unset', () => {
    expect(notificationsConfigured({})).toBe(false);
    expect(notificationsConfigured({ DECOMMISSION_SLACK_WEBHOOK_URL: '  ', DECOMMISSION_SNS_TOPIC_ARN: '' })).toBe(false);
    expect(notificationsConfigured({ DECOMMISSION_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' })).toBe(true);
    expect(notificationsConfigured({ DECOMMISSION_SNS_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:t' })).toBe(true);
  });

  test('invalid values are refused naming the variable; the webhook URL is never quoted', () => {
    const secret = 'xoxb-not-a-url-SECRET';
    let message = '';
    try {
      notifyFromEnv({ DECOMMISSION_SLACK_WEBHOOK_URL: secret });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^DECOMMISSION_SLACK_WEBHOOK_URL must be an http\(s\) URL/);
    expect(message).not.toContain(secret);
    expect(() => notifyFromEnv({ DECOMMISSION_SLACK_WEBHOOK_URL: `ftp://x/${secret}` })).toThrow(/^DECOMMISSION_SLACK_WEBHOOK_URL must be/);
    expect(() => notifyFromEnv({ DECOMMISSION_SNS_TOPIC_ARN: 'arn:aws:sqs:us-east-1:111122223333:q' })).toThrow(
      /DECOMMISSION_SNS_TOPIC_ARN must be an SNS topic ARN/,
    );
    expect(() => notifyFromEnv({ DECOMMISSION_PORTAL_URL: 'https://user:pw@portal.example.com' })).toThrow(
      /DECOMMISSION_PORTAL_URL must not carry credentials/,
    );
    expect(() => notifyFromEnv({ TEMPORAL_UI_URL: 'javascript:alert(1)' })).toThrow(/TEMPORAL_UI_URL must be an http\(s\) URL/);
    expect(() => notifyFromEnv({ DECOMMISSION_NOTIFY_TIMEOUT_MS: '5s' })).toThrow(/DECOMMISSION_NOTIFY_TIMEOUT_MS must be an integer/);
  });

  test('the worker-built activity (activitiesFromEnv) delivers to the webhook and the topic, in the topic region, with the links', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    // The SNS client takes the SDK's default credential chain, as in production.
    process.env.AWS_ACCESS_KEY_ID = emu.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = emu.credentials.secretAccessKey;
    const wired = activitiesFromEnv({
      ...base,
      DECOMMISSION_SLACK_WEBHOOK_URL: hook.url,
      DECOMMISSION_SNS_TOPIC_ARN: FIFO(),
      AWS_ENDPOINT_URL_SNS: emu.url,
      KMS_DESCRIBE_THREADS: '0',
      KMS_QUOTA_SHARE: 'false',
    });
    try {
      const input = blockedInput();
      const run = await attempt(wired.activities, input, { workflowNamespace: undefined });
      expect(run.result).toEqual({ delivered: ['slack', 'sns'] });
      const [message] = await emu.admin.snsMessages(FIFO());
      const text = (JSON.parse(message?.message ?? '{}') as { default: string }).default;
      expect(text).toContain(`Approval page: ${PORTAL}/decommissions/${input.workflowId}`);
      expect(text).toContain(`Temporal Web UI: ${WEB_UI}/namespaces/ops-ns/workflows/${input.workflowId}`);
      expect(hook.accepted()).toHaveLength(1);
    } finally {
      await wired.close();
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  test('without sinks the worker-built notify sends nothing', async () => {
    const wired = activitiesFromEnv({ KMS_DESCRIBE_THREADS: '0', KMS_QUOTA_SHARE: 'false' });
    try {
      expect((await attempt(wired.activities, blockedInput())).result).toEqual({ delivered: [] });
    } finally {
      await wired.close();
    }
  });
});

describe('on a real worker', () => {
  test('the server-driven retry sends only to the sink that failed, even when checkpoints came faster than the heartbeat throttle', async () => {
    const logger = new CapturingLogger();
    Runtime.install({ logger });
    // A third sink that accepts at once: two checkpoints within a millisecond, the second one held back by the
    // heartbeat throttle when the attempt fails right after.
    const audit: string[] = [];
    const auditSink: NotificationSink = {
      name: 'audit',
      send: async (message) => {
        audit.push(message.input.key);
      },
    };
    const activities = notifyVia([auditSink, snsTopicSink(sns, STANDARD()), slackWebhookSink(hook.url)]);
    hook.failNext(2, 500);
    const connection = await NativeConnection.connect({ address: temporalAddress() });
    const client = await Connection.connect({ address: temporalAddress() });
    const taskQueue = `notify-${uniqueStoreId()}`;
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, 'notify-workflow.ts'), logger }),
      activities,
      maxHeartbeatThrottleInterval: 1_000,
      defaultHeartbeatThrottleInterval: 1_000,
    });
    const input = blockedInput();
    try {
      await worker.runUntil(async () => {
        const temporal = new Client({ connection: client, namespace: 'default' });
        const result = await temporal.workflow.execute('notifyOnce', { taskQueue, workflowId: input.workflowId, args: [input] });
        expect(result).toEqual({ delivered: ['audit', 'sns', 'slack'] });
      });
    } finally {
      await connection.close();
      await client.close();
    }
    expect(hook.requests.map((r) => r.answer)).toEqual([500, 500, 200]);
    expect(audit).toEqual([input.key]);
    expect((await emu.admin.snsMessages()).filter((m) => m.messageAttributes.dedupeKey?.stringValue === input.key)).toHaveLength(1);
    expect(logger.lines.join('\n')).toContain('slack (HTTP 500)');
    expectNoSecret(...logger.lines);
  });
});
