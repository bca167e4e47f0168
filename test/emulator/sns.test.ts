/**
 * The emulator's SNS (`CreateTopic`, `Publish`) through `@aws-sdk/client-sns`: the query protocol, SigV4 with
 * the `sns` signing name, validation worded like SNS, FIFO deduplication within 5 minutes, injected faults, and
 * the admin view of what was delivered. KMS keeps answering on the same port.
 */
import { execFile, execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { CreateTopicCommand, PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import type { RunningEmulator } from '../../src/emulator';
import { SNS_DEDUPLICATION_WINDOW_MS } from '../../src/emulator';
import { expectKmsError, kmsClient, startTestEmulator } from './helpers';

let emu: RunningEmulator;
let sns: SNSClient;

beforeAll(async () => {
  emu = await startTestEmulator();
  sns = snsClient();
});

afterAll(async () => {
  sns.destroy();
  await emu.close();
});

beforeEach(async () => {
  await emu.admin.reset();
});

function snsClient(credentials = emu.credentials): SNSClient {
  return new SNSClient({ endpoint: emu.url, region: emu.region, credentials, maxAttempts: 1 });
}

function arn(name: string, account = emu.account, region = emu.region): string {
  return `arn:aws:sns:${region}:${account}:${name}`;
}

function publish(input: Partial<PublishCommandInput>, client = sns): Promise<{ MessageId?: string; SequenceNumber?: string }> {
  return client.send(new PublishCommand({ TopicArn: arn('alerts'), Message: 'hello', ...input }));
}

/** An unsigned or hand-made form POST, for what the SDK cannot send. */
function rawForm(body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const url = new URL(emu.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Publish to a standard topic', () => {
  test('delivers the message with its subject, structure and attributes, and answers a message id', async () => {
    const document = JSON.stringify({ default: 'for people', sqs: '{"a":1}' });
    const answer = await publish({
      Subject: 'KMS decommission completed: cks-1',
      Message: document,
      MessageStructure: 'json',
      MessageAttributes: {
        dedupeKey: { DataType: 'String', StringValue: 'kms-decommission-cks-1/COMPLETED' },
        attempt: { DataType: 'Number', StringValue: '2' },
        blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
      },
    });
    expect(answer.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.SequenceNumber).toBeUndefined();
    const [message, ...more] = await emu.admin.snsMessages();
    expect(more).toEqual([]);
    expect(message).toMatchObject({
      messageId: answer.MessageId,
      topicArn: arn('alerts'),
      message: document,
      subject: 'KMS decommission completed: cks-1',
      messageStructure: 'json',
      accessKeyId: emu.credentials.accessKeyId,
      duplicates: 0,
      messageAttributes: {
        dedupeKey: { dataType: 'String', stringValue: 'kms-decommission-cks-1/COMPLETED' },
        attempt: { dataType: 'Number', stringValue: '2' },
        blob: { dataType: 'Binary', binaryValue: Buffer.from([1, 2, 3]).toString('base64') },
      },
    });
    expect(message?.sequenceNumber).toBeUndefined();
    expect(await emu.admin.snsTopics()).toEqual([
      { topicArn: arn('alerts'), fifo: false, contentBasedDeduplication: false, created: false, delivered: 1, duplicates: 0 },
    ]);
  });

  test('a standard topic delivers a repeated message again (no deduplication) and refuses MessageDeduplicationId', async () => {
    await publish({ Message: 'same' });
    await publish({ Message: 'same' });
    expect((await emu.admin.snsMessages()).map((m) => m.message)).toEqual(['same', 'same']);
    await expectKmsError(publish({ MessageDeduplicationId: 'd1' }), 'InvalidParameterException', /MessageDeduplicationId/);
  });

  test('filters delivered messages by topic, and clearing them keeps the topics', async () => {
    await publish({ TopicArn: arn('a'), Message: 'to a' });
    await publish({ TopicArn: arn('b'), Message: 'to b' });
    expect((await emu.admin.snsMessages(arn('b'))).map((m) => m.message)).toEqual(['to b']);
    await emu.admin.clearSnsMessages();
    expect(await emu.admin.snsMessages()).toEqual([]);
    expect((await emu.admin.snsTopics()).map((t) => t.topicArn).sort()).toEqual([arn('a'), arn('b')]);
  });
});

describe('Publish validation, worded like SNS', () => {
  test.each<[string, Partial<PublishCommandInput>, RegExp]>([
    ['an empty message', { Message: '' }, /^Invalid parameter: Empty message$/],
    ['a subject over 100 characters', { Subject: 'x'.repeat(101) }, /^Invalid parameter: Subject$/],
    ['a subject with a line break', { Subject: 'two\nlines' }, /^Invalid parameter: Subject$/],
    ['a non-ASCII subject', { Subject: 'décommission' }, /^Invalid parameter: Subject$/],
    ['a JSON structure without default', { MessageStructure: 'json', Message: '{"sqs":"x"}' }, /No default entry in JSON message body/],
    ['a JSON structure that is not JSON', { MessageStructure: 'json', Message: 'not json' }, /JSON message body failed to parse/],
    ['an unknown message structure', { MessageStructure: 'xml' }, /^Invalid parameter: MessageStructure$/],
    ['a topic ARN of another region', { TopicArn: 'arn:aws:sns:eu-west-1:111122223333:alerts' }, /^Invalid parameter: TopicArn$/],
    ['a malformed topic ARN', { TopicArn: 'arn:aws:sqs:us-east-1:111122223333:alerts' }, /^Invalid parameter: TopicArn$/],
    ['a topic name with a dot', { TopicArn: 'arn:aws:sns:us-east-1:111122223333:bad.name' }, /^Invalid parameter: TopicArn$/],
    ['an attribute without a value', { MessageAttributes: { dedupeKey: { DataType: 'String', StringValue: '' } } }, /non-empty message attribute value/],
    ['an attribute with an unknown type', { MessageAttributes: { dedupeKey: { DataType: 'Text', StringValue: 'x' } } }, /invalid message attribute type/],
    ['a reserved attribute name', { MessageAttributes: { 'AWS.key': { DataType: 'String', StringValue: 'x' } } }, /invalid attribute name/],
    ['a message over 256 KiB', { Message: 'x'.repeat(262_145) }, /Message too long/],
  ])('%s is InvalidParameter and delivers nothing', async (_what, input, message) => {
    await expectKmsError(publish(input), 'InvalidParameterException', message);
    expect(await emu.admin.snsMessages()).toEqual([]);
  });

  test("another account's topic is AuthorizationError (403)", async () => {
    await expectKmsError(publish({ TopicArn: arn('alerts', '444455556666') }), 'AuthorizationErrorException', /not authorized to perform: SNS:Publish/, 403);
  });

  test('eleven message attributes are too many', async () => {
    const attributes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'x' }]));
    await expectKmsError(publish({ MessageAttributes: attributes }), 'InvalidParameterException', /at most 10/);
  });
});

