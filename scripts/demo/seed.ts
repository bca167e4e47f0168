/**
 * The demo's KMS account: a CloudHSM key store to retire (a few dozen keys, aliases, one Disabled key),
 * an external key store (XKS) and a few default-store keys around it that must never be touched.
 *
 * Also a CLI for the docker-compose `local` profile, which runs it inside the emulator's network
 * namespace (the admin API only accepts loopback clients):
 * `node dist/scripts/demo/seed.js --url http://127.0.0.1:4599`. There it is idempotent: an account that
 * already holds the demo store is left as it is.
 */
import { DescribeCustomKeyStoresCommand, KMSClient } from '@aws-sdk/client-kms';
import { EmulatorAdminClient, type SeedKeys } from '../../src/emulator';

/** Store names (unique per account, like in KMS). */
export const DEMO_STORE_NAMES = { cloudHsm: 'payments-hsm', xks: 'partner-xks' } as const;

/** Keys of the CloudHSM store, by batch: what an operator would find in a real one. */
const CLOUDHSM_BATCHES: (SeedKeys & { label: string })[] = [
  { label: 'card vault', count: 20, keyState: 'Enabled', aliasPrefix: 'alias/payments/card-vault', description: 'Card vault data keys (HSM-backed)' },
  { label: 'settlement', count: 8, keyState: 'Enabled', aliasPrefix: 'alias/payments/settlement', description: 'Settlement file encryption' },
  { label: 'unaliased', count: 5, keyState: 'Enabled', description: 'Created by a pipeline, never aliased' },
  { label: 'retired', count: 1, keyState: 'Disabled', aliasPrefix: 'alias/legacy/batch-2019', description: 'Disabled in 2023, kept for decryption' },
];

/** Index of the settlement batch in {@link CLOUDHSM_BATCHES}: its first key is the one still in use. */
const SETTLEMENT = 1;

export interface SeededDemoStore {
  storeId: string;
  name: string;
  keyIds: string[];
}

/** What {@link seedDemoAccount} created. */
export interface DemoAccount {
  cloudHsm: SeededDemoStore & {
    enabled: string[];
    disabled: string[];
    aliasCount: number;
    /** The key an application still uses in the demo (the first settlement key), and its alias. */
    inUse: { keyId: string; alias: string };
  };
  xks: SeededDemoStore;
  /** Keys of the default AWS_KMS key store: bystanders. */
  defaultStoreKeyIds: string[];
}

/** Seeds the demo account into an emulator (its admin API). Store IDs are generated, so each run gets fresh ones. */
export async function seedDemoAccount(admin: EmulatorAdminClient): Promise<DemoAccount> {
  const stores = await admin.seed({
    stores: [
      { name: DEMO_STORE_NAMES.cloudHsm, type: 'AWS_CLOUDHSM', connectionState: 'CONNECTED' },
      { name: DEMO_STORE_NAMES.xks, type: 'EXTERNAL_KEY_STORE', connectionState: 'CONNECTED' },
    ],
  });
  const [cloudHsmId, xksId] = stores.storeIds;
  const keys = await admin.seed({
    keys: [
      ...CLOUDHSM_BATCHES.map(({ label: _label, ...batch }) => ({ ...batch, customKeyStoreId: cloudHsmId })),
      { count: 6, customKeyStoreId: xksId, aliasPrefix: 'alias/partner/xks-envelope', description: 'Partner data in the external key manager' },
      { count: 4, aliasPrefix: 'alias/app/session', description: 'Application session keys (default key store)' },
    ],
  });
  const hsmBatches = keys.keyIds.slice(0, CLOUDHSM_BATCHES.length);
  const [xksKeys, defaultKeys] = keys.keyIds.slice(CLOUDHSM_BATCHES.length);
  const byState = (state: string) => hsmBatches.filter((_, i) => CLOUDHSM_BATCHES[i].keyState === state).flat();
  return {
    cloudHsm: {
      storeId: cloudHsmId,
      name: DEMO_STORE_NAMES.cloudHsm,
      keyIds: hsmBatches.flat(),
      enabled: byState('Enabled'),
      disabled: byState('Disabled'),
      aliasCount: hsmBatches.reduce((sum, ids, i) => sum + (CLOUDHSM_BATCHES[i].aliasPrefix ? ids.length : 0), 0),
      inUse: { keyId: hsmBatches[SETTLEMENT][0], alias: `${CLOUDHSM_BATCHES[SETTLEMENT].aliasPrefix}-0` },
    },
    xks: { storeId: xksId, name: DEMO_STORE_NAMES.xks, keyIds: xksKeys },
    defaultStoreKeyIds: defaultKeys,
  };
}

/** One line per store, for the demo's and the seed job's output. */
export function describeDemoAccount(account: DemoAccount): string[] {
  const h = account.cloudHsm;
  return [
    `CloudHSM key store ${h.storeId} "${h.name}" (CONNECTED): ${h.keyIds.length} keys (${h.enabled.length} Enabled, ${h.disabled.length} Disabled), ${h.aliasCount} aliases — to decommission`,
    `External key store ${account.xks.storeId} "${account.xks.name}": ${account.xks.keyIds.length} keys — must stay untouched`,
    `Default key store: ${account.defaultStoreKeyIds.length} keys — must stay untouched`,
  ];
}

async function existingDemoStore(url: string): Promise<string | undefined> {
  const kms = new KMSClient({ endpoint: url, region: process.env.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const out = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: DEMO_STORE_NAMES.cloudHsm }));
    return out.CustomKeyStores?.[0]?.CustomKeyStoreId;
  } catch (err) {
    if ((err as Error).name === 'CustomKeyStoreNotFoundException') return undefined;
    throw err;
  } finally {
    kms.destroy();
  }
}

/** Waits for the emulator (it may still be starting when the seed job runs). */
async function waitForEmulator(admin: EmulatorAdminClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin.now();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function main(): Promise<void> {
  const flag = process.argv.indexOf('--url');
  const url = flag >= 0 ? process.argv[flag + 1] : 'http://127.0.0.1:4599';
  const admin = new EmulatorAdminClient(url);
  await waitForEmulator(admin, 60_000);
  const existing = await existingDemoStore(url);
  if (existing) {
    console.log(`Demo account already seeded: CloudHSM key store ${existing} "${DEMO_STORE_NAMES.cloudHsm}"`);
    return;
  }
  const account = await seedDemoAccount(admin);
  for (const line of describeDemoAccount(account)) console.log(line);
  console.log(`Decommission it: npm run kms-decommission -- start --store ${account.cloudHsm.storeId} --requested-by alice --window 7`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`seed failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
