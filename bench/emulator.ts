/**
 * KMS emulator benchmark: seed time for a 100,000-key account and DescribeKey throughput from a
 * concurrent SDK client, measured twice — client in the emulator's process, and client in a separate
 * process (so the SDK's own CPU cost does not count against the emulator on a small machine).
 *
 *   npx ts-node --transpile-only bench/emulator.ts [--keys 100000] [--seconds 10] [--concurrency 64]
 *
 * Prints figures only; writes nothing.
 */
import { fork } from 'node:child_process';
import { Agent } from 'node:http';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { startEmulator } from '../src/emulator';

interface LoadSpec {
  url: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  keyIds: string[];
  seconds: number;
  concurrency: number;
}

interface LoadResult {
  ok: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Runs `concurrency` DescribeKey loops for `seconds` against the emulator. */
async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const client = new KMSClient({
    endpoint: spec.url,
    region: spec.region,
    credentials: spec.credentials,
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: spec.concurrency }) },
  });
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + spec.seconds * 1000;
  let i = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const keyId = spec.keyIds[i++ % spec.keyIds.length];
      const t = performance.now();
      try {
        await client.send(new DescribeKeyCommand({ KeyId: keyId }));
        ok++;
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  // Warm-up so connection setup and JIT do not count.
  await Promise.all(Array.from({ length: spec.concurrency }, () => client.send(new DescribeKeyCommand({ KeyId: spec.keyIds[0] }))));
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  client.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return { ok, errors, seconds, p50: pct(0.5), p99: pct(0.99) };
}

function report(label: string, r: LoadResult): void {
  console.log(
    `${label}: ${(r.ok / r.seconds).toFixed(0)} DescribeKey/s (${r.ok} ok, ${r.errors} errors in ${r.seconds.toFixed(1)} s; p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms)`,
  );
}

async function main(): Promise<void> {
  const keys = arg('keys', 100_000);
  const seconds = arg('seconds', 10);
  const concurrency = arg('concurrency', 64);
  const emulator = await startEmulator({ quotaScale: 0 });
  try {
    const t0 = performance.now();
    const seeded = await emulator.admin.seed({
      stores: [{ name: 'bench-hsm', connectionState: 'CONNECTED' }],
      keys: [{ count: keys, customKeyStoreId: 'bench-hsm' }],
    });
    const seedMs = performance.now() - t0;
    const stats = await emulator.admin.stats();
    console.log(`seed: ${stats.keys} keys in ${(seedMs / 1000).toFixed(2)} s (one admin call, including the HTTP round trip)`);
    const keyIds = seeded.keyIds[0].filter((_, i) => i % 97 === 0);
    const spec: LoadSpec = { url: emulator.url, region: emulator.region, credentials: emulator.credentials, keyIds, seconds, concurrency };

    report(`in-process client, ${concurrency} in flight`, await runLoad(spec));

    const child = fork(__filename, ['--load-worker'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const remote = await new Promise<LoadResult>((resolve, reject) => {
      child.once('message', (m) => resolve(m as LoadResult));
      child.once('error', reject);
      child.send(spec);
    });
    child.kill();
    report(`separate client process, ${concurrency} in flight`, remote);
  } finally {
    await emulator.close();
  }
}

if (process.argv.includes('--load-worker')) {
  process.once('message', (spec) => {
    void runLoad(spec as LoadSpec).then((r) => process.send?.(r));
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
