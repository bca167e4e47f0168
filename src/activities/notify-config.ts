/**
 * The notification sinks and links of a worker, from its environment:
 * - `DECOMMISSION_SLACK_WEBHOOK_URL`: a Slack-compatible incoming webhook. A secret: it is validated without
 *   ever being echoed, and nothing (logs, errors, history, messages) ever contains it.
 * - `DECOMMISSION_SNS_TOPIC_ARN`: an SNS topic (`….fifo` for a FIFO topic). The client is the SDK's default
 *   (credential chain) in the topic's region; `AWS_ENDPOINT_URL_SNS` points it elsewhere (the emulator).
 * - `DECOMMISSION_PORTAL_URL`: the ops portal; messages link to `${portal}/decommissions/${workflowId}`.
 * - `TEMPORAL_UI_URL`: the Temporal Web UI; messages link to the run there (`TEMPORAL_NAMESPACE` is the
 *   fallback namespace; a worker knows the run's own).
 * - `DECOMMISSION_NOTIFY_TIMEOUT_MS`: how long one sink gets to accept a message (default 10000).
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { DEFAULT_NOTIFY_SEND_TIMEOUT_MS, type NotifyActivityOptions } from './notify';
import { slackWebhookSink, snsTopicSink, type NotificationSink } from './notify-sinks';

/** `arn:<partition>:sns:<region>:<account>:<topic name>`, the name 1–256 of `[A-Za-z0-9_-]` (plus `.fifo`). */
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\.fifo)$/;

function present(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** Whether any notification sink is configured (the policy says so; without one `notify` sends nothing). */
export function notificationsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return present(env, 'DECOMMISSION_SLACK_WEBHOOK_URL') !== undefined || present(env, 'DECOMMISSION_SNS_TOPIC_ARN') !== undefined;
}

/** A link base: http(s), without credentials (they would be in every message), without a trailing slash. */
function linkBase(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${name} must be an http(s) URL, got "${raw}"`);
  if (url.username || url.password) throw new Error(`${name} must not carry credentials: it is put into every notification`);
  if (url.search || url.hash) throw new Error(`${name} must be a base URL without query or fragment, got "${raw}"`);
  return url.href.replace(/\/+$/, '');
}

/** The webhook URL, checked without ever quoting it (a Slack webhook URL is the credential to post). */
function webhookUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = present(env, 'DECOMMISSION_SLACK_WEBHOOK_URL');
  if (raw === undefined) return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    // Reported below without the value.
  }
  if (protocol !== 'https:' && protocol !== 'http:')
    throw new Error('DECOMMISSION_SLACK_WEBHOOK_URL must be an http(s) URL (its value is not shown: it is a secret)');
  return raw;
}

/** The worker's notification settings; `close()` releases the SNS client. */
export interface NotifyConfig {
  options: NotifyActivityOptions;
  close(): void;
}

/** Reads the variables above; invalid values throw before anything is built, naming the variable and the rule. */
export function notifyFromEnv(env: NodeJS.ProcessEnv = process.env): NotifyConfig {
  const sinks: NotificationSink[] = [];
  const slack = webhookUrl(env);
  if (slack !== undefined) sinks.push(slackWebhookSink(slack));
  let sns: SNSClient | undefined;
  const topicArn = present(env, 'DECOMMISSION_SNS_TOPIC_ARN');
  if (topicArn !== undefined) {
    const arn = TOPIC_ARN.exec(topicArn);
    if (!arn) throw new Error(`DECOMMISSION_SNS_TOPIC_ARN must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>[.fifo]), got "${topicArn}"`);
    const endpoint = present(env, 'AWS_ENDPOINT_URL_SNS');
    // Publish goes to the topic's region. One attempt per activity attempt: the activity's retry policy retries, and
    // an SDK retry after a timeout would publish twice.
    sns = new SNSClient({ region: arn[1], maxAttempts: 1, ...(endpoint ? { endpoint } : {}) });
    sinks.push(snsTopicSink(sns, topicArn));
  }
  const timeout = present(env, 'DECOMMISSION_NOTIFY_TIMEOUT_MS');
  const sendTimeoutMs = timeout === undefined ? DEFAULT_NOTIFY_SEND_TIMEOUT_MS : Number(timeout);
  if (!Number.isInteger(sendTimeoutMs) || sendTimeoutMs < 100 || sendTimeoutMs > 300_000) {
    throw new Error(`DECOMMISSION_NOTIFY_TIMEOUT_MS must be an integer between 100 and 300000 (milliseconds), got "${timeout}"`);
  }
  const portalUrl = linkBase(env, 'DECOMMISSION_PORTAL_URL');
  const temporalUiUrl = linkBase(env, 'TEMPORAL_UI_URL');
  const namespace = present(env, 'TEMPORAL_NAMESPACE');
  return {
    options: {
      sinks,
      links: { ...(portalUrl ? { portalUrl } : {}), ...(temporalUiUrl ? { temporalUiUrl } : {}), ...(namespace ? { namespace } : {}) },
      sendTimeoutMs,
    },
    close: () => sns?.destroy(),
  };
}
