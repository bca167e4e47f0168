/**
 * Protocol-faithful AWS KMS emulator for custom key stores (AWS JSON 1.1 over HTTP).
 *
 * ```ts
 * const kms = await startEmulator({ dayMs: 1000, quotaScale: 0 });
 * const client = new KMSClient({ endpoint: kms.url, region: kms.region, credentials: kms.credentials });
 * await kms.admin.seed({ stores: [{ name: 'hsm', connectionState: 'CONNECTED' }] });
 * await kms.close();
 * ```
 */
import { EmulatorAdminClient } from './admin-client';
import { OptionError, resolveOptions } from './config';
import { EmulatorCore } from './core';
import { KmsHttpServer } from './server';
import type { EmulatorOptions } from './types';

export { EmulatorAdminClient } from './admin-client';
export { OptionError } from './config';
export { StateFileError } from './persistence';
export { SNS_DEDUPLICATION_WINDOW_MS, type SnsMessageAttribute, type SnsPublishedMessage, type SnsTopicInfo } from './sns';
export type {
  AuditEntry,
  AuditQuery,
  BackingKeyOutcome,
  CloudTrailAdminEvent,
  CloudTrailInfo,
  ClockInfo,
  ConnectionState,
  CustomKeyStoreType,
  DeletionEvent,
  DeletionHold,
  EmulatorOptions,
  EmulatorStats,
  FailNextConnects,
  FaultSpec,
  IdentityInfo,
  IdentitySpec,
  InjectedErrorType,
  KeyState,
  KeyUsageTracking,
  QuotaInfo,
  SeedKeyUsage,
  SeedKeys,
  SeedResult,
  SeedSpec,
  SeedStore,
  SimulatedOperation,
  StoreStateChange,
  UsageSimulatorInfo,
  UsageSimulatorSpec,
} from './types';

/** A started emulator. */
export interface RunningEmulator {
  /** Base URL for `KMSClient({ endpoint })` and the admin API, e.g. `http://127.0.0.1:40123`. */
  url: string;
  region: string;
  account: string;
  /** The only credentials whose signatures are accepted. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  admin: EmulatorAdminClient;
  /** Stops the server, flushes the snapshot (with `statePath`) and releases the state file. */
  close(): Promise<void>;
}

/**
 * Starts an emulator in this process. Rejects with `OptionError` for invalid options and with
 * `StateFileError` when `statePath` holds state that cannot be trusted.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const config = resolveOptions(options);
  const core = new EmulatorCore(config);
  for (const warning of core.start()) process.stderr.write(`kms-emulator: warning: ${warning}\n`);
  const http = new KmsHttpServer(core);
  let port: number;
  try {
    port = await http.listen(config.port, config.host);
  } catch (e) {
    await core.close();
    throw e;
  }
  // A wildcard bind is still reachable on loopback, which is also what the admin API requires.
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  core.usage.baseUrl = url;
  try {
    for (const spec of config.usage) core.usage.start(spec);
  } catch (e) {
    await http.close();
    await core.close();
    throw new OptionError('usage', (e as Error).message, config.usage);
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    region: config.region,
    account: config.account,
    credentials: { accessKeyId: config.accessKey, secretAccessKey: config.secretKey },
    admin: new EmulatorAdminClient(url),
    close(): Promise<void> {
      closing ??= (async () => {
        // Simulated applications first: they call this server.
        await core.usage.stopAll();
        await http.close();
        await core.close();
      })();
      return closing;
    },
  };
}
