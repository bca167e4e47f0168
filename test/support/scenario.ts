import { CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import type { DecommissionInput, DecommissionStatus, Phase } from '../../src/client';
import type { AuditEntry } from '../../src/emulator';
import { eventually, uniqueStoreId, type Harness } from './harness';

export interface SeededStore {
  storeId: string;
  /** Keys of the store, in seed order: enabled first, then disabled, then pending. */
  keyIds: string[];
  enabled: string[];
  disabled: string[];
  pending: string[];
  /** Keys outside the store (default key store), which must never be touched. */
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
  aliases?: boolean;
}

/** Seeds one custom key store with keys in several states, plus keys in the default store around it. */
export async function seedStore(h: Harness, options: SeedOptions = {}): Promise<SeededStore> {
  const storeId = uniqueStoreId();
  const type = options.type ?? 'AWS_CLOUDHSM';
  await h.emulator.admin.seed({
    stores: [
      {
        id: storeId,
        name: `store-${storeId}`,
        type,
        connectionState: options.connectionState ?? 'CONNECTED',
        connectionErrorCode: options.connectionErrorCode,
        ...(type === 'AWS_CLOUDHSM' ? { cloudHsmClusterId: `cluster-${storeId.slice(4, 15).replace(/[0-9]/g, 'a')}` } : { xksProxyUriEndpoint: `https://xks-${storeId}.example.com` }),
      },
    ],
  });
  const seeded = await h.emulator.admin.seed({
    keys: [
      { count: options.enabled ?? 3, customKeyStoreId: storeId, keyState: 'Enabled', aliasPrefix: options.aliases === false ? undefined : `alias/${storeId}-enabled` },
      { count: options.disabled ?? 1, customKeyStoreId: storeId, keyState: 'Disabled' },
      { count: options.pending ?? 0, customKeyStoreId: storeId, keyState: 'PendingDeletion', pendingWindowInDays: 30 },
      { count: options.bystanders ?? 2, keyState: 'Enabled' },
    ],
  });
  const [enabled, disabled, pending, bystanders] = seeded.keyIds;
  return { storeId, keyIds: [...enabled, ...disabled, ...pending], enabled, disabled, pending, bystanders };
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
  return eventually(() => h.decommissions.getStatus(storeId), (s) => wanted.includes(s.phase), timeoutMs, `phase ${wanted.join('|')} of ${storeId}`);
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
