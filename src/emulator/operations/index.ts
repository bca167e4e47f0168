/**
 * Operation registry: `x-amz-target` suffix → handler, plus how its response body looks and whether it
 * counts as a mutation (for the audit log and for durability).
 */
import type { OpContext } from '../context';
import type { JsonObject } from '../input';
import { createAlias, deleteAlias, listAliases } from './aliases';
import { decrypt, encrypt, generateDataKey, generateDataKeyWithoutPlaintext, getKeyLastUsage } from './crypto';
import { cancelKeyDeletion, scheduleKeyDeletion } from './deletion';
import { createKey, describeKey, disableKey, enableKey, listKeys } from './keys';
import {
  connectCustomKeyStore,
  createCustomKeyStore,
  deleteCustomKeyStore,
  describeCustomKeyStores,
  disconnectCustomKeyStore,
  updateCustomKeyStore,
} from './stores';

export interface OperationDef {
  /** Returns the JSON output, or undefined for operations without an output shape (empty body). */
  handler: (ctx: OpContext, body: JsonObject) => unknown;
  /** True for operations that change state, even when a particular call fails. */
  mutating: boolean;
}

export const OPERATIONS: Readonly<Record<string, OperationDef>> = {
  CreateCustomKeyStore: { handler: createCustomKeyStore, mutating: true },
  DescribeCustomKeyStores: { handler: describeCustomKeyStores, mutating: false },
  ConnectCustomKeyStore: { handler: connectCustomKeyStore, mutating: true },
  DisconnectCustomKeyStore: { handler: disconnectCustomKeyStore, mutating: true },
  DeleteCustomKeyStore: { handler: deleteCustomKeyStore, mutating: true },
  UpdateCustomKeyStore: { handler: updateCustomKeyStore, mutating: true },
  CreateKey: { handler: createKey, mutating: true },
  DescribeKey: { handler: describeKey, mutating: false },
  ListKeys: { handler: listKeys, mutating: false },
  EnableKey: { handler: enableKey, mutating: true },
  DisableKey: { handler: disableKey, mutating: true },
  ScheduleKeyDeletion: { handler: scheduleKeyDeletion, mutating: true },
  CancelKeyDeletion: { handler: cancelKeyDeletion, mutating: true },
  CreateAlias: { handler: createAlias, mutating: true },
  DeleteAlias: { handler: deleteAlias, mutating: true },
  ListAliases: { handler: listAliases, mutating: false },
  // Cryptographic operations change no KMS state; the usage they leave for GetKeyLastUsage is journaled lazily.
  Encrypt: { handler: encrypt, mutating: false },
  Decrypt: { handler: decrypt, mutating: false },
  GenerateDataKey: { handler: generateDataKey, mutating: false },
  GenerateDataKeyWithoutPlaintext: { handler: generateDataKeyWithoutPlaintext, mutating: false },
  GetKeyLastUsage: { handler: getKeyLastUsage, mutating: false },
};

/** Only these reads honour stale-read faults. */
export const STALE_READ_OPERATIONS: ReadonlySet<string> = new Set(['DescribeKey', 'DescribeCustomKeyStores']);
