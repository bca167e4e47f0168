/**
 * Custom key store operations and the connection-state machine of reference §4.
 */
import type { OpContext } from '../context';
import { KmsError, storeInvalidState, storeNotFound } from '../errors';
import { Input, type JsonObject } from '../input';
import { effectivePageSize } from '../pagination';
import type { EmulatorState, StoreRecord, XksConnectivity, XksProxyRecord } from '../state';
import type { ConnectionState, CustomKeyStoreType } from '../types';
import { storeView, type StoreView } from '../views';

/** Hard limit per account and Region (reference §3.11). */
export const MAX_STORES = 10;

/** Every ConnectionErrorCode of the model (reference §3.7). */
export const CONNECTION_ERROR_CODES: readonly string[] = [
  'INVALID_CREDENTIALS',
  'CLUSTER_NOT_FOUND',
  'NETWORK_ERRORS',
  'INTERNAL_ERROR',
  'INSUFFICIENT_CLOUDHSM_HSMS',
  'USER_LOCKED_OUT',
  'USER_NOT_FOUND',
  'USER_LOGGED_IN',
  'SUBNET_NOT_FOUND',
  'INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET',
  'XKS_PROXY_ACCESS_DENIED',
  'XKS_PROXY_NOT_REACHABLE',
  'XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND',
  'XKS_PROXY_INVALID_RESPONSE',
  'XKS_PROXY_INVALID_CONFIGURATION',
  'XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION',
  'XKS_PROXY_TIMED_OUT',
  'XKS_PROXY_INVALID_TLS_CONFIGURATION',
];

/**
 * Synchronous connect failures (reference §3.8): the call itself fails and the store stays DISCONNECTED.
 * `failNextConnects` accepts these names in place of a ConnectionErrorCode.
 */
export const FAST_FAIL_CONNECT_ERRORS: Readonly<Record<string, (store: StoreRecord) => string>> = {
  CloudHsmClusterNotActiveException: (s) =>
    `The CloudHSM cluster ${s.cloudHsmClusterId ?? ''} that is associated with the custom key store is not active. Initialize and activate the cluster and create at least one HSM, then try again.`,
  CloudHsmClusterInvalidConfigurationException: (s) =>
    `The CloudHSM cluster ${s.cloudHsmClusterId ?? ''} that is associated with the custom key store does not meet the configuration requirements for a custom key store.`,
};

export const CONNECTION_STATES: readonly ConnectionState[] = ['CONNECTED', 'CONNECTING', 'FAILED', 'DISCONNECTED', 'DISCONNECTING'];

const STORE_ID_RULE = { required: true, min: 1, max: 64 } as const;
const NAME_RULE = { min: 1, max: 256 } as const;
export const CLUSTER_ID_PATTERN = /^cluster-[2-7a-zA-Z]{11,16}$/;
const CLUSTER_ID_RULE = { min: 19, max: 24, pattern: CLUSTER_ID_PATTERN } as const;
const PASSWORD_RULE = { min: 7, max: 32 } as const;
const TRUST_ANCHOR_RULE = { min: 1, max: 5000 } as const;
const URI_ENDPOINT_RULE = { min: 10, max: 128, pattern: /^https:\/\/[a-zA-Z0-9.-]+$/ } as const;
const URI_PATH_RULE = { min: 10, max: 128, pattern: /^(\/[a-zA-Z0-9/_-]+)?\/kms\/xks\/v\d{1,2}$/ } as const;
const VPC_SERVICE_RULE = { min: 1, max: 64, pattern: /^com\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]{17}$/ } as const;
const VPC_OWNER_RULE = { min: 12, max: 12, pattern: /^[0-9]{12}$/ } as const;
const XKS_ACCESS_KEY_RULE = { required: true, min: 20, max: 30, pattern: /^[A-Z2-7]+$/ } as const;
const XKS_SECRET_RULE = { required: true, min: 43, max: 64, pattern: /^[a-zA-Z0-9/+=]+$/ } as const;
const CONNECTIVITY: readonly XksConnectivity[] = ['PUBLIC_ENDPOINT', 'VPC_ENDPOINT_SERVICE'];
const STORE_TYPES: readonly CustomKeyStoreType[] = ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'];

const XKS_FIELDS = [
  'XksProxyUriEndpoint',
  'XksProxyUriPath',
  'XksProxyVpcEndpointServiceName',
  'XksProxyVpcEndpointServiceOwner',
  'XksProxyAuthenticationCredential',
  'XksProxyConnectivity',
];
const CLOUDHSM_FIELDS = ['CloudHsmClusterId', 'KeyStorePassword', 'TrustAnchorCertificate'];

