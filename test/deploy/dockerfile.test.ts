/**
 * The Dockerfile, checked without a Docker engine: its build stage runs the project's own build
 * (`npm ci`, `npm run build`), and that build, run in a copy of exactly what the Dockerfile copies into
 * the image, followed by the build stage's remaining RUN steps and the runtime stage's `COPY --from=build`,
 * gives the production image's files: entry points that start (the worker in production mode, with the
 * prebuilt workflow bundle, against the jest dev server) and no emulator, devtools, demo, bench or test
 * code. The `emulator` target (compose `local` profile) runs the emulator and its seed job.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { contextCopies, DOCKERFILE, EMULATOR_ENTRY_POINTS, IMAGE_ENTRY_POINTS, NOT_IN_PRODUCTION, parseDockerfile, ROOT, type Stage } from './deploy-files';

const stages = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const buildStage = stages.find((s) => s.name === 'build') as Stage;
const emulatorStage = stages.find((s) => s.name === 'emulator') as Stage;
const runtimeStage = stages.at(-1) as Stage;

/** Every file under `dir`, as paths relative to it with `/` separators. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    return statSync(full).isDirectory() ? filesUnder(full, rel) : [rel];
  });
}

/** Replays a stage's `COPY --from=build <src> <dest>` (WORKDIR /app) from the build context copy into `image`. */
function copyFromBuild(stage: Stage, context: string, image: string): void {
  for (const i of stage.instructions.filter((x) => x.op === 'COPY' && x.args.startsWith('--from=build '))) {
    const [src, dest] = i.args.split(/\s+/).slice(1);
    const from = path.join(context, path.relative('/app', src));
    const to = path.join(image, dest);
    mkdirSync(path.dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true });
  }
}
const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const runs = (stage: Stage) => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

/** Starts a compiled entry point and resolves once a line matches; rejects with its output if it exits first. */
function startUntil(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} not ready within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready:\n${output}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