describe('FIFO topics', () => {
  const fifo = (): string => arn('decommissions.fifo');

  test('a repeated MessageDeduplicationId within 5 minutes is accepted, answered with the first message, and delivered once', async () => {
    const first = await publish({ TopicArn: fifo(), MessageGroupId: 'wf-1', MessageDeduplicationId: 'k1', Message: 'first' });
    expect(first.SequenceNumber).toMatch(/^\d{20}$/);
    const again = await publish({ TopicArn: fifo(), MessageGroupId: 'wf-1', MessageDeduplicationId: 'k1', Message: 'first, resent' });
    expect(again).toEqual({ MessageId: first.MessageId, SequenceNumber: first.SequenceNumber, $metadata: expect.anything() });
    const other = await publish({ TopicArn: fifo(), MessageGroupId: 'wf-1', MessageDeduplicationId: 'k2', Message: 'second' });
    expect(other.MessageId).not.toBe(first.MessageId);
    expect(BigInt(other.SequenceNumber as string)).toBeGreaterThan(BigInt(first.SequenceNumber as string));
    const messages = await emu.admin.snsMessages(fifo());
    expect(messages.map((m) => [m.message, m.messageDeduplicationId, m.messageGroupId, m.duplicates])).toEqual([
      ['first', 'k1', 'wf-1', 1],
      ['second', 'k2', 'wf-1', 0],
    ]);
    expect((await emu.admin.snsTopics())[0]).toMatchObject({ fifo: true, delivered: 2, duplicates: 1 });
  });

  test('the same id in another FIFO topic is not a duplicate', async () => {
    await publish({ TopicArn: fifo(), MessageGroupId: 'g', MessageDeduplicationId: 'k1' });
    await publish({ TopicArn: arn('other.fifo'), MessageGroupId: 'g', MessageDeduplicationId: 'k1' });
    expect(await emu.admin.snsMessages()).toHaveLength(2);
  });

  test('after 5 minutes the same id is delivered again', async () => {
    await publish({ TopicArn: fifo(), MessageGroupId: 'g', MessageDeduplicationId: 'k1' });
    await emu.admin.advance(SNS_DEDUPLICATION_WINDOW_MS - 1_000);
    await publish({ TopicArn: fifo(), MessageGroupId: 'g', MessageDeduplicationId: 'k1' });
    expect(await emu.admin.snsMessages()).toHaveLength(1);
    await emu.admin.advance(1_000);
    await publish({ TopicArn: fifo(), MessageGroupId: 'g', MessageDeduplicationId: 'k1' });
    expect(await emu.admin.snsMessages()).toHaveLength(2);
  });

  test('MessageGroupId is required; without content-based deduplication so is MessageDeduplicationId; both have an alphabet', async () => {
    await expectKmsError(
      publish({ TopicArn: fifo(), MessageDeduplicationId: 'k' }),
      'InvalidParameterException',
      /MessageGroupId parameter is required for FIFO topics/,
    );
    await expectKmsError(
      publish({ TopicArn: fifo(), MessageGroupId: 'g' }),
      'InvalidParameterException',
      /ContentBasedDeduplication enabled or MessageDeduplicationId/,
    );
    await expectKmsError(
      publish({ TopicArn: fifo(), MessageGroupId: 'g', MessageDeduplicationId: 'x'.repeat(129) }),
      'InvalidParameterException',
      /MessageDeduplicationId/,
    );
    await expectKmsError(
      publish({ TopicArn: fifo(), MessageGroupId: 'has space', MessageDeduplicationId: 'k' }),
      'InvalidParameterException',
      /MessageGroupId/,
    );
    expect(await emu.admin.snsMessages()).toEqual([]);
  });

  test('CreateTopic: FIFO with content-based deduplication drops a repeated body; idempotent; conflicting attributes refused', async () => {
    const created = await sns.send(new CreateTopicCommand({ Name: 'content.fifo', Attributes: { FifoTopic: 'true', ContentBasedDeduplication: 'true' } }));
    expect(created.TopicArn).toBe(arn('content.fifo'));
    expect(
      (await sns.send(new CreateTopicCommand({ Name: 'content.fifo', Attributes: { FifoTopic: 'true', ContentBasedDeduplication: 'true' } }))).TopicArn,
    ).toBe(created.TopicArn);
    await expectKmsError(
      sns.send(new CreateTopicCommand({ Name: 'content.fifo', Attributes: { FifoTopic: 'true' } })),
      'InvalidParameterException',
      /already exists with different attributes/,
    );
    await publish({ TopicArn: created.TopicArn, MessageGroupId: 'g', Message: 'same body' });
    await publish({ TopicArn: created.TopicArn, MessageGroupId: 'g', Message: 'same body' });
    await publish({ TopicArn: created.TopicArn, MessageGroupId: 'g', Message: 'another body' });
    expect((await emu.admin.snsMessages()).map((m) => m.message)).toEqual(['same body', 'another body']);
    await expectKmsError(sns.send(new CreateTopicCommand({ Name: 'plain.fifo' })), 'InvalidParameterException', /Fifo Topic names must end with .fifo/);
    await expectKmsError(
      sns.send(new CreateTopicCommand({ Name: 'nofifo', Attributes: { FifoTopic: 'true' } })),
      'InvalidParameterException',
      /must end with .fifo/,
    );
  });
});

