/**
 * The emulator's data model: custom key stores, keys, aliases, audit log and deletion events.
 *
 * Every mutation goes through this class so that it can (a) keep the secondary indexes consistent,
 * (b) record a `Change` for the journal and (c) remember the pre-write record for stale-read faults.
 * Records are treated as immutable values: a write replaces the whole record.
 */
import { OrderedIndex } from './ordered-index';
import { type NewTrailEvent, TrailLog, type TrailEvent } from './trail';
import type { AuditEntry, ConnectionState, CustomKeyStoreType, DeletionEvent } from './types';

export type XksConnectivity = 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';

export interface XksProxyRecord {
  connectivity: XksConnectivity;
  uriEndpoint: string;
  uriPath: string;
  accessKeyId: string;
  vpcEndpointServiceName?: string;
  vpcEndpointServiceOwner?: string;
}

/** An asynchronous connection-state change that completes at `at` (emulated ms). */
export interface PendingTransition {
  to: 'CONNECTED' | 'FAILED' | 'DISCONNECTED';
  at: number;
  errorCode?: string;
}

export interface StoreRecord {
  id: string;
  seq: number;
  name: string;
  type: CustomKeyStoreType;
  /** Emulated epoch ms. */
  creationDate: number;
  connectionState: ConnectionState;
  /** Only while FAILED. */
  connectionErrorCode?: string;
  cloudHsmClusterId?: string;
  trustAnchorCertificate?: string;
  xks?: XksProxyRecord;
  transition?: PendingTransition;
  /** Admin-injected: the next `count` connects end in FAILED with `errorCode`. */
  failNextConnects?: { count: number; errorCode: string };
}

export type KeyOrigin = 'AWS_KMS' | 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';

export interface KeyDeletion {
  /** Emulated epoch ms reported as DeletionDate. */
  deletionDate: number;
  windowDays: number;
  /** When the key is really deleted: DeletionDate + configured lag. */
  deleteAt: number;
}

/** The last successful cryptographic operation with a key (what GetKeyLastUsage reports). */
export interface KeyLastUsageRecord {
  operation: string;
  /** Emulated epoch ms of the request. */
  at: number;
  /** CloudTrail eventID of that request. */
  eventId: string;
  /** KMS request id of that request. */
  requestId: string;
}

export interface KeyRecord {
  id: string;
  seq: number;
  creationDate: number;
  description: string;
  origin: KeyOrigin;
  customKeyStoreId?: string;
  xksKeyId?: string;
  /**
   * The remembered Enabled/Disabled choice. The reported state is derived (see `projectKeyState`), so
   * disconnecting a store never has to touch its keys.
   */
  enabled: boolean;
  deletion?: KeyDeletion;
  lastUsage?: KeyLastUsageRecord;
}

export interface AliasRecord {
  name: string;
  seq: number;
  targetKeyId: string;
  creationDate: number;
  lastUpdatedDate: number;
}

/** One journaled state change; replaying changes in order rebuilds the state. */
export type Change =
  | { k: 'store'; v: StoreRecord }
  | { k: 'store-'; id: string }
  | { k: 'key'; v: KeyRecord }
  | { k: 'key-'; id: string }
  | { k: 'alias'; v: AliasRecord }
  | { k: 'alias-'; name: string }
  | { k: 'audit'; v: AuditEntry }
  | { k: 'deletion'; v: DeletionEvent }
  | { k: 'trail'; v: TrailEvent }
  | { k: 'clock'; offsetMs: number };

interface HistoryEntry<T> {
  before: T | undefined;
  /** Real epoch ms of the write. */
  at: number;
}

interface HeapItem {
  at: number;
  id: string;
}

/** Min-heap of (time, id) used for key deletions; stale entries are skipped lazily by the consumer. */
export class TimeHeap {
  private readonly items: HeapItem[] = [];

