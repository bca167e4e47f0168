/**
 * A minimal Amazon SNS: topics (standard and FIFO), `CreateTopic` and `Publish`, and a record of every message
 * delivered, for tests to read through the admin API. No subscriptions: "delivered" means accepted for delivery
 * and kept here.
 *
 * Every well-formed topic ARN of the emulator's region and account exists (a topic is created on its first
 * `Publish` with the defaults: FIFO when the name ends in `.fifo`, no content-based deduplication), so a worker
 * can be pointed at a topic without a setup step; `CreateTopic` makes one with attributes. FIFO topics drop a
 * message whose deduplication id was already accepted within the last 5 minutes (emulated clock): the
 * `Publish` succeeds, answering the first message's id, and nothing is delivered twice — as SNS does.
 *
 * Validation follows the SNS API Reference (Publish, CreateTopic); messages are worded like SNS's
 * `InvalidParameter` answers. Not persisted: the state file holds KMS state only.
 */
import { createHash, randomUUID } from 'node:crypto';

/** SNS's FIFO deduplication interval. */
export const SNS_DEDUPLICATION_WINDOW_MS = 5 * 60_000;
/** Largest message (body plus attributes), in bytes. */
export const SNS_MAX_MESSAGE_BYTES = 262_144;
/** Delivered messages kept for the admin API; the oldest go beyond it. */
const MAX_KEPT_MESSAGES = 10_000;
const MAX_ATTRIBUTES = 10;

