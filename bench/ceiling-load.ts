/**
 * DescribeKey load generator, run as a child process by {@link measureDescribeCeiling} so that the SDK's own
 * CPU cost is not paid on the benchmark's event loop (on a 2-core machine that alone halves the figure).
 * Receives a {@link LoadSpec} over IPC and answers with a {@link CeilingMeasurement}.
 */
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import type { CeilingMeasurement } from './types';

export interface LoadSpec {
  url: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  keyIds: string[];
  concurrency: number;
  seconds: number;
}

export async function runDescribeLoad(spec: LoadSpec): Promise<CeilingMeasurement> {
  const client = new KMSClient({
    endpoint: spec.url,
    region: spec.region,
    credentials: spec.credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: spec.concurrency }) }),
  });
  const latencies: number[] = [];
  let next = 0;
  const key = (): string => spec.keyIds[next++ % spec.keyIds.length];
  try {
    // Warm-up: sockets and JIT.
    await Promise.all(Array.from({ length: spec.concurrency }, () => client.send(new DescribeKeyCommand({ KeyId: key() }))));
    const start = performance.now();
    const end = start + spec.seconds * 1000;
    await Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          await client.send(new DescribeKeyCommand({ KeyId: key() }));
          latencies.push(performance.now() - t);
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number): number => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN) * 10) / 10;
    return {
      operation: 'DescribeKey',
      concurrency: spec.concurrency,
      perSecond: Math.round(latencies.length / elapsed),
      seconds: Math.round(elapsed * 10) / 10,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
    };
  } finally {
    client.destroy();
  }
}

if (require.main === module) {
  process.once('message', (spec) => {
    runDescribeLoad(spec as LoadSpec).then(
      (result) => process.send?.({ result }, () => process.exit(0)),
      (err: unknown) => process.send?.({ error: (err as Error).message }, () => process.exit(1)),
    );
  });
}
