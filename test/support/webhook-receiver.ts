/**
 * A local stand-in for a Slack incoming webhook: records every request, answers 200 `ok`, and can be told to
 * fail the next requests with a status or to hang them (never answer) so timeouts and retries can be tested.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One request the receiver got, and what it answered. */
export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status answered, or `'hung'` for a request left unanswered. */
  answer: number | 'hung';
}

export interface WebhookReceiver {
  /** The webhook URL, with a secret-looking path like a real Slack webhook's (`/services/T…/B…/<secret>`). */
  url: string;
  /** The secret part of the URL: tests assert it never appears in errors, logs or messages. */
  secret: string;
  /** Every request, in arrival order. */
  requests: ReceivedWebhook[];
  /** The requests answered with a 2xx: the messages the channel would show. */
  accepted(): ReceivedWebhook[];
  /** The next `count` requests are answered with `status` (default 500). */
  failNext(count: number, status?: number): void;
  /** The next `count` requests are never answered (until `close`). */
  hangNext(count: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secret = randomBytes(12).toString('hex');
  const path = `/services/T0TEST/B0TEST/${secret}`;
  const requests: ReceivedWebhook[] = [];
  const plan: ('hang' | number)[] = [];
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const step = plan.shift();
      const record: ReceivedWebhook = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        answer: step === 'hang' ? 'hung' : (step ?? (req.url === path ? 200 : 404)),
      };
      requests.push(record);
      if (record.answer === 'hung') {
        hanging.add(res);
        return;
      }
      // Slack answers `ok`, or a short error code such as `invalid_payload`, `no_service`.
      res.writeHead(record.answer, { 'content-type': 'text/plain' });
      res.end(record.answer === 200 ? 'ok' : record.answer === 404 ? 'no_service' : 'internal_error');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${path}`,
    secret,
    requests,
    accepted: () => requests.filter((r) => typeof r.answer === 'number' && r.answer >= 200 && r.answer < 300),
    failNext(count, status = 500) {
      for (let i = 0; i < count; i += 1) plan.push(status);
    },
    hangNext(count) {
      for (let i = 0; i < count; i += 1) plan.push('hang');
    },
    close() {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
