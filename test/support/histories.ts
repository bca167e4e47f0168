import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporalAddress } from './harness';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'histories');

/**
 * With RECORD_HISTORIES=1, exports a finished run's history with the real CLI
 * (`temporal workflow show -o json`), for the replay test to check future workflow code against.
 */
export function recordHistory(workflowId: string, name: string, address = temporalAddress()): void {
  if (!process.env.RECORD_HISTORIES) return;
  const cli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
  const json = execFileSync(cli, ['workflow', 'show', '--address', address, '-w', workflowId, '-o', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), json);
}
