import { refuseResetRun } from './reset-guard';
import type { Event } from '@aws-sdk/client-cloudtrail';
import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  ATTEMPTED_USE_ERROR_CODES,
  CRYPTOGRAPHIC_OPERATIONS,
  type AttemptedUse,
  type DeletionEvidence,
  type DisableKeysInput,
  type DisableKeysResult,
  type DisableOutcome,
  type FindAttemptedUseInput,
  type FindAttemptedUseResult,
  type FindDeletionEvidenceInput,
  type FindDeletionEvidenceResult,
  type KeyLastUsageInput,
  type KeyUsage,
  type LookupStrategy,
  callerKeyPair,
} from '../shared/usage';
import { createAwsGateway, type LookupEventsRequest } from './aws-gateway';
import type { ActivityDeps } from './deps';
import { mapWithConcurrency } from './kms-call';
import { deliveredCancellation, errorName, toActivityFailure } from './kms-errors';

const KMS_EVENT_SOURCE = 'kms.amazonaws.com';
const KMS_KEY_RESOURCE = 'AWS::KMS::Key';
const DEFAULT_MAX_FINDINGS = 50;
const DEFAULT_DELETION_PAGES = 40;
/**
 * GetKeyLastUsage calls in flight: the pacer (5/s) sets the rate; a few in flight keep it busy through
 * network latency.
 */
const USAGE_READ_CONCURRENCY = 4;
/** Read → disable rounds per key before an attempt gives up (retryably): only a racing writer needs a second. */
const DISABLE_ROUNDS = 3;

/** The fields of a CloudTrail record (`Event.CloudTrailEvent`, a JSON string) that the activities read. */
interface TrailRecord {
  eventID?: string;
  eventTime?: string;
  eventSource?: string;
  eventName?: string;
  eventType?: string;
  errorCode?: string;
  sourceIPAddress?: string;
  userAgent?: string;
  recipientAccountId?: string;
  userIdentity?: { arn?: string; invokedBy?: string; accessKeyId?: string };
  resources?: { ARN?: string; type?: string; accountId?: string }[];
  additionalEventData?: { customKeyStoreId?: string } | null;
  responseElements?: { keyId?: string } | null;
}

function parseRecord(event: Event): TrailRecord | undefined {
  if (!event.CloudTrailEvent) return undefined;
  try {
    const record = JSON.parse(event.CloudTrailEvent) as unknown;
    return record && typeof record === 'object' ? (record as TrailRecord) : undefined;
  } catch {
    return undefined; // an unreadable record names no key: it cannot be evidence either way
  }
}

/** The KMS key an event is about: its `AWS::KMS::Key` resource (the record's, else the lookup result's). */
function keyResourceOf(event: Event, record: TrailRecord): { arn: string; accountId?: string } | undefined {
  const own = record.resources?.find((r) => r.type === KMS_KEY_RESOURCE && r.ARN);
  if (own?.ARN) return { arn: own.ARN, accountId: own.accountId };
  const listed = event.Resources?.find((r) => r.ResourceType === KMS_KEY_RESOURCE && r.ResourceName);
  return listed?.ResourceName ? { arn: listed.ResourceName } : undefined;
}

/** `arn:aws:kms:<region>:<account>:key/<id>` → `<id>` (anything else is returned as it is). */
function keyIdOf(arnOrId: string): string {
  const at = arnOrId.lastIndexOf(':key/');
  return at >= 0 ? arnOrId.slice(at + ':key/'.length) : arnOrId;
}

function eventTimeOf(event: Event, record: TrailRecord): number {
  return event.EventTime?.getTime() ?? (record.eventTime ? Date.parse(record.eventTime) : 0);
}

/** Newest first; ties by event id, so two runs over the same events report them in the same order. */
const newestFirst = (a: AttemptedUse, b: AttemptedUse) => b.eventTime - a.eventTime || a.eventId.localeCompare(b.eventId);

/** Throws the activity's CancelledFailure once a cancellation was delivered: checked before every key of a batch. */
function throwIfCancelled(): void {
  const cancelled = deliveredCancellation();
  if (cancelled) throw cancelled;
}

/** What `disableKeys` heartbeats, and resumes from on a retry. */
interface DisableCheckpoint {
  v: 1;
  done: [string, DisableOutcome][];
  /** Keys a DisableKey was sent for (before its answer): a retry that reads them Disabled attributes that to this activity. */
  sent: string[];
}

/** Sentinel of the membership cache: DescribeKey answered NotFound. */
const KEY_NOT_FOUND = Symbol('key not found');

/**
 * The usage-evidence activities (issue 11): what GetKeyLastUsage remembers of each key, the quiet period's
 * DisableKey, and CloudTrail's record of failed attempts to use the store's keys and of their deletion.
 */