/** Store lookup by id, remembering the id for the audit entry. */
export function requireStore(ctx: OpContext, id: string): StoreRecord {
  ctx.audit.customKeyStoreId = id;
  const store = ctx.state.stores.get(id);
  if (!store) throw storeNotFound(id);
  ctx.audit.storeName = store.name;
  if (store.cloudHsmClusterId !== undefined) ctx.audit.clusterId = store.cloudHsmClusterId;
  return store;
}

function readXksCredential(input: Input): string | undefined {
  const cred = input.object('XksProxyAuthenticationCredential');
  if (!cred) return undefined;
  const accessKeyId = cred.string('AccessKeyId', XKS_ACCESS_KEY_RULE);
  cred.string('RawSecretAccessKey', XKS_SECRET_RULE);
  return accessKeyId;
}

function rejectFields(input: Input, fields: string[], storeType: CustomKeyStoreType): void {
  const present = fields.filter((f) => input.has(f));
  if (present.length > 0) {
    throw new KmsError('ValidationException', `${present.join(', ')} cannot be used with a custom key store of type ${storeType}.`);
  }
}

/** XKS uniqueness rules of reference §3.11 (`self` is excluded when updating). */
function checkXksUniqueness(state: EmulatorState, xks: XksProxyRecord, self?: string): void {
  for (const other of state.stores.values()) {
    if (other.id === self || !other.xks) continue;
    if (other.xks.uriEndpoint === xks.uriEndpoint && other.xks.uriPath === xks.uriPath) {
      throw new KmsError('XksProxyUriInUseException', `The XKS proxy URI ${xks.uriEndpoint}${xks.uriPath} is already used by custom key store ${other.id}.`);
    }
    if (xks.connectivity === 'VPC_ENDPOINT_SERVICE' && other.xks.connectivity === 'VPC_ENDPOINT_SERVICE' && other.xks.uriEndpoint === xks.uriEndpoint) {
      throw new KmsError('XksProxyUriEndpointInUseException', `The XKS proxy URI endpoint ${xks.uriEndpoint} is already used by custom key store ${other.id}.`);
    }
    if (xks.vpcEndpointServiceName && other.xks.vpcEndpointServiceName === xks.vpcEndpointServiceName) {
      throw new KmsError(
        'XksProxyVpcEndpointServiceInUseException',
        `The VPC endpoint service ${xks.vpcEndpointServiceName} is already used by custom key store ${other.id}.`,
      );
    }
  }
}

function checkClusterUnused(state: EmulatorState, clusterId: string, self?: string): void {
  for (const other of state.stores.values()) {
    if (other.id !== self && other.cloudHsmClusterId === clusterId) {
      throw new KmsError('CloudHsmClusterInUseException', `The CloudHSM cluster ${clusterId} is already associated with custom key store ${other.id}.`);
    }
  }
}

function checkNameUnused(state: EmulatorState, name: string, self?: string): void {
  const other = state.findStoreByName(name);
  if (other && other.id !== self) {
    throw new KmsError('CustomKeyStoreNameInUseException', `A custom key store named ${name} already exists in this account and Region.`);
  }
}

/** `cks-` + 17 hex digits, the real format (reference §2). */
export function newStoreId(ctx: Pick<OpContext, 'rng' | 'state'>): string {
  for (;;) {
    const id = `cks-${ctx.rng.hex(17)}`;
    if (!ctx.state.stores.has(id)) return id;
  }
}