/** An environment with nothing of the developer's AWS or Temporal settings in it. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('TEMPORAL_') && k !== 'NODE_ENV'));
  return { ...base, ...extra };
}

describe('Dockerfile', () => {
  test('the build stage installs with npm ci and runs `npm run build`, the same steps as a developer build', () => {
    expect(packageJson.scripts.build).toContain('tsc -p tsconfig.json');
    expect(packageJson.scripts.build).toContain('node dist/scripts/bundle-workflows.js');
    const steps = runs(buildStage);
    const install = steps.findIndex((r) => /^npm ci\b/.test(r));
    const build = steps.indexOf('npm run build');
    expect(install).toBeGreaterThanOrEqual(0);
    expect(build).toBeGreaterThan(install);
    // The build script compiles src/ and scripts/ (bundle-workflows) with tsconfig.json.
    expect(contextCopies(buildStage)).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'scripts']));
  });

  test('the runtime stage runs the compiled worker in production mode, with production dependencies only', () => {
    expect(runs(runtimeStage).some((r) => /^npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runtimeStage.instructions).toContainEqual({ op: 'ENV', args: 'NODE_ENV=production' });
    expect(runtimeStage.name).toBe('runtime'); // the default target: what `docker build .` and the compose worker get
    expect(runtimeStage.instructions).toContainEqual({ op: 'COPY', args: '--from=build /app/image/dist ./dist' });
    expect(emulatorStage.instructions).toContainEqual({ op: 'COPY', args: '--from=build /app/dist ./dist' });
    expect(runtimeStage.instructions.find((i) => i.op === 'CMD')?.args).toBe('["node", "dist/src/worker.js"]');
    expect(runtimeStage.instructions.find((i) => i.op === 'USER')?.args).toBe('node');
    // No credentials or endpoints baked in.
    expect(runtimeStage.instructions.filter((i) => i.op === 'ENV' && /AWS_|TEMPORAL_/.test(i.args))).toEqual([]);
  });

  test('.dockerignore keeps everything the build needs and drops local state', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of contextCopies(buildStage)) expect(ignored).not.toContain(needed);
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', 'dist', '.data', '.git', '.env']));
  });

  describe('npm run build in a copy of the Docker build context', () => {
    let context: string;
    /** The production image's /app: the runtime stage's COPY --from=build, node_modules linked in. */
    let image: string;

    beforeAll(() => {
      context = mkdtempSync(path.join(tmpdir(), 'docker-context-'));
      for (const source of contextCopies(buildStage)) cpSync(path.join(ROOT, source), path.join(context, source), { recursive: true });
      // `npm ci` would download the same locked tree; reuse the installed one.
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(context, 'node_modules'), 'dir');
      const build = spawnSync('npm', ['run', 'build'], { cwd: context, encoding: 'utf8', timeout: 300_000, env: cleanEnv({}) });
      if (build.status !== 0) throw new Error(`npm run build failed in the Docker build context:\n${build.stdout}\n${build.stderr}`);
      // The build stage's steps after the build, as written (WORKDIR /app is the context copy here).
      const steps = runs(buildStage);
      for (const step of steps.slice(steps.indexOf('npm run build') + 1)) {
        const run = spawnSync('bash', ['-euo', 'pipefail', '-c', step.split('/app/').join(`${context}/`)], { cwd: context, encoding: 'utf8' });
        if (run.status !== 0) throw new Error(`RUN ${step} failed:\n${run.stdout}\n${run.stderr}`);
      }
      image = mkdtempSync(path.join(tmpdir(), 'docker-image-'));
      copyFromBuild(runtimeStage, context, image);
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(image, 'node_modules'), 'dir');
    }, 320_000);

    afterAll(() => {
      if (context) rmSync(context, { recursive: true, force: true });
      if (image) rmSync(image, { recursive: true, force: true });
    });

    test('produces the workflow bundle and every entry point the image and the compose file run', () => {
      expect(existsSync(path.join(context, 'dist', 'workflow-bundle.js'))).toBe(true);
      for (const entry of [...IMAGE_ENTRY_POINTS, ...EMULATOR_ENTRY_POINTS])
        expect({ entry, exists: existsSync(path.join(context, entry)) }).toEqual({ entry, exists: true });
    });

    test('the production image holds the worker, the CLI and the bundle, and no emulator, devtools, demo, bench or test code', () => {
      const files = filesUnder(image).filter((f) => !f.startsWith('node_modules'));
      for (const entry of IMAGE_ENTRY_POINTS) expect({ entry, shipped: files.includes(entry) }).toEqual({ entry, shipped: true });
      expect(files.filter((f) => NOT_IN_PRODUCTION.some((re) => re.test(f)))).toEqual([]);
      // Not even a file that mentions them by path: nothing shipped can load what was left out.
      const loaders = files.filter(
        (f) => f.endsWith('.js') && /require\("[^"]*\/(emulator|devtools)(\/[^"]*)?"\)/.test(readFileSync(path.join(image, f), 'utf8')),
      );
      expect(loaders).toEqual([]);
      // The build itself did compile them (so the check above is not vacuous).
      expect(existsSync(path.join(context, 'dist', 'src', 'emulator', 'main.js'))).toBe(true);
      expect(existsSync(path.join(context, 'dist', 'src', 'devtools'))).toBe(true);
    });

    test('the worker starts with NODE_ENV=production from dist/ and the prebuilt bundle (the image CMD)', async () => {
      const address = process.env.TEMPORAL_TEST_ADDRESS as string;
      const env = cleanEnv({
        NODE_ENV: 'production',
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_CONFIG_FILE: path.join(context, 'no-such-profile.toml'),
        TASK_QUEUE: `dockerfile-test-${Date.now()}`,
        AWS_REGION: 'us-east-1',
      });
      // From the production image's files: nothing the worker loads was left out.
      const { child } = await startUntil(image, ['dist/src/worker.js'], { ...env, METRICS_PORT: '0' }, /worker polling task queue/);
      expect(await stop(child)).toBe(0);
      // Without the bundle the production worker refuses to start: the path it checked above is the real one.
      rmSync(path.join(image, 'dist', 'workflow-bundle.js'));
      await expect(startUntil(image, ['dist/src/worker.js'], { ...env, METRICS_PORT: '0' }, /worker polling task queue/)).rejects.toThrow(
        /workflow-bundle\.js not found/,
      );
    });

    test('the emulator target (compose local profile): the emulator and seed job run from dist/, and seeding twice is harmless', async () => {
      const env = cleanEnv({ NODE_ENV: 'production' });
      const { child, match } = await startUntil(context, ['dist/src/emulator/main.js', '--port', '0'], env, /kms-emulator listening on (http:\/\/\S+)/);
      try {
        const url = match[1];
        const first = spawnSync(process.execPath, ['dist/scripts/demo/seed.js', '--url', url], { cwd: context, env, encoding: 'utf8', timeout: 60_000 });
        expect(first.status).toBe(0);
        expect(first.stdout).toMatch(/CloudHSM key store cks-\w+ "payments-hsm" \(CONNECTED\): 34 keys/);
        const second = spawnSync(process.execPath, ['dist/scripts/demo/seed.js', '--url', url], { cwd: context, env, encoding: 'utf8', timeout: 60_000 });
        expect(second.status).toBe(0);
        expect(second.stdout).toMatch(/already seeded/);
      } finally {
        await stop(child);
      }
    });
  });
});
