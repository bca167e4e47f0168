/**
 * `npm run bench:api [-- --clients 50 --duration 60 --interval-ms 1000 --stores 10]`
 *
 * The portal API under load (issue 13 §5): `clients` concurrent portal clients, each polling a decommission's
 * status and the list in turn for `duration` seconds, against the API as it runs in production (its own
 * process, transpiled, with its request log), a Temporal dev server, the worker (its own process: it answers
 * the status queries) and the KMS emulator (its own process). Every request carries a development-issuer
 * token the API verifies. Reports p50/p95/p99/max latency and the error count per endpoint, the request
 * rate achieved, and the API process's CPU; writes `bench/results/api-load.json`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startDevIssuer } from '../src/devtools/dev-issuer';
import { startDevServer } from '../src/devtools/temporal-dev-server';
import { buildForBench, repoRoot } from './build';
import { startEmulatorProcess, startWorkerProcess } from './processes';
import { readProcCpuSeconds, readProcMemory } from './rss';

interface LoadConfig {
  clients: number;
  durationS: number;
  /** Each client waits this long between two requests (a portal page polling), plus up to 10 % jitter. */
  intervalMs: number;
  stores: number;
  keysPerStore: number;
  out: string;
}

/** Latency figures of one endpoint, milliseconds. */
interface EndpointFigures {
  requests: number;
  errors: number;
  /** Status codes other than 200, and network errors, by kind. */
  errorKinds: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

const TARGET_P99_MS = 200;

function positiveInt(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a non-negative integer`);
    return n;
  };
}

function parseArgs(argv: string[]): LoadConfig {
  const program = new Command('bench:api')
    .description('The portal API under load: concurrent clients polling status and the list.')
    .option('--clients <n>', 'concurrent clients', positiveInt('--clients'), 50)
    .option('--duration <s>', 'seconds of load', positiveInt('--duration'), 60)
    .option('--interval-ms <ms>', 'pause between two requests of one client (0: as fast as answers come)', positiveInt('--interval-ms'), 1000)
    .option('--stores <n>', 'decommissions awaiting approval, polled at random', positiveInt('--stores'), 10)
    .option('--keys-per-store <n>', 'keys per store', positiveInt('--keys-per-store'), 20)
    .option('--out <file>', 'JSON results', path.join(repoRoot, 'bench', 'results', 'api-load.json'));
  program.parse(argv, { from: 'user' });
  const o = program.opts<{ clients: number; duration: number; intervalMs: number; stores: number; keysPerStore: number; out: string }>();
  return { clients: o.clients, durationS: o.duration, intervalMs: o.intervalMs, stores: o.stores, keysPerStore: o.keysPerStore, out: path.resolve(o.out) };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function figures(latencies: number[], errorKinds: Record<string, number>): EndpointFigures {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  return {
    requests: latencies.length,
    errors,
    errorKinds,
    p50: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] ?? 0),
    mean: round(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
  };
}

/** Starts the transpiled API (`src/api/server.js`) and waits for its "listening" log line. */
async function startApiProcess(script: string, env: NodeJS.ProcessEnv, logFile: string): Promise<{ url: string; child: ChildProcess }> {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: path.dirname(script) });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  process.once('exit', () => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the API did not start within 60 s; see ${logFile}`)), 60_000);
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-10_000);
      const match = /portal API listening on (http:\/\/[^\s"]+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (seen = (seen + chunk.toString()).slice(-10_000)));
    child.once('exit', (code) => reject(new Error(`the API exited with code ${code}; see ${logFile}\n${seen.slice(-2000)}`)));
  });
  return { url, child };
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const log = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();

  const build = await buildForBench(log);
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'kms-bench-api-'));
  log(`logs in ${logDir}`);
  const server = await startDevServer();
  const stops: (() => Promise<unknown>)[] = [() => server.stop()];
  try {
    const emulator = await startEmulatorProcess(build, { quotaScale: 1, dayMs: 86_400_000, seed: 42, logFile: path.join(logDir, 'emulator.log') });
    stops.unshift(() => emulator.stop());
    const taskQueue = 'bench-api';
    const worker = await startWorkerProcess(build, {
      temporalAddress: server.address,
      taskQueue,
      emulatorUrl: emulator.url,
      quotaScale: 1,
      utilization: 0.97,
      logFile: path.join(logDir, 'worker.log'),
    });
    stops.unshift(() => worker.stop());
    // Tokens outlive the run: the load measures the API, not a token refresh.
    const issuer = await startDevIssuer({ tokenTtlSeconds: cfg.durationS + 600 });
    stops.unshift(() => issuer.close());
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: 'default',
      TASK_QUEUE: taskQueue,
      API_HOST: '127.0.0.1',
      API_PORT: '0',
      API_ISSUER: issuer.issuer,
      API_AUDIENCE: issuer.audience,
    };
    const api = await startApiProcess(path.join(build.outDir, 'src', 'api', 'server.js'), env, path.join(logDir, 'api.log'));
    stops.unshift(async () => {
      api.child.kill('SIGTERM');
      await new Promise((resolve) => api.child.once('exit', resolve));
    });
    log(`API at ${api.url} (pid ${api.child.pid})`);

    // Decommissions to poll: started through the API by alice, all waiting for approval.
    const aliceToken = await issuer.mint('alice');
    const storeIds: string[] = [];
    for (let i = 0; i < cfg.stores; i++) {
      const storeId = `cks-benchapi${String(i).padStart(8, '0')}`;
      await emulator.admin.seed({
        stores: [
          {
            id: storeId,
            name: `bench-api-${i}`,
            type: 'EXTERNAL_KEY_STORE',
            connectionState: 'CONNECTED',
            xksProxyUriEndpoint: `https://xks-${i}.example.com`,
          },
        ],
      });
      await emulator.admin.seed({ keys: [{ count: cfg.keysPerStore, customKeyStoreId: storeId, keyState: 'Enabled' }] });
      const started = await fetch(`${api.url}/v1/decommissions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ customKeyStoreId: storeId, pendingWindowInDays: 7, ticket: `BENCH-${i}` }),
      });
      if (started.status !== 201) throw new Error(`start ${storeId}: ${started.status} ${await started.text()}`);
      storeIds.push(storeId);
    }
    const deadline = Date.now() + 120_000;
    for (const storeId of storeIds) {
      for (;;) {
        const status = (await (await fetch(`${api.url}/v1/decommissions/${storeId}`, { headers: { authorization: `Bearer ${aliceToken}` } })).json()) as {
          phase?: string;
        };
        if (status.phase === 'AWAITING_APPROVAL') break;
        if (Date.now() > deadline) throw new Error(`${storeId} did not reach AWAITING_APPROVAL (phase ${status.phase})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    log(`${cfg.stores} decommissions of ${cfg.keysPerStore} keys awaiting approval`);

    // The load: each client alternates a status poll (a random run) and a list, with its own token.
    const users = ['alice', 'bob', 'carol', 'dave', 'mallory'] as const;
    const tokens = await Promise.all(users.map((u) => issuer.mint(u)));
    const latencies = { status: [] as number[], list: [] as number[] };
    const errorKinds = { status: {} as Record<string, number>, list: {} as Record<string, number> };
    const apiCpuAtStart = readProcCpuSeconds(api.child.pid as number);
    const loadStart = Date.now();
    const loadEnd = loadStart + cfg.durationS * 1000;
    log(`load: ${cfg.clients} clients for ${cfg.durationS} s, ${cfg.intervalMs} ms between requests of a client`);
    const client = async (n: number): Promise<void> => {
      const authorization = `Bearer ${tokens[n % tokens.length]}`;
      // Spread the clients' first requests over one interval, as pages opened at different moments.
      await new Promise((r) => setTimeout(r, Math.random() * cfg.intervalMs));
      for (let i = 0; Date.now() < loadEnd; i++) {
        const kind = i % 2 === 0 ? 'status' : 'list';
        const url =
          kind === 'status'
            ? `${api.url}/v1/decommissions/${storeIds[Math.floor(Math.random() * storeIds.length)]}`
            : `${api.url}/v1/decommissions?running=true`;
        const t = performance.now();
        try {
          const response = await fetch(url, { headers: { authorization } });
          await response.arrayBuffer();
          if (response.status !== 200) errorKinds[kind][`HTTP ${response.status}`] = (errorKinds[kind][`HTTP ${response.status}`] ?? 0) + 1;
        } catch (err) {
          const name = err instanceof Error ? err.name : 'error';
          errorKinds[kind][name] = (errorKinds[kind][name] ?? 0) + 1;
        }
        latencies[kind].push(performance.now() - t);
        if (cfg.intervalMs > 0) await new Promise((r) => setTimeout(r, cfg.intervalMs * (1 + Math.random() * 0.1)));
      }
    };
    await Promise.all(Array.from({ length: cfg.clients }, (_, n) => client(n)));
    const loadSeconds = (Date.now() - loadStart) / 1000;
    const apiCpuSeconds = readProcCpuSeconds(api.child.pid as number) - apiCpuAtStart;
    const apiRssKiB = readProcMemory(api.child.pid as number)?.rssKiB;
    const apiRssMiB = apiRssKiB === undefined ? undefined : Math.round(apiRssKiB / 1024);

    const status = figures(latencies.status, errorKinds.status);
    const list = figures(latencies.list, errorKinds.list);
    const all = figures([...latencies.status, ...latencies.list], { ...prefixed('status', errorKinds.status), ...prefixed('list', errorKinds.list) });
    const results = {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: { cpus: os.cpus().length, loadAverageAtStart, loadAverageAtEnd: os.loadavg(), node: process.version },
      config: { clients: cfg.clients, durationS: cfg.durationS, intervalMs: cfg.intervalMs, stores: cfg.stores, keysPerStore: cfg.keysPerStore },
      loadSeconds: Math.round(loadSeconds * 10) / 10,
      requestsPerSecond: Math.round((all.requests / loadSeconds) * 10) / 10,
      endpoints: { 'GET /v1/decommissions/:id': status, 'GET /v1/decommissions?running=true': list },
      overall: all,
      api: { cpuSecondsDuringLoad: Math.round(apiCpuSeconds * 10) / 10, cpuShare: Math.round((apiCpuSeconds / loadSeconds) * 100) / 100, rssMiB: apiRssMiB },
      target: { description: `p99 < ${TARGET_P99_MS} ms and 0 errors`, met: all.p99 < TARGET_P99_MS && all.errors === 0 },
    };
    await mkdir(path.dirname(cfg.out), { recursive: true });
    await writeFile(cfg.out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(
      [
        '',
        `| endpoint | requests | errors | p50 ms | p95 ms | p99 ms | max ms |`,
        `|---|---:|---:|---:|---:|---:|---:|`,
        ...Object.entries({ ...results.endpoints, overall: all }).map(
          ([name, f]) => `| ${name} | ${f.requests} | ${f.errors} | ${f.p50} | ${f.p95} | ${f.p99} | ${f.max} |`,
        ),
        '',
        `${results.requestsPerSecond} requests/s over ${results.loadSeconds} s; API process CPU ${results.api.cpuSecondsDuringLoad} s (${results.api.cpuShare} of a core), RSS ${apiRssMiB ?? '?'} MiB; target ${results.target.description}: ${results.target.met ? 'met' : 'NOT met'}`,
      ].join('\n'),
    );
    log(`results written to ${path.relative(process.cwd(), cfg.out)}`);
  } finally {
    for (const stop of stops) await stop().catch((err: unknown) => console.error(`stopping: ${String(err)}`));
  }
}

function prefixed(prefix: string, kinds: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(kinds).map(([k, v]) => [`${prefix}: ${k}`, v]));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