/** CreateCustomKeyStore: validates the §3.11 shapes and uniqueness; new stores start DISCONNECTED. */
export function createCustomKeyStore(ctx: OpContext, body: JsonObject): { CustomKeyStoreId: string } {
  const input = new Input(body);
  const name = input.string('CustomKeyStoreName', { ...NAME_RULE, required: true });
  const type = input.enumValue('CustomKeyStoreType', STORE_TYPES) ?? 'AWS_CLOUDHSM';
  let cloudHsmClusterId: string | undefined;
  let trustAnchorCertificate: string | undefined;
  let xks: XksProxyRecord | undefined;
  if (type === 'AWS_CLOUDHSM') {
    rejectFields(input, XKS_FIELDS, type);
    cloudHsmClusterId = input.string('CloudHsmClusterId', { ...CLUSTER_ID_RULE, required: true });
    trustAnchorCertificate = input.string('TrustAnchorCertificate', { ...TRUST_ANCHOR_RULE, required: true });
    input.string('KeyStorePassword', { ...PASSWORD_RULE, required: true });
  } else {
    rejectFields(input, CLOUDHSM_FIELDS, type);
    const connectivity = input.enumValue('XksProxyConnectivity', CONNECTIVITY, true) as XksConnectivity;
    const uriEndpoint = input.string('XksProxyUriEndpoint', { ...URI_ENDPOINT_RULE, required: true });
    const uriPath = input.string('XksProxyUriPath', { ...URI_PATH_RULE, required: true });
    input.object('XksProxyAuthenticationCredential', true);
    xks = { connectivity, uriEndpoint, uriPath, accessKeyId: readXksCredential(input) as string };
    const service = input.string('XksProxyVpcEndpointServiceName', VPC_SERVICE_RULE);
    const owner = input.string('XksProxyVpcEndpointServiceOwner', VPC_OWNER_RULE);
    if (connectivity === 'VPC_ENDPOINT_SERVICE') {
      if (!service) input.string('XksProxyVpcEndpointServiceName', { ...VPC_SERVICE_RULE, required: true });
      xks.vpcEndpointServiceName = service;
      if (owner) xks.vpcEndpointServiceOwner = owner;
    } else if (service || owner) {
      throw new KmsError(
        'ValidationException',
        'XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner require XksProxyConnectivity VPC_ENDPOINT_SERVICE.',
      );
    }
  }
  if (ctx.state.stores.size >= MAX_STORES) {
    throw new KmsError(
      'LimitExceededException',
      `The request was rejected because this account already has the maximum of ${MAX_STORES} custom key stores in this Region.`,
    );
  }
  checkNameUnused(ctx.state, name);
  if (cloudHsmClusterId) checkClusterUnused(ctx.state, cloudHsmClusterId);
  if (xks) checkXksUniqueness(ctx.state, xks);

  const id = newStoreId(ctx);
  const store: StoreRecord = {
    id,
    seq: ctx.state.nextSeq(),
    name,
    type,
    creationDate: ctx.clock.now(),
    connectionState: 'DISCONNECTED',
  };
  if (cloudHsmClusterId) store.cloudHsmClusterId = cloudHsmClusterId;
  if (trustAnchorCertificate) store.trustAnchorCertificate = trustAnchorCertificate;
  if (xks) store.xks = xks;
  ctx.state.putStore(store);
  ctx.audit.customKeyStoreId = id;
  return { CustomKeyStoreId: id };
}

/** DescribeCustomKeyStores: by id, by name (unknown → CustomKeyStoreNotFoundException) or all, paginated. */
export function describeCustomKeyStores(ctx: OpContext, body: JsonObject): { CustomKeyStores: StoreView[]; Truncated: boolean; NextMarker?: string } {
  const input = new Input(body);
  const id = input.string('CustomKeyStoreId', { min: 1, max: 64 });
  const name = input.string('CustomKeyStoreName', NAME_RULE);
  const limit = input.integer('Limit', { min: 1, max: 1000 }) ?? 1000;
  const marker = input.string('Marker', { min: 1, max: 1024, pattern: /^[\u0020-\u00FF]*$/ });
  if (id !== undefined && name !== undefined) {
    throw new KmsError('ValidationException', 'Specify either CustomKeyStoreId or CustomKeyStoreName, not both.');
  }
  const stale = ctx.staleReadMs;
  const asOf = (storeId: string): StoreRecord | undefined => ctx.state.storeAsOf(storeId, stale);

  let candidates: StoreRecord[];
  if (id !== undefined) {
    ctx.audit.customKeyStoreId = id;
    const store = asOf(id);
    if (!store) throw storeNotFound(id);
    candidates = [store];
  } else {
    const ids = [...ctx.state.stores.values()].map((s) => s.id).concat(ctx.state.recentlyDeletedStoreIds(stale));
    candidates = ids
      .map(asOf)
      .filter((s): s is StoreRecord => s !== undefined)
      .sort((a, b) => a.seq - b.seq);
    if (name !== undefined) {
      candidates = candidates.filter((s) => s.name === name);
      const first = candidates[0];
      if (!first) throw storeNotFound(`named ${name}`);
      ctx.audit.customKeyStoreId = first.id;
    }
  }
  const scope = `${id ?? ''}\u0000${name ?? ''}`;
  const from = marker === undefined ? 0 : ctx.markers.decode('DescribeCustomKeyStores', scope, marker);
  const size = effectivePageSize(limit, ctx.config.shortPages);
  const remaining = candidates.filter((s) => s.seq >= from);
  const page = remaining.slice(0, size);
  const next = remaining[size];
  const out: { CustomKeyStores: StoreView[]; Truncated: boolean; NextMarker?: string } = {
    CustomKeyStores: page.map(storeView),
    Truncated: next !== undefined,
  };
  if (next) out.NextMarker = ctx.markers.encode('DescribeCustomKeyStores', scope, next.seq);
  return out;
}

