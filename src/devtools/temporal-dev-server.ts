import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_TYPES } from '../shared/search-attributes';

/** A `temporal server start-dev` child process. */
export interface DevServer {
  /** gRPC address, e.g. `127.0.0.1:7233`. */
  address: string;
  /** Web UI base URL, or undefined when started headless. */
  uiUrl?: string;
  /** The SQLite file, when the server persists its state. */
  dbFilename?: string;
  /** Graceful stop (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** Hard kill, as a crash would. */
  kill(): Promise<void>;
  process: ChildProcess;
}

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** Start the Web UI (default false). */
  ui?: boolean;
  /** Persist to this SQLite file; without it the server is in-memory. */
  dbFilename?: string;
  /** Extra `--dynamic-config-value` entries. */
  dynamicConfig?: Record<string, unknown>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

const repoRoot = path.resolve(__dirname, '..', '..');

/** Resolves the Temporal CLI through the project's script (env override, PATH, cache, or a download of the prebuilt 1.9.1). */
export function resolveTemporalCli(): string {
  const out = execFileSync('bash', [path.join(repoRoot, 'scripts', 'ensure-temporal.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop() as string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`temporal server exited early with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`temporal server did not open port ${port} within ${timeoutMs} ms`);
}

/**
 * Starts the real Temporal dev server with the project's search attributes registered.
 * `--search-attribute` only takes effect when the namespace is created, so for an existing SQLite
 * file the attributes are (re)registered with `temporal operator search-attribute create` too.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = resolveTemporalCli();
  const port = options.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', options.logLevel ?? 'error'];
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  let uiUrl: string | undefined;
  if (options.ui) {
    const uiPort = options.uiPort ?? (await freePort());
    args.push('--ui-port', String(uiPort));
    uiUrl = `http://127.0.0.1:${uiPort}`;
  } else {
    args.push('--headless');
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) args.push('--search-attribute', `${name}=${type}`);
  const dynamicConfig = {
    'frontend.enableUpdateWorkflowExecution': true,
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
    ...options.dynamicConfig,
  };
  for (const [key, value] of Object.entries(dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const child = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    await waitForPort(port, child, 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  const address = `127.0.0.1:${port}`;
  // The port opens before the frontend is healthy: a client connecting at once can get "Frontend is not healthy yet".
  await waitForHealth(cli, address, 30_000);
  if (options.dbFilename) registerSearchAttributes(cli, address);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { address, uiUrl, dbFilename: options.dbFilename, process: child, stop: () => stop('SIGTERM'), kill: () => stop('SIGKILL') };
}

/** Waits until `temporal operator cluster health` answers SERVING (a few hundred ms after the port opens). */
async function waitForHealth(cli: string, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = spawnSync(cli, ['operator', 'cluster', 'health', '--address', address], { encoding: 'utf8', timeout: 10_000 });
    if (result.status === 0) return;
    if (Date.now() > deadline) throw new Error(`Temporal dev server at ${address} not healthy after ${timeoutMs} ms: ${result.stderr || result.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Registers the project's search attributes on a running server; already-registered ones are fine. */
export function registerSearchAttributes(cli: string, address: string, namespace = 'default'): void {
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    try {
      execFileSync(cli, ['operator', 'search-attribute', 'create', '--address', address, '--namespace', namespace, '--name', name, '--type', type], {
        stdio: 'pipe',
      });
    } catch (err) {
      const text = String((err as { stderr?: Buffer }).stderr ?? err);
      if (!/already exists/i.test(text)) throw new Error(`registering search attribute ${name} failed: ${text}`);
    }
  }
}
