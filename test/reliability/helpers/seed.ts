import type { EmulatorAdminClient } from '../../../src/emulator';
import { uniqueStoreId } from '../../support/harness';

/** A seeded custom key store and the keys around it. */
export interface SeededStore {
  storeId: string;
  /** Every key of the store. */
  keyIds: string[];
  enabled: string[];
  disabled: string[];
  /** Pending deletion before the run: never this run's to schedule or cancel. */
  pending: string[];
  /** Default-store keys of the same account: must never be touched. */
  bystanders: string[];
}

export interface SeedOptions {
  type?: 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';
  enabled?: number;
  disabled?: number;
  pending?: number;
  bystanders?: number;
  /** Give every enabled key an alias (exercises the ListAliases pass of the inventory). */
  aliases?: boolean;
}

/**
 * Seeds a CONNECTED store through any emulator's admin API (in-process or a separate process), unlike
 * `test/support/scenario.ts`, which needs a harness.
 */
export async function seedStoreVia(admin: EmulatorAdminClient, options: SeedOptions = {}): Promise<SeededStore> {
  const storeId = uniqueStoreId();
  const type = options.type ?? 'AWS_CLOUDHSM';
  await admin.seed({
    stores: [
      {
        id: storeId,
        name: `store-${storeId}`,
        type,
        connectionState: 'CONNECTED',
        ...(type === 'AWS_CLOUDHSM' ? { cloudHsmClusterId: `cluster-${storeId.slice(4, 15).replace(/[0-9]/g, 'b')}` } : { xksProxyUriEndpoint: `https://xks-${storeId}.example.com` }),
      },
    ],
  });
  const seeded = await admin.seed({
    keys: [
      { count: options.enabled ?? 3, customKeyStoreId: storeId, keyState: 'Enabled', aliasPrefix: options.aliases ? `alias/${storeId}` : undefined },
      { count: options.disabled ?? 0, customKeyStoreId: storeId, keyState: 'Disabled' },
      { count: options.pending ?? 0, customKeyStoreId: storeId, keyState: 'PendingDeletion', pendingWindowInDays: 30 },
      { count: options.bystanders ?? 0, keyState: 'Enabled' },
    ],
  });
  const [enabled, disabled, pending, bystanders] = seeded.keyIds;
  return { storeId, keyIds: [...enabled, ...disabled, ...pending], enabled, disabled, pending, bystanders };
}
