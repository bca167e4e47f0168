/**
 * SNS's wire protocol on the emulator's port: the AWS Query protocol `@aws-sdk/client-sns` and botocore speak —
 * a form-encoded POST (`Action=Publish&Version=2010-03-31&TopicArn=…`, no `x-amz-target`), Signature V4 with the
 * signing name `sns`, and XML answers (`<PublishResponse>` / `<ErrorResponse>`) in the 2010-03-31 namespace.
 *
 * Auth failures use SNS's codes (InvalidClientTokenId, SignatureDoesNotMatch, …) rather than KMS's names.
 * Injected faults (`/__admin/faults`) with `operation: 'Publish'` (or `'*'`) apply: latency, connection resets and
 * errors, before the message is accepted or (`when: 'after'`) after it was delivered. Not in the audit log or
 * CloudTrail (Publish is a data event, which trails do not record by default).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SigV4Verifier } from './auth';
import type { EmulatorCore } from './core';
import { KmsError } from './errors';
import { SnsError, SNS_MAX_MESSAGE_BYTES, type PublishRequest, type SnsMessageAttribute } from './sns';

export const SNS_SIGNING_NAME = 'sns';
const XML_NAMESPACE = 'http://sns.amazonaws.com/doc/2010-03-31/';
/** A message is at most 256 KiB; URL encoding can triple it. */
const MAX_BODY_BYTES = 4 * SNS_MAX_MESSAGE_BYTES;

