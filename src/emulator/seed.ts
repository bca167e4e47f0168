/**
 * Bulk seeding for the admin API: validates the whole spec first (a seed is all-or-nothing), then
 * writes records directly, bypassing quotas, the CONNECTED requirement of CreateKey and the journal
 * (the caller writes one snapshot afterwards instead of 100,000 journal lines).
 */
import type { EmulatedClock } from './clock';
import type { ResolvedConfig } from './config';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { keyArn, parseKeyReference } from './context';
import { parsePrincipalArn } from './identities';
import { TRACKED_OPERATIONS } from './operations/crypto';
import { flat, KMS_EVENT_SOURCE } from './trail';
import { aliasNameProblem } from './operations/aliases';
import { DEFAULT_WINDOW_DAYS, deletionFor, MAX_WINDOW_DAYS, MIN_WINDOW_DAYS } from './operations/deletion';
import { newKeyId } from './operations/keys';
import { CLUSTER_ID_PATTERN, CONNECTION_ERROR_CODES, CONNECTION_STATES, MAX_STORES, newStoreId } from './operations/stores';
import type { Rng } from './random';
import type { EmulatorState, KeyOrigin, KeyRecord, StoreRecord } from './state';
import type { SeedKeyUsage, SeedKeys, SeedResult, SeedSpec, SeedStore } from './types';

/** A seed spec the admin API must reject with 400. */
export class SeedError extends Error {}

const SEED_ID = /^[A-Za-z0-9_-]{1,128}$/;
const STORE_ID = /^[A-Za-z0-9-]{1,64}$/;
const URI_ENDPOINT = /^https:\/\/[a-zA-Z0-9.-]+$/;
const KEY_STATES = ['Enabled', 'Disabled', 'PendingDeletion'];
/** Placeholder `customerCA.crt` content for seeded CloudHSM stores. */
const SEED_TRUST_ANCHOR = '-----BEGIN CERTIFICATE-----\nTUlJQ0VtdWxhdG9yU2VlZGVkVHJ1c3RBbmNob3I=\n-----END CERTIFICATE-----';

export interface SeedDeps {
  state: EmulatorState;
  clock: EmulatedClock;
  config: ResolvedConfig;
  rng: Rng;
}

function fail(message: string): never {
  throw new SeedError(message);
}

function asArray<T>(value: T[] | undefined, name: string): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`${name} must be an array`);
  return value;
}

