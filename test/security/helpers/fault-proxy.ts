import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An answer the proxy sends instead of forwarding: a KMS JSON 1.1 error. */
export interface ProxyAnswer {
  status: number;
  type: string;
  message: string;
}

/** Decides, per request, whether to answer it here. `n` counts requests of that operation, from 1. */
export type ProxyRule = (operation: string, n: number, body: string) => ProxyAnswer | undefined;

export interface FaultProxy {
  url: string;
  /** Answers the proxy sent itself, in order. */
  injected: { operation: string; body: string; answer: ProxyAnswer }[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * An HTTP proxy in front of the KMS emulator that can answer chosen requests with an error of its
 * own, for errors the emulator cannot inject (AccessDeniedException). Requests are forwarded byte for
 * byte with their Host header, so SigV4 signatures made for the proxy's address still verify.
 */
export async function startFaultProxy(target: string, rule: ProxyRule): Promise<FaultProxy> {
  const upstream = new URL(target);
  const counts = new Map<string, number>();
  const injected: FaultProxy['injected'] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^TrentService\./, '');
      const n = (counts.get(operation) ?? 0) + 1;
      counts.set(operation, n);
      const answer = rule(operation, n, body.toString('utf8'));
      if (answer) {
        injected.push({ operation, body: body.toString('utf8'), answer });
        const payload = JSON.stringify({ __type: answer.type, message: answer.message });
        res.writeHead(answer.status, {
          'content-type': 'application/x-amz-json-1.1',
          'content-length': Buffer.byteLength(payload),
          'x-amzn-RequestId': `proxy-${n}`,
        });
        res.end(payload);
        return;
      }
      const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on('error', () => res.destroy());
      forward.end(body);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
