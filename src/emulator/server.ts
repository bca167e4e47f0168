/**
 * HTTP front end: routes `/__admin/*` to the admin API and everything else to the JSON 1.1 pipeline
 * (auth → quota → faults → operation → audit + CloudTrail → journal → response), routing purely on
 * `x-amz-target`: `TrentService.*` is KMS (SigV4 name `kms`), the CloudTrail_20131101 targets are
 * CloudTrail (SigV4 name `cloudtrail`). Form-encoded requests without a target are SNS's query protocol (`sns-http.ts`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { handleAdmin } from './admin';
import { SigV4Verifier } from './auth';
import type { AuditScratch, OpContext } from './context';
import type { EmulatorCore } from './core';
import { internalError, KmsError, throttling } from './errors';
import { type JsonObject, parseBody } from './input';
import { STALE_READ_OPERATIONS } from './operations';
import { type CallRecord, cloudTrailThrottling, headerText, recordTrailEvent, routeTarget, sourceIp } from './recording';
import { handleSns, isSnsRequest } from './sns-http';
import { flat } from './trail';

const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** KMS requests are small; anything larger is not a KMS call. */
const MAX_BODY_BYTES = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new KmsError('SerializationException', 'Request body too large.', 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, requestId: string, body: string): void {
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId,
  });
  res.end(body);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class KmsHttpServer {
  readonly server: Server;
  private readonly verifier: SigV4Verifier;

  constructor(private readonly core: EmulatorCore) {
    this.verifier = new SigV4Verifier({ region: core.config.region, secretFor: (accessKeyId) => core.identities.secretFor(accessKeyId) });
    this.server = createServer((req, res) => {
      this.route(req, res).catch((e: unknown) => {
        process.stderr.write(`kms-emulator: unhandled error: ${(e as Error).stack ?? String(e)}\n`);
        if (!res.headersSent) send(res, 500, randomUUID(), JSON.stringify(internalError().toBody()));
      });
    });
    // SDK agents keep connections alive for a while; closing them earlier causes spurious ECONNRESETs.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (url.startsWith('/__admin/') || url === '/__admin') {
      await handleAdmin(this.core, req, res);
      return;
    }
    if (isSnsRequest(req)) {
      await handleSns(this.core, this.verifier, req, res);
      return;
    }
    await this.handleKms(req, res);
  }

  private async handleKms(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const core = this.core;
    // Flattened: both are kept per request (audit log, CloudTrail, key usage).
    const requestId = flat(randomUUID());
    const eventId = flat(randomUUID());
    const target = req.headers['x-amz-target'];
    const targetText = Array.isArray(target) ? target[0] : target;
    const route = routeTarget(targetText);
    const { operation, def } = route;
    const audit: AuditScratch = {};
    const call: CallRecord = { operation, service: route.service, requestId, eventId, audit, mutating: def?.mutating ?? false };
    let injectedAfter: { error?: KmsError; reset: boolean } | undefined;
    let status = 200;
    let body = '';

    try {
      const raw = await readBody(req);
      core.processDue();
      call.accessKeyId = await this.verifier.verify({ method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body: raw }, route.signingName);
      if (!def || req.method !== 'POST') {
        throw new KmsError('UnknownOperationException', targetText ? `Unknown operation ${targetText}` : 'Missing X-Amz-Target header');
      }
      call.admittedAt = core.clock.now();
      call.source = { ip: sourceIp(req), userAgent: headerText(req.headers['user-agent']) };
      // A body that does not parse is reported after quota and faults, as before; CloudTrail then logs no parameters.
      let parseError: unknown;
      try {
        call.input = parseBody(raw.toString('utf8'));
      } catch (e) {
        parseError = e;
      }
      if (!core.quotas.tryTake(operation)) throw route.service === 'cloudtrail' ? cloudTrailThrottling() : throttling();
      const fault = core.faults.decide(operation);
      if (fault.latencyMs > 0) {
        await sleep(fault.latencyMs);
        core.processDue();
      }
      if (fault.when === 'before' && (fault.reset || fault.error)) {
        call.injected = true;
        if (fault.reset) {
          call.outcome = 'ConnectionReset';
          this.finish(call);
          req.socket.destroy();
          return;
        }
        throw route.service === 'cloudtrail' && fault.error?.name === 'ThrottlingException' ? cloudTrailThrottling() : (fault.error as KmsError);
      }
      if (fault.when === 'after' && (fault.reset || fault.error)) injectedAfter = { error: fault.error, reset: fault.reset };

      if (parseError !== undefined) throw parseError;
      const input = call.input as JsonObject;
      const ctx: OpContext = {
        state: core.state,
        clock: core.clock,
        config: core.config,
        markers: core.markers,
        quotas: core.quotas,
        rng: core.rng,
        staleReadMs: STALE_READ_OPERATIONS.has(operation) ? fault.staleReadMs : 0,
        audit,
        settings: core.settings,
        request: { requestId, eventId, time: call.admittedAt },
      };
      const output = def.handler(ctx, input);
      call.output = output;
      // No output shape → empty body; output shapes without members are sent as `{}` (reference §1.2).
      body = output === undefined ? '' : JSON.stringify(output);
    } catch (e) {
      const err = e instanceof KmsError ? e : internalError();
      if (!(e instanceof KmsError)) process.stderr.write(`kms-emulator: ${operation} failed: ${(e as Error).stack ?? String(e)}\n`);
      status = err.status;
      body = JSON.stringify(err.toBody());
      call.error = err;
    }

    if (injectedAfter) {
      // The call ran (CloudTrail records what really happened); the client sees the injected answer.
      call.injected = true;
      call.replacedOutcome = injectedAfter.reset ? 'ConnectionReset' : (injectedAfter.error as KmsError).name;
    }
    this.finish(call);
    try {
      await core.durable();
    } catch (e) {
      process.stderr.write(`kms-emulator: ${(e as Error).message}\n`);
      status = 500;
      body = JSON.stringify(internalError().toBody());
    }
    if (injectedAfter?.reset) {
      req.socket.destroy();
      return;
    }
    if (injectedAfter?.error) {
      status = injectedAfter.error.status;
      body = JSON.stringify(injectedAfter.error.toBody());
    }
    send(res, status, requestId, body);
  }

  /** Records the request in the audit log, stats and CloudTrail, and journals everything it changed. */
  private finish(call: CallRecord): void {
    const core = this.core;
    const { operation, audit: scratch } = call;
    const outcome = call.replacedOutcome ?? call.outcome ?? call.error?.name ?? 'OK';
    core.requests.set(operation, (core.requests.get(operation) ?? 0) + 1);
    if (outcome === 'ThrottlingException' && !call.injected) core.throttled.set(operation, (core.throttled.get(operation) ?? 0) + 1);
    core.state.appendAudit({
      time: core.clock.now(),
      ...(call.admittedAt !== undefined ? { admittedAt: call.admittedAt } : {}),
      operation,
      requestId: call.requestId,
      ...(scratch.keyId !== undefined ? { keyId: scratch.keyId } : {}),
      ...(scratch.customKeyStoreId !== undefined ? { customKeyStoreId: scratch.customKeyStoreId } : {}),
      outcome,
      mutating: call.mutating,
      ...(call.accessKeyId !== undefined ? { accessKeyId: call.accessKeyId } : {}),
      ...(call.injected ? { injectedFault: true } : {}),
    });
    recordTrailEvent(core, call);
    core.commit(call.mutating);
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
