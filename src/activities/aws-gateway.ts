import { LookupEventsCommand, type Event, type LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import {
  CancelKeyDeletionCommand,
  ConnectCustomKeyStoreCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EnableKeyCommand,
  GetKeyLastUsageCommand,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
  type AliasListEntry,
  type CustomKeyStoresListEntry,
  type KeyListEntry,
  type KeyMetadata,
} from '@aws-sdk/client-kms';
import { ApplicationFailure } from '@temporalio/common';
import type { KeyUsage } from '../shared/usage';
import type { ActivityDeps } from './deps';
import { callKms, type CallKmsOptions } from './kms-call';
import { errorName } from './kms-errors';

/**
 * The one door from the activities to AWS. Every method sends its request through the worker-wide pacer
 * (account-wide quotas), the optional in-flight gate, and `callKms`'s retries of throttling and transient
 * errors; DescribeKey goes through the worker threads when the deps have them. Errors retrying cannot fix
 * are thrown unchanged, for the caller to interpret by `err.name` — except where a method says it maps one
 * (a missing key is a value, not an error, for the reads below).
 */
export interface AwsGateway {
  /** DescribeKey; `undefined` when KMS says the key does not exist. */
  describeKey(keyId: string, options?: AwsCallOptions): Promise<KeyMetadata | undefined>;
  /** One ListKeys page. */
  listKeys(page: PageRequest, options?: AwsCallOptions): Promise<{ keys: KeyListEntry[]; nextMarker?: string }>;
  /** One ListAliases page (account-wide). */
  listAliases(page: PageRequest, options?: AwsCallOptions): Promise<{ aliases: AliasListEntry[]; nextMarker?: string }>;
  /** DescribeCustomKeyStores for one store: its entries (KMS answers an unknown id with CustomKeyStoreNotFoundException). */
  describeCustomKeyStore(customKeyStoreId: string, options?: AwsCallOptions): Promise<CustomKeyStoresListEntry[]>;
  connectCustomKeyStore(customKeyStoreId: string, options?: AwsCallOptions): Promise<void>;
  disconnectCustomKeyStore(customKeyStoreId: string, options?: AwsCallOptions): Promise<void>;
  deleteCustomKeyStore(customKeyStoreId: string, options?: SendCountingOptions): Promise<void>;
  /** ScheduleKeyDeletion; the DeletionDate KMS answered, epoch ms. */
  scheduleKeyDeletion(keyId: string, pendingWindowInDays: number, options?: AwsCallOptions): Promise<{ deletionDate?: number }>;
  cancelKeyDeletion(keyId: string, options?: AwsCallOptions): Promise<void>;
  enableKey(keyId: string, options?: AwsCallOptions): Promise<void>;
  disableKey(keyId: string, options?: SendCountingOptions): Promise<void>;
  /** GetKeyLastUsage, dates in epoch ms; a key KMS no longer knows (NotFoundException) is `{ keyId, gone: true }`. */
  getKeyLastUsage(keyId: string, options?: AwsCallOptions): Promise<KeyUsage>;
  /**
   * One CloudTrail LookupEvents page. Fails non-retryably with type `CloudTrailNotConfigured` when the deps
   * have no CloudTrail client.
   */
  lookupEvents(request: LookupEventsRequest, options?: AwsCallOptions): Promise<{ events: Event[]; nextToken?: string }>;
}

/** How a caller keeps its activity alive while a call is retried, and which signal stops it (see {@link CallKmsOptions}). */
export type AwsCallOptions = CallKmsOptions;

export interface SendCountingOptions extends AwsCallOptions {
  /** Called right before each attempt is sent: a caller that must know whether an earlier attempt went out counts here. */
  onSend?: () => void;
}

export interface PageRequest {
  limit: number;
  marker?: string;
}

/** The LookupEvents members the activities use. Times in epoch ms. */
export interface LookupEventsRequest {
  /** CloudTrail takes at most one lookup attribute per request. */
  attribute?: { key: NonNullable<LookupEventsCommandInput['LookupAttributes']>[number]['AttributeKey']; value: string };
  startTime?: number;
  endTime?: number;
  nextToken?: string;
  /** 1–50; default 50. */
  maxResults?: number;
}

/** `Date` → epoch ms, keeping absence. */
export function epochMs(date: Date | undefined): number | undefined {
  return date ? date.getTime() : undefined;
}

const isNotFound = (err: unknown) => errorName(err) === 'NotFoundException';

/** Builds the gateway over `deps` (clients, pacer, gate, DescribeKey threads, retry limits). Cheap: no state of its own. */
export function createAwsGateway(deps: ActivityDeps): AwsGateway {
  const kms = deps.kms;

  return {
    async describeKey(keyId, options) {
      const threads = deps.describeThreads;
      try {
        const out = await callKms(
          deps,
          'DescribeKey',
          (abortSignal) => (threads ? threads.describeKey(keyId, abortSignal) : kms.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal })),
          options,
        );
        return out.KeyMetadata;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },

    async listKeys(page, options) {
      const out = await callKms(
        deps,
        'ListKeys',
        (abortSignal) => kms.send(new ListKeysCommand({ Limit: page.limit, Marker: page.marker }), { abortSignal }),
        options,
      );
      return { keys: out.Keys ?? [], nextMarker: out.NextMarker };
    },

    async listAliases(page, options) {
      const out = await callKms(
        deps,
        'ListAliases',
        (abortSignal) => kms.send(new ListAliasesCommand({ Limit: page.limit, Marker: page.marker }), { abortSignal }),
        options,
      );
      return { aliases: out.Aliases ?? [], nextMarker: out.NextMarker };
    },

    async describeCustomKeyStore(customKeyStoreId, options) {
      const out = await callKms(
        deps,
        'DescribeCustomKeyStores',
        (abortSignal) => kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: customKeyStoreId }), { abortSignal }),
        options,
      );
      return out.CustomKeyStores ?? [];
    },

    // Mutations take no abort signal: a request already on the wire is carried out by KMS whether or not the
    // client stops waiting, so aborting it on cancel would only lose its answer — and a rollback that reads
    // the key before the late request lands would leave it changed. The cancellation still stops every call
    // not yet sent (callKms checks before sending), and the batch stops before its next key.
    async connectCustomKeyStore(customKeyStoreId, options) {
      await callKms(deps, 'ConnectCustomKeyStore', () => kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: customKeyStoreId })), options);
    },

    async disconnectCustomKeyStore(customKeyStoreId, options) {
      await callKms(deps, 'DisconnectCustomKeyStore', () => kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: customKeyStoreId })), options);
    },

    async deleteCustomKeyStore(customKeyStoreId, options) {
      await callKms(
        deps,
        'DeleteCustomKeyStore',
        () => {
          options?.onSend?.();
          return kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: customKeyStoreId }));
        },
        options,
      );
    },

    async scheduleKeyDeletion(keyId, pendingWindowInDays, options) {
      const out = await callKms(
        deps,
        'ScheduleKeyDeletion',
        () => kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: pendingWindowInDays })),
        options,
      );
      return { deletionDate: epochMs(out.DeletionDate) };
    },

    async cancelKeyDeletion(keyId, options) {
      await callKms(deps, 'CancelKeyDeletion', () => kms.send(new CancelKeyDeletionCommand({ KeyId: keyId })), options);
    },

    async enableKey(keyId, options) {
      await callKms(deps, 'EnableKey', () => kms.send(new EnableKeyCommand({ KeyId: keyId })), options);
    },

    async disableKey(keyId, options) {
      await callKms(
        deps,
        'DisableKey',
        () => {
          options?.onSend?.();
          return kms.send(new DisableKeyCommand({ KeyId: keyId }));
        },
        options,
      );
    },

    async getKeyLastUsage(keyId, options) {
      try {
        const out = await callKms(deps, 'GetKeyLastUsage', (abortSignal) => kms.send(new GetKeyLastUsageCommand({ KeyId: keyId }), { abortSignal }), options);
        const last = out.KeyLastUsage;
        const usage: KeyUsage = { keyId };
        if (last?.Operation !== undefined) usage.operation = last.Operation;
        if (last?.Timestamp !== undefined) usage.lastUsedAt = last.Timestamp.getTime();
        if (last?.CloudTrailEventId !== undefined) usage.cloudTrailEventId = last.CloudTrailEventId;
        if (out.TrackingStartDate !== undefined) usage.trackingStartDate = out.TrackingStartDate.getTime();
        if (out.KeyCreationDate !== undefined) usage.keyCreationDate = out.KeyCreationDate.getTime();
        return usage;
      } catch (err) {
        if (isNotFound(err)) return { keyId, gone: true };
        throw err;
      }
    },

    async lookupEvents(request, options) {
      const trail = deps.cloudTrail;
      if (!trail) {
        throw ApplicationFailure.nonRetryable(
          'No CloudTrail client: the worker was built without one (ActivityDeps.cloudTrail), so usage evidence cannot be read',
          'CloudTrailNotConfigured',
        );
      }
      const input: LookupEventsCommandInput = {
        ...(request.attribute ? { LookupAttributes: [{ AttributeKey: request.attribute.key, AttributeValue: request.attribute.value }] } : {}),
        ...(request.startTime !== undefined ? { StartTime: new Date(request.startTime) } : {}),
        ...(request.endTime !== undefined ? { EndTime: new Date(request.endTime) } : {}),
        ...(request.nextToken !== undefined ? { NextToken: request.nextToken } : {}),
        MaxResults: request.maxResults ?? 50,
      };
      const out = await callKms(deps, 'LookupEvents', (abortSignal) => trail.send(new LookupEventsCommand(input), { abortSignal }), options);
      return { events: out.Events ?? [], nextToken: out.NextToken };
    },
  };
}
