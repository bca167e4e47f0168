/**
 * The emulated CloudTrail event history: one management event per KMS API call the emulator answered
 * (successes and errors), one per LookupEvents call, and KMS's own `DeleteKey` service event when a
 * key's waiting period ends. Events become visible to LookupEvents `deliveryDelayMs` (+ jitter) emulated
 * milliseconds after they happened, and only for 90 emulated days.
 *
 * Records are stored compactly and rendered to the documented CloudTrail record JSON on lookup. They are
 * kept sorted by (eventTime, seq), with one index per LookupEvents attribute, so a lookup reads only the
 * events that match its attribute, newest first.
 */
import type { ResolvedConfig } from './config';
import { userIdentity, usernameOf } from './identities';
import { Rng } from './random';

/** Events kept by default (about 650 bytes of heap each, so some 200 MB at most). */
export const DEFAULT_MAX_EVENTS = 300_000;
/** How long LookupEvents can look back. */
export const LOOKUP_WINDOW_MS = 90 * 86_400_000;
export const KMS_EVENT_SOURCE = 'kms.amazonaws.com';
export const CLOUDTRAIL_EVENT_SOURCE = 'cloudtrail.amazonaws.com';
/** Who KMS's own events (DeleteKey at the end of the waiting period) are attributed to. */
export const AWS_INTERNAL = 'AWS Internal';

export const LOOKUP_ATTRIBUTE_KEYS = ['EventId', 'EventName', 'ReadOnly', 'Username', 'ResourceType', 'ResourceName', 'EventSource', 'AccessKeyId'] as const;
export type LookupAttributeKey = (typeof LOOKUP_ATTRIBUTE_KEYS)[number];

/** One stored event. Everything LookupEvents returns is derived from it. */
export interface TrailEvent {
  /** Recording order; ties of eventTime are ordered by it. */
  seq: number;
  eventId: string;
  /** Emulated epoch ms. */
  eventTime: number;
  /** Emulated epoch ms from which LookupEvents returns it. */
  deliverAt: number;
  eventSource: string;
  eventName: string;
  eventType: 'AwsApiCall' | 'AwsServiceEvent';
  readOnly: boolean;
  /** Caller's principal ARN; absent for AWS service events. */
  principalArn?: string;
  accessKeyId?: string;
  sourceIPAddress: string;
  userAgent: string;
  requestId?: string;
  errorCode?: string;
  errorMessage?: string;
  requestParameters: unknown;
  responseElements: unknown;
  additionalEventData?: Record<string, unknown>;
  /** ARN of the KMS key the event names (`resources`; one key per KMS call here). */
  resource?: string;
}

/** An event before the log assigned its position and delivery time. */
export type NewTrailEvent = Omit<TrailEvent, 'seq' | 'deliverAt'>;

/** When and how events become visible; adjustable at runtime. */
export interface DeliverySettings {
  /** Emulated ms between an event and its visibility in LookupEvents. */
  delayMs: number;
  /** Uniform extra delay in [0, jitterMs] per event (so events can arrive out of order). */
  jitterMs: number;
  /** Oldest events beyond this count are dropped (LookupEvents' 90-day window applies anyway). */
  maxEvents: number;
}

const RESOURCE_TYPE = 'AWS::KMS::Key';

/**
 * V8 builds `randomUUID()` results and template literals as rope strings of many pieces (~500 bytes for a
 * UUID). Reading a character flattens them in place (~60 bytes); the log keeps hundreds of thousands.
 */
export function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * The event with every field in one fixed order: objects made by spreading optional fields get a
 * dictionary representation in V8, about twice the size, and the log keeps hundreds of thousands.
 */
