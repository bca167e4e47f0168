/**
 * `npm run bench [-- --quick] [--quota-scale N] [--scenarios a,b] [--docs]`
 *
 * Decommission benchmark at the KMS quota limit, beside the naive approaches: the real worker (a separate
 * process, its RSS sampled from /proc), a real Temporal dev server and the KMS emulator (a separate
 * process) with AWS's quotas × scale and ~20 ms latency per request. Prints Markdown tables, writes
 * `bench/results/latest.json` and `bench/results/rate.svg`; `--docs` also rewrites the README's Performance
 * section (between its markers) and `docs/bench-rate.svg`.
 */
import { Client, Connection } from '@temporalio/client';
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startDevServer } from '../src/devtools/temporal-dev-server';
import { buildForBench, repoRoot } from './build';
import { renderRateChart } from './chart';
import { DEFAULT_SCALE, DEFAULT_SCENARIOS, FULL_SIZES, QUICK_SIZES, SCENARIOS, type BenchConfig, type BenchSizes, type ScenarioName } from './config';
import type { BenchContext } from './context';
import { deriveFindings } from './findings';
import { renderMarkdown, renderPerformanceDoc } from './report';
import { runBaselines } from './scenarios/baselines';
import { runConcurrent } from './scenarios/concurrent';
import { runInventory } from './scenarios/inventory';
import { runLagging } from './scenarios/lagging';
import { runRss } from './scenarios/rss';
import { runScheduleLarge } from './scenarios/schedule-large';
import { runScheduleRollback } from './scenarios/schedule-rollback';
import { runUsageCheck } from './scenarios/usage-check';
import type { BenchResults } from './types';

interface CliOptions {
  quick?: boolean;
  quotaScale?: number;
  scenarios?: ScenarioName[];
  latencyMs: number;
  jitterMs: number;
  seed: number;
  docs?: boolean;
  out: string;
  size?: Partial<BenchSizes>;
  workerNodeFlags?: string;
  workerEnv?: Record<string, string>;
  profileWorker?: boolean;
  render?: string;
}

function positive(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number.`);
    return n;
  };
}

/** The worker image's `ENV NODE_OPTIONS="…"` (one source of truth for how the worker runs). */
function shippedNodeOptions(): string | undefined {
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  return /^ENV NODE_OPTIONS="([^"]*)"/m.exec(dockerfile)?.[1];
}

function parseArgs(argv: string[]): BenchConfig & { docs: boolean; out: string; render?: string } {
  const program = new Command('bench')
    .description('Decommission benchmark at the KMS quota limit, beside the naive approaches.')
    .option('--quick', 'small sizes (under 3 minutes)')
    .addOption(
      new Option(
        '--quota-scale <factor>',
        `multiply every AWS quota (emulator and worker pacing); default ${DEFAULT_SCALE.full} (quick: ${DEFAULT_SCALE.quick})`,
      ).argParser(positive('--quota-scale')),
    )
    .addOption(
      new Option('--scenarios <list>', `comma-separated subset of ${SCENARIOS.join(', ')}`).argParser((v) => {
        const names = v.split(',').map((s) => s.trim()) as ScenarioName[];
        for (const n of names) if (!SCENARIOS.includes(n)) throw new InvalidArgumentError(`unknown scenario "${n}"; known: ${SCENARIOS.join(', ')}`);
        return names;
      }),
    )
    .addOption(new Option('--latency-ms <ms>', 'emulator latency per request').argParser(Number).default(20))
    .addOption(new Option('--jitter-ms <ms>', 'extra uniform random latency').argParser(Number).default(10))
    .addOption(new Option('--seed <n>', 'emulator seed (ids, jitter)').argParser(Number).default(42))
    .addOption(
      new Option('--size <name=value>', 'override one size, e.g. largeScheduleKeys=2000 or rssRuns=10,100 (repeatable)').argParser(
        (v: string, prev: Partial<BenchSizes> = {}) => {
          const [name, value = ''] = v.split('=');
          const sizes = QUICK_SIZES as unknown as Record<string, unknown>;
          const numbers = value.split(',').map(Number);
          const isList = Array.isArray(sizes[name]);
          if (!(name in sizes) || numbers.some((n) => !Number.isInteger(n) || n <= 0) || (!isList && numbers.length !== 1)) {
            throw new InvalidArgumentError(`expected name=positive integer (a comma list for rssRuns), name one of ${Object.keys(sizes).join(', ')}`);
          }
          return { ...prev, [name]: isList ? numbers : numbers[0] };
        },
      ),
    )
    .addOption(
      new Option('--worker-env <NAME=value>', 'extra environment for the worker process, e.g. KMS_QUOTA_UTILIZATION=0.99 (repeatable; experiments)').argParser(
        (v: string, prev: Record<string, string> = {}) => {
          const i = v.indexOf('=');
          if (i <= 0) throw new InvalidArgumentError('expected NAME=value');
          return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
        },
      ),
    )
    .option(
      '--worker-node-flags <flags>',
      'node flags for the worker process, space-separated; default the worker image\'s NODE_OPTIONS (Dockerfile), "" for none',
    )
    .option('--render <json>', 'run nothing: re-render the tables, chart and findings (and docs with --docs) from a results file')
    .option('--profile-worker', 'CPU-profile the worker during the inventory (slows it a little) and report where its CPU goes')
    .option('--docs', "also rewrite the README's Performance section and docs/bench-rate.svg from this run")
    .addOption(new Option('--out <file>', 'JSON results file').default(path.join(repoRoot, 'bench', 'results', 'latest.json')));
  program.parse(argv, { from: 'user' });
  const o = program.opts<CliOptions>();
  const mode = o.quick ? 'quick' : 'full';
  return {
    mode,
    quotaScale: o.quotaScale ?? DEFAULT_SCALE[mode],
    utilization: 0.97,
    latencyMs: o.latencyMs,
    jitterMs: o.jitterMs,
    sizes: { ...(mode === 'quick' ? QUICK_SIZES : FULL_SIZES), ...o.size },
    // Measure the worker as it is deployed: the image's heap settings are part of its memory figure.
    workerNodeFlags: o.workerNodeFlags ?? shippedNodeOptions(),
    workerEnv: o.workerEnv,
    profileWorker: o.profileWorker ?? false,
    scenarios: o.scenarios ?? [...DEFAULT_SCENARIOS],
    seed: o.seed,
    docs: o.docs ?? false,
    out: path.resolve(o.out),
    render: o.render ? path.resolve(o.render) : undefined,
  };
}

function elapsed(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(0)} s`;
}

