import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Production workflow bundle: built once at build time, so workers start fast and run exactly the reviewed code. */
async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(root, 'src', 'workflows', 'index.ts') });
  const out = path.join(root, 'dist', 'workflow-bundle.js');
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, code);
  console.log(`workflow bundle written to ${path.relative(process.cwd(), out)} (${Math.round(code.length / 1024)} KiB)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
