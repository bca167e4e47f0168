/**
 * `npm run demo [-- --keep-running]`: the whole decommission on one machine, in about a minute.
 * See docs/demo.md. Ctrl-C stops every process the demo started (a second Ctrl-C kills them at once).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { runDemo, type DemoOptions } from './demo/run';
import { DemoStack } from './demo/stack';

const startedAt = Date.now();

function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`must be an integer between ${min} and ${max}`);
    return n;
  };
}

function parseOptions(argv: string[]): DemoOptions {
  const program = new Command('npm run demo --')
    .description('Runs a complete KMS custom key store decommission locally: Temporal dev server + Web UI, KMS emulator, worker.')
    .addOption(new Option('--keep-running', 'leave Temporal, the Web UI, the emulator and the worker up after the report (Ctrl-C stops them)'))
    .addOption(new Option('--day-ms <ms>', 'real milliseconds per emulated KMS day').argParser(integer(100, 86_400_000)).default(2_000))
    .addOption(new Option('--window <days>', 'KMS waiting period in days (7–30)').argParser(integer(7, 30)).default(7))
    .addOption(new Option('--port <port>', 'Temporal gRPC port (a free one is used if taken)').argParser(integer(1, 65_535)).default(7233))
    .addOption(new Option('--ui-port <port>', 'Temporal Web UI port (a free one is used if taken)').argParser(integer(1, 65_535)).default(8233))
    .parse(argv, { from: 'user' });
  const o = program.opts<{ keepRunning?: boolean; dayMs: number; window: number; port: number; uiPort: number }>();
  return { keepRunning: o.keepRunning ?? false, dayMs: o.dayMs, windowDays: o.window, port: o.port, uiPort: o.uiPort, root: path.resolve(__dirname, '..') };
}

const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const stack = new DemoStack();
  const abort = new AbortController();
  let interrupted = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      process.stderr.write('\nKilling every demo process now.\n');
      stack.killNow();
      process.exit(130);
    }
    interrupted = true;
    process.stderr.write(
      `\n${signal}: stopping the worker, the KMS emulator and the Temporal dev server (${signal === 'SIGINT' ? 'Ctrl-C again' : 'SIGINT'} to kill them at once)…\n`,
    );
    abort.abort(new Error(`interrupted by ${signal}`));
    void stack.stop().finally(() => {
      process.stderr.write('Stopped. Run `npm run demo` again any time.\n');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Whatever happens to this process, its children must not outlive it.
  process.on('exit', () => stack.killNow());

  let exitCode = 0;
  try {
    const result = await runDemo(options, stack, abort.signal);
    if (result.problems.length) exitCode = 1;
    console.log(`Demo finished in ${elapsed()} (wall time, from start to the checked report).`);
    if (options.keepRunning) {
      const pids = stack.pids();
      console.log(`\nStill running (--keep-running): Temporal pid ${pids.temporal}, KMS emulator pid ${pids.emulator}, worker pid ${pids.worker}.`);
      console.log(`Browse ${result.workflowUrl} — press Ctrl-C to stop everything.`);
      // Park here until a signal stops everything (the handler exits the process).
      await new Promise<never>(() => setInterval(() => undefined, 60_000));
    }
  } catch (err) {
    if (interrupted) return; // the signal handler is stopping everything and exits
    console.error(`\nDemo failed after ${elapsed()}: ${(err as Error).message}`);
    exitCode = 1;
  }
  if (interrupted) return;
  await stack.stop();
  process.exit(exitCode);
}

void main();
