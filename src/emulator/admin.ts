/**
 * Admin HTTP API under `/__admin/` (loopback only, no signature, JSON in and out). It is test and demo
 * control, so it bypasses quotas and faults and is not recorded in the audit log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AdminError, type EmulatorCore } from './core';
import { validateFaultSpec } from './faults';
import { SeedError } from './seed';
import type { AuditEntry, FaultSpec, IdentitySpec, SeedSpec, StoreStateChange, UsageSimulatorSpec } from './types';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

function reply(res: ServerResponse, status: number, value: unknown): void {
  const body = value === undefined ? '' : JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AdminError(400, 'request body is not valid JSON');
  }
}

function objectBody(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AdminError(400, 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Routes one admin request; errors become `{ "error": message }` with 400/403/404/405. */
export async function handleAdmin(core: EmulatorCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const remote = req.socket.remoteAddress ?? '';
    if (!LOOPBACK.test(remote)) throw new AdminError(403, 'the admin API only accepts loopback clients');
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const route = `${req.method ?? 'GET'} ${url.pathname.replace(/\/+$/, '')}`;
    const itemRoute = /^DELETE \/__admin\/(identities|usage)\/([^/]+)$/.exec(route);
    if (itemRoute) {
      // Both groups are mandatory in the pattern.
      const id = decodeURIComponent(itemRoute[2] as string);
      if (itemRoute[1] === 'identities') {
        core.removeIdentity(id);
        reply(res, 200, { ok: true });
      } else {
        const stopped = await core.usage.stop(id);
        if (!stopped) throw new AdminError(404, `no usage simulator ${id}`);
        reply(res, 200, stopped);
      }
      return;
    }
    const storeRoute = /^POST \/__admin\/stores\/([^/]+)\/(state|fail-next-connects)$/.exec(route);
    if (storeRoute) {
      // Both groups are mandatory in the pattern, so a match always has them.
      const id = decodeURIComponent(storeRoute[1] as string);
      const body = objectBody(await readJson(req));
      if (storeRoute[2] === 'state') {
        await core.setStoreState(id, body as unknown as StoreStateChange);
      } else {
        await core.failNextConnects(id, body.count as number, body.connectionErrorCode as string);
      }
      reply(res, 200, { ok: true });
      return;
    }
    switch (route) {
      case 'POST /__admin/seed': {
        const spec = objectBody(await readJson(req)) as SeedSpec;
        reply(res, 200, await core.seed(spec));
        return;
      }
      case 'GET /__admin/clock':
        reply(res, 200, { nowMs: core.clock.now(), dayMs: core.clock.dayMs });
        return;
      case 'POST /__admin/clock/advance': {
        const body = objectBody(await readJson(req));
        await core.advance(body.ms as number);
        reply(res, 200, { nowMs: core.clock.now(), dayMs: core.clock.dayMs });
        return;
      }
      case 'GET /__admin/faults':
        reply(res, 200, core.faults.specs);
        return;
      case 'PUT /__admin/faults': {
        const body = await readJson(req);
        const list = Array.isArray(body) ? body : (objectBody(body).faults ?? []);
        if (!Array.isArray(list)) throw new AdminError(400, 'faults must be an array');
        let specs: FaultSpec[];
        try {
          specs = list.map((s: unknown, i: number) => validateFaultSpec(s, i));
        } catch (e) {
          throw new AdminError(400, (e as Error).message);
        }
        core.setFaults(specs);
        reply(res, 200, { ok: true });
        return;
      }
      case 'DELETE /__admin/faults':
        core.clearFaults();
        reply(res, 200, { ok: true });
        return;
      case 'GET /__admin/audit': {
        core.processDue();
        const since = Number(url.searchParams.get('sinceSeq') ?? '0');
        if (!Number.isFinite(since)) throw new AdminError(400, 'sinceSeq must be a number');
        const operation = url.searchParams.get('operation');
        // Entries are in seq order: skip the prefix by binary search, the log can hold millions of entries.
        const log = core.state.audit;
        let lo = 0;
        let hi = log.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((log[mid] as AuditEntry).seq <= since)
            lo = mid + 1; // mid < hi <= log.length
          else hi = mid;
        }
        const entries: AuditEntry[] = [];
        for (const entry of log.slice(lo)) if (!operation || entry.operation === operation) entries.push(entry);
        reply(res, 200, entries);
        return;
      }
      case 'GET /__admin/deletions':
        core.processDue();
        reply(res, 200, core.state.deletions);
        return;
      case 'GET /__admin/stats':
        core.processDue();
        reply(res, 200, core.stats());
        return;
      case 'GET /__admin/deletion-hold':
        reply(res, 200, core.deletionHold);
        return;
      case 'PUT /__admin/deletion-hold': {
        const body = objectBody(await readJson(req));
        if (!('until' in body)) throw new AdminError(400, 'until is required (epoch milliseconds, or null to lift the hold)');
        core.setDeletionHold(body.until as number | null);
        reply(res, 200, core.deletionHold);
        return;
      }
      case 'DELETE /__admin/deletion-hold':
        core.setDeletionHold(null);
        reply(res, 200, core.deletionHold);
        return;
      case 'POST /__admin/quota': {
        const body = objectBody(await readJson(req));
        core.setQuotaScale(body.scale as number);
        reply(res, 200, { ok: true });
        return;
      }
      case 'GET /__admin/quota':
        reply(res, 200, { scale: core.quotas.quotaScale, rates: core.quotas.currentRates });
        return;
      case 'PUT /__admin/quota/overrides': {
        core.setQuotaOverrides(objectBody(await readJson(req)));
        reply(res, 200, { scale: core.quotas.quotaScale, rates: core.quotas.currentRates });
        return;
      }
      case 'GET /__admin/key-usage-tracking':
        reply(res, 200, { startDate: core.settings.trackingStartDate ?? null });
        return;
      case 'PUT /__admin/key-usage-tracking': {
        const body = objectBody(await readJson(req));
        if (!('startDate' in body)) throw new AdminError(400, 'startDate is required (epoch milliseconds, ISO 8601, or null)');
        core.setTrackingStartDate(body.startDate as number | string | null);
        reply(res, 200, { startDate: core.settings.trackingStartDate ?? null });
        return;
      }
      case 'GET /__admin/identities':
        reply(res, 200, core.identities.list());
        return;
      case 'POST /__admin/identities':
        reply(res, 200, core.addIdentity(objectBody(await readJson(req)) as unknown as IdentitySpec));
        return;
      case 'GET /__admin/usage':
        reply(res, 200, core.usage.list());
        return;
      case 'POST /__admin/usage': {
        const spec = objectBody(await readJson(req)) as unknown as UsageSimulatorSpec;
        try {
          reply(res, 200, core.usage.start(spec));
        } catch (e) {
          throw new AdminError(400, (e as Error).message);
        }
        return;
      }
      case 'DELETE /__admin/usage':
        await core.usage.stopAll();
        reply(res, 200, { ok: true });
        return;
      case 'GET /__admin/cloudtrail':
        core.processDue();
        reply(res, 200, core.cloudTrailInfo());
        return;
      case 'PUT /__admin/cloudtrail/delivery':
        reply(res, 200, core.setCloudTrailDelivery(objectBody(await readJson(req))));
        return;
      case 'GET /__admin/cloudtrail/events': {
        core.processDue();
        const since = Number(url.searchParams.get('sinceSeq') ?? '0');
        if (!Number.isFinite(since)) throw new AdminError(400, 'sinceSeq must be a number');
        reply(res, 200, core.cloudTrailEvents(since));
        return;
      }
      case 'GET /__admin/sns/topics':
        reply(res, 200, core.sns.topicList());
        return;
      case 'GET /__admin/sns/messages':
        reply(res, 200, core.sns.published(url.searchParams.get('topicArn') ?? undefined));
        return;
      case 'DELETE /__admin/sns/messages':
        core.sns.clearMessages();
        reply(res, 200, { ok: true });
        return;
      case 'POST /__admin/reset':
        await core.reset();
        reply(res, 200, { ok: true });
        return;
      default:
        throw new AdminError(404, `no admin route ${route}`);
    }
  } catch (e) {
    if (e instanceof AdminError) reply(res, e.status, { error: e.message });
    else if (e instanceof SeedError) reply(res, 400, { error: e.message });
    else reply(res, 500, { error: (e as Error).message });
  }
}
