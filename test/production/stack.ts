/**
 * The production stack of docker-compose.yml, run natively for the production-stack test: the compose file's
 * own values (read through `docker-compose config`), PostgreSQL from Debian in a throwaway data directory,
 * the Temporal Server built from its Go module, the two compose jobs' scripts (docker/), and the production
 * image's files (the Dockerfile's build replayed in a copy of the build context). Containers' host names and
 * fixed ports become loopback and free ports; nothing else is changed.
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { COMPOSE_FILE, contextCopies, DOCKERFILE, parseDockerfile, ROOT, type Stage } from '../deploy/deploy-files';

/** Output read back from a process's log file (its end). */
const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;

/** `KEY=VALUE` lines printed by the ensure scripts. */
export function parseAssignments(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Runs `scripts/<name>` (its progress on stderr passes through) and returns the variables it printed. */
export function ensure(name: string, timeoutMs = 45 * 60_000): Record<string, string> {
  const run = spawnSync('bash', [path.join(ROOT, 'scripts', name)], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) throw new Error(`scripts/${name} failed (exit ${run.status ?? run.signal})`);
  return parseAssignments(run.stdout);
}

// -------------------------------------------------------------------------------------------------
// docker-compose.yml, as docker-compose resolves it

export interface ComposeService {
  image?: string;
  environment?: Record<string, string | null>;
  entrypoint?: string[];
  volumes?: (string | { source: string; target: string; type: string })[];
  healthcheck?: { test: string[] };
}

/** The normalised compose configuration (docker-compose config, YAML → JSON with python3-yaml, as compose.test.ts reads it). */
export function composeConfig(env: Record<string, string>): Record<string, ComposeService> {
  // An empty env file: neither a developer's .env nor the shell may influence the result.
  const dir = mkdtempSync(path.join(tmpdir(), 'compose-env-'));
  const empty = path.join(dir, 'empty.env');
  writeFileSync(empty, '');
  const out = spawnSync('docker-compose', ['-f', COMPOSE_FILE, '--env-file', empty, 'config'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  rmSync(dir, { recursive: true, force: true });
  if (out.status !== 0) throw new Error(`docker-compose config failed (Debian: apt-get install docker-compose): ${out.stderr ?? out.error}`);
  const json = execFileSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: out.stdout,
    encoding: 'utf8',
  });
  return (JSON.parse(json) as { services: Record<string, ComposeService> }).services;
}

/** A service's environment with the unset pass-through keys (null) left out. */
export function definedEnv(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).filter((e): e is [string, string] => e[1] !== null && e[1] !== undefined));
}

/** The host path a container path of `service` maps to through its bind mounts (the container's own path if none does). */
export function hostPath(service: ComposeService, containerPath: string): string {
  for (const v of service.volumes ?? []) {
    const [source, target] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
    if (containerPath === target || containerPath.startsWith(`${target}/`)) return path.join(source, path.relative(target, containerPath));
  }
  return containerPath;
}

/** The script a compose job runs: its `entrypoint: ['/bin/sh', '/scripts/x.sh']`, mapped to the repository file. */
export function jobScript(service: ComposeService): string {
  const [shell, script] = service.entrypoint ?? [];
  if (shell !== '/bin/sh' || !script) throw new Error(`unexpected entrypoint ${JSON.stringify(service.entrypoint)}`);
  return hostPath(service, script);
}

// -------------------------------------------------------------------------------------------------
// Child processes with their output kept

