/**
 * CloudTrail's LookupEvents on the emulator's port (AWS JSON 1.1, target
 * `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents` — the JS SDK sends the short
 * `CloudTrail_20131101.LookupEvents` — SigV4 signing name `cloudtrail`). Management events of the last 90
 * days, newest first, at most 50 a page, at most one lookup attribute, NextToken paging bound to the
 * parameters of the first call.
 */
import { createHash, createHmac } from 'node:crypto';
import type { OpContext } from './context';
import { KmsError } from './errors';
import { Input, type JsonObject } from './input';
import { LOOKUP_ATTRIBUTE_KEYS, LOOKUP_WINDOW_MS, type LookupAttributeKey, lookupView, type LookupEventView, type TrailEvent } from './trail';

/** Target prefixes that route to CloudTrail: botocore's model prefix and the JS SDK's short one. */
export const CLOUDTRAIL_TARGET_PREFIXES = ['com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.', 'CloudTrail_20131101.'] as const;
export const CLOUDTRAIL_SIGNING_NAME = 'cloudtrail';
/** CloudTrail's throttling text. */
export const CLOUDTRAIL_THROTTLING_MESSAGE = 'Rate exceeded';

const MAX_RESULTS = 50;
/** `_`, space, `,` and newline count twice towards the 2,000-character limit of AttributeValue. */
const DOUBLE_COUNTED = /[_ ,\n]/g;

function invalidAttributes(message: string): KmsError {
  return new KmsError('InvalidLookupAttributesException', message);
}

/** Epoch ms of a timestamp member (epoch seconds as a JSON number, as the SDKs send it). */
function timestamp(body: JsonObject, name: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  const seconds = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(seconds)) throw new KmsError('SerializationException', `Unexpected value for member ${name}: expected a timestamp (epoch seconds).`);
  return Math.round(seconds * 1000);
}

function readAttribute(body: JsonObject): { key: LookupAttributeKey; value: string } | undefined {
  const list = new Input(body).list('LookupAttributes');
  if (!list || list.length === 0) return undefined;
  if (list.length > 1) throw invalidAttributes('You cannot specify more than one lookup attribute.');
  const item = list[0];
  if (item === null || typeof item !== 'object' || Array.isArray(item))
    throw new KmsError('SerializationException', 'Unexpected type for member LookupAttributes: expected a list of objects.');
  const attr = new Input(item as JsonObject);
  const key = attr.string('AttributeKey');
  const value = attr.string('AttributeValue');
  if (key === undefined || !(LOOKUP_ATTRIBUTE_KEYS as readonly string[]).includes(key)) {
    throw invalidAttributes(`AttributeKey must be one of ${LOOKUP_ATTRIBUTE_KEYS.join(', ')}.`);
  }
  if (value === undefined || value === '') throw invalidAttributes('AttributeValue must not be empty.');
  if (value.length + (value.match(DOUBLE_COUNTED)?.length ?? 0) > 2000) throw invalidAttributes('AttributeValue must not be longer than 2000 characters.');
  if (key === 'ReadOnly' && value !== 'true' && value !== 'false') throw invalidAttributes('The value of the ReadOnly attribute must be true or false.');
  return { key: key as LookupAttributeKey, value };
}

interface TokenPosition {
  eventTime: number;
  seq: number;
}

/** NextToken: the position of the last event returned, bound to the request's parameters, authenticated. */
function encodeToken(secret: string, paramsHash: string, pos: TokenPosition): string {
  const payload = Buffer.from(JSON.stringify([paramsHash, pos.eventTime, pos.seq])).toString('base64url');
  return `${payload}.${createHmac('sha256', secret).update(`LookupEvents.${payload}`).digest('base64url').slice(0, 22)}`;
}

function decodeToken(secret: string, paramsHash: string, token: string): TokenPosition {
  const invalid = new KmsError('InvalidNextTokenException', 'Invalid NextToken: it was not issued for a lookup with these parameters.');
  const dot = token.lastIndexOf('.');
  if (dot <= 0) throw invalid;
  const payload = token.slice(0, dot);
  if (token.slice(dot + 1) !== createHmac('sha256', secret).update(`LookupEvents.${payload}`).digest('base64url').slice(0, 22)) throw invalid;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(decoded) || decoded[0] !== paramsHash || typeof decoded[1] !== 'number' || typeof decoded[2] !== 'number') throw invalid;
  return { eventTime: decoded[1], seq: decoded[2] };
}

/** Index of the first event at or after `pos` in sort order (events before it are older). */
function upperIndex(list: readonly TrailEvent[], pos: TokenPosition): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = list[mid] as TrailEvent;
    if (e.eventTime < pos.eventTime || (e.eventTime === pos.eventTime && e.seq < pos.seq)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** LookupEvents. */
export function lookupEvents(ctx: OpContext, body: JsonObject): { Events: LookupEventView[]; NextToken?: string } {
  const input = new Input(body);
  const attribute = readAttribute(body);
  const start = timestamp(body, 'StartTime');
  const end = timestamp(body, 'EndTime');
  const category = input.string('EventCategory');
  const maxResults = input.integer('MaxResults');
  const token = input.string('NextToken');
  if (category !== undefined && category !== 'insight') throw new KmsError('InvalidEventCategoryException', 'EventCategory must be insight.');
  if (maxResults !== undefined && (maxResults < 1 || maxResults > MAX_RESULTS)) {
    throw new KmsError('InvalidMaxResultsException', `MaxResults must be between 1 and ${MAX_RESULTS}.`);
  }
  if (start !== undefined && end !== undefined && start > end) throw new KmsError('InvalidTimeRangeException', 'StartTime must be before EndTime.');
  const paramsHash = createHash('sha256')
    .update(JSON.stringify([attribute?.key ?? null, attribute?.value ?? null, start ?? null, end ?? null, category ?? null]))
    .digest('base64url')
    .slice(0, 16);
  const secret = ctx.markers.secretValue;
  const position = token !== undefined ? decodeToken(secret, paramsHash, token) : undefined;
  // The emulator keeps no Insights events.
  if (category === 'insight') return { Events: [] };

  const now = ctx.clock.now();
  const from = Math.max(start ?? -Infinity, now - LOOKUP_WINDOW_MS);
  const until = Math.min(end ?? Infinity, now);
  const list = ctx.state.trail.candidates(attribute);
  let i = position ? upperIndex(list, position) : upperIndex(list, { eventTime: until, seq: Infinity });
  const limit = maxResults ?? MAX_RESULTS;
  const found: TrailEvent[] = [];
  let more = false;
  while (--i >= 0) {
    const e = list[i] as TrailEvent;
    if (e.eventTime < from) break;
    if (e.eventTime > until || e.deliverAt > now) continue;
    if (found.length === limit) {
      more = true;
      break;
    }
    found.push(e);
  }
  const out: { Events: LookupEventView[]; NextToken?: string } = { Events: found.map((e) => lookupView(e, ctx.config)) };
  const last = found[found.length - 1];
  if (more && last) out.NextToken = encodeToken(secret, paramsHash, { eventTime: last.eventTime, seq: last.seq });
  return out;
}
