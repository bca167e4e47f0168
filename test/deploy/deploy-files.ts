/** Helpers for the deployment tests: the repo's deploy files, the tools that check them, a Dockerfile parser. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
export const DOCKERFILE = path.join(ROOT, 'Dockerfile');

/** Compiled entry points of the production image: its CMD (the worker) and the operator CLI run with `docker compose exec`. */
export const IMAGE_ENTRY_POINTS = ['dist/src/worker.js', 'dist/src/cli/main.js', 'dist/workflow-bundle.js'] as const;

/** Entry points of the Dockerfile's `emulator` target, for the compose `local` profile (emulator and seed job). */
export const EMULATOR_ENTRY_POINTS = ['dist/src/emulator/main.js', 'dist/scripts/demo/seed.js'] as const;

/** What the production image must not contain: the KMS emulator, the dev tools, the demo, benchmarks and tests. */
export const NOT_IN_PRODUCTION = [
  /^dist\/src\/emulator\//,
  /^dist\/src\/devtools\//,
  /^dist\/scripts\//,
  /^dist\/bench\//,
  /^dist\/test\//,
  /(^|\/)(bench|test)\//,
] as const;

/** Whether an external tool is there; in CI its absence is a failure, on a laptop a skip with the reason. */
export interface ToolAvailability {
  available: boolean;
  reason?: string;
  mustFail: boolean;
}

export function toolAvailability(command: string, probeArgs: string[], install: string, env: NodeJS.ProcessEnv = process.env): ToolAvailability {
  const probe = spawnSync(command, probeArgs, { encoding: 'utf8' });
  if (probe.status === 0) return { available: true, mustFail: false };
  return { available: false, reason: `${command} is not usable here (${install})`, mustFail: Boolean(env.CI) };
}

/** One Dockerfile instruction, continuation lines joined. */
export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages (enough for RUN/COPY/ENV/CMD checks; no heredocs, no parser directives). */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push((current + line).trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(line) as RegExpExecArray;
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) as RegExpExecArray;
      stages.push({ from: m[1], name: m[2], instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** Sources of the `COPY` instructions of a stage that copy from the build context (not `--from`). */
export function contextCopies(stage: Stage): string[] {
  return stage.instructions
    .filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
}
