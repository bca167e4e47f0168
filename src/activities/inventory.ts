import type { KeyListEntry, KeyMetadata } from '@aws-sdk/client-kms';
import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { InventoriedKey, KeyState, StoreInfo } from '../shared/types';
import { readStoreIfExists } from './store';
import { createAwsGateway, epochMs, type AwsGateway } from './aws-gateway';
import { DEFAULT_DESCRIBE_CONCURRENCY, type ActivityDeps } from './deps';
import { createConcurrencyGate } from './concurrency-gate';
import { stopSignal } from './kms-call';
import { classifyKmsError, errorName, toActivityFailure } from './kms-errors';

export interface InventoryScanInput {
  customKeyStoreId: string;
  /** ListKeys marker to continue from; omit to start at the first page. */
  startMarker?: string;
  /**
   * Stop listing once this many store keys were found (bounds the result payload); the next call continues at
   * `nextMarker`. ListKeys pages are whole, so a result holds fewer than `maxStoreKeys` + 1,000 keys.
   */
  maxStoreKeys: number;
  /** Attach alias names from an account-wide ListAliases. */
  withAliases: boolean;
}

export interface InventoryPage {
  /** `arn:aws:kms:<region>:<account>:key/`: ARNs travel once per page, not once per key. */
  arnPrefix?: string;
  keys: InventoriedKey[];
  /** Where the next scan continues; undefined when the whole account was scanned. */
  nextMarker?: string;
  /** Account keys DescribeKey'd by this call. */
  scanned: number;
}

export interface DriftScanInput {
  customKeyStoreId: string;
  /** Report at most this many keys that are not pending deletion. */
  maxReported: number;
}

/** A whole-account scan reduced to what drift detection needs: keys of the store that are NOT pending deletion. */
export interface DriftScan {
  /** The store as DescribeCustomKeyStores saw it before the scan; null when it no longer exists. */
  store: StoreInfo | null;
  arnPrefix?: string;
  /** Store keys not pending deletion: new keys, or keys whose deletion someone cancelled (first `maxReported`). */
  notPending: InventoriedKey[];
  notPendingTotal: number;
  /** Store keys pending deletion. */
  pendingInStore: number;
  scanned: number;
}

interface ScanCheckpoint<T> {
  marker?: string;
  done: boolean;
  acc: T;
}

const LIST_KEYS_PAGE = 1000;
const LIST_ALIASES_PAGE = 100; // the API reference documents 1–100, although the model allows 1000

function toInventoried(meta: KeyMetadata): InventoriedKey {
  return {
    keyId: meta.KeyId as string,
    keyState: meta.KeyState as KeyState,
    deletionDate: meta.KeyState === 'PendingDeletion' ? epochMs(meta.DeletionDate) : undefined,
  };
}

function arnPrefixOf(meta: KeyMetadata): string | undefined {
  return meta.Arn && meta.KeyId && meta.Arn.endsWith(meta.KeyId) ? meta.Arn.slice(0, meta.Arn.length - meta.KeyId.length) : undefined;
}

/** Account-wide ListAliases, reduced to the aliases of `keyIds`. One pass instead of one call per key. */
async function aliasesOf(aws: AwsGateway, keyIds: Set<string>, keepAlive: () => void): Promise<Map<string, string[]>> {
  const byKey = new Map<string, string[]>();
  let marker: string | undefined;
  do {
    const page = await aws.listAliases({ limit: LIST_ALIASES_PAGE, marker }, { keepAlive });
    for (const alias of page.aliases) {
      if (!alias.TargetKeyId || !alias.AliasName || !keyIds.has(alias.TargetKeyId)) continue;
      const list = byKey.get(alias.TargetKeyId) ?? [];
      list.push(alias.AliasName);
      byKey.set(alias.TargetKeyId, list);
    }
    marker = page.nextMarker;
    keepAlive();
  } while (marker);
  return byKey;
}