  /** Item at an index the caller has checked against `items.length`. */
  private at(i: number): HeapItem {
    return this.items[i] as HeapItem;
  }

  private swap(i: number, j: number): void {
    const a = this.at(i);
    this.items[i] = this.at(j);
    this.items[j] = a;
  }

  get size(): number {
    return this.items.length;
  }

  push(at: number, id: string): void {
    const items = this.items;
    items.push({ at, id });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.at(parent).at <= this.at(i).at) break;
      this.swap(parent, i);
      i = parent;
    }
  }

  peek(): { at: number; id: string } | undefined {
    return this.items[0];
  }

  pop(): { at: number; id: string } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.at(l).at < this.at(m).at) m = l;
        if (r < items.length && this.at(r).at < this.at(m).at) m = r;
        if (m === i) break;
        this.swap(m, i);
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** Reported key state (reference §4.1): PendingDeletion wins, then the store's connection, then the remembered flag. */
export function projectKeyState(key: KeyRecord, store: StoreRecord | undefined): 'Enabled' | 'Disabled' | 'PendingDeletion' | 'Unavailable' {
  if (key.deletion) return 'PendingDeletion';
  if (key.customKeyStoreId !== undefined && store?.connectionState !== 'CONNECTED') return 'Unavailable';
  return key.enabled ? 'Enabled' : 'Disabled';
}

export class EmulatorState {
  readonly stores = new OrderedIndex<StoreRecord>();
  readonly keys = new OrderedIndex<KeyRecord>();
  readonly aliases = new OrderedIndex<AliasRecord>();
  readonly audit: AuditEntry[] = [];
  readonly deletions: DeletionEvent[] = [];
  readonly deletionQueue = new TimeHeap();
  /** CloudTrail event history (see trail.ts). */
  readonly trail = new TrailLog();

  private readonly aliasesByKey = new Map<string, Set<string>>();
  private readonly keyCountByStore = new Map<string, number>();
  /** `${storeId} ${xksKeyId}` → key id, for XksKeyAlreadyInUseException. */
  private readonly xksKeyOwners = new Map<string, string>();

  private entitySeq = 0;
  private auditSeq = 0;
  private changes: Change[] = [];
  private recording = true;

  private historyWindowMs = 0;
  private readonly keyHistory = new Map<string, HistoryEntry<KeyRecord>>();
  private readonly storeHistory = new Map<string, HistoryEntry<StoreRecord>>();

  constructor(private readonly realNow: () => number = Date.now) {}

  /** Next entity sequence number (ordering for pagination). */
  nextSeq(): number {
    return ++this.entitySeq;
  }

  get currentSeq(): number {
    return this.entitySeq;
  }

  get lastAuditSeq(): number {
    return this.auditSeq;
  }

  // ---- journal plumbing -------------------------------------------------------------------------

  /** Changes recorded since the last drain. */
  drainChanges(): Change[] {
    const out = this.changes;
    this.changes = [];
    return out;
  }

  /** Runs `fn` without recording changes (bulk seed and journal replay are persisted differently). */
  unrecorded<T>(fn: () => T): T {
    const previous = this.recording;
    this.recording = false;
    try {
      return fn();
    } finally {
      this.recording = previous;
    }
  }

  private record(change: Change): void {
    if (this.recording) this.changes.push(change);
  }

  /** Re-applies a journaled change. */
  apply(change: Change, onClock: (offsetMs: number) => void): void {
    this.unrecorded(() => {
      switch (change.k) {
        case 'store':
          this.putStore(change.v);
          break;
        case 'store-':
          this.deleteStore(change.id);
          break;
        case 'key':
          this.putKey(change.v);
          break;
        case 'key-':
          this.deleteKey(change.id);
          break;
        case 'alias':
          this.putAlias(change.v);
          break;
        case 'alias-':
          this.deleteAlias(change.name);
          break;
        case 'audit':
          this.appendAudit(change.v);
          break;
        case 'deletion':
          this.appendDeletion(change.v);
          break;
        case 'trail':
          this.trail.insert(change.v);
          break;
        case 'clock':
          onClock(change.offsetMs);
          break;
      }
    });
  }

