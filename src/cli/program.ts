import { Command, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { registerStart } from './commands/start';
import { registerApprove, registerCancel, registerResolve } from './commands/updates';
import { registerList, registerReport, registerStatus } from './commands/inspect';
import { registerWatch } from './commands/watch';
import { EXIT_CODE_HELP } from './exit-codes';
import { integerArg } from './parse';

/** Version from the package.json above this file (src/cli in development, dist/src/cli when built). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kms-custom-key-store-decommission') return pkg.version ?? '0.0.0';
    }
  }
  return '0.0.0';
}

/** Where commander writes help and usage errors. */
export interface ProgramOutput {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

const stdio: ProgramOutput = {
  writeOut: (text) => process.stdout.write(text),
  writeErr: (text) => process.stderr.write(text),
};

/**
 * Builds the `kms-decommission` command line. Commander is set to throw instead of exiting, so that
 * `main` maps every failure to one exit-code table.
 *
 * @param output where help and usage errors go (default stdout/stderr)
 */
export function buildProgram(output: ProgramOutput = stdio): Command {
  const program = new Command('kms-decommission')
    .description('Operate KMS custom key store decommissions running on Temporal: start, approve, watch, resolve, cancel, report.')
    .version(packageVersion())
    .option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS or the Temporal config profile, else localhost:7233)')
    .option('--namespace <namespace>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE, else default)')
    .option('--task-queue <name>', 'task queue the worker polls, used by start (default: $TASK_QUEUE, else kms-decommission)')
    .addOption(new Option('--connect-timeout <ms>', 'give up connecting to Temporal after this long').argParser(integerArg(100, 600_000)).default(5_000))
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeOut: (text) => output.writeOut(text), writeErr: (text) => output.writeErr(text) })
    .addHelpText(
      'after',
      `
Examples:
  $ kms-decommission start --store cks-1234567890abcdef0 --requested-by alice --window 7 --ticket CHG-1042
  $ kms-decommission approve cks-1234567890abcdef0 --approver bob
  $ kms-decommission watch cks-1234567890abcdef0
  $ kms-decommission report cks-1234567890abcdef0 --format markdown
  $ kms-decommission list --phase BLOCKED
  $ kms-decommission resolve cks-1234567890abcdef0 --blocker CONNECT_FAILED-1 --by bob --action reconnect
  $ TEMPORAL_ADDRESS=temporal.internal:7233 kms-decommission status cks-1234567890abcdef0

${EXIT_CODE_HELP}`,
    );
  registerStart(program);
  registerStatus(program);
  registerApprove(program);
  registerCancel(program);
  registerResolve(program);
  registerList(program);
  registerReport(program);
  registerWatch(program);
  return program;
}
