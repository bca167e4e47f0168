/**
 * Public types of the KMS emulator: options, admin API payloads, audit and deletion records.
 * Everything here is re-exported from `index.ts`; other modules code against these shapes.
 */

/** Connection state of a custom key store (reference §3.7). */
export type ConnectionState = 'CONNECTED' | 'CONNECTING' | 'FAILED' | 'DISCONNECTED' | 'DISCONNECTING';

/** Custom key store flavour. */
export type CustomKeyStoreType = 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';

/** Key state as reported by DescribeKey for the states the emulator can produce. */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'Unavailable';

/** Options for {@link startEmulator}. Every field is optional; defaults are listed per field. */
export interface EmulatorOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** TCP port; `0` picks a free port. Default `0`. */
  port?: number;
  /** Region used in ARNs and required in the SigV4 credential scope. Default `us-east-1`. */
  region?: string;
  /** 12-digit account id used in ARNs. Default `111122223333`. */
  account?: string;
  /** Real milliseconds one emulated day lasts. Default `86_400_000` (real time). */
  dayMs?: number;
  /** Extra delay after DeletionDate before a key is really deleted, in emulated hours (0–24). Default `0`. */
  deletionLagHours?: number;
  /** Duration of CONNECTING, in emulated milliseconds. Default `2000`. */
  connectMs?: number;
  /** Duration of DISCONNECTING, in emulated milliseconds. Default `1000`. */
  disconnectMs?: number;
  /** Multiplier for every request quota; `0` disables throttling. Default `1`. */
  quotaScale?: number;
  /** Snapshot file; the journal lives next to it as `<statePath>.journal`. Omit for in-memory only. */
  statePath?: string;
  /** Access key id accepted in SigV4 signatures. Default `test`. */
  accessKey?: string;
  /** Secret access key used to verify SigV4 signatures. Default `test`. */
  secretKey?: string;
  /** Return pages about half the requested size (still truncated), as KMS is allowed to. Default `false`. */
  shortPages?: boolean;
  /** Seed for generated ids and fault randomness; omit for non-deterministic runs. */
  seed?: number;
  /**
   * GetKeyLastUsage: emulated instant (epoch ms, or an ISO 8601 string) from which KMS tracks key usage.
   * Keys created before it report it as TrackingStartDate, and uses before it are not reported.
   * Default: none (tracking predates every key: TrackingStartDate = KeyCreationDate).
   */
  trackingStartDate?: number | string;
  /**
   * Per-quota rate overrides in requests per second (before `quotaScale`), e.g. `{ GetKeyLastUsage: 10 }`.
   * Names: any KMS operation with a quota, `CryptographicOperationsSymmetric`,
   * `CustomKeyStoreCryptographicOperations`, `LookupEvents`.
   */
  quotaOverrides?: Record<string, number>;
  /**
   * Principal of the configured `accessKey` in CloudTrail: an IAM user, role session or root ARN of the
   * emulator's account. Default `arn:aws:iam::<account>:user/<accessKey>`.
   */
  principalArn?: string;
  /** More callers the emulator accepts (each signs with its own key and shows up as its own principal). */
  identities?: IdentitySpec[];
  /**
   * Emulated ms between a call and its event becoming visible to LookupEvents. Default `0`; real CloudTrail
   * delivers within about 5–15 minutes (AWS documents "typically within 15 minutes").
   */
  cloudTrailDelayMs?: number;
  /** Uniform extra delivery delay per event in [0, jitter] emulated ms (events then arrive out of order). Default `0`. */
  cloudTrailDelayJitterMs?: number;
  /** Oldest CloudTrail events beyond this count are dropped. Default `300_000` (about 650 bytes of heap each). */
  cloudTrailMaxEvents?: number;
  /** Applications still using keys, started with the emulator (see {@link UsageSimulatorSpec}). */
  usage?: UsageSimulatorSpec[];
}