/** Query-protocol requests carry no `x-amz-target` and a form-encoded body; everything else stays with KMS and CloudTrail. */
export function isSnsRequest(req: IncomingMessage): boolean {
  const contentType = req.headers['content-type'] ?? '';
  return req.headers['x-amz-target'] === undefined && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function send(res: ServerResponse, status: number, requestId: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-amzn-RequestId': requestId });
  res.end(body);
}

function errorBody(error: SnsError, requestId: string): string {
  return `<ErrorResponse xmlns="${XML_NAMESPACE}"><Error><Type>${error.type}</Type><Code>${xml(error.code)}</Code><Message>${xml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

function resultBody(action: string, members: Record<string, string | undefined>, requestId: string): string {
  const inner = Object.entries(members)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<${name}>${xml(value)}</${name}>`)
    .join('');
  return `<${action}Response xmlns="${XML_NAMESPACE}"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}

/** The KMS-named auth errors of the shared verifier, as SNS names them. */
function authError(err: KmsError): SnsError {
  switch (err.name) {
    case 'MissingAuthenticationTokenException':
      return new SnsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
    case 'UnrecognizedClientException':
      return new SnsError('InvalidClientTokenId', err.message, 403);
    case 'IncompleteSignatureException':
      return new SnsError('IncompleteSignature', err.message, 400);
    default:
      return new SnsError('SignatureDoesNotMatch', err.message, 403);
  }
}

/** An injected KMS fault, as SNS would answer it. */
function injectedError(err: KmsError): SnsError {
  switch (err.name) {
    case 'ThrottlingException':
      return new SnsError('Throttled', 'Rate exceeded', 400);
    case 'AccessDeniedException':
      return new SnsError('AuthorizationError', 'User is not authorized to perform: SNS:Publish on this resource', 403);
    default:
      return new SnsError('InternalError', 'Internal Error', 500);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SnsError('InvalidParameter', 'Invalid parameter: Message too long', 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `Prefix.entry.N.<name>` / `Prefix.member.N.<name>` groups of a query-protocol map or list, in N order. */
function entries(form: URLSearchParams, prefix: string, kind: 'entry' | 'member'): Map<string, string>[] {
  const groups = new Map<number, Map<string, string>>();
  const pattern = new RegExp(`^${prefix}\\.${kind}\\.(\\d+)\\.(.+)$`);
  for (const [name, value] of form) {
    const m = pattern.exec(name);
    if (!m) continue;
    const index = Number(m[1]);
    let group = groups.get(index);
    if (!group) groups.set(index, (group = new Map()));
    group.set(m[2] as string, value);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
}

function optional(form: URLSearchParams, name: string): string | undefined {
  const value = form.get(name);
  return value === null ? undefined : value;
}

function publishRequest(form: URLSearchParams): PublishRequest {
  const messageAttributes: Record<string, SnsMessageAttribute> = {};
  for (const entry of entries(form, 'MessageAttributes', 'entry')) {
    const name = entry.get('Name');
    const dataType = entry.get('Value.DataType');
    if (name === undefined || dataType === undefined)
      throw new SnsError('InvalidParameter', 'Invalid parameter: MessageAttributes Reason: every attribute needs a Name and a DataType');
    if (Object.hasOwn(messageAttributes, name))
      throw new SnsError('InvalidParameter', `Invalid parameter: MessageAttributes Reason: duplicate attribute name ${name}`);
    const stringValue = entry.get('Value.StringValue');
    const binaryValue = entry.get('Value.BinaryValue');
    messageAttributes[name] = { dataType, ...(stringValue !== undefined ? { stringValue } : {}), ...(binaryValue !== undefined ? { binaryValue } : {}) };
  }
  const request: PublishRequest = { messageAttributes };
  const members: [keyof PublishRequest, string][] = [
    ['topicArn', 'TopicArn'],
    ['targetArn', 'TargetArn'],
    ['phoneNumber', 'PhoneNumber'],
    ['message', 'Message'],
    ['subject', 'Subject'],
    ['messageStructure', 'MessageStructure'],
    ['messageGroupId', 'MessageGroupId'],
    ['messageDeduplicationId', 'MessageDeduplicationId'],
  ];
  for (const [field, wire] of members) {
    const value = optional(form, wire);
    if (value !== undefined) (request as unknown as Record<string, string>)[field] = value;
  }
  return request;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Answers one SNS request. */
export async function handleSns(core: EmulatorCore, verifier: SigV4Verifier, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  let injectedAfter: { error?: KmsError; reset: boolean } | undefined;
  let status = 200;
  let body: string;
  try {
    const raw = await readBody(req);
    let accessKeyId: string;
    try {
      accessKeyId = await verifier.verify({ method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body: raw }, SNS_SIGNING_NAME);
    } catch (e) {
      throw e instanceof KmsError ? authError(e) : e;
    }
    const form = new URLSearchParams(raw.toString('utf8'));
    const action = form.get('Action') ?? '';
    if (req.method !== 'POST' || (action !== 'Publish' && action !== 'CreateTopic')) {
      throw new SnsError('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    }
    if (action === 'CreateTopic') {
      const attributes: Record<string, string> = {};
      for (const entry of entries(form, 'Attributes', 'entry')) {
        const key = entry.get('key');
        if (key !== undefined) attributes[key] = entry.get('value') ?? '';
      }
      body = resultBody('CreateTopic', { TopicArn: core.sns.createTopic(optional(form, 'Name'), attributes) }, requestId);
    } else {
      const fault = core.faults.decide('Publish');
      if (fault.latencyMs > 0) await sleep(fault.latencyMs);
      if (fault.when === 'before' && fault.reset) {
        req.socket.destroy();
        return;
      }
      if (fault.when === 'before' && fault.error) throw injectedError(fault.error);
      if (fault.when === 'after' && (fault.reset || fault.error)) injectedAfter = { error: fault.error, reset: fault.reset };
      const result = core.sns.publish(publishRequest(form), accessKeyId);
      body = resultBody('Publish', { MessageId: result.messageId, SequenceNumber: result.sequenceNumber }, requestId);
    }
  } catch (e) {
    const err = e instanceof SnsError ? e : new SnsError('InternalError', 'Internal Error', 500);
    if (!(e instanceof SnsError)) process.stderr.write(`kms-emulator: SNS request failed: ${(e as Error).stack ?? String(e)}\n`);
    status = err.status;
    body = errorBody(err, requestId);
  }
  // The message was delivered; the client sees the injected answer (and may publish it again).
  if (injectedAfter?.reset) {
    req.socket.destroy();
    return;
  }
  if (injectedAfter?.error) {
    const err = injectedError(injectedAfter.error);
    status = err.status;
    body = errorBody(err, requestId);
  }
  send(res, status, requestId, body);
}
