import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { MetricsRegistry } from './registry';

/** What `/readyz` and `/livez` answer. */
export interface Health {
  /** 200 on `/readyz`: the worker polls its task queue. */
  ready: boolean;
  /** 200 on `/livez`: the process is healthy (false once the worker has failed). */
  live: boolean;
  /** One line for humans: `polling`, `starting`, `shutting down (DRAINING)`… */
  detail: string;
}

export interface OpsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  registry: MetricsRegistry;
  health: () => Health;
  /**
   * The SDK runtime's Prometheus exporter (`http://host:port/metrics`), appended to `/metrics` so that one
   * scrape gets both: Temporal's worker metrics and ours.
   */
  sdkMetricsUrl?: string;
}

export interface OpsServer {
  /** The bound address, e.g. `http://0.0.0.0:9464`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

async function sdkMetrics(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    return `# HELP kms_decommission_sdk_metrics_up Whether the Temporal SDK's own metrics could be read for this scrape\n# TYPE kms_decommission_sdk_metrics_up gauge\nkms_decommission_sdk_metrics_up 1\n${text}`;
  } catch {
    return "# HELP kms_decommission_sdk_metrics_up Whether the Temporal SDK's own metrics could be read for this scrape\n# TYPE kms_decommission_sdk_metrics_up gauge\nkms_decommission_sdk_metrics_up 0\n";
  }
}

/**
 * The worker's operations endpoint: `GET /metrics` (Prometheus text format), `GET /readyz` (200 while the
 * worker polls, 503 while it starts or shuts down: an orchestrator stops routing to it and waits for the
 * drain), `GET /livez` (200 unless the worker failed). Nothing else; no request body is read.
 */
export function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const route = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (route === '/metrics') {
      const ours = await options.registry.render();
      const sdk = options.sdkMetricsUrl ? await sdkMetrics(options.sdkMetricsUrl) : '';
      res.writeHead(200, { 'content-type': TEXT_FORMAT }).end(req.method === 'HEAD' ? undefined : ours + sdk);
      return;
    }
    if (route === '/readyz' || route === '/livez') {
      const h = options.health();
      const ok = route === '/readyz' ? h.ready : h.live;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${h.detail}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics, /readyz or /livez\n');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      const { address, port } = server.address() as AddressInfo;
      resolve({
        url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** A loopback TCP port that is free right now (for the SDK exporter, which cannot report the port it bound). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