export function createInventoryActivities(deps: ActivityDeps) {
  const concurrency = deps.describeConcurrency ?? DEFAULT_DESCRIBE_CONCURRENCY;
  const aws = createAwsGateway(deps);

  /**
   * Pages through ListKeys and DescribeKey's every key (ListKeys has no store filter). Fails closed:
   * any DescribeKey error other than NotFound (a key deleted meanwhile) aborts, because a key we could
   * not read might be in the store and would silently be left out. Each completed page is checkpointed
   * in a heartbeat together with the accumulator, so a retry resumes after the last completed page.
   *
   * Pipelined, because the rate is what matters: the next ListKeys page is fetched while the current one
   * is described, and its DescribeKey calls start as soon as the current page's have all started, so the
   * fan-out never drains between pages. Pages still complete (and are checkpointed) in order. A page
   * starts early only if, even were every key still undecided a match, the result stays within `budget`
   * plus one page: that bounds the result payload however dense the store is.
   *
   * Throttling and transient errors never fail the scan closed: each call is retried, paced, while the
   * scan heartbeats its checkpoint, for up to `deps.retryBudgetMs` of continuous failure (then the attempt
   * fails retryably and the next one resumes from the checkpoint). Only errors that retrying cannot fix
   * (AccessDenied…) fail it at once, non-retryably, and stop every sibling call still retrying.
   */
  async function scan<T>(options: {
    startMarker?: string;
    initial: T;
    /** How many more matching keys the result may take; the scan stops listing at 0. */
    budget: (acc: T) => number;
    matches?: (meta: KeyMetadata) => boolean;
    onPage: (acc: T, described: KeyMetadata[]) => void;
  }): Promise<{ acc: T; nextMarker?: string; scanned: number; keepAlive: () => void }> {
    const { budget, matches = () => false, onPage } = options;
    type Checkpoint = ScanCheckpoint<T> & { scanned: number };
    const restored = activityInfo().heartbeatDetails as Checkpoint | undefined;
    const progress: Checkpoint = restored ?? { marker: options.startMarker, done: false, acc: options.initial, scanned: 0 };
    const { acc } = progress;
    // What a heartbeat reports while pages are in flight: a retry must redo them, never skip or double-count.
    let committed = JSON.parse(JSON.stringify(progress)) as Checkpoint;
    let lastBeat = Date.now();
    const beat = (force: boolean): void => {
      // At most once a second: encoding the checkpoint on every call cost a tenth of the worker's CPU.
      if (!force && Date.now() - lastBeat < 1_000) return;
      lastBeat = Date.now();
      heartbeat(committed);
    };

    const keepAlive = () => beat(false);
    // Stops the sibling calls (their retries and backoffs) once the scan has failed; follows the activity's cancellation.
    const stop = stopSignal();
    const callOptions = { keepAlive, signal: stop.signal };
    const failure: { error?: unknown } = {};
    const fail = (error: unknown) => {
      failure.error ??= error;
      stop.stop(failure.error);
    };
    const slots = createConcurrencyGate(concurrency);
    // Of the pages started but not yet committed: calls still unanswered, and matches among the answered ones.
    let unanswered = 0;
    let uncommittedMatches = 0;
    const listPage = (marker: string | undefined) => aws.listKeys({ limit: LIST_KEYS_PAGE, marker }, callOptions);

    /** Starts a page's DescribeKey calls under the scan's fan-out; `started` resolves once the last one has a slot. */
    const describePage = (entries: KeyListEntry[]) => {
      const described = new Array<KeyMetadata | undefined>(entries.length);
      const calls: Promise<void>[] = [];
      const started = (async () => {
        for (let i = 0; i < entries.length && failure.error === undefined; i++) {
          const leave = await slots.enter();
          if (failure.error !== undefined) {
            leave();
            break;
          }
          const keyId = (entries[i] as KeyListEntry).KeyId as string; // i < entries.length
          unanswered++;
          calls.push(
            aws
              .describeKey(keyId, callOptions)
              .then(
                (meta) => {
                  described[i] = meta;
                  if (meta && matches(meta)) uncommittedMatches++;
                  beat(false);
                },
                (err: unknown) => {
                  if (failure.error !== undefined) return; // stopped by a sibling's failure
                  // Throttling or transient past the retry budget, or a cancellation: retrying can fix it, failing closed cannot.
                  if (err instanceof CancelledFailure || (err instanceof ApplicationFailure ? !err.nonRetryable : classifyKmsError(err) !== 'permanent'))
                    fail(err);
                  else
                    fail(
                      ApplicationFailure.nonRetryable(
                        `Inventory incomplete, nothing was changed: DescribeKey ${keyId} failed with ${errorName(err)}: ${(err as Error).message}`,
                        'InventoryIncomplete',
                      ),
                    );
                },
              )
              .finally(() => {
                unanswered--;
                leave();
              }),
          );
        }
      })();
      const finished = started
        .then(() => Promise.all(calls))
        .then(() => {
          if (failure.error !== undefined) throw failure.error;
          return described.filter((m): m is KeyMetadata => m !== undefined);
        });
      return { started, finished };
    };

    let inOrder: Promise<void> = Promise.resolve();
    try {
      let listing = !progress.done && budget(acc) > 0 ? listPage(progress.marker) : undefined;
      while (listing) {
        const page = await listing;
        const entries = page.keys;
        const after = page.nextMarker;
        listing = after !== undefined ? listPage(after) : undefined;
        // Not awaited if the scan stops or fails first: its rejection must not go unhandled.
        listing?.catch(() => undefined);
        const work = describePage(entries);
        // Chained below, but never reached if an earlier page failed: that rejection must not go unhandled either.
        work.finished.catch(() => undefined);
        inOrder = inOrder
          .then(() => work.finished)
          .then((described) => {
            onPage(acc, described);
            uncommittedMatches -= described.filter(matches).length;
            progress.scanned += entries.length;
            progress.marker = after;
            progress.done = after === undefined;
            committed = JSON.parse(JSON.stringify(progress)) as Checkpoint;
            beat(true);
          });
        await work.started;
        if (failure.error !== undefined || !listing) break;
        if (uncommittedMatches + unanswered >= budget(acc)) {
          // The next page could overflow the budget: let the pages in flight finish, then look again.
          await inOrder;
          if (budget(acc) <= 0) break;
        }
      }
      await inOrder;
    } catch (err) {
      fail(err);
      // Every call already started must settle first: a sibling still retrying in the background would race the retry.
      await inOrder.catch(() => undefined);
      throw failure.error;
    } finally {
      stop.dispose();
    }
    return { acc, nextMarker: progress.done ? undefined : progress.marker, scanned: progress.scanned, keepAlive };
  }

  return {
    /** One page of the store's inventory: about `maxStoreKeys` keys (see {@link InventoryScanInput}), from `startMarker`. */
    async inventoryScan(input: InventoryScanInput): Promise<InventoryPage> {
      try {
        const result = await scan({
          startMarker: input.startMarker,
          initial: { keys: [] as InventoriedKey[], arnPrefix: undefined as string | undefined },
          // Bounds the result payload. Pages are always full: a short one would cost a round trip for a key or two.
          budget: (acc) => input.maxStoreKeys - acc.keys.length,
          matches: (meta) => meta.CustomKeyStoreId === input.customKeyStoreId,
          onPage: (acc, described) => {
            for (const meta of described) {
              if (meta.CustomKeyStoreId !== input.customKeyStoreId) continue;
              acc.keys.push(toInventoried(meta));
              acc.arnPrefix ??= arnPrefixOf(meta);
            }
          },
        });
        const { keys, arnPrefix } = result.acc;
        if (input.withAliases && keys.length > 0) {
          const aliases = await aliasesOf(aws, new Set(keys.map((k) => k.keyId)), result.keepAlive);
          for (const key of keys) {
            const names = aliases.get(key.keyId);
            if (names) key.aliases = names.sort();
          }
        }
        return { arnPrefix, keys, nextMarker: result.nextMarker, scanned: result.scanned };
      } catch (err) {
        throw toActivityFailure(err, 'inventory');
      }
    },

    /**
     * Whole-account scan for drift, in one activity: only keys of the store that are not pending
     * deletion come back (normally none), so a daily check costs a handful of history events and bytes.
     */
    async driftScan(input: DriftScanInput): Promise<DriftScan> {
      try {
        // One activity per drift check: the store's state is read here too, saving a round trip in history.
        const store = await readStoreIfExists(aws, input.customKeyStoreId);
        const result = await scan({
          initial: { notPending: [] as InventoriedKey[], notPendingTotal: 0, pendingInStore: 0, arnPrefix: undefined as string | undefined },
          budget: () => Infinity,
          onPage: (acc, described) => {
            for (const meta of described) {
              if (meta.CustomKeyStoreId !== input.customKeyStoreId) continue;
              acc.arnPrefix ??= arnPrefixOf(meta);
              if (meta.KeyState === 'PendingDeletion') acc.pendingInStore++;
              else if (++acc.notPendingTotal <= input.maxReported) acc.notPending.push(toInventoried(meta));
            }
          },
        });
        return { store, ...result.acc, scanned: result.scanned };
      } catch (err) {
        throw toActivityFailure(err, 'drift scan');
      }
    },
  };
}
