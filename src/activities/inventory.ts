import { ListAliasesCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { InventoriedKey, KeyState } from '../shared/types';
import type { ActivityDeps } from './deps';
import { describeKey, epochMs } from './describe';
import { callKms, mapWithConcurrency } from './kms-call';
import { errorName, toActivityFailure } from './kms-errors';

export interface InventoryScanInput {
  customKeyStoreId: string;
  /** ListKeys marker to continue from; omit to start at the first page. */
  startMarker?: string;
  /** Return once at least this many store keys were found (bounds the result payload). */
  maxStoreKeys: number;
  /** Attach alias names from an account-wide ListAliases. */
  withAliases: boolean;
}

export interface InventoryPage {
  keys: InventoriedKey[];
  /** Where the next scan continues; undefined when the whole account was scanned. */
  nextMarker?: string;
  /** Account keys DescribeKey'd by this call. */
  scanned: number;
}

interface ScanCheckpoint {
  marker?: string;
  keys: InventoriedKey[];
  scanned: number;
}

const LIST_KEYS_PAGE = 1000;
const LIST_ALIASES_PAGE = 100; // the API reference documents 1–100, although the model allows 1000

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
  const concurrency = deps.describeConcurrency ?? 32;
  return {
    /**
     * Finds the store's keys: ListKeys has no store filter, so every key of the account is described.
     * Fails closed: any DescribeKey error other than NotFound (a key deleted meanwhile) aborts the scan,
     * because a key we could not read might be in the store and would be silently left out.
     * Resumes from its last heartbeat on retry.
     */
    async inventoryScan(input: InventoryScanInput): Promise<InventoryPage> {
      const checkpoint = activityInfo().heartbeatDetails as ScanCheckpoint | undefined;
      let marker = checkpoint ? checkpoint.marker : input.startMarker;
      const keys: InventoriedKey[] = checkpoint?.keys ?? [];
      let scanned = checkpoint?.scanned ?? 0;
      let first = !checkpoint;
      try {
        while ((first || marker) && keys.length < input.maxStoreKeys) {
          first = false;
          const page = await callKms(deps, 'ListKeys', (abortSignal) =>
            deps.kms.send(new ListKeysCommand({ Limit: LIST_KEYS_PAGE, Marker: marker }), { abortSignal }),
          );
          const entries = page.Keys ?? [];
          const described = await mapWithConcurrency(entries, concurrency, async (entry) => {
            try {
              return await describeKey(deps, entry.KeyId as string);
            } catch (err) {
              throw ApplicationFailure.nonRetryable(
                `Inventory incomplete, nothing was changed: DescribeKey ${entry.KeyId} failed with ${errorName(err)}: ${(err as Error).message}`,
                'InventoryIncomplete',
              );
            }
          });
          for (const meta of described) {
            if (!meta || meta.CustomKeyStoreId !== input.customKeyStoreId) continue;
            keys.push({
              keyId: meta.KeyId as string,
              arn: meta.Arn as string,
              keyState: meta.KeyState as KeyState,
              deletionDate: meta.KeyState === 'PendingDeletion' ? epochMs(meta.DeletionDate) : undefined,
            });
          }
          scanned += entries.length;
          marker = page.NextMarker;
          heartbeat({ marker, keys, scanned } satisfies ScanCheckpoint);
        }
        if (input.withAliases && keys.length > 0) {
          const aliases = await aliasesOf(deps, new Set(keys.map((k) => k.keyId)));
          for (const key of keys) {
            const names = aliases.get(key.keyId);
            if (names) key.aliases = names.sort();
          }
        }
        return { keys, nextMarker: marker, scanned };
      } catch (err) {
        throw toActivityFailure(err, 'inventory');
      }
    },
  };
}