function compact(e: NewTrailEvent, seq: number, deliverAt: number): TrailEvent {
  return {
    seq,
    eventId: e.eventId,
    eventTime: e.eventTime,
    deliverAt,
    eventSource: e.eventSource,
    eventName: e.eventName,
    eventType: e.eventType,
    readOnly: e.readOnly,
    principalArn: e.principalArn,
    accessKeyId: e.accessKeyId,
    sourceIPAddress: e.sourceIPAddress,
    userAgent: e.userAgent,
    requestId: e.requestId,
    errorCode: e.errorCode,
    errorMessage: e.errorMessage,
    requestParameters: e.requestParameters,
    responseElements: e.responseElements,
    additionalEventData: e.additionalEventData,
    resource: e.resource,
  };
}

/** Sort order of the log and of every index. */
function before(a: TrailEvent, b: TrailEvent): boolean {
  return a.eventTime < b.eventTime || (a.eventTime === b.eventTime && a.seq < b.seq);
}

/** Inserts keeping the order; events almost always arrive in order, so the scan from the end is short. */
function insertSorted(list: TrailEvent[], event: TrailEvent): void {
  let i = list.length;
  while (i > 0 && before(event, list[i - 1] as TrailEvent)) i--;
  if (i === list.length) list.push(event);
  else list.splice(i, 0, event);
}

/** Attribute values an event can be looked up by. */
export function attributeValues(event: TrailEvent, key: LookupAttributeKey): string[] {
  switch (key) {
    case 'EventId':
      return [event.eventId];
    case 'EventName':
      return [event.eventName];
    case 'ReadOnly':
      return [String(event.readOnly)];
    case 'Username':
      return event.principalArn !== undefined ? [usernameOf(event.principalArn)] : [];
    case 'ResourceType':
      return event.resource !== undefined ? [RESOURCE_TYPE] : [];
    case 'ResourceName':
      return event.resource !== undefined ? [event.resource] : [];
    case 'EventSource':
      return [event.eventSource];
    case 'AccessKeyId':
      return event.accessKeyId !== undefined ? [event.accessKeyId] : [];
  }
}

export class TrailLog {
  private events: TrailEvent[] = [];
  private indexes = new Map<LookupAttributeKey, Map<string, TrailEvent[]>>();
  /** EventId is unique: a plain map, no list per event. */
  private byId = new Map<string, TrailEvent>();
  private lastSeq = 0;
  private rng: Rng;

  constructor(
    readonly settings: DeliverySettings = { delayMs: 0, jitterMs: 0, maxEvents: DEFAULT_MAX_EVENTS },
    seed?: number,
  ) {
    this.rng = new Rng(seed === undefined ? undefined : seed ^ 0x7a11);
  }

  /** Restarts the jitter sequence (a seeded emulator delivers reproducibly). */
  seedJitter(seed: number | undefined): void {
    this.rng = new Rng(seed === undefined ? undefined : seed ^ 0x7a11);
  }

  get size(): number {
    return this.events.length;
  }

  /** Every event, oldest first (snapshot, admin listing). */
  all(): readonly TrailEvent[] {
    return this.events;
  }

  /** The delivery time a new event at `eventTime` gets under the current settings. */
  deliveryTime(eventTime: number): number {
    const jitter = this.settings.jitterMs > 0 ? this.rng.next() * this.settings.jitterMs : 0;
    return Math.round(eventTime + this.settings.delayMs + jitter);
  }

  /** Stores a new event; returns it with its seq and delivery time. */
  create(event: NewTrailEvent): TrailEvent {
    const full = compact(event, this.lastSeq + 1, this.deliveryTime(event.eventTime));
    this.add(full);
    return full;
  }

  /** Stores an event as recorded (journal replay, snapshot load). */
  insert(recorded: TrailEvent): void {
    this.add(compact(recorded, recorded.seq, recorded.deliverAt));
  }