/** ConnectCustomKeyStore: starts the asynchronous CONNECTING phase (or FAILED, when injected). */
export function connectCustomKeyStore(ctx: OpContext, body: JsonObject): Record<string, never> {
  const id = new Input(body).string('CustomKeyStoreId', STORE_ID_RULE);
  const store = requireStore(ctx, id);
  switch (store.connectionState) {
    case 'DISCONNECTED': {
      const fail = store.failNextConnects;
      const fastFail = fail && fail.count > 0 ? FAST_FAIL_CONNECT_ERRORS[fail.errorCode] : undefined;
      if (fail && fastFail) {
        const remaining: StoreRecord = { ...store };
        if (fail.count > 1) remaining.failNextConnects = { count: fail.count - 1, errorCode: fail.errorCode };
        else delete remaining.failNextConnects;
        ctx.state.putStore(remaining);
        throw new KmsError(fail.errorCode, fastFail(store));
      }
      const next: StoreRecord = { ...store, connectionState: 'CONNECTING' };
      delete next.connectionErrorCode;
      if (fail && fail.count > 0) {
        next.transition = { to: 'FAILED', at: ctx.clock.now() + ctx.config.connectMs, errorCode: fail.errorCode };
        if (fail.count > 1) next.failNextConnects = { count: fail.count - 1, errorCode: fail.errorCode };
        else delete next.failNextConnects;
      } else {
        next.transition = { to: 'CONNECTED', at: ctx.clock.now() + ctx.config.connectMs };
      }
      ctx.state.putStore(next);
      return {};
    }
    case 'CONNECTING':
    case 'CONNECTED':
      // UNCONFIRMED in the reference; the exception doc lists only FAILED/DISCONNECTING as invalid, so accept as a no-op.
      return {};
    default:
      throw storeInvalidState(store.id, store.connectionState, 'ConnectCustomKeyStore');
  }
}

/** Starts DISCONNECTING (shared with the admin API's forced transitions). */
export function beginDisconnect(ctx: Pick<OpContext, 'state' | 'clock' | 'config'>, store: StoreRecord): void {
  const next: StoreRecord = {
    ...store,
    connectionState: 'DISCONNECTING',
    transition: { to: 'DISCONNECTED', at: ctx.clock.now() + ctx.config.disconnectMs },
  };
  delete next.connectionErrorCode;
  ctx.state.putStore(next);
}

/** DisconnectCustomKeyStore: valid from CONNECTED, CONNECTING and FAILED. */
export function disconnectCustomKeyStore(ctx: OpContext, body: JsonObject): Record<string, never> {
  const id = new Input(body).string('CustomKeyStoreId', STORE_ID_RULE);
  const store = requireStore(ctx, id);
  if (store.connectionState === 'DISCONNECTED' || store.connectionState === 'DISCONNECTING') {
    throw storeInvalidState(store.id, store.connectionState, 'DisconnectCustomKeyStore');
  }
  beginDisconnect(ctx, store);
  return {};
}

/** DeleteCustomKeyStore: needs DISCONNECTED and zero keys (PendingDeletion keys count). */
export function deleteCustomKeyStore(ctx: OpContext, body: JsonObject): Record<string, never> {
  const id = new Input(body).string('CustomKeyStoreId', STORE_ID_RULE);
  const store = requireStore(ctx, id);
  // Which check wins when both fail is UNCONFIRMED; the state check comes first here.
  if (store.connectionState !== 'DISCONNECTED') throw storeInvalidState(store.id, store.connectionState, 'DeleteCustomKeyStore');
  const keys = ctx.state.keyCount(store.id);
  if (keys > 0) {
    throw new KmsError(
      'CustomKeyStoreHasCMKsException',
      `Custom key store ${store.id} still holds ${keys} KMS key(s), including keys pending deletion. Delete the keys and wait for their waiting periods to end first.`,
    );
  }
  ctx.state.deleteStore(store.id);
  return {};
}