/** Writes the JSON (unless re-rendering), the chart, the Markdown, and with `docs` the README section. */
async function publish(results: BenchResults, options: { out: string; docs: boolean; writeJson: boolean }, log: (line: string) => void): Promise<void> {
  // Failures are recorded while running; everything else is derived from the figures, afresh on every render.
  results.findings = [...results.findings.filter((f) => f.startsWith('Scenario ')), ...deriveFindings(results)];
  await mkdir(path.dirname(options.out), { recursive: true });
  if (options.writeJson) await writeFile(options.out, `${JSON.stringify(results, null, 2)}\n`);
  const svgPath = path.join(path.dirname(options.out), 'rate.svg');
  const subtitle = `quota scale ${results.quotaScale}, latency ${results.latency.latencyMs}+${results.latency.jitterMs} ms, worker pacing ${results.utilization} × quota`;
  if (results.chart.series.length) await writeFile(svgPath, renderRateChart(results.chart.title, results.chart.series, subtitle));
  console.log(`\n${renderMarkdown(results)}`);
  log(
    `${options.writeJson ? `results written to ${path.relative(process.cwd(), options.out)}` : 'rendered'}${results.chart.series.length ? `, chart ${path.relative(process.cwd(), svgPath)}` : ''}`,
  );
  if (options.docs) {
    const docs = path.join(repoRoot, 'docs');
    await mkdir(docs, { recursive: true });
    if (results.chart.series.length) await copyFile(svgPath, path.join(docs, 'bench-rate.svg'));
    // The section lives in the README between markers, so the published figures are always one run's.
    const readmePath = path.join(repoRoot, 'README.md');
    const readme = await readFile(readmePath, 'utf8');
    const [start, end] = ['<!-- performance:start -->\n', '<!-- performance:end -->'];
    const a = readme.indexOf(start);
    const b = readme.indexOf(end);
    if (a < 0 || b < a) throw new Error(`README.md has no ${start.trim()} … ${end} markers`);
    const body = renderPerformanceDoc(results, 'docs/bench-rate.svg').replace(/^## Performance\n+/, '');
    await writeFile(readmePath, `${readme.slice(0, a + start.length)}${body.trimEnd()}\n${readme.slice(b)}`);
    log('README.md (Performance section) and docs/bench-rate.svg updated');
  }
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const log = (line: string): void => console.log(`[${elapsed(t0).padStart(5)}] ${line}`);
  if (cfg.render) {
    const results = JSON.parse(await readFile(cfg.render, 'utf8')) as BenchResults;
    await publish(results, { out: cfg.render, docs: cfg.docs, writeJson: false }, log);
    return;
  }
  log(
    `mode ${cfg.mode}, quota scale ${cfg.quotaScale} (ScheduleKeyDeletion ${15 * cfg.quotaScale}/s, CancelKeyDeletion ${5 * cfg.quotaScale}/s, DescribeKey ${2000 * cfg.quotaScale}/s), latency ${cfg.latencyMs}+${cfg.jitterMs} ms, scenarios ${cfg.scenarios.join(', ')}`,
  );
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    mode: cfg.mode,
    quotaScale: cfg.quotaScale,
    utilization: cfg.utilization,
    latency: { latencyMs: cfg.latencyMs, jitterMs: cfg.jitterMs },
    workerNodeFlags: cfg.workerNodeFlags,
    workerEnv: cfg.workerEnv,
    machine: { cpus: os.cpus().length, loadAverageAtStart: os.loadavg(), loadAverageAtEnd: [], node: process.version },
    ceilings: [],
    scenarios: [],
    chart: { title: '', series: [] },
    findings: [],
  };

  const build = await buildForBench(log);
  if (build.reused) log('reusing transpiled sources and workflow bundle');
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'kms-bench-'));
  log(`child process logs in ${logDir}`);
  const server = await startDevServer({ logLevel: 'error' });
  const onSignal = (): void => {
    void server.kill().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Histories of big runs exceed gRPC's default 4 MB receive limit (one page of a 16,666-key run is ~7 MB).
  const connection = await Connection.connect({ address: server.address, channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 } });
  const ctx: BenchContext = { cfg, build, temporalAddress: server.address, client: new Client({ connection, namespace: 'default' }), logDir, log };
  log(`Temporal dev server at ${server.address}`);

  try {
    for (const name of cfg.scenarios) {
      const ts = performance.now();
      const before = results.scenarios.length;
      log(`scenario ${name} …`);
      try {
        switch (name) {
          case 'inventory': {
            const { result, ceilings } = await runInventory(ctx);
            results.ceilings.push(...ceilings);
            results.scenarios.push(result);
            break;
          }
          case 'schedule-rollback': {
            const { schedule, rollback, chart } = await runScheduleRollback(ctx);
            results.scenarios.push(schedule, rollback);
            results.chart = chart;
            break;
          }
          case 'schedule-large':
            results.scenarios.push(await runScheduleLarge(ctx));
            break;
          case 'concurrent':
            results.scenarios.push(await runConcurrent(ctx));
            break;
          case 'rss':
            for (const runs of cfg.sizes.rssRuns) results.scenarios.push(await runRss(ctx, runs));
            break;
          case 'baselines':
            results.scenarios.push(...(await runBaselines(ctx)));
            break;
          case 'lagging':
            results.scenarios.push(await runLagging(ctx));
            break;
          case 'usage-check':
            results.scenarios.push(...(await runUsageCheck(ctx)));
            break;
        }
        for (const r of results.scenarios.slice(before)) {
          log(
            `  ${r.name}: wall ${r.wallSeconds} s vs bound ${r.boundSeconds} s, rate ÷ quota ${(100 * r.achievedRatePerQuota).toFixed(1)}%, throttled ${r.throttled}, failed ${r.failedCalls}${r.worker ? `, worker peak RSS ${r.worker.peakRssMiB} MiB` : ''}`,
          );
        }
        log(`scenario ${name} done in ${elapsed(ts)}`);
      } catch (err) {
        const message = `scenario ${name} failed after ${elapsed(ts)}: ${(err as Error).stack ?? String(err)}`;
        log(message);
        results.findings.push(`Scenario ${name} did not complete: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await connection.close();
    await server.stop();
  }

  results.finishedAt = new Date().toISOString();
  results.machine.loadAverageAtEnd = os.loadavg();
  await publish(results, { out: cfg.out, docs: cfg.docs, writeJson: true }, log);
  log(`total ${elapsed(t0)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