  private add(event: TrailEvent): void {
    if (event.seq > this.lastSeq) this.lastSeq = event.seq;
    insertSorted(this.events, event);
    this.byId.set(event.eventId, event);
    this.index('EventName', event.eventName, event);
    this.index('ReadOnly', event.readOnly ? 'true' : 'false', event);
    this.index('EventSource', event.eventSource, event);
    if (event.principalArn !== undefined) this.index('Username', usernameOf(event.principalArn), event);
    if (event.accessKeyId !== undefined) this.index('AccessKeyId', event.accessKeyId, event);
    if (event.resource !== undefined) {
      this.index('ResourceType', RESOURCE_TYPE, event);
      this.index('ResourceName', event.resource, event);
    }
  }

  /** Adds the event to the list of `key` = `value` (the same values {@link attributeValues} reports). */
  private index(key: LookupAttributeKey, value: string, event: TrailEvent): void {
    let byValue = this.indexes.get(key);
    if (!byValue) this.indexes.set(key, (byValue = new Map()));
    const list = byValue.get(value);
    if (list) insertSorted(list, event);
    else byValue.set(value, [event]);
  }

  /** Events matching one attribute (or all), sorted oldest first; the caller walks it from the end. */
  candidates(attribute: { key: LookupAttributeKey; value: string } | undefined): readonly TrailEvent[] {
    if (!attribute) return this.events;
    if (attribute.key === 'EventId') {
      const event = this.byId.get(attribute.value);
      return event ? [event] : [];
    }
    return this.indexes.get(attribute.key)?.get(attribute.value) ?? [];
  }

  /**
   * Drops events LookupEvents can no longer return (older than 90 days at `now`) and the oldest beyond
   * `maxEvents`. Rebuilding the indexes is linear, so it only happens once enough events are due to go.
   */
  prune(now: number): void {
    const events = this.events;
    let lo = 0;
    let hi = events.length;
    const horizon = now - LOOKUP_WINDOW_MS;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((events[mid] as TrailEvent).eventTime < horizon) lo = mid + 1;
      else hi = mid;
    }
    const overflow = events.length - this.settings.maxEvents;
    const cut = Math.max(lo, overflow);
    if (cut <= 0) return;
    // Amortised: expired events are invisible to lookups anyway; rebuild once 1% (at least 1,000) of the
    // log can go, or the cap is exceeded by 5%.
    if (cut < Math.max(1000, events.length / 100) && overflow <= this.settings.maxEvents * 0.05) return;
    const kept = events.slice(cut);
    this.events = [];
    this.indexes = new Map();
    this.byId = new Map();
    for (const e of kept) this.add(e);
  }

  clear(): void {
    this.events = [];
    this.indexes = new Map();
    this.byId = new Map();
    this.lastSeq = 0;
  }
}

// ---- rendering --------------------------------------------------------------------------------------