/** UpdateCustomKeyStore: name (XKS also credential and path) while CONNECTED, everything while DISCONNECTED. */
export function updateCustomKeyStore(ctx: OpContext, body: JsonObject): Record<string, never> {
  const input = new Input(body);
  const id = input.string('CustomKeyStoreId', STORE_ID_RULE);
  const newName = input.string('NewCustomKeyStoreName', NAME_RULE);
  const store = requireStore(ctx, id);
  const next: StoreRecord = { ...store };
  /** Fields that may change while CONNECTED (reference §3.13). */
  const onlineChanges: string[] = [];
  const offlineChanges: string[] = [];
  if (newName !== undefined) onlineChanges.push('NewCustomKeyStoreName');

  if (store.type === 'AWS_CLOUDHSM') {
    rejectFields(input, XKS_FIELDS, store.type);
    const cluster = input.string('CloudHsmClusterId', CLUSTER_ID_RULE);
    const password = input.string('KeyStorePassword', PASSWORD_RULE);
    if (cluster !== undefined) {
      offlineChanges.push('CloudHsmClusterId');
      next.cloudHsmClusterId = cluster;
    }
    if (password !== undefined) offlineChanges.push('KeyStorePassword');
  } else {
    rejectFields(input, CLOUDHSM_FIELDS, store.type);
    const xks: XksProxyRecord = { ...(store.xks as XksProxyRecord) };
    const endpoint = input.string('XksProxyUriEndpoint', URI_ENDPOINT_RULE);
    const path = input.string('XksProxyUriPath', URI_PATH_RULE);
    const service = input.string('XksProxyVpcEndpointServiceName', VPC_SERVICE_RULE);
    const owner = input.string('XksProxyVpcEndpointServiceOwner', VPC_OWNER_RULE);
    const connectivity = input.enumValue('XksProxyConnectivity', CONNECTIVITY);
    const accessKeyId = readXksCredential(input);
    if (path !== undefined) {
      onlineChanges.push('XksProxyUriPath');
      xks.uriPath = path;
    }
    if (accessKeyId !== undefined) {
      onlineChanges.push('XksProxyAuthenticationCredential');
      xks.accessKeyId = accessKeyId;
    }
    if (endpoint !== undefined) {
      offlineChanges.push('XksProxyUriEndpoint');
      xks.uriEndpoint = endpoint;
    }
    if (service !== undefined) {
      offlineChanges.push('XksProxyVpcEndpointServiceName');
      xks.vpcEndpointServiceName = service;
    }
    if (owner !== undefined) {
      offlineChanges.push('XksProxyVpcEndpointServiceOwner');
      xks.vpcEndpointServiceOwner = owner;
    }
    if (connectivity !== undefined) {
      offlineChanges.push('XksProxyConnectivity');
      xks.connectivity = connectivity;
      if (connectivity === 'PUBLIC_ENDPOINT') {
        delete xks.vpcEndpointServiceName;
        delete xks.vpcEndpointServiceOwner;
      }
    }
    if (xks.connectivity === 'VPC_ENDPOINT_SERVICE' && !xks.vpcEndpointServiceName) {
      throw new KmsError('ValidationException', 'XksProxyVpcEndpointServiceName is required for XksProxyConnectivity VPC_ENDPOINT_SERVICE.');
    }
    next.xks = xks;
  }

  const state = store.connectionState;
  const allowed = state === 'DISCONNECTED' || (state === 'CONNECTED' && offlineChanges.length === 0);
  if (!allowed) {
    const detail = state === 'CONNECTED' ? ` (${offlineChanges.join(', ')} can only change while DISCONNECTED)` : '';
    throw new KmsError(
      'CustomKeyStoreInvalidStateException',
      `Custom key store ${store.id} is ${state}; UpdateCustomKeyStore is not valid in that connection state${detail}.`,
    );
  }
  if (newName !== undefined) {
    checkNameUnused(ctx.state, newName, store.id);
    next.name = newName;
  }
  if (next.cloudHsmClusterId !== store.cloudHsmClusterId && next.cloudHsmClusterId) checkClusterUnused(ctx.state, next.cloudHsmClusterId, store.id);
  if (next.xks) checkXksUniqueness(ctx.state, next.xks, store.id);
  ctx.state.putStore(next);
  return {};
}

/** Applies a due asynchronous transition (CONNECTING → CONNECTED/FAILED, DISCONNECTING → DISCONNECTED). */
export function completeTransition(state: EmulatorState, store: StoreRecord): void {
  const t = store.transition;
  if (!t) return;
  const next: StoreRecord = { ...store, connectionState: t.to };
  delete next.transition;
  delete next.connectionErrorCode;
  if (t.to === 'FAILED') next.connectionErrorCode = t.errorCode ?? 'INTERNAL_ERROR';
  state.putStore(next);
}