  /** Records a clock advance so it survives a restart. */
  recordClock(offsetMs: number): void {
    this.record({ k: 'clock', offsetMs });
  }

  /** Raises the entity counter after loading (ids of deleted entities must not be reused as positions). */
  observeSeq(seq: number): void {
    if (seq > this.entitySeq) this.entitySeq = seq;
  }

  // ---- stale-read history -----------------------------------------------------------------------

  /** Start (ms > 0) or stop remembering pre-write records for stale reads. */
  setHistoryWindow(ms: number): void {
    this.historyWindowMs = ms;
    if (ms <= 0) {
      this.keyHistory.clear();
      this.storeHistory.clear();
    }
  }

  /** Drops history older than the window; called from the background tick. */
  pruneHistory(): void {
    const cutoff = this.realNow() - this.historyWindowMs;
    for (const [id, h] of this.keyHistory) if (h.at < cutoff) this.keyHistory.delete(id);
    for (const [id, h] of this.storeHistory) if (h.at < cutoff) this.storeHistory.delete(id);
  }

  /** The key as a reader `staleMs` behind the writer would see it (`undefined` = did not exist). */
  keyAsOf(id: string, staleMs: number): KeyRecord | undefined {
    const h = staleMs > 0 ? this.keyHistory.get(id) : undefined;
    if (h && this.realNow() - h.at < staleMs) return h.before;
    return this.keys.get(id);
  }

  storeAsOf(id: string, staleMs: number): StoreRecord | undefined {
    const h = staleMs > 0 ? this.storeHistory.get(id) : undefined;
    if (h && this.realNow() - h.at < staleMs) return h.before;
    return this.stores.get(id);
  }

  /** Ids of stores deleted within the stale window (a stale reader still sees them). */
  recentlyDeletedStoreIds(staleMs: number): string[] {
    if (staleMs <= 0) return [];
    const now = this.realNow();
    const out: string[] = [];
    for (const [id, h] of this.storeHistory) if (!this.stores.has(id) && h.before && now - h.at < staleMs) out.push(id);
    return out;
  }

  private rememberKey(id: string): void {
    if (this.historyWindowMs > 0 && this.recording) this.keyHistory.set(id, { before: this.keys.get(id), at: this.realNow() });
  }

  private rememberStore(id: string): void {
    if (this.historyWindowMs > 0 && this.recording) this.storeHistory.set(id, { before: this.stores.get(id), at: this.realNow() });
  }

  // ---- stores -----------------------------------------------------------------------------------

  putStore(store: StoreRecord): void {
    this.rememberStore(store.id);
    this.observeSeq(store.seq);
    this.stores.upsert(store.id, store);
    this.record({ k: 'store', v: store });
  }

  deleteStore(id: string): void {
    this.rememberStore(id);
    this.stores.delete(id);
    this.keyCountByStore.delete(id);
    this.record({ k: 'store-', id });
  }

  findStoreByName(name: string): StoreRecord | undefined {
    for (const s of this.stores.values()) if (s.name === name) return s;
    return undefined;
  }

  keyCount(storeId: string): number {
    return this.keyCountByStore.get(storeId) ?? 0;
  }

  // ---- keys -------------------------------------------------------------------------------------

  putKey(key: KeyRecord): void {
    this.rememberKey(key.id);
    this.observeSeq(key.seq);
    const previous = this.keys.get(key.id);
    if (!previous && key.customKeyStoreId !== undefined) {
      this.keyCountByStore.set(key.customKeyStoreId, this.keyCount(key.customKeyStoreId) + 1);
    }
    if (!previous && key.xksKeyId !== undefined && key.customKeyStoreId !== undefined) {
      this.xksKeyOwners.set(`${key.customKeyStoreId} ${key.xksKeyId}`, key.id);
    }
    this.keys.upsert(key.id, key);
    if (key.deletion && key.deletion.deleteAt !== previous?.deletion?.deleteAt) this.deletionQueue.push(key.deletion.deleteAt, key.id);
    this.record({ k: 'key', v: key });
  }

