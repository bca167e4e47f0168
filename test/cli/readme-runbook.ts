import { readFileSync } from 'node:fs';
import path from 'node:path';

export const README = path.resolve(__dirname, '..', '..', 'README.md');

/** One command of the README runbook. */
export interface RunbookCommand {
  /** `runbook` (Temporal CLI) or `runbook-cli` (kms-decommission). */
  sequence: string;
  /** The command as written (continuation lines joined). */
  text: string;
  /** From the fence's `expect-failure="…"`: the command must fail with this message. */
  expectFailure?: string;
  /** 1-based README line of the command, for failure messages. */
  line: number;
}

/**
 * Every command of the fenced ```sh runbook…``` blocks between `<!-- runbook:start -->` and
 * `<!-- runbook:end -->`, in document order. Other code blocks are prose, not commands.
 */
export function runbookCommands(markdown: string = readFileSync(README, 'utf8')): RunbookCommand[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === '<!-- runbook:start -->');
  const end = lines.findIndex((l) => l.trim() === '<!-- runbook:end -->');
  if (start < 0 || end < start) throw new Error('README has no <!-- runbook:start --> … <!-- runbook:end --> section');
  const commands: RunbookCommand[] = [];
  let fence: { sequence: string; expectFailure?: string } | undefined;
  let pending: { text: string; line: number } | undefined;
  for (let i = start + 1; i < end; i++) {
    const line = lines[i];
    const open = /^```sh\s+(runbook(?:-[a-z]+)?)(?:\s+expect-failure="([^"]*)")?\s*$/.exec(line);
    if (!fence) {
      if (open) fence = { sequence: open[1], expectFailure: open[2] };
      continue;
    }
    if (line.startsWith('```')) {
      if (pending) throw new Error(`README line ${pending.line}: command ends with a line continuation`);
      fence = undefined;
      continue;
    }
    if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    const continued = line.endsWith('\\');
    const piece = continued ? line.slice(0, -1) : line;
    pending = pending ? { ...pending, text: `${pending.text} ${piece.trim()}` } : { text: piece.trim(), line: i + 1 };
    if (!continued) {
      commands.push({ sequence: fence.sequence, text: pending.text, expectFailure: fence.expectFailure, line: pending.line });
      pending = undefined;
    }
  }
  if (fence) throw new Error('README runbook has an unclosed code fence');
  return commands;
}
