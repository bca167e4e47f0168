/**
 * Request routing by `x-amz-target`, and the CloudTrail event each answered API call leaves behind.
 *
 * What is recorded: every call that passed authentication and named a known operation — successes, errors
 * (`errorCode`/`errorMessage`), throttled calls, injected errors — with the caller's identity (from the
 * access key that signed it), source IP and user agent, the request parameters without data or secrets,
 * the key ARN in `resources`, and custom key store details in `additionalEventData`. Not recorded:
 * requests that failed authentication or named no known operation, and requests an injected fault reset
 * before they ran (they never reached the service).
 */
import type { IncomingMessage } from 'node:http';
import { CLOUDTRAIL_SIGNING_NAME, CLOUDTRAIL_TARGET_PREFIXES, CLOUDTRAIL_THROTTLING_MESSAGE, lookupEvents } from './cloudtrail';
import { type AuditScratch, keyArn } from './context';
import type { EmulatorCore } from './core';
import { KmsError } from './errors';
import type { JsonObject } from './input';
import { OPERATIONS, type OperationDef } from './operations';
import { CLOUDTRAIL_EVENT_SOURCE, flat, KMS_EVENT_SOURCE, requestParameters, responseElements } from './trail';

const KMS_TARGET_PREFIX = 'TrentService.';

/** CloudTrail operations served on the emulator's port. */
export const CLOUDTRAIL_OPERATIONS: Readonly<Record<string, OperationDef>> = {
  LookupEvents: { handler: lookupEvents, mutating: false },
};

/** Cryptographic operations: their entries carry the custom key store in `additionalEventData`. */
const CRYPTO_OPERATIONS: ReadonlySet<string> = new Set(['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext']);
/** Store operations: their entries carry the store's name (and CloudHSM cluster) in `additionalEventData`. */
const STORE_OPERATIONS: ReadonlySet<string> = new Set(['ConnectCustomKeyStore', 'DisconnectCustomKeyStore', 'DeleteCustomKeyStore', 'UpdateCustomKeyStore']);

export interface Route {
  service: 'kms' | 'cloudtrail';
  signingName: string;
  operation: string;
  def: OperationDef | undefined;
}

function lookup(table: Readonly<Record<string, OperationDef>>, operation: string): OperationDef | undefined {
  return Object.hasOwn(table, operation) ? table[operation] : undefined;
}

/** Which service and operation a target names (unknown targets are KMS requests for an unknown operation). */
export function routeTarget(target: string | undefined): Route {
  if (target?.startsWith(KMS_TARGET_PREFIX)) {
    const operation = target.slice(KMS_TARGET_PREFIX.length);
    return { service: 'kms', signingName: 'kms', operation, def: lookup(OPERATIONS, operation) };
  }
  for (const prefix of CLOUDTRAIL_TARGET_PREFIXES) {
    if (target?.startsWith(prefix)) {
      const operation = target.slice(prefix.length);
      return { service: 'cloudtrail', signingName: CLOUDTRAIL_SIGNING_NAME, operation, def: lookup(CLOUDTRAIL_OPERATIONS, operation) };
    }
  }
  return { service: 'kms', signingName: 'kms', operation: target ?? '', def: undefined };
}

export function cloudTrailThrottling(): KmsError {
  return new KmsError('ThrottlingException', CLOUDTRAIL_THROTTLING_MESSAGE);
}

/** One shared copy of recurring strings (user agents, addresses): every stored event refers to them. */
const interned = new Map<string, string>();

function intern(s: string): string {
  const known = interned.get(s);
  if (known !== undefined) return known;
  if (interned.size >= 1000) interned.clear();
  interned.set(flat(s), s);
  return s;
}

export function headerText(value: string | string[] | undefined): string {
  return intern((Array.isArray(value) ? value.join(' ') : value) ?? '');
}

/** The caller's address as CloudTrail prints it (IPv4-mapped IPv6 addresses unwrapped). */
export function sourceIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return intern(address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address);
}

/** Everything the pipeline learned about one request. */
export interface CallRecord {
  operation: string;
  service: 'kms' | 'cloudtrail';
  requestId: string;
  eventId: string;
  audit: AuditScratch;
  mutating: boolean;
  accessKeyId?: string;
  /** Set once authenticated and routed to a known operation. */
  admittedAt?: number;
  source?: { ip: string; userAgent: string };
  input?: JsonObject;
  output?: unknown;
  error?: KmsError;
  /** `ConnectionReset` when an injected fault destroyed the socket before the call ran. */
  outcome?: string;
  /** What the client saw instead of the real outcome (`when: 'after'` faults). */
  replacedOutcome?: string;
  injected?: boolean;
}

/** Appends the CloudTrail event of an answered call (see the module comment for what is skipped). */
export function recordTrailEvent(core: EmulatorCore, call: CallRecord): void {
  if (call.admittedAt === undefined || call.outcome === 'ConnectionReset') return;
  const config = core.config;
  const readOnly = !call.mutating;
  const scratch = call.audit;
  const identity = call.accessKeyId !== undefined ? core.identities.get(call.accessKeyId) : undefined;
  let additionalEventData: Record<string, unknown> | undefined;
  if (CRYPTO_OPERATIONS.has(call.operation) && scratch.keyId !== undefined) {
    const key = core.state.keys.get(scratch.keyId);
    if (key?.customKeyStoreId !== undefined) {
      additionalEventData = { customKeyStoreId: key.customKeyStoreId, ...(key.xksKeyId !== undefined ? { xksKeyId: key.xksKeyId } : {}) };
    }
  } else if (STORE_OPERATIONS.has(call.operation) && scratch.storeName !== undefined) {
    additionalEventData = { customKeyStoreName: scratch.storeName, ...(scratch.clusterId !== undefined ? { clusterId: scratch.clusterId } : {}) };
  }
  // Every field in one literal (absent ones undefined): no spreads on the hot path.
  core.state.appendTrail({
    eventId: call.eventId,
    eventTime: call.admittedAt,
    eventSource: call.service === 'cloudtrail' ? CLOUDTRAIL_EVENT_SOURCE : KMS_EVENT_SOURCE,
    eventName: call.operation,
    eventType: 'AwsApiCall',
    readOnly,
    principalArn: identity?.arn,
    accessKeyId: call.accessKeyId,
    sourceIPAddress: call.source?.ip ?? '',
    userAgent: call.source?.userAgent ?? '',
    requestId: call.requestId,
    errorCode: call.error?.name,
    errorMessage: call.error?.message,
    requestParameters: requestParameters(call.operation, call.input),
    responseElements: call.error ? null : responseElements(readOnly, call.output),
    additionalEventData,
    resource: scratch.keyId !== undefined ? flat(keyArn(config, scratch.keyId)) : undefined,
  });
}
