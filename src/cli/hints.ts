import path from 'node:path';
import type { DecommissionStatus, Phase } from '../shared/types';

/** Phases whose blockers a cancel cannot answer: every key is deleted, or a rollback is already running. */
const NO_CANCEL_IN: readonly Phase[] = ['DISCONNECTING', 'DELETING', 'ROLLING_BACK'];

/** The name to record for whoever runs a printed command: their login, expanded by their shell. */
export const YOU = '"$USER"';

/** `value` as one shell word: unchanged when it needs no quoting, else in single quotes. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * How to run this CLI again, so that every command it prints runs as printed: `kms-decommission` when it
 * was started through the installed binary (`npm link`, a global install), otherwise
 * `npm run kms-decommission --` (a clone). `--address` / `--namespace` given as flags are carried over;
 * the environment (`TEMPORAL_ADDRESS`…) carries over by itself.
 *
 * @example
 * cliCommand({ address: 'temporal.internal:7233' }) // 'npm run kms-decommission -- --address temporal.internal:7233'
 */
export function cliCommand(globals: { address?: string; namespace?: string } = {}, script: string | undefined = process.argv[1]): string {
  const parts = [script && path.basename(script) === 'kms-decommission' ? 'kms-decommission' : 'npm run kms-decommission --'];
  if (globals.address) parts.push('--address', shellWord(globals.address));
  if (globals.namespace) parts.push('--namespace', shellWord(globals.namespace));
  return parts.join(' ');
}

/** One command line per action the blocker allows, each naming the blocker, ready to run. */
export function resolveCommands(status: DecommissionStatus, cli: string): string[] {
  const b = status.blocker;
  if (!b) return [];
  return b.allowedActions.map((action) => `${cli} resolve ${status.customKeyStoreId} --blocker ${b.id} --action ${action} --by ${YOU}`);
}

/** The cancel command, when a cancel is accepted in the phase the run blocked in (and none was accepted yet). */
export function cancelCommand(status: DecommissionStatus, cli: string): string | undefined {
  if (status.cancel || (status.previousPhase && NO_CANCEL_IN.includes(status.previousPhase))) return undefined;
  return `${cli} cancel ${status.customKeyStoreId} --by ${YOU} --reason "<why>"`;
}

/** "CONNECT_FAILED-1, in CONNECTING": which blocker, and where the run stopped. */
export function blockerLabel(status: DecommissionStatus): string {
  const b = status.blocker;
  if (!b) return '';
  return `${b.id}${status.previousPhase ? `, in ${status.previousPhase}` : ''}`;
}

/**
 * The blocker and what to do about it, as lines: what is wrong, then one runnable command per allowed
 * action and the cancel command where cancelling is still possible.
 */
export function blockerLines(status: DecommissionStatus, cli: string): string[] {
  const b = status.blocker;
  if (!b) return [];
  const commands = resolveCommands(status, cli);
  const cancel = cancelCommand(status, cli);
  return [
    `BLOCKED (${blockerLabel(status)}): ${b.message}`,
    commands.length === 1 ? 'Resolve with:' : 'Resolve with one of:',
    ...commands.map((c) => `  ${c}`),
    ...(cancel ? ['Or cancel:', `  ${cancel}`] : []),
  ];
}
