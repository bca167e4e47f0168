/**
 * What an operation handler can see, plus identifier helpers shared by all operation families
 * (ARN formatting, KeyId resolution with the real NotFound wordings of reference §1.5).
 */
import type { EmulatedClock } from './clock';
import type { ResolvedConfig } from './config';
import { aliasNotFound, invalidArn, invalidKeyId, keyNotFound } from './errors';
import type { MarkerCodec } from './pagination';
import type { QuotaManager } from './quotas';
import type { Rng } from './random';
import type { EmulatorState, KeyRecord } from './state';

/** Ids the audit entry of the current request should carry. */
export interface AuditScratch {
  keyId?: string;
  customKeyStoreId?: string;
  /** Name and CloudHSM cluster of the store the request resolved to (CloudTrail `additionalEventData`). */
  storeName?: string;
  clusterId?: string;
}

/** The request being served, as CloudTrail and GetKeyLastUsage see it. */
export interface RequestInfo {
  /** `x-amzn-RequestId` of the answer (KMS's request id). */
  requestId: string;
  /** CloudTrail `eventID` of the event recording this request. */
  eventId: string;
  /** Emulated epoch ms when the request arrived (CloudTrail's `eventTime`). */
  time: number;
}

/** Settings that the admin API can change at runtime. */
export interface RuntimeSettings {
  /**
   * Emulated epoch ms from which KMS tracks key usage for GetKeyLastUsage; `undefined` = since before any
   * key existed (every key's TrackingStartDate is its creation date).
   */
  trackingStartDate: number | undefined;
}

export interface OpContext {
  readonly state: EmulatorState;
  readonly clock: EmulatedClock;
  readonly config: ResolvedConfig;
  readonly markers: MarkerCodec;
  readonly quotas: QuotaManager;
  readonly rng: Rng;
  /** >0 when a stale-read fault applies to this request. */
  readonly staleReadMs: number;
  readonly audit: AuditScratch;
  readonly settings: RuntimeSettings;
  /** Absent only outside the HTTP pipeline. */
  readonly request?: RequestInfo;
}

export function keyArn(config: ResolvedConfig, keyId: string): string {
  return `arn:aws:kms:${config.region}:${config.account}:key/${keyId}`;
}

export function aliasArn(config: ResolvedConfig, aliasName: string): string {
  return `arn:aws:kms:${config.region}:${config.account}:${aliasName}`;
}

/** Epoch seconds with millisecond fraction, the KMS wire format for timestamps (reference §1.3). */
export function epochSeconds(ms: number): number {
  return Math.round(ms) / 1000;
}

const ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;
const KEY_ID_SHAPE = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-fA-F]{32})$/;

/** How a KeyId parameter was written. */
export type KeyReference = { kind: 'key'; id: string; foreignArn?: string } | { kind: 'alias'; name: string; foreignArn?: string };

/**
 * Parses a KeyId parameter. `foreignArn` is set for ARNs of another region/account: they can never
 * resolve here and are reported as not found under the ARN the caller gave.
 */
export function parseKeyReference(config: ResolvedConfig, value: string): KeyReference {
  if (value.startsWith('arn:')) {
    const m = ARN.exec(value);
    if (!m) throw invalidArn(value);
    const foreign = m[1] !== config.region || m[2] !== config.account ? value : undefined;
    // Group 4 is mandatory in ARN, so a match always has it.
    const name = m[4] as string;
    if (m[3] === 'key') return { kind: 'key', id: name, foreignArn: foreign };
    return { kind: 'alias', name: `alias/${name}`, foreignArn: foreign };
  }
  if (value.startsWith('alias/')) return { kind: 'alias', name: value };
  return { kind: 'key', id: value };
}

/**
 * Resolves a KeyId to a key id without requiring the key to exist (stale readers need the id of a key
 * that may have just been created or deleted). `notFound` builds the error for a missing key.
 */
export function resolveKeyId(ctx: OpContext, value: string, allowAlias: boolean): { id: string; notFound: () => Error } {
  const ref = parseKeyReference(ctx.config, value);
  if (ref.kind === 'alias') {
    if (!allowAlias) throw invalidKeyId(value);
    const arn = ref.foreignArn ?? aliasArn(ctx.config, ref.name);
    const alias = ref.foreignArn ? undefined : ctx.state.aliases.get(ref.name);
    if (!alias) throw aliasNotFound(arn);
    return { id: alias.targetKeyId, notFound: () => keyNotFound(keyArn(ctx.config, alias.targetKeyId)) };
  }
  if (ref.foreignArn) {
    const foreign = ref.foreignArn;
    return { id: `\u0000foreign:${foreign}`, notFound: () => keyNotFound(foreign) };
  }
  const id = ref.id;
  const shaped = KEY_ID_SHAPE.test(id) || value.startsWith('arn:');
  return { id, notFound: () => (shaped || ctx.state.keys.has(id) ? keyNotFound(keyArn(ctx.config, id)) : invalidKeyId(value)) };
}

/** Resolves a KeyId to an existing key (current state) or throws NotFoundException/InvalidArnException. */
export function requireKey(ctx: OpContext, value: string, allowAlias = false): KeyRecord {
  const { id, notFound } = resolveKeyId(ctx, value, allowAlias);
  const key = ctx.state.keys.get(id);
  if (!key) throw notFound();
  ctx.audit.keyId = key.id;
  if (key.customKeyStoreId !== undefined) ctx.audit.customKeyStoreId = key.customKeyStoreId;
  return key;
}

/** KeyId parameter rule shared by every key operation (KeyIdType, 1–2048). */
export const KEY_ID_RULE = { required: true, min: 1, max: 2048 } as const;
