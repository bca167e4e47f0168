#!/usr/bin/env node
import { CommanderError } from 'commander';
// Only light modules at load time: usage errors and --help must not pay for loading the Temporal client.
import { DecommissionAlreadyRunningError, DecommissionNotFoundError, InvalidInputError, UpdateRejectedError } from '../client/errors';
import { CliError, ExitCode, type ExitCodeValue } from './exit-codes';
import { buildProgram } from './program';

/** Commander already printed its message; only the exit code is ours to choose. */
function commanderExitCode(err: CommanderError): ExitCodeValue {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.OK;
  return ExitCode.USAGE;
}

/** One line for stderr and the exit code, for any error a command can throw. */
export function describeError(err: unknown): { message: string; exitCode: ExitCodeValue } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof InvalidInputError) return { message: err.message, exitCode: ExitCode.USAGE };
  if (err instanceof UpdateRejectedError) return { message: err.message, exitCode: ExitCode.UPDATE_REJECTED };
  if (err instanceof DecommissionNotFoundError) return { message: err.message, exitCode: ExitCode.NOT_FOUND };
  if (err instanceof DecommissionAlreadyRunningError) return { message: err.message, exitCode: ExitCode.ALREADY_RUNNING };
  return { message: err instanceof Error ? err.message : String(err), exitCode: ExitCode.ERROR };
}

/** Runs the CLI with `argv` (as in `process.argv`) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExitCode(err);
    const { message, exitCode } = describeError(err);
    process.stderr.write(`error: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return exitCode;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