/** An answer SNS gives as `<Error><Code>` (the SDK names it `<Code>Exception`, e.g. `InvalidParameterException`). */
export class SnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'SnsError';
  }

  /** `Sender` for client errors, `Receiver` for server faults (the `<Type>` of the error document). */
  get type(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

function invalidParameter(what: string): SnsError {
  return new SnsError('InvalidParameter', `Invalid parameter: ${what}`);
}

/** A message attribute as sent (`MessageAttributes.entry.N.Value`). */
export interface SnsMessageAttribute {
  dataType: string;
  stringValue?: string;
  /** Base64, as on the wire. */
  binaryValue?: string;
}

/** The members of a Publish request the emulator reads. */
export interface PublishRequest {
  topicArn?: string;
  targetArn?: string;
  phoneNumber?: string;
  message?: string;
  subject?: string;
  messageStructure?: string;
  messageAttributes: Record<string, SnsMessageAttribute>;
  messageGroupId?: string;
  messageDeduplicationId?: string;
}

/** A delivered message, as the admin API returns it. */
export interface SnsPublishedMessage {
  messageId: string;
  topicArn: string;
  /** The Message member as sent (with `messageStructure: 'json'`, the per-protocol JSON document). */
  message: string;
  subject?: string;
  messageStructure?: string;
  messageAttributes: Record<string, SnsMessageAttribute>;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  /** FIFO topics only. */
  sequenceNumber?: string;
  /** Emulated epoch ms. */
  publishedAt: number;
  /** The access key that signed the request. */
  accessKeyId: string;
  /** Later Publish calls dropped as duplicates of this message (FIFO deduplication). */
  duplicates: number;
}

/** A topic, as the admin API returns it. */
export interface SnsTopicInfo {
  topicArn: string;
  fifo: boolean;
  contentBasedDeduplication: boolean;
  /** Made by CreateTopic (false: came into being with its first Publish). */
  created: boolean;
  /** Messages delivered, and Publish calls dropped as duplicates. */
  delivered: number;
  duplicates: number;
}

/** What Publish answers. */
export interface PublishResult {
  messageId: string;
  sequenceNumber?: string;
}

interface Topic {
  arn: string;
  fifo: boolean;
  contentBasedDeduplication: boolean;
  created: boolean;
  delivered: number;
  duplicates: number;
  nextSequence: bigint;
  /** Deduplication id → the message it first delivered (within the window). */
  recent: Map<string, SnsPublishedMessage>;
}

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const FIFO_TOPIC_NAME = /^[A-Za-z0-9_-]{1,251}\.fifo$/;
/** MessageGroupId and MessageDeduplicationId: 1–128 alphanumerics and punctuation. */
const FIFO_TOKEN = /^[\x21-\x7e]{1,128}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const ATTRIBUTE_TYPE = /^(String|Number|Binary)(\.[\x21-\x7e]{1,256})?$|^String\.Array$/;

/** The emulator's SNS: topics of one region and account. */
export class SnsService {
  private readonly topics = new Map<string, Topic>();
  private messages: SnsPublishedMessage[] = [];

  constructor(
    private readonly region: string,
    private readonly account: string,
    private readonly now: () => number,
  ) {}

  topicArn(name: string): string {
    return `arn:aws:sns:${this.region}:${this.account}:${name}`;
  }

  /** CreateTopic: idempotent for the same name and attributes. */
  createTopic(name: string | undefined, attributes: Record<string, string>): string {
    if (name === undefined || name === '') throw invalidParameter('Topic Name');
    const fifoAttribute = attributes.FifoTopic;
    if (fifoAttribute !== undefined && fifoAttribute !== 'true' && fifoAttribute !== 'false')
      throw invalidParameter('Attributes Reason: FifoTopic must be true or false');
    const fifo = fifoAttribute === 'true';
    if (fifo ? !FIFO_TOPIC_NAME.test(name) : !TOPIC_NAME.test(name)) {
      throw invalidParameter(
        fifo || name.endsWith('.fifo')
          ? 'Attributes Reason: FifoTopic Reason: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.'
          : 'Topic Name',
      );
    }
    const content = attributes.ContentBasedDeduplication;
    if (content !== undefined && content !== 'true' && content !== 'false')
      throw invalidParameter('Attributes Reason: ContentBasedDeduplication must be true or false');
    if (content === 'true' && !fifo)
      throw invalidParameter('Attributes Reason: ContentBasedDeduplication Reason: Content-based deduplication can only be set for FIFO topics');
    const arn = this.topicArn(name);
    const existing = this.topics.get(arn);
    const contentBasedDeduplication = content === 'true';
    if (existing) {
      if (existing.created && (existing.fifo !== fifo || existing.contentBasedDeduplication !== contentBasedDeduplication)) {
        throw invalidParameter('Attributes Reason: Topic already exists with different attributes');
      }
      existing.created = true;
      existing.contentBasedDeduplication = contentBasedDeduplication;
      return arn;
    }
    this.topics.set(arn, this.newTopic(arn, fifo, contentBasedDeduplication, true));
    return arn;
  }

  private newTopic(arn: string, fifo: boolean, contentBasedDeduplication: boolean, created: boolean): Topic {
    return { arn, fifo, contentBasedDeduplication, created, delivered: 0, duplicates: 0, nextSequence: 10_000_000_000_000_000_000n, recent: new Map() };
  }

  /** The topic an ARN names: this region and account, created with the defaults when first used. */
  private topicFor(arn: string): Topic {
    const parts = arn.split(':');
    if (parts.length !== 6 || parts[0] !== 'arn' || !parts[1]?.startsWith('aws') || parts[2] !== 'sns' || parts[3] !== this.region)
      throw invalidParameter('TopicArn');
    const [, , , , account, name] = parts as [string, string, string, string, string, string];
    if (!/^\d{12}$/.test(account) || !(TOPIC_NAME.test(name) || FIFO_TOPIC_NAME.test(name))) throw invalidParameter('TopicArn');
    // Only the emulator's account has topics; another account's topic has a policy that does not let us in.
    if (account !== this.account) {
      throw new SnsError(
        'AuthorizationError',
        `User: arn:aws:iam::${this.account}:user/caller is not authorized to perform: SNS:Publish on resource: ${arn}`,
        403,
      );
    }
    let topic = this.topics.get(arn);
    if (!topic) {
      topic = this.newTopic(arn, name.endsWith('.fifo'), false, false);
      this.topics.set(arn, topic);
    }
    return topic;
  }

  /** Publish to a topic; resolves to the message id (and the sequence number on a FIFO topic). */
  publish(request: PublishRequest, accessKeyId: string): PublishResult {
    if (request.targetArn !== undefined || request.phoneNumber !== undefined) {
      throw invalidParameter('TargetArn or PhoneNumber Reason: only topics are emulated (TopicArn)');
    }
    if (request.topicArn === undefined || request.topicArn === '') throw invalidParameter('TopicArn or TargetArn Reason: no value for required parameter');
    const message = request.message;
    if (message === undefined || message === '') throw invalidParameter('Empty message');
    if (
      request.subject !== undefined &&
      (request.subject === '' || request.subject.length > 100 || !/^[\x20-\x7e]+$/.test(request.subject) || request.subject.trim() === '')
    ) {
      throw invalidParameter('Subject');
    }
    if (request.messageStructure !== undefined) {
      if (request.messageStructure !== 'json') throw invalidParameter('MessageStructure');
      let parsed: unknown;
      try {
        parsed = JSON.parse(message);
      } catch {
        throw invalidParameter('Message Structure - JSON message body failed to parse');
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw invalidParameter('Message Structure - JSON message body failed to parse');
      if (typeof (parsed as Record<string, unknown>).default !== 'string') throw invalidParameter('Message Structure - No default entry in JSON message body');
    }
    validateAttributes(request.messageAttributes);
    if (messageBytes(message, request.messageAttributes) > SNS_MAX_MESSAGE_BYTES) throw invalidParameter('Message too long');

    const topic = this.topicFor(request.topicArn);
    let deduplicationId: string | undefined;
    if (topic.fifo) {
      if (request.messageGroupId === undefined) throw invalidParameter('The MessageGroupId parameter is required for FIFO topics');
      if (!FIFO_TOKEN.test(request.messageGroupId)) throw invalidParameter('MessageGroupId Reason: must be 1 to 128 alphanumeric or punctuation characters');
      if (request.messageDeduplicationId !== undefined) {
        if (!FIFO_TOKEN.test(request.messageDeduplicationId)) {
          throw invalidParameter('MessageDeduplicationId Reason: must be 1 to 128 alphanumeric or punctuation characters');
        }
        deduplicationId = request.messageDeduplicationId;
      } else if (topic.contentBasedDeduplication) {
        deduplicationId = createHash('sha256').update(message).digest('hex');
      } else {
        throw invalidParameter('The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
      }
    } else if (request.messageDeduplicationId !== undefined) {
      throw invalidParameter('MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type');
    }

    const now = this.now();
    if (deduplicationId !== undefined) {
      for (const [id, first] of topic.recent) if (now - first.publishedAt >= SNS_DEDUPLICATION_WINDOW_MS) topic.recent.delete(id);
      const first = topic.recent.get(deduplicationId);
      if (first) {
        first.duplicates += 1;
        topic.duplicates += 1;
        return { messageId: first.messageId, ...(first.sequenceNumber !== undefined ? { sequenceNumber: first.sequenceNumber } : {}) };
      }
    }
    const record: SnsPublishedMessage = {
      messageId: randomUUID(),
      topicArn: topic.arn,
      message,
      ...(request.subject !== undefined ? { subject: request.subject } : {}),
      ...(request.messageStructure !== undefined ? { messageStructure: request.messageStructure } : {}),
      messageAttributes: request.messageAttributes,
      ...(request.messageGroupId !== undefined ? { messageGroupId: request.messageGroupId } : {}),
      ...(deduplicationId !== undefined ? { messageDeduplicationId: deduplicationId } : {}),
      ...(topic.fifo ? { sequenceNumber: String((topic.nextSequence += 1n)) } : {}),
      publishedAt: now,
      accessKeyId,
      duplicates: 0,
    };
    if (deduplicationId !== undefined) topic.recent.set(deduplicationId, record);
    topic.delivered += 1;
    this.messages.push(record);
    if (this.messages.length > MAX_KEPT_MESSAGES) this.messages = this.messages.slice(-MAX_KEPT_MESSAGES);
    return { messageId: record.messageId, ...(record.sequenceNumber !== undefined ? { sequenceNumber: record.sequenceNumber } : {}) };
  }

  /** Delivered messages, oldest first, optionally of one topic. */
  published(topicArn?: string): SnsPublishedMessage[] {
    return this.messages.filter((m) => topicArn === undefined || m.topicArn === topicArn);
  }

  topicList(): SnsTopicInfo[] {
    return [...this.topics.values()].map((t) => ({
      topicArn: t.arn,
      fifo: t.fifo,
      contentBasedDeduplication: t.contentBasedDeduplication,
      created: t.created,
      delivered: t.delivered,
      duplicates: t.duplicates,
    }));
  }

  /** Forgets the delivered messages (topics and their deduplication history stay). */
  clearMessages(): void {
    this.messages = [];
  }

  /** Forgets everything. */
  reset(): void {
    this.topics.clear();
    this.messages = [];
  }
}

function validateAttributes(attributes: Record<string, SnsMessageAttribute>): void {
  const names = Object.keys(attributes);
  if (names.length > MAX_ATTRIBUTES) throw invalidParameter(`MessageAttributes Reason: at most ${MAX_ATTRIBUTES} message attributes`);
  for (const name of names) {
    const attribute = attributes[name] as SnsMessageAttribute;
    if (!ATTRIBUTE_NAME.test(name) || /^(aws\.|amazon\.)/i.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
      throw invalidParameter(`MessageAttributes Reason: invalid attribute name ${name}`);
    }
    if (!ATTRIBUTE_TYPE.test(attribute.dataType))
      throw invalidParameter(`MessageAttributes Reason: The message attribute '${name}' has an invalid message attribute type`);
    if (attribute.dataType.startsWith('Binary') ? !attribute.binaryValue : attribute.stringValue === undefined || attribute.stringValue === '') {
      throw invalidParameter(`MessageAttributes Reason: The message attribute '${name}' must contain non-empty message attribute value`);
    }
    if (attribute.dataType.startsWith('Number') && !Number.isFinite(Number(attribute.stringValue))) {
      throw invalidParameter(`MessageAttributes Reason: The message attribute '${name}' has an invalid numeric value`);
    }
  }
}

function messageBytes(message: string, attributes: Record<string, SnsMessageAttribute>): number {
  let total = Buffer.byteLength(message);
  for (const [name, a] of Object.entries(attributes)) {
    total +=
      Buffer.byteLength(name) + Buffer.byteLength(a.dataType) + Buffer.byteLength(a.stringValue ?? '') + Buffer.from(a.binaryValue ?? '', 'base64').length;
  }
  return total;
}
