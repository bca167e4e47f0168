/**
 * Entry point of a DescribeKey thread (see {@link ./describe-threads}). It owns a KMS client of its own
 * and answers `{ id, keyId }` requests with the key's metadata or a plain copy of the SDK's error (class
 * instances do not survive the thread boundary; `name` and `$metadata`, which callers match on, do).
 * Pacing, retries and cancellation stay with the activity on the main thread.
 */
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { parentPort, workerData } from 'node:worker_threads';
import { createKmsClient } from './kms-client';
import type { DescribeRequest, DescribeReply, DescribeThreadData, ThreadError } from './describe-threads';

function plainError(err: unknown): ThreadError {
  const e = (err ?? {}) as ThreadError & { cause?: { code?: string } };
  return {
    name: e.name ?? 'Error',
    message: e.message ?? String(err),
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.cause?.code !== undefined ? { causeCode: e.cause.code } : {}),
    ...(e.$fault !== undefined ? { $fault: e.$fault } : {}),
    ...(e.$metadata ? { $metadata: { httpStatusCode: e.$metadata.httpStatusCode, requestId: e.$metadata.requestId } } : {}),
  };
}

const port = parentPort;
if (!port) throw new Error('describe-thread runs only as a worker thread');
const { kmsConfig } = workerData as DescribeThreadData;
const kms = createKmsClient(kmsConfig);

port.on('message', (request: DescribeRequest) => {
  kms.send(new DescribeKeyCommand({ KeyId: request.keyId })).then(
    (out) => port.postMessage({ id: request.id, metadata: out.KeyMetadata } satisfies DescribeReply),
    (err: unknown) => port.postMessage({ id: request.id, error: plainError(err) } satisfies DescribeReply),
  );
});
