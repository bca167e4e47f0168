import { CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import type { DecommissionInput, DecommissionStatus, Phase } from '../../src/client';
import type { AuditEntry, EmulatorAdminClient } from '../../src/emulator';
import { eventually, uniqueStoreId, type Harness } from './harness';

/** A seeded custom key store and the keys around it. */
export interface SeededStore {
  storeId: string;
  /** Every key of the store, in seed order: enabled, disabled, then pending. */
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
  connectionState?: 'CONNECTED' | 'DISCONNECTED' | 'FAILED';
  connectionErrorCode?: string;
  enabled?: number;
  disabled?: number;
  pending?: number;
  bystanders?: number;
  /** Give every enabled key an alias `alias/<store>-enabled-<n>` (exercises the inventory's ListAliases pass). */
  aliases?: boolean;
}

/**
 * Seeds one custom key store (CONNECTED unless told otherwise) through any emulator's admin API,
 * in-process or a separate process. Defaults: 3 enabled keys, nothing else.
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
        connectionState: options.connectionState ?? 'CONNECTED',
        connectionErrorCode: options.connectionErrorCode,
        ...(type === 'AWS_CLOUDHSM'
          ? // One letter per hex digit (a–p): distinct stores get distinct cluster IDs (mapping only the digits collided).
            { cloudHsmClusterId: `cluster-${storeId.slice(4, 15).replace(/[0-9a-f]/g, (c) => String.fromCharCode(97 + parseInt(c, 16)))}` }
          : { xksProxyUriEndpoint: `https://xks-${storeId}.example.com` }),
      },
    ],
  });
  const seeded = await admin.seed({
    keys: [
      { count: options.enabled ?? 3, customKeyStoreId: storeId, keyState: 'Enabled', aliasPrefix: options.aliases ? `alias/${storeId}-enabled` : undefined },
      { count: options.disabled ?? 0, customKeyStoreId: storeId, keyState: 'Disabled' },
      { count: options.pending ?? 0, customKeyStoreId: storeId, keyState: 'PendingDeletion', pendingWindowInDays: 30 },
      { count: options.bystanders ?? 0, keyState: 'Enabled' },
    ],
  });
  const [enabled, disabled, pending, bystanders] = seeded.keyIds;
  return { storeId, keyIds: [...enabled, ...disabled, ...pending], enabled, disabled, pending, bystanders };
}

/** The workflow tests' store: 3 enabled keys with aliases, 1 disabled, 2 bystanders, unless told otherwise. */
export function seedStore(h: Harness, options: SeedOptions = {}): Promise<SeededStore> {
  return seedStoreVia(h.emulator.admin, { disabled: 1, bystanders: 2, aliases: true, ...options });
}

/** Short timings for a run on an emulator whose day lasts `dayMs`. */
export function fastInput(storeId: string, extra: Partial<DecommissionInput> = {}): DecommissionInput {
  return {
    customKeyStoreId: storeId,
    requestedBy: 'alice',
    pendingWindowInDays: 7,
    timing: { storePollInterval: 100, driftCheckInterval: 500, verifyInterval: 200, verifyPatience: 20_000 },
    ...extra,
  };
}

export async function waitForPhase(h: Harness, storeId: string, phases: Phase | Phase[], timeoutMs = 30_000): Promise<DecommissionStatus> {
  const wanted = Array.isArray(phases) ? phases : [phases];
  return eventually(
    () => h.decommissions.getStatus(storeId),
    (s) => wanted.includes(s.phase),
    timeoutMs,
    `phase ${wanted.join('|')} of ${storeId}`,
  );
}

/** Audit entries of mutating KMS calls that touched the store or its keys. */
export async function mutatingCalls(h: Harness, store: Pick<SeededStore, 'storeId' | 'keyIds'>): Promise<AuditEntry[]> {
  const keys = new Set(store.keyIds);
  const audit = await h.emulator.admin.audit();
  return audit.filter((e) => e.mutating && (e.customKeyStoreId === store.storeId || (e.keyId !== undefined && keys.has(e.keyId))));
}

export async function successfulCalls(h: Harness, operation: string, keyIds?: string[]): Promise<AuditEntry[]> {
  const keys = keyIds ? new Set(keyIds) : undefined;
  const audit = await h.emulator.admin.audit({ operation });
  return audit.filter((e) => e.outcome === 'OK' && (!keys || (e.keyId !== undefined && keys.has(e.keyId))));
}

export async function keyState(h: Harness, keyId: string): Promise<string | undefined> {
  try {
    const out = await h.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    return out.KeyMetadata?.KeyState;
  } catch (err) {
    if ((err as Error).name === 'NotFoundException') return 'DELETED';
    throw err;
  }
}

/** Someone else creates a key in the store (the store must be CONNECTED). */
export async function createKeyOutOfBand(h: Harness, storeId: string): Promise<string> {
  const out = await h.kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId, Description: 'created during the waiting period' }));
  return out.KeyMetadata?.KeyId as string;
}