/** A caller given in options or added through the admin API. */
export interface IdentitySpec {
  /**
   * `arn:aws:iam::<account>:user/<name>`, `arn:aws:sts::<account>:assumed-role/<role>/<session>` or
   * `arn:aws:iam::<account>:root`, in the emulator's account.
   */
  arn: string;
  /** Generated (`AKIA…`, or `ASIA…` for role sessions) when omitted. */
  accessKeyId?: string;
  /** Generated when omitted. */
  secretAccessKey?: string;
}

/** A registered caller, as the admin API lists it (secrets included: loopback-only test interface). */
export interface IdentityInfo {
  arn: string;
  accessKeyId: string;
  secretAccessKey: string;
  type: 'IAMUser' | 'AssumedRole' | 'Root';
  /** LookupEvents `Username`: user name, role session name or `root`. */
  username: string;
}

/** A running usage simulator and what its calls got so far (`GET /__admin/usage`). */
export interface UsageSimulatorInfo {
  id: string;
  keyId: string;
  everyMs: number;
  principalArn: string;
  accessKeyId: string;
  operations: SimulatedOperation[];
  sourceAddress?: string;
  /** Real time, ISO 8601. */
  startedAt: string;
  rounds: number;
  calls: number;
  /** Calls per outcome: `OK` or the error name (`DisabledException`, `KMSInvalidStateException`, …). */
  outcomes: Record<string, number>;
  lastError?: { operation: string; name: string; message: string; at: string };
}

/** Cryptographic operations a usage simulator can perform. */
export type SimulatedOperation = 'Encrypt' | 'Decrypt' | 'GenerateDataKey';

/**
 * "An application still using key X": every `everyMs` real ms it calls the operations in order on the key,
 * through the real SDK client and the whole pipeline (auth, quotas, faults, CloudTrail), as `principalArn`.
 */
export interface UsageSimulatorSpec {
  /** Key id, key ARN, alias name or alias ARN. */
  keyId: string;
  /** Real ms between two rounds of calls; 50 to 86,400,000. Default 1000. */
  everyMs?: number;
  /**
   * Who calls: a principal ARN of the emulator's account, or a bare name for
   * `arn:aws:iam::<account>:user/<name>`. Default `arn:aws:iam::<account>:user/still-using-app`.
   */
  principal?: string;
  /**
   * Per round, in order. `Decrypt` decrypts the latest ciphertext the simulator produced (with Encrypt or
   * GenerateDataKey), or is skipped before there is one. Default `['Encrypt', 'Decrypt']`.
   */
  operations?: SimulatedOperation[];
  /** Encryption context sent with every call. Default `{ app: <name> }`. */
  encryptionContext?: Record<string, string>;
  /**
   * Local address the simulator's connections come from, so CloudTrail shows its own `sourceIPAddress`:
   * any 127.x.y.z on Linux. Default: the system's choice (127.0.0.1).
   */
  sourceAddress?: string;
  /** `User-Agent` suffix recorded by CloudTrail (`app/<name>` by default). */
  userAgent?: string;
}

/** Store to create through the admin seed endpoint (no validation of CloudHSM/XKS reachability, no quotas). */
export interface SeedStore {
  /** Store id; generated (`cks-` + 17 hex) when omitted. */
  id?: string;
  name: string;
  /** Default `AWS_CLOUDHSM`. */
  type?: CustomKeyStoreType;
  /** Default `DISCONNECTED`. CONNECTING/DISCONNECTING complete after connectMs/disconnectMs like API-driven ones. */
  connectionState?: ConnectionState;
  /** Only meaningful with `FAILED`; default `INTERNAL_ERROR` there. */
  connectionErrorCode?: string;
  cloudHsmClusterId?: string;
  xksProxyUriEndpoint?: string;
}

