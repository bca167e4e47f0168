/**
 * KMS emulator benchmark.
 *
 *   npx ts-node --transpile-only bench/emulator.ts [--keys 100000] [--seconds 10] [--concurrency 64] [--client-processes 2]
 *
 * 1. Seeds a 100,000-key account through the admin API (in memory, then again with a state file in the
 *    OS temp dir) and prints the times.
 * 2. DescribeKey throughput from a concurrent `@aws-sdk/client-kms` client (keep-alive agent), first in
 *    the emulator's own process, then from one and from `--client-processes` separate processes (their
 *    concurrency split evenly, rates summed).
 * 3. Because the JS SDK costs far more CPU per call than the emulator, a third run replays pre-signed
 *    DescribeKey requests from a separate process with plain `http`, and reports the emulator's own CPU
 *    time per request — the figure that says whether the emulator can be a bottleneck.
 *
 * Prints figures only; writes nothing into the repository.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import { Agent, request } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startEmulator } from '../src/emulator';

interface LoadSpec {
  mode: 'sdk' | 'raw';
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

/** Runs `concurrency` loops of `call` for `seconds` and collects latencies. */
async function drive(call: (i: number) => Promise<boolean>, seconds: number, concurrency: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      if (await call(n++)) {
        ok++;
        latencies.push(performance.now() - t);
      } else {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return { ok, errors, seconds: elapsed, p50: pct(0.5), p99: pct(0.99) };
}

async function sdkLoad(spec: LoadSpec): Promise<LoadResult> {
  const client = new KMSClient({
    endpoint: spec.url,
    region: spec.region,
    credentials: spec.credentials,
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: spec.concurrency }) },
  });
  // Warm-up so connection setup and JIT do not count.
  await Promise.all(Array.from({ length: spec.concurrency }, () => client.send(new DescribeKeyCommand({ KeyId: spec.keyIds[0] }))));
  const result = await drive(
    (i) =>
      client.send(new DescribeKeyCommand({ KeyId: spec.keyIds[i % spec.keyIds.length] })).then(
        () => true,
        () => false,
      ),
    spec.seconds,
    spec.concurrency,
  );
  client.destroy();
  return result;
}

/** Plain HTTP replay of requests signed once up front (signatures stay valid for 15 minutes). */
async function rawLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const signer = new SignatureV4({ credentials: spec.credentials, region: spec.region, service: 'kms', sha256: Sha256 });
  const signed = await Promise.all(
    spec.keyIds.slice(0, 500).map(async (keyId) => {
      const body = JSON.stringify({ KeyId: keyId });
      const req = await signer.sign(
        new HttpRequest({
          method: 'POST',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: '/',
          headers: {
            host: url.host,
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'TrentService.DescribeKey',
            'content-length': String(Buffer.byteLength(body)),
          },
          body,
        }),
      );
      return { headers: req.headers, body };
    }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const call = (i: number): Promise<boolean> =>
    new Promise((resolve) => {
      const r = signed[i % signed.length];
      const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: r.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.end(r.body);
    });
  await Promise.all(Array.from({ length: spec.concurrency }, (_, i) => call(i)));
  const result = await drive(call, spec.seconds, spec.concurrency);
  agent.destroy();
  return result;
}

function runInChild(spec: LoadSpec): Promise<LoadResult> {
  const child = fork(__filename, ['--load-worker'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (m) => {
      child.kill();
      resolve(m as LoadResult);
    });
    child.once('error', reject);
    child.send(spec);
  });
}

function rate(r: LoadResult): number {
  return r.ok / r.seconds;
}

function report(label: string, r: LoadResult, extra = ''): void {
  console.log(
    `${label}: ${rate(r).toFixed(0)} DescribeKey/s (${r.ok} ok, ${r.errors} errors in ${r.seconds.toFixed(1)} s; p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms)${extra}`,
  );
}

async function seedWithStateFile(keys: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-emulator-bench-'));
  try {
    const emu = await startEmulator({ quotaScale: 0, statePath: path.join(dir, 'state.json') });
    const t0 = performance.now();
    await emu.admin.seed({ stores: [{ name: 'bench-hsm', connectionState: 'CONNECTED' }], keys: [{ count: keys, customKeyStoreId: 'bench-hsm' }] });
    const seedMs = performance.now() - t0;
    const size = fs.statSync(path.join(dir, 'state.json')).size;
    await emu.close();
    const t1 = performance.now();
    const again = await startEmulator({ quotaScale: 0, statePath: path.join(dir, 'state.json') });
    const restartMs = performance.now() - t1;
    await again.close();
    console.log(
      `seed with --state: ${keys} keys in ${(seedMs / 1000).toFixed(2)} s incl. fsync'd snapshot (${(size / 1e6).toFixed(1)} MB); restart/load ${(restartMs / 1000).toFixed(2)} s`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const keys = arg('keys', 100_000);
  const seconds = arg('seconds', 10);
  const concurrency = arg('concurrency', 64);
  const clientProcesses = arg('client-processes', 2);
  console.log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; node ${process.version}`,
  );
  const emulator = await startEmulator({ quotaScale: 0 });
  try {
    const t0 = performance.now();
    const seeded = await emulator.admin.seed({
      stores: [{ name: 'bench-hsm', connectionState: 'CONNECTED' }],
      keys: [{ count: keys, customKeyStoreId: 'bench-hsm' }],
    });
    const seedMs = performance.now() - t0;
    const stats = await emulator.admin.stats();
    console.log(`seed in memory: ${stats.keys} keys in ${(seedMs / 1000).toFixed(2)} s (one admin call, including the HTTP round trip)`);
    await seedWithStateFile(keys);

    const keyIds = seeded.keyIds[0].filter((_, i) => i % 97 === 0);
    const spec: LoadSpec = { mode: 'sdk', url: emulator.url, region: emulator.region, credentials: emulator.credentials, keyIds, seconds, concurrency };

    report(`SDK client in the emulator's process, ${concurrency} in flight`, await sdkLoad(spec));
    report(`SDK client in a separate process, ${concurrency} in flight`, await runInChild(spec));
    if (clientProcesses > 1) {
      const per = Math.max(1, Math.round(concurrency / clientProcesses));
      const parts = await Promise.all(Array.from({ length: clientProcesses }, () => runInChild({ ...spec, concurrency: per })));
      const total = parts.reduce((sum, r) => sum + rate(r), 0);
      console.log(
        `SDK clients in ${clientProcesses} separate processes, ${per} in flight each: ${total.toFixed(0)} DescribeKey/s in total (${parts.map((r) => rate(r).toFixed(0)).join(' + ')}; ${parts.reduce((n, r) => n + r.errors, 0)} errors)`,
      );
    }

    const cpuBefore = process.cpuUsage();
    const raw = await runInChild({ ...spec, mode: 'raw' });
    const cpu = process.cpuUsage(cpuBefore);
    const usPerRequest = (cpu.user + cpu.system) / Math.max(1, raw.ok + raw.errors);
    report(
      `pre-signed raw HTTP client in a separate process, ${concurrency} in flight`,
      raw,
      `\n  emulator CPU: ${usPerRequest.toFixed(0)} µs per DescribeKey (incl. SigV4 verification) ⇒ ~${(1e6 / usPerRequest).toFixed(0)} DescribeKey/s per fully used core`,
    );
  } finally {
    await emulator.close();
  }
}

if (process.argv.includes('--load-worker')) {
  process.once('message', (message) => {
    const spec = message as LoadSpec;
    void (spec.mode === 'raw' ? rawLoad(spec) : sdkLoad(spec)).then((r) => process.send?.(r));
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