export interface Proc {
  name: string;
  child: ChildProcess;
  output(): string;
  alive(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Proc>();
process.once('exit', () => {
  for (const p of running) if (p.alive()) p.child.kill('SIGKILL');
});

/**
 * Starts a child whose stdout and stderr go straight to `logFile` (no pipe: a chatty server never blocks on a
 * full pipe while the test waits on something synchronous); `output()` reads the file back.
 */
export function startProcess(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Proc {
  const fd = openSync(options.logFile, 'a');
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const proc: Proc = {
    name,
    child,
    output: () => {
      const text = readFileSync(options.logFile, 'utf8');
      return text.length > MAX_OUTPUT_CHARS ? text.slice(-MAX_OUTPUT_CHARS) : text;
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000) {
      if (proc.alive()) child.kill(signal);
      const timer = setTimeout(() => proc.alive() && child.kill('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

export async function waitForOutput(proc: Proc, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(proc.output());
    if (match) return match;
    if (!proc.alive()) throw new Error(`${proc.name} exited before printing ${pattern}:\n${proc.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`${proc.name} did not print ${pattern} within ${timeoutMs} ms:\n${proc.output().slice(-4000)}`);
    await sleep(50);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// -------------------------------------------------------------------------------------------------
// PostgreSQL: a throwaway instance (initdb into a temporary directory, pg_ctl on a free loopback port)

export interface PostgresOptions {
  bindir: string;
  /** Run initdb/pg_ctl as this user (PostgreSQL refuses root); empty: the current user. */
  runAs: string;
  port: number;
  /** The superuser the compose service's POSTGRES_USER/POSTGRES_PASSWORD create. */
  user: string;
  password: string;
}

export class Postgres {
  readonly dir: string;
  readonly data: string;
  readonly logFile: string;

  constructor(readonly options: PostgresOptions) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'kms-production-pg-'));
    this.data = path.join(this.dir, 'data');
    this.logFile = path.join(this.dir, 'postgresql.log');
    if (options.runAs) {
      const uid = Number(execFileSync('id', ['-u', options.runAs], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', options.runAs], { encoding: 'utf8' }).trim());
      chownSync(this.dir, uid, gid);
    }
  }

  private run(tool: string, args: string[], timeoutMs = 120_000): string {
    const bin = path.join(this.options.bindir, tool);
    const [command, argv] = this.options.runAs ? ['runuser', ['-u', this.options.runAs, '--', bin, ...args]] : [bin, args];
    const out = spawnSync(command, argv, { encoding: 'utf8', timeout: timeoutMs, cwd: this.dir, env: { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C' } });
    if (out.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${out.status ?? out.signal}):\n${out.stdout}\n${out.stderr}`);
    return out.stdout;
  }

  /** initdb, as the postgres image's entrypoint does: the superuser and its password, scram-sha-256 for every connection. */
  init(): void {
    const pwfile = path.join(this.dir, 'pwfile');
    writeFileSync(pwfile, `${this.options.password}\n`, { mode: 0o600 });
    if (this.options.runAs) {
      const uid = Number(execFileSync('id', ['-u', this.options.runAs], { encoding: 'utf8' }).trim());
      chownSync(pwfile, uid, -1);
    }
    try {
      this.run('initdb', [
        '-D',
        this.data,
        '-U',
        this.options.user,
        `--pwfile=${pwfile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
      ]);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  /** pg_ctl start, waiting until it accepts connections. */
  start(): void {
    const o = this.options;
    this.run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      this.logFile,
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${o.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.dir}`,
      'start',
    ]);
  }

  /** pg_ctl stop -m fast: active connections are closed (what `docker compose restart postgresql` does). */
  stop(): void {
    this.run('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  running(): boolean {
    const bin = path.join(this.options.bindir, 'pg_ctl');
    const [command, argv] = this.options.runAs
      ? ['runuser', ['-u', this.options.runAs, '--', bin, '-D', this.data, 'status']]
      : [bin, ['-D', this.data, 'status']];
    return spawnSync(command, argv, { encoding: 'utf8' }).status === 0;
  }

  /** Stops the instance if it runs and deletes its directory. */
  destroy(): void {
    try {
      if (this.running()) this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Temporal Server: the 1.32 image runs `temporal-server start` with no flags, which renders the server's
// embedded config template from the container's environment. The same binary, template and environment here.

/** The server image's working directory (docker/targets/server.Dockerfile of the module: WORKDIR /etc/temporal). */
export const SERVER_IMAGE_WORKDIR = '/etc/temporal';

/**
 * A free loopback port below 32768. Temporal's SQL schema stores each service's gRPC port in
 * cluster_membership.rpc_port, a smallint: a port from the kernel's ephemeral range (32768 and up) makes the
 * server fail at start-up ("value ... is out of range for type smallint").
 */
export async function freeLowPort(taken: Set<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port below 32768');
}

/** Loopback ports for every service of the single-binary server (the image's fixed ports would collide with anything else on the host). */
export interface ServerPorts {
  frontendGrpc: number;
  frontendHttp: number;
  frontendMembership: number;
  historyGrpc: number;
  historyMembership: number;
  matchingGrpc: number;
  matchingMembership: number;
  workerGrpc: number;
  workerMembership: number;
}

/**
 * The `temporal` service's environment, moved from the compose network to this host: the database host
 * (`POSTGRES_SEEDS: postgresql`) becomes 127.0.0.1 and its port the throwaway instance's, the dynamic config
 * path is resolved through the service's bind mount, and the services bind to 127.0.0.1 on free ports.
 */
export function serverEnvironment(service: ComposeService, postgresPort: number, ports: ServerPorts): Record<string, string> {
  const env = definedEnv(service);
  const dynamicConfig = path.posix.isAbsolute(env.DYNAMIC_CONFIG_FILE_PATH)
    ? env.DYNAMIC_CONFIG_FILE_PATH
    : path.posix.join(SERVER_IMAGE_WORKDIR, env.DYNAMIC_CONFIG_FILE_PATH);
  return {
    ...env,
    POSTGRES_SEEDS: '127.0.0.1',
    DB_PORT: String(postgresPort),
    DYNAMIC_CONFIG_FILE_PATH: hostPath(service, dynamicConfig),
    BIND_ON_IP: '127.0.0.1',
    FRONTEND_GRPC_PORT: String(ports.frontendGrpc),
    FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    HISTORY_GRPC_PORT: String(ports.historyGrpc),
    HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    MATCHING_GRPC_PORT: String(ports.matchingGrpc),
    MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    WORKER_GRPC_PORT: String(ports.workerGrpc),
    WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
  };
}

const execFileAsync = promisify(execFile);

/** `temporal operator cluster health` (what the admin job waits for), true when it answers SERVING. */
export async function clusterHealthy(cli: string, address: string): Promise<boolean> {
  try {
    const { stdout } = await execFileAsync(cli, ['operator', 'cluster', 'health', '--address', address], {
      timeout: 10_000,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    return /SERVING/.test(stdout);
  } catch {
    return false;
  }
}

export class TemporalServer {
  proc?: Proc;
  readonly address: string;
  /** Every start: how long until the cluster answered SERVING. */
  readonly starts: { readyMs: number }[] = [];

  constructor(
    readonly bin: string,
    readonly env: Record<string, string>,
    readonly dir: string,
    readonly cli: string,
    ports: ServerPorts,
  ) {
    this.address = `127.0.0.1:${ports.frontendGrpc}`;
  }

  /** `temporal-server render-config` of the same template and environment (passwords masked by the server). */
  renderConfig(template: string): string {
    const configDir = path.join(this.dir, 'render', 'config');
    mkdirSync(configDir, { recursive: true });
    cpSync(template, path.join(configDir, 'development.yaml'));
    // render-config reads a config directory (the legacy loader): the template goes in as its development.yaml.
    const out = spawnSync(this.bin, ['--config', configDir, '--env', 'development', 'render-config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...this.env },
    });
    if (out.status !== 0) throw new Error(`render-config failed: ${out.stderr}`);
    return out.stdout;
  }

  async start(timeoutMs = 180_000): Promise<void> {
    const started = Date.now();
    const proc = startProcess('temporal-server', this.bin, ['start'], {
      cwd: this.dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...this.env },
      logFile: path.join(this.dir, 'temporal-server.log'),
    });
    this.proc = proc;
    while (!(await clusterHealthy(this.cli, this.address))) {
      if (!proc.alive()) throw new Error(`temporal-server exited (${JSON.stringify(await proc.exited)}):\n${proc.output().slice(-6000)}`);
      if (Date.now() - started > timeoutMs) throw new Error(`temporal-server not SERVING within ${timeoutMs} ms:\n${proc.output().slice(-6000)}`);
      await sleep(250);
    }
    this.starts.push({ readyMs: Date.now() - started });
  }

  /** SIGTERM (what `docker compose restart` sends first), SIGKILL after the grace time. */
  async stop(graceMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    return this.proc?.stop('SIGTERM', graceMs);
  }
}

// -------------------------------------------------------------------------------------------------
// The production image's files, as test/deploy/dockerfile.test.ts replays them

export interface BuiltImage {
  /** The build stage's /app: what the `emulator` target copies (dist/ with the emulator and the seed job). */
  context: string;
  /** The runtime stage's /app (the production worker image), node_modules linked in. */
  image: string;
  /** The runtime stage's ENV instructions. */
  env: Record<string, string>;
  /** The runtime stage's CMD. */
  cmd: string[];
}

/** `KEY=VALUE` or `KEY="VALUE"` pairs of an ENV instruction. */
function envInstruction(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) out[m[1]] = m[3] ?? m[2];
  return out;
}

/** Copies what the build stage copies, runs `npm run build` and the build stage's later RUN steps, then the runtime stage's COPY --from=build. */
export function buildProductionImage(): BuiltImage {
  const stages = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
  const build = stages.find((s) => s.name === 'build') as Stage;
  const runtime = stages.at(-1) as Stage;
  const context = mkdtempSync(path.join(tmpdir(), 'kms-production-context-'));
  for (const source of contextCopies(build)) cpSync(path.join(ROOT, source), path.join(context, source), { recursive: true });
  // `npm ci` would install the same locked tree: reuse the installed one.
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(context, 'node_modules'), 'dir');
  const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('TEMPORAL_') && k !== 'NODE_ENV'));
  const npmBuild = spawnSync('npm', ['run', 'build'], { cwd: context, encoding: 'utf8', timeout: 600_000, env: cleanEnv });
  if (npmBuild.status !== 0) throw new Error(`npm run build failed:\n${npmBuild.stdout}\n${npmBuild.stderr}`);
  for (const step of runs.slice(runs.indexOf('npm run build') + 1)) {
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', step.split('/app/').join(`${context}/`)], { cwd: context, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`RUN ${step} failed:\n${run.stdout}\n${run.stderr}`);
  }
  const image = mkdtempSync(path.join(tmpdir(), 'kms-production-image-'));
  for (const i of runtime.instructions.filter((x) => x.op === 'COPY' && x.args.startsWith('--from=build '))) {
    const [src, dest] = i.args.split(/\s+/).slice(1);
    const to = path.join(image, dest);
    mkdirSync(path.dirname(to), { recursive: true });
    cpSync(path.join(context, path.relative('/app', src)), to, { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(image, 'node_modules'), 'dir');
  const env = Object.assign({}, ...runtime.instructions.filter((i) => i.op === 'ENV').map((i) => envInstruction(i.args))) as Record<string, string>;
  const cmd = JSON.parse(runtime.instructions.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];
  return { context, image, env, cmd };
}