/** A batch of keys to create through the admin seed endpoint. */
export interface SeedKeys {
  /** Number of keys; default 1 (or `ids.length` when ids are given). */
  count?: number;
  /** Store id (or store name) of the owning custom key store; omit for the default AWS_KMS key store. */
  customKeyStoreId?: string;
  /** Remembered state; keys of a non-CONNECTED store still report `Unavailable`. Default `Enabled`. */
  keyState?: 'Enabled' | 'Disabled' | 'PendingDeletion';
  /** Waiting period for `PendingDeletion` keys (7–30). Default 30. */
  pendingWindowInDays?: number;
  description?: string;
  /** Explicit key ids (`[A-Za-z0-9_-]`, 1–128 chars); generated UUIDs otherwise. */
  ids?: string[];
  /** When set (must start with `alias/`), alias `${aliasPrefix}-${i}` (i from 0) is created for every key. */
  aliasPrefix?: string;
  /** CreationDate, emulated epoch ms, not after now (e.g. keys older than the usage-tracking start). Default now. */
  creationDate?: number;
  /**
   * A past successful cryptographic operation on every key of the batch (GetKeyLastUsage reports it; a
   * matching CloudTrail event is recorded, visible to LookupEvents if within its 90 days).
   */
  lastUsage?: SeedKeyUsage;
}

/** A seeded past use of a key. */
export interface SeedKeyUsage {
  /** Emulated epoch ms, between the key's creationDate and now. */
  at: number;
  /** Default `Decrypt`. */
  operation?: 'Encrypt' | 'Decrypt' | 'GenerateDataKey' | 'GenerateDataKeyWithoutPlaintext';
  /** Caller's principal ARN (emulator's account). Default: the principal of the configured access key. */
  principalArn?: string;
  /** Default `10.0.0.1`. */
  sourceIPAddress?: string;
}

/** Body of `POST /__admin/seed`. */
export interface SeedSpec {
  stores?: SeedStore[];
  keys?: SeedKeys[];
  aliases?: { aliasName: string; targetKeyId: string }[];
}

/** Ids created by a seed call. */
export interface SeedResult {
  storeIds: string[];
  /** One array per `SeedKeys` entry, in order. */
  keyIds: string[][];
}

/** Error types the fault injector can produce. */
export type InjectedErrorType = 'KMSInternalException' | 'DependencyTimeoutException' | 'ThrottlingException' | 'AccessDeniedException';

/** One fault rule. Rules apply to KMS API calls only, never to the admin API. */
export interface FaultSpec {
  /** Operation name (`DescribeKey`) or `*` for every operation. */
  operation: string;
  /** Probability (0–1) of answering with `errorType` instead of executing the call. */
  errorRate?: number;
  /** Default `KMSInternalException`. */
  errorType?: InjectedErrorType;
  /** Added latency in ms before the call is handled. */
  latencyMs?: number;
  /** Uniform random extra latency in [0, jitterMs]. */
  jitterMs?: number;
  /**
   * DescribeKey / DescribeCustomKeyStores answer with the record as it was before its most recent write,
   * for this many ms after that write (eventual consistency). Only writes made while the rule is active count.
   */
  staleReadMs?: number;
  /** Probability (0–1) of destroying the socket without any response. */
  resetRate?: number;
  /** Let this many matching calls through untouched before the rule starts injecting. */
  afterCount?: number;
  /** Stop after this many injected faults (errors, resets or latencies). */
  count?: number;
  /**
   * `before` (default): the error/reset replaces the call, nothing changes.
   * `after`: the call executes and is persisted, then its response is replaced (ambiguous outcome).
   */
  when?: 'before' | 'after';
}

/** One KMS API request as recorded by the emulator. */
export interface AuditEntry {
  seq: number;
  /** Emulated epoch milliseconds when the response was decided (after any injected latency). */
  time: number;
  /**
   * Emulated epoch milliseconds when the request was counted against its quota: what KMS's per-second
   * limits see. Earlier than `time` by the injected latency; absent for requests rejected before that
   * (unknown operation, bad signature).
   */
  admittedAt?: number;
  operation: string;
  requestId: string;
  /** Bare key id when the request resolved to a key. */
  keyId?: string;
  customKeyStoreId?: string;
  /** `OK` or the error name returned (for resets: `ConnectionReset`). */
  outcome: string;
  /** True for state-changing operations, even when they failed. */
  mutating: boolean;
  accessKeyId?: string;
  /** Set when the outcome was produced (or, with `when: 'after'`, replaced) by an injected fault. */
  injectedFault?: boolean;
}

