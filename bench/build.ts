/**
 * Prepares what the benchmark runs as separate processes: `src/**` transpiled to plain JavaScript (so the
 * worker's RSS does not include the TypeScript compiler that ts-node would load) and the prebuilt
 * workflow bundle (what production workers load via WORKFLOW_BUNDLE_PATH).
 *
 * Output lives under `node_modules/.cache/kms-bench/<hash>/`: ignored by git, and module resolution from
 * there still finds the project's `node_modules`. The hash covers every source file, so an unchanged tree
 * is reused and an edited one is rebuilt.
 */
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';

export const repoRoot = path.resolve(__dirname, '..');

export interface BenchBuild {
  /** Directory holding the transpiled `src/`. */
  outDir: string;
  workerScript: string;
  emulatorScript: string;
  bundlePath: string;
  reused: boolean;
}

async function listTs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listTs(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out.sort();
}

/** Transpiles `src/**` (no type check: `npm run typecheck` does that) and bundles the workflows, unless already built. */
export async function buildForBench(log: (line: string) => void = () => undefined): Promise<BenchBuild> {
  const srcDir = path.join(repoRoot, 'src');
  const files = await listTs(srcDir);
  const hash = createHash('sha256');
  const sources = new Map<string, string>();
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    sources.set(file, text);
    hash.update(path.relative(repoRoot, file)).update('\0').update(text).update('\0');
  }
  const digest = hash.digest('hex').slice(0, 16);
  const outDir = path.join(repoRoot, 'node_modules', '.cache', 'kms-bench', digest);
  const build: BenchBuild = {
    outDir,
    workerScript: path.join(outDir, 'src', 'worker.js'),
    emulatorScript: path.join(outDir, 'src', 'emulator', 'main.js'),
    bundlePath: path.join(outDir, 'workflow-bundle.js'),
    reused: false,
  };
  if (existsSync(build.bundlePath) && existsSync(build.workerScript)) return { ...build, reused: true };

  const t0 = performance.now();
  for (const [file, text] of sources) {
    const out = ts.transpileModule(text, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, isolatedModules: true },
    });
    const target = path.join(outDir, path.relative(repoRoot, file)).replace(/\.ts$/, '.js');
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, out.outputText);
  }
  log(`transpiled ${files.length} source files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = performance.now();
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(srcDir, 'workflows', 'index.ts'), logger: new DefaultLogger('WARN') });
  await writeFile(build.bundlePath, code);
  log(`workflow bundle built in ${((performance.now() - t1) / 1000).toFixed(1)} s (${Math.round(code.length / 1024)} KiB)`);
  return build;
}
