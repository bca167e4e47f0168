import { DescribeKeyCommand, type KeyMetadata } from '@aws-sdk/client-kms';
import type { ActivityDeps } from './deps';
import { callKms, type CallKmsOptions } from './kms-call';
import { errorName } from './kms-errors';

/** DescribeKey under the shared pace; `undefined` when KMS says the key does not exist. */
export async function describeKey(deps: ActivityDeps, keyId: string, options?: CallKmsOptions): Promise<KeyMetadata | undefined> {
  try {
    const threads = deps.describeThreads;
    const out = await callKms(
      deps,
      'DescribeKey',
      (abortSignal) => (threads ? threads.describeKey(keyId, abortSignal) : deps.kms.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal })),
      options,
    );
    return out.KeyMetadata;
  } catch (err) {
    if (errorName(err) === 'NotFoundException') return undefined;
    throw err;
  }
}

export function epochMs(date: Date | undefined): number | undefined {
  return date ? date.getTime() : undefined;
}