/** Backing-key outcome of a key deletion (reference §5). */
export type BackingKeyOutcome = 'MATERIAL_DELETED' | 'ORPHANED' | 'EXTERNAL_KEY_RETAINED';

/** Emitted when a key's waiting period ends and the key is deleted (the CloudTrail `DeleteKey` service event). */
export interface DeletionEvent {
  /** Emulated epoch ms at which the deletion happened (DeletionDate + lag). */
  time: number;
  keyId: string;
  keyArn: string;
  /** Absent for keys of the default AWS_KMS key store. */
  customKeyStoreId?: string;
  customKeyStoreType?: CustomKeyStoreType;
  /** Default-store keys always report `MATERIAL_DELETED`. */
  backingKey: BackingKeyOutcome;
  /** HSM key label (= key ARN), CloudHSM keys only. */
  hsmLabel?: string;
  /** Aliases removed together with the key. */
  aliases: string[];
}

/** Result of `GET /__admin/stats`. */
export interface EmulatorStats {
  stores: number;
  keys: number;
  requests: Record<string, number>;
  throttled: Record<string, number>;
}

/** Result of `GET /__admin/clock`. */
export interface ClockInfo {
  /** Emulated epoch milliseconds. */
  nowMs: number;
  dayMs: number;
}

/**
 * `GET`/`PUT /__admin/deletion-hold`: test-only fault injection. While `until` (emulated epoch ms) lies in
 * the future no key is deleted; keys whose `DeletionDate + deletionLagHours` passed meanwhile are deleted
 * at `until`. It simulates KMS lagging longer than the up-to-24 h AWS documents (`deletionLagHours` stays
 * capped at 24), so verification timeouts can be exercised. `null` = no hold.
 */
export interface DeletionHold {
  until: number | null;
}

/** `GET`/`PUT /__admin/key-usage-tracking`: GetKeyLastUsage tracking start, emulated epoch ms (`null` = none). */
export interface KeyUsageTracking {
  startDate: number | null;
}

/** `GET /__admin/quota`: the scale and every quota's rate before scaling (defaults plus overrides). */
export interface QuotaInfo {
  scale: number;
  rates: Record<string, number>;
}

/** `GET /__admin/cloudtrail`: delivery settings and event counts. */
export interface CloudTrailInfo {
  /** Emulated ms between an event and its visibility in LookupEvents. */
  delayMs: number;
  /** Uniform extra delay per event in [0, jitterMs] emulated ms. */
  jitterMs: number;
  /** Oldest events beyond this count are dropped. */
  maxEvents: number;
  /** Events stored (LookupEvents still filters by its 90-day window). */
  events: number;
  /** Events not yet delivered to LookupEvents. */
  undelivered: number;
}

/** `GET /__admin/cloudtrail/events`: a stored event, its delivery and its CloudTrail record. */
export interface CloudTrailAdminEvent {
  seq: number;
  /** Emulated epoch ms from which LookupEvents returns it. */
  deliverAt: number;
  delivered: boolean;
  /** The record LookupEvents returns as the `CloudTrailEvent` JSON string. */
  record: Record<string, unknown>;
}

/** Body of `POST /__admin/stores/{id}/state`. */
export interface StoreStateChange {
  connectionState: ConnectionState;
  connectionErrorCode?: string;
}

/** Body of `POST /__admin/stores/{id}/fail-next-connects`. */
export interface FailNextConnects {
  count: number;
  /**
   * A ConnectionErrorCode: the connect goes CONNECTING → FAILED with it (slow failure). Or
   * `CloudHsmClusterNotActiveException` / `CloudHsmClusterInvalidConfigurationException`: the
   * ConnectCustomKeyStore call itself fails and the store stays DISCONNECTED (fast failure).
   */
  connectionErrorCode: string;
}

/** Options of `GET /__admin/audit`. */
export interface AuditQuery {
  /** Only entries with `seq > sinceSeq`. */
  sinceSeq?: number;
  operation?: string;
}