function buildStore(
  deps: SeedDeps,
  spec: SeedStore,
  index: number,
  taken: { ids: Set<string>; names: Set<string>; clusters: Set<string>; uris: Set<string> },
): StoreRecord {
  const where = `stores[${index}]`;
  if (spec === null || typeof spec !== 'object') fail(`${where} must be an object`);
  if (typeof spec.name !== 'string' || spec.name.length < 1 || spec.name.length > 256) fail(`${where}.name must be a string of 1-256 characters`);
  if (taken.names.has(spec.name)) fail(`${where}.name ${spec.name} is already used by another custom key store`);
  const type = spec.type ?? 'AWS_CLOUDHSM';
  if (type !== 'AWS_CLOUDHSM' && type !== 'EXTERNAL_KEY_STORE') fail(`${where}.type must be AWS_CLOUDHSM or EXTERNAL_KEY_STORE`);
  const id = spec.id ?? newStoreId(deps);
  if (!STORE_ID.test(id)) fail(`${where}.id must be 1-64 letters, digits or dashes`);
  if (taken.ids.has(id)) fail(`${where}.id ${id} already exists`);
  const state = spec.connectionState ?? 'DISCONNECTED';
  if (!CONNECTION_STATES.includes(state)) fail(`${where}.connectionState must be one of ${CONNECTION_STATES.join(', ')}`);
  if (spec.connectionErrorCode !== undefined) {
    if (state !== 'FAILED') fail(`${where}.connectionErrorCode is only allowed with connectionState FAILED`);
    if (!CONNECTION_ERROR_CODES.includes(spec.connectionErrorCode)) fail(`${where}.connectionErrorCode must be one of ${CONNECTION_ERROR_CODES.join(', ')}`);
  }
  const now = deps.clock.now();
  const store: StoreRecord = { id, seq: 0, name: spec.name, type, creationDate: now, connectionState: state };
  if (state === 'FAILED') store.connectionErrorCode = spec.connectionErrorCode ?? 'INTERNAL_ERROR';
  if (state === 'CONNECTING') store.transition = { to: 'CONNECTED', at: now + deps.config.connectMs };
  if (state === 'DISCONNECTING') store.transition = { to: 'DISCONNECTED', at: now + deps.config.disconnectMs };
  if (type === 'AWS_CLOUDHSM') {
    if (spec.xksProxyUriEndpoint !== undefined) fail(`${where}.xksProxyUriEndpoint is only valid for EXTERNAL_KEY_STORE`);
    let cluster = spec.cloudHsmClusterId;
    if (cluster === undefined) {
      do cluster = `cluster-${deps.rng.fromAlphabet('234567abcdefghijklmnopqrstuvwxyz', 11)}`;
      while (taken.clusters.has(cluster));
    }
    if (!CLUSTER_ID_PATTERN.test(cluster)) fail(`${where}.cloudHsmClusterId must match ${CLUSTER_ID_PATTERN.source}`);
    if (taken.clusters.has(cluster)) fail(`${where}.cloudHsmClusterId ${cluster} is already used by another custom key store`);
    store.cloudHsmClusterId = cluster;
    store.trustAnchorCertificate = SEED_TRUST_ANCHOR;
    taken.clusters.add(cluster);
  } else {
    if (spec.cloudHsmClusterId !== undefined) fail(`${where}.cloudHsmClusterId is only valid for AWS_CLOUDHSM`);
    const endpoint = spec.xksProxyUriEndpoint ?? `https://xks-${deps.rng.hex(8)}.example.com`;
    if (!URI_ENDPOINT.test(endpoint) || endpoint.length < 10 || endpoint.length > 128) fail(`${where}.xksProxyUriEndpoint must match ${URI_ENDPOINT.source}`);
    const uriPath = '/kms/xks/v1';
    if (taken.uris.has(endpoint + uriPath)) fail(`${where}.xksProxyUriEndpoint ${endpoint} is already used by another custom key store`);
    taken.uris.add(endpoint + uriPath);
    store.xks = {
      connectivity: 'PUBLIC_ENDPOINT',
      uriEndpoint: endpoint,
      uriPath,
      accessKeyId: deps.rng.fromAlphabet('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 20),
    };
  }
  taken.ids.add(id);
  taken.names.add(spec.name);
  return store;
}

/** Validates and applies a seed spec; throws {@link SeedError} without changing anything when invalid. */
export function applySeed(deps: SeedDeps, spec: SeedSpec): SeedResult {
  const { state, config } = deps;
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) fail('seed spec must be an object');
  const storeSpecs = asArray(spec.stores, 'stores');
  const keySpecs = asArray<SeedKeys>(spec.keys, 'keys');
  const aliasSpecs = asArray(spec.aliases, 'aliases');

  // ---- validate and build (nothing is written until everything passed) ----
  const existing = [...state.stores.values()];
  const taken = {
    ids: new Set(existing.map((s) => s.id)),
    names: new Set(existing.map((s) => s.name)),
    clusters: new Set(existing.flatMap((s) => (s.cloudHsmClusterId ? [s.cloudHsmClusterId] : []))),
    uris: new Set(existing.flatMap((s) => (s.xks ? [s.xks.uriEndpoint + s.xks.uriPath] : []))),
  };
  const newStores = storeSpecs.map((s, i) => buildStore(deps, s, i, taken));
  if (existing.length + newStores.length > MAX_STORES) fail(`an account can hold at most ${MAX_STORES} custom key stores (${existing.length} exist)`);
  const storeById = new Map<string, StoreRecord>(existing.concat(newStores).map((s) => [s.id, s]));
  const storeByName = new Map<string, StoreRecord>(existing.concat(newStores).map((s) => [s.name, s]));

  const newKeyIds = new Set<string>();
  const newAliases = new Map<string, string>();
  const now = deps.clock.now();
  const batches: { keys: KeyRecord[]; aliasPrefix?: string }[] = [];
  const usages: { key: KeyRecord; usage: SeedKeyUsage }[] = [];
  keySpecs.forEach((k, index) => {
    const where = `keys[${index}]`;
    if (k === null || typeof k !== 'object') fail(`${where} must be an object`);
    const ids = k.ids === undefined ? undefined : asArray(k.ids, `${where}.ids`);
    const count = k.count ?? ids?.length ?? 1;
    if (!Number.isInteger(count) || count < 0 || count > 1_000_000) fail(`${where}.count must be an integer between 0 and 1000000`);
    if (ids && ids.length !== count) fail(`${where}.ids has ${ids.length} entries but count is ${count}`);
    let store: StoreRecord | undefined;
    if (k.customKeyStoreId !== undefined) {
      store = storeById.get(k.customKeyStoreId) ?? storeByName.get(k.customKeyStoreId);
      if (!store) fail(`${where}.customKeyStoreId ${k.customKeyStoreId} matches no custom key store id or name`);
    }
    const keyState = k.keyState ?? 'Enabled';
    if (!KEY_STATES.includes(keyState)) fail(`${where}.keyState must be one of ${KEY_STATES.join(', ')}`);
    const window = k.pendingWindowInDays ?? DEFAULT_WINDOW_DAYS;
    if (!Number.isInteger(window) || window < MIN_WINDOW_DAYS || window > MAX_WINDOW_DAYS) {
      fail(`${where}.pendingWindowInDays must be an integer between ${MIN_WINDOW_DAYS} and ${MAX_WINDOW_DAYS}`);
    }
    const creationDate = k.creationDate ?? now;
    if (typeof creationDate !== 'number' || !Number.isFinite(creationDate) || creationDate < 0 || creationDate > now) {
      fail(`${where}.creationDate must be an emulated epoch millisecond number not after now (${now})`);
    }
    let usage: SeedKeyUsage | undefined;
    if (k.lastUsage !== undefined) {
      usage = k.lastUsage;
      if (usage === null || typeof usage !== 'object') fail(`${where}.lastUsage must be an object`);
      if (typeof usage.at !== 'number' || !Number.isFinite(usage.at) || usage.at < creationDate || usage.at > now) {
        fail(`${where}.lastUsage.at must be an emulated epoch millisecond number between the creationDate and now`);
      }
      if (usage.operation !== undefined && !(TRACKED_OPERATIONS as readonly string[]).includes(usage.operation)) {
        fail(`${where}.lastUsage.operation must be one of ${TRACKED_OPERATIONS.join(', ')}`);
      }
      if (usage.principalArn !== undefined) {
        try {
          if (parsePrincipalArn(usage.principalArn).account !== config.account) fail(`${where}.lastUsage.principalArn must be in account ${config.account}`);
        } catch (e) {
          if (e instanceof SeedError) throw e;
          fail(`${where}.lastUsage.${(e as Error).message}`);
        }
      }
      if (usage.sourceIPAddress !== undefined && (typeof usage.sourceIPAddress !== 'string' || isIP(usage.sourceIPAddress) === 0))
        fail(`${where}.lastUsage.sourceIPAddress must be an IP address`);
    }
    const description = k.description ?? '';
    if (typeof description !== 'string' || description.length > 8192) fail(`${where}.description must be a string of at most 8192 characters`);
    if (k.aliasPrefix !== undefined && (typeof k.aliasPrefix !== 'string' || aliasNameProblem(`${k.aliasPrefix}-0`))) {
      fail(`${where}.aliasPrefix must start with alias/ (not alias/aws/) and use only [a-zA-Z0-9:/_-]`);
    }
    const origin: KeyOrigin = store === undefined ? 'AWS_KMS' : store.type === 'AWS_CLOUDHSM' ? 'AWS_CLOUDHSM' : 'EXTERNAL_KEY_STORE';
    const deletion = keyState === 'PendingDeletion' ? deletionFor(deps.clock, config, window) : undefined;
    const keys: KeyRecord[] = new Array<KeyRecord>(count);
    for (let i = 0; i < count; i++) {
      let id: string;
      if (ids) {
        id = ids[i] as string; // ids.length === count was checked; the type is checked next
        if (typeof id !== 'string' || !SEED_ID.test(id)) fail(`${where}.ids[${i}] must be 1-128 letters, digits, '_' or '-'`);
        if (state.keys.has(id) || newKeyIds.has(id)) fail(`${where}.ids[${i}] ${id} already exists`);
      } else {
        do id = newKeyId(deps);
        while (newKeyIds.has(id));
      }
      newKeyIds.add(id);
      const key: KeyRecord = { id, seq: 0, creationDate, description, origin, enabled: keyState !== 'Disabled' };
      if (store) {
        key.customKeyStoreId = store.id;
        if (origin === 'EXTERNAL_KEY_STORE') key.xksKeyId = `xks-${id}`;
      }
      if (deletion) key.deletion = deletion;
      if (usage) usages.push({ key, usage });
      if (k.aliasPrefix !== undefined) {
        const name = `${k.aliasPrefix}-${i}`;
        if (state.aliases.has(name) || newAliases.has(name)) fail(`${where}: alias ${name} already exists`);
        newAliases.set(name, id);
      }
      keys[i] = key;
    }
    batches.push({ keys, aliasPrefix: k.aliasPrefix });
  });
  aliasSpecs.forEach((a, i) => {
    const where = `aliases[${i}]`;
    if (a === null || typeof a !== 'object' || typeof a.aliasName !== 'string' || typeof a.targetKeyId !== 'string') {
      fail(`${where} must be { aliasName: string, targetKeyId: string }`);
    }
    const problem = aliasNameProblem(a.aliasName);
    if (problem) fail(`${where}.aliasName: ${problem}`);
    if (state.aliases.has(a.aliasName) || newAliases.has(a.aliasName)) fail(`${where}: alias ${a.aliasName} already exists`);
    const ref = parseKeyReference(config, a.targetKeyId);
    if (ref.kind !== 'key' || ref.foreignArn || !(state.keys.has(ref.id) || newKeyIds.has(ref.id)))
      fail(`${where}.targetKeyId ${a.targetKeyId} is not a known key id or key ARN`);
    newAliases.set(a.aliasName, ref.id);
  });

  // ---- apply ----
  state.unrecorded(() => {
    for (const s of newStores) state.putStore({ ...s, seq: state.nextSeq() });
    for (const batch of batches) for (const key of batch.keys) state.putKey(((key.seq = state.nextSeq()), key));
    for (const [name, target] of newAliases) state.putAlias({ name, seq: state.nextSeq(), targetKeyId: target, creationDate: now, lastUpdatedDate: now });
    for (const { key, usage } of usages) {
      const operation = usage.operation ?? 'Decrypt';
      const arn = keyArn(config, key.id);
      const event = state.appendTrail({
        eventId: flat(randomUUID()),
        eventTime: usage.at,
        eventSource: KMS_EVENT_SOURCE,
        eventName: operation,
        eventType: 'AwsApiCall',
        readOnly: true,
        principalArn: usage.principalArn ?? config.principalArn,
        sourceIPAddress: usage.sourceIPAddress ?? '10.0.0.1',
        userAgent: 'kms-emulator-seed',
        requestId: flat(randomUUID()),
        requestParameters: { keyId: arn, ...(operation === 'Encrypt' || operation === 'Decrypt' ? { encryptionAlgorithm: 'SYMMETRIC_DEFAULT' } : {}) },
        responseElements: null,
        ...(key.customKeyStoreId !== undefined
          ? { additionalEventData: { customKeyStoreId: key.customKeyStoreId, ...(key.xksKeyId !== undefined ? { xksKeyId: key.xksKeyId } : {}) } }
          : {}),
        resource: flat(arn),
      });
      state.putKey({ ...key, lastUsage: { operation, at: usage.at, eventId: event.eventId, requestId: event.requestId as string } });
    }
  });
  return { storeIds: newStores.map((s) => s.id), keyIds: batches.map((b) => b.keys.map((k) => k.id)) };
}