describe('authentication', () => {
  test('a wrong secret is SignatureDoesNotMatch (403), an unknown key InvalidClientTokenId (403); nothing is delivered', async () => {
    const wrongSecret = snsClient({ accessKeyId: emu.credentials.accessKeyId, secretAccessKey: 'not-the-secret' });
    const unknownKey = snsClient({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' });
    try {
      await expectKmsError(publish({}, wrongSecret), 'SignatureDoesNotMatch', /signature we calculated does not match/, 403);
      await expectKmsError(publish({}, unknownKey), 'InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    } finally {
      wrongSecret.destroy();
      unknownKey.destroy();
    }
    expect(await emu.admin.snsMessages()).toEqual([]);
  });

  test('an unsigned request is MissingAuthenticationToken (403, XML error document)', async () => {
    const answer = await rawForm(`Action=Publish&Version=2010-03-31&TopicArn=${encodeURIComponent(arn('alerts'))}&Message=hi`);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('<Code>MissingAuthenticationToken</Code>');
    expect(answer.body).toContain('<Type>Sender</Type>');
    expect(await emu.admin.snsMessages()).toEqual([]);
  });

  test('an identity added at runtime can publish, and the message records its access key', async () => {
    const identity = await emu.admin.addIdentity({ arn: `arn:aws:iam::${emu.account}:user/notifier` });
    const client = snsClient({ accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey });
    try {
      await publish({}, client);
    } finally {
      client.destroy();
    }
    expect((await emu.admin.snsMessages())[0]?.accessKeyId).toBe(identity.accessKeyId);
  });
});

describe('faults and routing', () => {
  test("an injected error before Publish delivers nothing; one 'after' delivers, and a FIFO retry is then deduplicated", async () => {
    await emu.admin.setFaults([{ operation: 'Publish', errorRate: 1, errorType: 'KMSInternalException', count: 1 }]);
    await expectKmsError(publish({}), 'InternalErrorException', 'Internal Error', 500);
    expect(await emu.admin.snsMessages()).toEqual([]);

    await emu.admin.setFaults([{ operation: 'Publish', errorRate: 1, errorType: 'KMSInternalException', when: 'after', count: 1 }]);
    const topic = arn('retry.fifo');
    await expectKmsError(publish({ TopicArn: topic, MessageGroupId: 'g', MessageDeduplicationId: 'k' }), 'InternalErrorException', 'Internal Error', 500);
    expect(await emu.admin.snsMessages()).toHaveLength(1);
    await publish({ TopicArn: topic, MessageGroupId: 'g', MessageDeduplicationId: 'k' });
    const [message, ...more] = await emu.admin.snsMessages();
    expect(more).toEqual([]);
    expect(message?.duplicates).toBe(1);
  });

  test('injected throttling and access denial use SNS error codes', async () => {
    await emu.admin.setFaults([{ operation: 'Publish', errorRate: 1, errorType: 'ThrottlingException', count: 1 }]);
    await expectKmsError(publish({}), 'ThrottledException', 'Rate exceeded', 400);
    await emu.admin.setFaults([{ operation: 'Publish', errorRate: 1, errorType: 'AccessDeniedException', count: 1 }]);
    await expectKmsError(publish({}), 'AuthorizationErrorException', /not authorized/, 403);
  });

  test('an unknown action is InvalidAction; KMS still answers on the same port', async () => {
    await expectKmsError(rawSigned('ListTopics'), 'InvalidAction', /The action ListTopics is not valid for this web service/);
    const kms = kmsClient(emu);
    try {
      expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual([]);
    } finally {
      kms.destroy();
    }
  });

  test('reset forgets topics and messages', async () => {
    await publish({});
    await emu.admin.reset();
    expect(await emu.admin.snsMessages()).toEqual([]);
    expect(await emu.admin.snsTopics()).toEqual([]);
  });
});

/** A correctly signed query-protocol request for an action the SDK client has no command for. */
async function rawSigned(action: string): Promise<never> {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Sha256 } = await import('@aws-crypto/sha256-js');
  const { HttpRequest } = await import('@smithy/protocol-http');
  const url = new URL(emu.url);
  const body = `Action=${action}&Version=2010-03-31`;
  const signer = new SignatureV4({ credentials: emu.credentials, region: emu.region, service: 'sns', sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    }),
  );
  const answer = await rawForm(body, signed.headers as Record<string, string>);
  const code = /<Code>([^<]+)<\/Code>/.exec(answer.body)?.[1];
  const message = /<Message>([^<]+)<\/Message>/.exec(answer.body)?.[1];
  throw Object.assign(new Error(message), { name: code, $metadata: { httpStatusCode: answer.status } });
}

const aws = process.env.CI || hasAwsCli() ? test : test.skip;

function hasAwsCli(): boolean {
  try {
    execFileSync('aws', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

aws('the AWS CLI (botocore) publishes to a FIFO topic unchanged', async () => {
  const topic = arn('cli.fifo');
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: emu.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emu.credentials.secretAccessKey,
    AWS_DEFAULT_REGION: emu.region,
  };
  const args = ['sns', 'publish', '--endpoint-url', emu.url, '--topic-arn', topic, '--message', 'from the cli', '--subject', 'CLI', '--message-group-id', 'g'];
  const run = (dedup: string): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('aws', [...args, '--message-deduplication-id', dedup, '--output', 'json'], { env, timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
  const first = JSON.parse(await run('d1')) as { MessageId: string; SequenceNumber: string };
  const again = JSON.parse(await run('d1')) as { MessageId: string };
  expect(again.MessageId).toBe(first.MessageId);
  expect(first.SequenceNumber).toMatch(/^\d+$/);
  const messages = await emu.admin.snsMessages(topic);
  expect(messages.map((m) => [m.message, m.subject, m.duplicates])).toEqual([['from the cli', 'CLI', 1]]);
});