export function createUsageActivities(deps: ActivityDeps) {
  const aws = createAwsGateway(deps);
  const mutateConcurrency = deps.mutateConcurrency ?? 4;

  async function disableOne(input: DisableKeysInput, keyId: string, sent: Set<string>, save: () => void): Promise<DisableOutcome> {
    for (let round = 0; round < DISABLE_ROUNDS; round++) {
      // Read first: never disable a key that is not (or no longer) the store's, and learn what it was.
      const meta = await aws.describeKey(keyId);
      if (!meta) return { keyId, outcome: 'GONE' };
      if (meta.CustomKeyStoreId !== input.customKeyStoreId) return { keyId, outcome: 'NOT_IN_STORE' };
      const state = meta.KeyState ?? 'Unknown';
      if (state === 'Enabled') {
        try {
          // Recorded as each attempt goes out (not while it waits for the pacer): if the answer is lost, a retry
          // reads Disabled and knows it was this activity, and a cancelled batch names only keys really sent.
          await aws.disableKey(keyId, {
            onSend: () => {
              if (sent.has(keyId)) return;
              sent.add(keyId);
              save();
            },
          });
        } catch (err) {
          if (errorName(err) === 'NotFoundException') return { keyId, outcome: 'GONE' };
          if (errorName(err) === 'KMSInvalidStateException') continue; // scheduled or disconnected meanwhile: read again
          throw err;
        }
        return { keyId, outcome: 'DISABLED', priorState: 'Enabled' };
      }
      // Sent by an earlier attempt whose answer was lost, and it read Enabled then. A key of a disconnected store
      // reads Unavailable whatever it remembers: reported as disabled too, so a rollback re-enables it (harmless if
      // the disable never arrived).
      if (sent.has(keyId) && (state === 'Disabled' || state === 'Unavailable')) return { keyId, outcome: 'DISABLED', priorState: 'Enabled' };
      return { keyId, outcome: 'NOT_ENABLED', priorState: state };
    }
    throw ApplicationFailure.retryable(`key ${keyId} did not settle in ${DISABLE_ROUNDS} read-and-disable rounds (another writer?)`, 'DisableNotConverged');
  }

  /** Pages one LookupEvents query, heartbeating after every page; stops early (answering false) once `maxPages` were read and more remain. */
  async function pages(
    request: Omit<LookupEventsRequest, 'nextToken'>,
    onPage: (events: Event[]) => Promise<void>,
    counters: { lookupCalls: number; eventsRead: number },
    maxPages = Infinity,
  ): Promise<boolean> {
    let token: string | undefined;
    let read = 0;
    do {
      if (read >= maxPages) return false;
      const page = await aws.lookupEvents({ ...request, nextToken: token }, { keepAlive: () => heartbeat() });
      read++;
      counters.lookupCalls++;
      counters.eventsRead += page.events.length;
      await onPage(page.events);
      token = page.nextToken;
      heartbeat();
    } while (token);
    return true;
  }

  return {
    /**
     * GetKeyLastUsage for every key, paced under its 5/s account-wide quota. Each answer is checkpointed in a
     * heartbeat, so a retry resumes with the keys not yet read. A key deleted since the inventory is
     * `{ keyId, gone: true }`. Results in input order.
     */
    async keyLastUsage(input: KeyLastUsageInput): Promise<KeyUsage[]> {
      const done = new Map<string, KeyUsage>((activityInfo().heartbeatDetails as [string, KeyUsage][] | undefined) ?? []);
      const save = () => heartbeat([...done.entries()]);
      const todo = [...new Set(input.keyIds)].filter((id) => !done.has(id));
      try {
        await mapWithConcurrency(todo, USAGE_READ_CONCURRENCY, async (keyId) => {
          done.set(keyId, await aws.getKeyLastUsage(keyId, { keepAlive: save }));
          save();
        });
      } catch (err) {
        throw toActivityFailure(err, 'GetKeyLastUsage');
      }
      return input.keyIds.map((keyId) => done.get(keyId) as KeyUsage); // every key was read above or before
    },

    /**
     * The quiet period's DisableKey, per key (read first): NotFound → GONE; not the store's → NOT_IN_STORE;
     * Enabled → DisableKey (paced, 5/s) → DISABLED; otherwise NOT_ENABLED with the state read. Checks the
     * activity's cancellation before every key and checkpoints after every key; a cancelled batch throws a
     * CancelledFailure whose `details[0]` is the result so far. Idempotent across retries: a DisableKey whose
     * answer was lost shows as Disabled on the retry's read, and the checkpoint says it was sent.
     */
    async disableKeys(input: DisableKeysInput): Promise<DisableKeysResult> {
      refuseResetRun(input);
      const restored = activityInfo().heartbeatDetails as DisableCheckpoint | undefined;
      const done = new Map<string, DisableOutcome>(restored?.v === 1 ? restored.done : []);
      const sent = new Set<string>(restored?.v === 1 ? restored.sent : []);
      const save = () => heartbeat({ v: 1, done: [...done.entries()], sent: [...sent] } satisfies DisableCheckpoint);
      const resultSoFar = (): DisableKeysResult => ({ outcomes: input.keyIds.flatMap((keyId) => done.get(keyId) ?? []) });
      // Keys a DisableKey was sent for without an outcome here: the call may have landed.
      const unanswered = () => input.keyIds.filter((keyId) => sent.has(keyId) && !done.has(keyId));
      const todo = [...new Set(input.keyIds)].filter((id) => !done.has(id));
      try {
        await mapWithConcurrency(todo, mutateConcurrency, async (keyId) => {
          // No key is started once a cancellation arrived (it comes with a heartbeat answer).
          throwIfCancelled();
          done.set(keyId, await disableOne(input, keyId, sent, save));
          save();
        });
      } catch (err) {
        const failure = toActivityFailure(err, 'DisableKey');
        // What was disabled, and what may have been, goes back with any failure: those are the keys a rollback
        // must re-enable, and the others of the batch were never touched.
        const soFar: DisableKeysResult = { ...resultSoFar(), sent: unanswered() };
        if (failure instanceof CancelledFailure) throw new CancelledFailure(failure.message, [soFar]);
        if (!(failure instanceof ApplicationFailure)) throw failure;
        throw ApplicationFailure.create({
          type: failure.type ?? undefined,
          message: failure.message,
          nonRetryable: failure.nonRetryable ?? undefined,
          details: [soFar],
          cause: failure.cause,
        });
      }
      return resultSoFar();
    },

    /**
     * Failed cryptographic calls (`CRYPTOGRAPHIC_OPERATIONS` answered with one of `ATTEMPTED_USE_ERROR_CODES`)
     * on keys of the store, from CloudTrail LookupEvents (paced, 2/s account-wide). `account-wide` reads every
     * KMS event of the window and tells the store's keys by DescribeKey (cached; a deleted key by its event's
     * `customKeyStoreId`); `per-key` looks up each of `keyArns`; `auto` starts account-wide and switches to
     * per-key once the window needs more pages than there are keys. Events in `seenEventIds` are skipped.
     */
    async findAttemptedUse(input: FindAttemptedUseInput): Promise<FindAttemptedUseResult> {
      const started = Date.now();
      const seen = new Set(input.seenEventIds ?? []);
      const acknowledged = new Set(input.acknowledged ?? []);
      const acknowledgedEvents = new Set<string>();
      const counters = { lookupCalls: 0, eventsRead: 0, describeCalls: 0 };
      const window = { startTime: input.startTime, endTime: input.endTime };
      let found = new Map<string, AttemptedUse>();

      /** The attempted use an event records, if it is one (whatever the key). */
      const attemptOf = (event: Event): { use: AttemptedUse; record: TrailRecord; accountId?: string; arn: string } | undefined => {
        const record = parseRecord(event);
        const eventName = record?.eventName ?? event.EventName;
        const errorCode = record?.errorCode;
        if (!record || !eventName || !errorCode || !CRYPTOGRAPHIC_OPERATIONS.includes(eventName) || !ATTEMPTED_USE_ERROR_CODES.includes(errorCode))
          return undefined;
        const eventId = record.eventID ?? event.EventId;
        const key = keyResourceOf(event, record);
        if (!eventId || !key || seen.has(eventId)) return undefined;
        const caller = record.userIdentity?.arn ?? record.userIdentity?.invokedBy ?? record.userIdentity?.accessKeyId ?? event.AccessKeyId ?? 'unknown';
        const use: AttemptedUse = { eventId, eventTime: eventTimeOf(event, record), eventName, errorCode, keyId: keyIdOf(key.arn), caller };
        if (record.sourceIPAddress !== undefined) use.sourceIPAddress = record.sourceIPAddress;
        if (record.userAgent !== undefined) use.userAgent = record.userAgent;
        if (acknowledged.has(callerKeyPair(use))) {
          const span = input.countAcknowledged;
          if (span && use.eventTime >= span.from && use.eventTime < span.until) acknowledgedEvents.add(eventId);
          return undefined;
        }
        return { use, record, accountId: key.accountId, arn: key.arn };
      };

      // Per key ARN: the store the key is in (undefined: the default store), or NotFound.
      const storeOfKey = new Map<string, Promise<string | undefined | typeof KEY_NOT_FOUND>>();
      const describeStoreOf = (arn: string) => {
        let pending = storeOfKey.get(arn);
        if (!pending) {
          counters.describeCalls++;
          pending = aws.describeKey(arn, { keepAlive: () => heartbeat() }).then((meta) => (meta ? meta.CustomKeyStoreId : KEY_NOT_FOUND));
          storeOfKey.set(arn, pending);
        }
        return pending;
      };

      const accountWide = (maxPages?: number) =>
        pages(
          { ...window, attribute: { key: 'EventSource', value: KMS_EVENT_SOURCE } },
          async (events) => {
            for (const event of events) {
              const attempt = attemptOf(event);
              if (!attempt) continue;
              // A call on another account's key, logged here too: never a key of this account's store.
              if (attempt.accountId && attempt.record.recipientAccountId && attempt.accountId !== attempt.record.recipientAccountId) continue;
              const store = await describeStoreOf(attempt.arn);
              const inStore =
                store === KEY_NOT_FOUND ? attempt.record.additionalEventData?.customKeyStoreId === input.customKeyStoreId : store === input.customKeyStoreId;
              if (inStore) found.set(attempt.use.eventId, attempt.use);
            }
          },
          counters,
          maxPages,
        );

      const perKey = async (keyArns: readonly string[]) => {
        for (const keyArn of keyArns) {
          await pages(
            { ...window, attribute: { key: 'ResourceName', value: keyArn } },
            async (events) => {
              for (const event of events) {
                const attempt = attemptOf(event);
                if (attempt && attempt.arn === keyArn) found.set(attempt.use.eventId, attempt.use);
              }
            },
            counters,
          );
        }
      };

      let strategy: Exclude<LookupStrategy, 'auto'>;
      try {
        if (input.strategy === 'per-key') {
          strategy = 'per-key';
          await perKey(input.keyArns ?? []);
        } else if (input.strategy === 'auto' && input.keyArns) {
          strategy = 'account-wide';
          // More account-wide pages than keys: the per-key lookups are cheaper from here (at least one page per key).
          if (!(await accountWide(input.keyArns.length))) {
            strategy = 'per-key';
            found = new Map();
            await perKey(input.keyArns);
          }
        } else {
          strategy = 'account-wide';
          await accountWide();
        }
      } catch (err) {
        throw toActivityFailure(err, 'LookupEvents');
      }
      const all = [...found.values()].sort(newestFirst);
      return {
        findings: all.slice(0, Math.max(0, input.maxFindings ?? DEFAULT_MAX_FINDINGS)),
        total: all.length,
        acknowledgedEvents: acknowledgedEvents.size,
        cost: { strategy, ...counters, elapsedMs: Date.now() - started },
      };
    },

    /**
     * KMS's own `DeleteKey` events (`AwsServiceEvent`) for keys of the store (by the event's
     * `additionalEventData.customKeyStoreId`), from an account-wide `EventName = DeleteKey` lookup: at most
     * `maxPages` pages per call, then the `nextToken` to continue from.
     */
    async findDeletionEvidence(input: FindDeletionEvidenceInput): Promise<FindDeletionEvidenceResult> {
      const maxPages = Math.max(1, input.maxPages ?? DEFAULT_DELETION_PAGES);
      const evidence: DeletionEvidence[] = [];
      let nextToken = input.nextToken;
      let lookupCalls = 0;
      try {
        do {
          const page = await aws.lookupEvents(
            { attribute: { key: 'EventName', value: 'DeleteKey' }, startTime: input.startTime, endTime: input.endTime, nextToken },
            { keepAlive: () => heartbeat() },
          );
          lookupCalls++;
          for (const event of page.events) {
            const record = parseRecord(event);
            if (!record || record.eventType !== 'AwsServiceEvent' || record.eventSource !== KMS_EVENT_SOURCE) continue;
            if (record.additionalEventData?.customKeyStoreId !== input.customKeyStoreId) continue;
            const arn = keyResourceOf(event, record)?.arn ?? record.responseElements?.keyId;
            const eventId = record.eventID ?? event.EventId;
            if (!arn || !eventId) continue;
            evidence.push({ keyId: keyIdOf(arn), eventId, eventTime: eventTimeOf(event, record) });
          }
          nextToken = page.nextToken;
          heartbeat();
        } while (nextToken && lookupCalls < maxPages);
      } catch (err) {
        throw toActivityFailure(err, 'LookupEvents DeleteKey');
      }
      return { evidence, ...(nextToken ? { nextToken } : {}), lookupCalls };
    },
  };
}