/** `2026-11-29T23:15:54Z`: CloudTrail's eventTime has whole seconds. */
export function cloudTrailTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** How KMS's CloudTrail entries print dates inside request/response elements: `Apr 12, 2021, 6:58:30 PM` (UTC). */
export function elementDate(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours();
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()] as string} ${d.getUTCDate()}, ${d.getUTCFullYear()}, ${h % 12 === 0 ? 12 : h % 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

/** The CloudTrail record (what LookupEvents returns as the `CloudTrailEvent` JSON string). */
export function renderRecord(event: TrailEvent, config: Pick<ResolvedConfig, 'region' | 'account'>): Record<string, unknown> {
  const record: Record<string, unknown> = {
    eventVersion: '1.11',
    userIdentity:
      event.principalArn !== undefined ? userIdentity(event.principalArn, event.accessKeyId) : { accountId: config.account, invokedBy: AWS_INTERNAL },
    eventTime: cloudTrailTime(event.eventTime),
    eventSource: event.eventSource,
    eventName: event.eventName,
    awsRegion: config.region,
    sourceIPAddress: event.sourceIPAddress,
    userAgent: event.userAgent,
  };
  if (event.errorCode !== undefined) record.errorCode = event.errorCode;
  if (event.errorMessage !== undefined) record.errorMessage = event.errorMessage;
  record.requestParameters = event.requestParameters;
  record.responseElements = event.responseElements;
  if (event.additionalEventData !== undefined) record.additionalEventData = event.additionalEventData;
  if (event.requestId !== undefined) record.requestID = event.requestId;
  record.eventID = event.eventId;
  record.readOnly = event.readOnly;
  if (event.resource !== undefined) record.resources = [{ accountId: config.account, type: RESOURCE_TYPE, ARN: event.resource }];
  record.eventType = event.eventType;
  record.managementEvent = true;
  record.recipientAccountId = config.account;
  record.eventCategory = 'Management';
  return record;
}

/** One entry of LookupEvents' `Events`. */
export interface LookupEventView {
  EventId: string;
  EventName: string;
  ReadOnly: string;
  AccessKeyId?: string;
  /** Epoch seconds. */
  EventTime: number;
  EventSource: string;
  Username?: string;
  Resources: { ResourceType: string; ResourceName: string }[];
  CloudTrailEvent: string;
}

export function lookupView(event: TrailEvent, config: Pick<ResolvedConfig, 'region' | 'account'>): LookupEventView {
  const view: LookupEventView = {
    EventId: event.eventId,
    EventName: event.eventName,
    ReadOnly: String(event.readOnly),
    EventTime: Math.floor(event.eventTime / 1000),
    EventSource: event.eventSource,
    Resources: event.resource !== undefined ? [{ ResourceType: RESOURCE_TYPE, ResourceName: event.resource }] : [],
    CloudTrailEvent: JSON.stringify(renderRecord(event, config)),
  };
  if (event.accessKeyId !== undefined) view.AccessKeyId = event.accessKeyId;
  if (event.principalArn !== undefined) view.Username = usernameOf(event.principalArn);
  return view;
}

// ---- request and response elements -----------------------------------------------------------------

/** Members CloudTrail never logs (data and secrets). */
const OMITTED_MEMBERS = new Set(['Plaintext', 'CiphertextBlob', 'KeyStorePassword', 'Recipient']);
/** Members holding timestamps (epoch seconds on the wire). */
const DATE_MEMBERS = new Set(['StartTime', 'EndTime', 'CreationDate', 'DeletionDate', 'LastUpdatedDate', 'ValidTo']);

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Member names in lower camel case, recursively, except inside maps whose keys are user data. */
function camelize(value: unknown, member: string): unknown {
  if (member === 'EncryptionContext' || member === 'Tags') return value;
  if (DATE_MEMBERS.has(member) && typeof value === 'number') return elementDate(value * 1000);
  if (Array.isArray(value)) return value.map((v) => camelize(v, ''));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (OMITTED_MEMBERS.has(k)) continue;
      if (k === 'RawSecretAccessKey') continue;
      out[lowerFirst(k)] = camelize(v, k);
    }
    return out;
  }
  return value;
}

/** Operations whose entries always name the algorithm (the Developer Guide's Encrypt/Decrypt examples). */
const ALGORITHM_OPERATIONS = new Set(['Encrypt', 'Decrypt']);

/** `requestParameters`: the request members, secrets and data removed; `null` when there are none. */
export function requestParameters(operation: string, body: Record<string, unknown> | undefined): unknown {
  if (!body) return null;
  const out = camelize(body, '') as Record<string, unknown>;
  if (ALGORITHM_OPERATIONS.has(operation) && out.encryptionAlgorithm === undefined) out.encryptionAlgorithm = 'SYMMETRIC_DEFAULT';
  return Object.keys(out).length > 0 ? out : null;
}

/**
 * `responseElements`: `null` for read-only operations (their answers are not logged) and for empty
 * answers; otherwise the answer with lower-camel member names and dates as KMS prints them.
 */
export function responseElements(readOnly: boolean, output: unknown): unknown {
  if (readOnly || output === undefined || output === null || typeof output !== 'object') return null;
  const out = camelize(output, '') as Record<string, unknown>;
  return Object.keys(out).length > 0 ? out : null;
}
