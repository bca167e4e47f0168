/**
 * The places a notification goes: a Slack-compatible incoming webhook and an Amazon SNS topic.
 *
 * A sink's name is the only thing about it that may appear in results, checkpoints, logs and errors: the
 * webhook URL is a credential (anyone holding it can post to the channel), so a failure is described by the
 * sink's name and the HTTP status or error name ({@link describeSinkError}), never by an error's message,
 * which for `fetch` can quote the URL.
 */
import { createHash } from 'node:crypto';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { RenderedNotification } from './notify-message';

/** One destination of notifications. */
export interface NotificationSink {
  /** Short and never secret: it names the sink in results, checkpoints and errors (`slack`, `sns`). */
  readonly name: string;
  /** Resolves once the destination accepted the message; rejects (see {@link describeSinkError}) otherwise. */
  send(message: RenderedNotification, signal: AbortSignal): Promise<void>;
}

/** A destination answered with a status other than 2xx. */
export class SinkHttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
    this.name = 'SinkHttpError';
  }
}

/**
 * Why a send failed, safe to log and to put into workflow history: the HTTP status, the AWS error name or
 * the error's name (plus a system error code such as `ECONNREFUSED`). Never an error's message.
 */
export function describeSinkError(err: unknown): string {
  if (err instanceof SinkHttpError) return `HTTP ${err.status}`;
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown }; cause?: { code?: unknown } } | undefined;
  const name = typeof e?.name === 'string' && /^[\w.$-]{1,100}$/.test(e.name) ? e.name : 'Error';
  const status = typeof e?.$metadata?.httpStatusCode === 'number' ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
  const code = typeof e?.cause?.code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(e.cause.code) ? ` (${e.cause.code})` : '';
  return `${name}${status}${code}`;
}

/**
 * A Slack incoming webhook, or anything that takes the same body (Mattermost, Rocket.Chat, …): a JSON POST of
 * `text` and Block Kit `blocks`. Any 2xx is acceptance. Redirects are refused, so the message (and the
 * request) never goes anywhere but the configured URL.
 */
export function slackWebhookSink(webhookUrl: string, name = 'slack'): NotificationSink {
  return {
    name,
    async send(message, signal) {
      const response = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(message.slack),
        redirect: 'error',
        signal,
      });
      // Drain the body so the connection can be reused; its text is never reported (it may echo the request).
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new SinkHttpError(response.status);
    },
  };
}

/** An SNS FIFO topic's ARN ends in `.fifo`. */
export function isFifoTopic(topicArn: string): boolean {
  return topicArn.endsWith('.fifo');
}

/** A MessageDeduplicationId for a notification key: hex SHA-256 (64 characters, within SNS's 128 and its alphabet). */
export function snsDeduplicationId(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** SNS MessageGroupId: up to 128 alphanumerics and punctuation; anything else is hashed into that alphabet. */
export function snsMessageGroupId(workflowId: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(workflowId) ? workflowId : createHash('sha256').update(workflowId).digest('hex');
}

/**
 * An SNS topic. The message is a per-protocol JSON structure (`MessageStructure: 'json'`): people (email, SMS)
 * get the plain text, machines (SQS, Lambda, HTTP) the JSON document. Every message carries the notification
 * key and the transition as message attributes (subscription filter policies can select on `transition`);
 * on a FIFO topic MessageGroupId is the workflow id and MessageDeduplicationId a hash of the key, so SNS
 * itself drops a repeat within its 5-minute deduplication interval.
 */
export function snsTopicSink(client: SNSClient, topicArn: string, name = 'sns'): NotificationSink {
  const fifo = isFifoTopic(topicArn);
  return {
    name,
    async send(message, signal) {
      const { input } = message;
      const json = JSON.stringify(message.document);
      await client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: message.subject,
          MessageStructure: 'json',
          Message: JSON.stringify({
            default: message.text,
            email: message.text,
            sms: message.subject,
            sqs: json,
            lambda: json,
            http: json,
            https: json,
            firehose: json,
          }),
          MessageAttributes: {
            dedupeKey: { DataType: 'String', StringValue: input.key },
            transition: { DataType: 'String', StringValue: input.transition },
            workflowId: { DataType: 'String', StringValue: input.workflowId },
            customKeyStoreId: { DataType: 'String', StringValue: input.customKeyStoreId },
          },
          ...(fifo ? { MessageGroupId: snsMessageGroupId(input.workflowId), MessageDeduplicationId: snsDeduplicationId(input.key) } : {}),
        }),
        { abortSignal: signal },
      );
    },
  };
}
