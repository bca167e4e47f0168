import { ListAliasesCommand, ListKeysCommand, type KeyMetadata } from '@aws-sdk/client-kms';
import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { InventoriedKey, KeyState, StoreInfo } from '../shared/types';
import { readStore, storeExists } from './store';
import type { ActivityDeps } from './deps';
import { describeKey, epochMs } from './describe';
import { callKms, mapWithConcurrency } from './kms-call';
import { errorName, toActivityFailure } from './kms-errors';

export interface InventoryScanInput {
  customKeyStoreId: string;
  /** ListKeys marker to continue from; omit to start at the first page. */
  startMarker?: string;
  /** Return at most this many store keys (bounds the result payload); the next call continues at `nextMarker`. */
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
async function aliasesOf(deps: ActivityDeps, keyIds: Set<string>): Promise<Map<string, string[]>> {
  const byKey = new Map<string, string[]>();
  let marker: string | undefined;
  do {
    const page = await callKms(deps, 'ListAliases', (abortSignal) =>
      deps.kms.send(new ListAliasesCommand({ Limit: LIST_ALIASES_PAGE, Marker: marker }), { abortSignal }),
    );
    for (const alias of page.Aliases ?? []) {
      if (!alias.TargetKeyId || !alias.AliasName || !keyIds.has(alias.TargetKeyId)) continue;
      const list = byKey.get(alias.TargetKeyId) ?? [];
      list.push(alias.AliasName);
      byKey.set(alias.TargetKeyId, list);
    }
    marker = page.NextMarker;
    heartbeat();
  } while (marker);
  return byKey;
}

export function createInventoryActivities(deps: ActivityDeps) {
  const concurrency = deps.describeConcurrency ?? 96;

  /**
   * Pages through ListKeys and DescribeKey's every key (ListKeys has no store filter). Fails closed:
   * any DescribeKey error other than NotFound (a key deleted meanwhile) aborts, because a key we could
   * not read might be in the store and would silently be left out. Each page is checkpointed in a
   * heartbeat together with the accumulator, so a retry resumes after the last completed page.
   */
  async function scan<T>(
    startMarker: string | undefined,
    initial: T,
    pageLimit: (acc: T) => number,
    onPage: (acc: T, described: KeyMetadata[]) => void,
  ): Promise<{ acc: T; nextMarker?: string; scanned: number }> {
    const checkpoint = activityInfo().heartbeatDetails as (ScanCheckpoint<T> & { scanned: number }) | undefined;
    let marker = checkpoint ? checkpoint.marker : startMarker;
    let done = checkpoint?.done ?? false;
    let scanned = checkpoint?.scanned ?? 0;
    const acc = checkpoint?.acc ?? initial;
    while (!done) {
      const limit = pageLimit(acc);
      if (limit <= 0) break;
      const pageMarker = marker;
      const page = await callKms(deps, 'ListKeys', (abortSignal) => deps.kms.send(new ListKeysCommand({ Limit: limit, Marker: pageMarker }), { abortSignal }));
      const entries = page.Keys ?? [];
      // Keep heartbeating through a long page (slow DescribeKey) with a frozen copy of the state before it:
      // a retry must redo this page, never skip or double-count it.
      const beforePage = JSON.parse(JSON.stringify({ marker: pageMarker, done: false, acc, scanned })) as ScanCheckpoint<T> & { scanned: number };
      let lastBeat = Date.now();
      const described = await mapWithConcurrency(entries, concurrency, async (entry) => {
        try {
          const meta = await describeKey(deps, entry.KeyId as string);
          // At most once a second: encoding the checkpoint on every call cost a tenth of the worker's CPU.
          if (Date.now() - lastBeat >= 1_000) {
            lastBeat = Date.now();
            heartbeat(beforePage);
          }
          return meta;
        } catch (err) {
          throw ApplicationFailure.nonRetryable(
            `Inventory incomplete, nothing was changed: DescribeKey ${entry.KeyId} failed with ${errorName(err)}: ${(err as Error).message}`,
            'InventoryIncomplete',
          );
        }
      });
      onPage(acc, described.filter((m): m is KeyMetadata => m !== undefined));
      scanned += entries.length;
      marker = page.NextMarker;
      done = marker === undefined;
      heartbeat({ marker, done, acc, scanned });
    }
    return { acc, nextMarker: done ? undefined : marker, scanned };
  }

  return {
    /** One page of the store's inventory: at most `maxStoreKeys` keys, continuing at `startMarker`. */
    async inventoryScan(input: InventoryScanInput): Promise<InventoryPage> {
      try {
        const result = await scan(
          input.startMarker,
          { keys: [] as InventoriedKey[], arnPrefix: undefined as string | undefined },
          // Never ask for more keys than could still fit: the result must stay far below Temporal's payload limits.
          (acc) => Math.min(LIST_KEYS_PAGE, input.maxStoreKeys - acc.keys.length),
          (acc, described) => {
            for (const meta of described) {
              if (meta.CustomKeyStoreId !== input.customKeyStoreId) continue;
              acc.keys.push(toInventoried(meta));
              acc.arnPrefix ??= arnPrefixOf(meta);
            }
          },
        );
        const { keys, arnPrefix } = result.acc;
        if (input.withAliases && keys.length > 0) {
          const aliases = await aliasesOf(deps, new Set(keys.map((k) => k.keyId)));
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
        const store = (await storeExists(deps, input.customKeyStoreId)) ? await readStore(deps, input.customKeyStoreId) : null;
        const result = await scan(
          undefined,
          { notPending: [] as InventoriedKey[], notPendingTotal: 0, pendingInStore: 0, arnPrefix: undefined as string | undefined },
          () => LIST_KEYS_PAGE,
          (acc, described) => {
            for (const meta of described) {
              if (meta.CustomKeyStoreId !== input.customKeyStoreId) continue;
              acc.arnPrefix ??= arnPrefixOf(meta);
              if (meta.KeyState === 'PendingDeletion') acc.pendingInStore++;
              else if (++acc.notPendingTotal <= input.maxReported) acc.notPending.push(toInventoried(meta));
            }
          },
        );
        return { store, ...result.acc, scanned: result.scanned };
      } catch (err) {
        throw toActivityFailure(err, 'drift scan');
      }
    },
  };
}