  deleteKey(id: string): void {
    const key = this.keys.get(id);
    if (!key) return;
    this.rememberKey(id);
    this.keys.delete(id);
    if (key.customKeyStoreId !== undefined) {
      this.keyCountByStore.set(key.customKeyStoreId, this.keyCount(key.customKeyStoreId) - 1);
      if (key.xksKeyId !== undefined) this.xksKeyOwners.delete(`${key.customKeyStoreId} ${key.xksKeyId}`);
    }
    this.record({ k: 'key-', id });
  }

  xksKeyOwner(storeId: string, xksKeyId: string): string | undefined {
    return this.xksKeyOwners.get(`${storeId} ${xksKeyId}`);
  }

  // ---- aliases ----------------------------------------------------------------------------------

  putAlias(alias: AliasRecord): void {
    this.observeSeq(alias.seq);
    const previous = this.aliases.get(alias.name);
    if (previous && previous.targetKeyId !== alias.targetKeyId) this.aliasesByKey.get(previous.targetKeyId)?.delete(alias.name);
    this.aliases.upsert(alias.name, alias);
    let set = this.aliasesByKey.get(alias.targetKeyId);
    if (!set) this.aliasesByKey.set(alias.targetKeyId, (set = new Set()));
    set.add(alias.name);
    this.record({ k: 'alias', v: alias });
  }

  deleteAlias(name: string): void {
    const alias = this.aliases.delete(name);
    if (!alias) return;
    const set = this.aliasesByKey.get(alias.targetKeyId);
    set?.delete(name);
    if (set?.size === 0) this.aliasesByKey.delete(alias.targetKeyId);
    this.record({ k: 'alias-', name });
  }

  /** Alias names pointing at a key, in creation order. */
  aliasesOf(keyId: string): AliasRecord[] {
    const names = this.aliasesByKey.get(keyId);
    if (!names) return [];
    const out: AliasRecord[] = [];
    for (const n of names) {
      const a = this.aliases.get(n);
      if (a) out.push(a);
    }
    return out.sort((x, y) => x.seq - y.seq);
  }

  // ---- logs -------------------------------------------------------------------------------------

  /** Appends an audit entry; `seq` is assigned here unless replaying. */
  appendAudit(entry: Omit<AuditEntry, 'seq'> & { seq?: number }): AuditEntry {
    const seq = entry.seq ?? this.auditSeq + 1;
    if (seq > this.auditSeq) this.auditSeq = seq;
    const full: AuditEntry = { ...entry, seq };
    this.audit.push(full);
    this.record({ k: 'audit', v: full });
    return full;
  }

  appendDeletion(event: DeletionEvent): void {
    this.deletions.push(event);
    this.record({ k: 'deletion', v: event });
  }

  /** Records a CloudTrail event (journaled like every other change). */
  appendTrail(event: NewTrailEvent): TrailEvent {
    const full = this.trail.create(event);
    this.record({ k: 'trail', v: full });
    return full;
  }

  // ---- whole-state operations -------------------------------------------------------------------

  /** Empties everything (admin reset). */
  clear(): void {
    this.stores.clear();
    this.keys.clear();
    this.aliases.clear();
    this.audit.length = 0;
    this.deletions.length = 0;
    this.deletionQueue.clear();
    this.trail.clear();
    this.aliasesByKey.clear();
    this.keyCountByStore.clear();
    this.xksKeyOwners.clear();
    this.keyHistory.clear();
    this.storeHistory.clear();
    this.entitySeq = 0;
    this.auditSeq = 0;
    this.changes = [];
  }
}
