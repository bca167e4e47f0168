/**
 * ScheduleKeyDeletion / CancelKeyDeletion and the deletion itself when the waiting period (+ lag) ends
 * (reference §3.4, §3.5, §5).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { EmulatedClock } from '../clock';
import type { ResolvedConfig } from '../config';
import { epochSeconds, KEY_ID_RULE, keyArn, requireKey, type OpContext } from '../context';
import { notPendingDeletion, pendingDeletion, validation } from '../errors';
import { Input, type JsonObject } from '../input';
import type { EmulatorState, KeyDeletion, KeyRecord } from '../state';
import { AWS_INTERNAL, flat, KMS_EVENT_SOURCE, type NewTrailEvent } from '../trail';
import type { BackingKeyOutcome, DeletionEvent } from '../types';

export const MIN_WINDOW_DAYS = 7;
export const MAX_WINDOW_DAYS = 30;
export const DEFAULT_WINDOW_DAYS = 30;

/** Real text seen from KMS (Skyscanner/kms-issuer#8). */
const WINDOW_MESSAGE = `PendingWindowInDays must be between ${MIN_WINDOW_DAYS} and ${MAX_WINDOW_DAYS}`;

/** Deletion timing for a key scheduled now with `windowDays`. */
export function deletionFor(clock: EmulatedClock, config: ResolvedConfig, windowDays: number): KeyDeletion {
  const deletionDate = clock.now() + clock.days(windowDays);
  const lagMs = (config.deletionLagHours * clock.dayMs) / 24;
  return { deletionDate, windowDays, deleteAt: deletionDate + lagMs };
}

/** ScheduleKeyDeletion: 7–30 days (default 30), not idempotent, answers the key ARN. */
export function scheduleKeyDeletion(
  ctx: OpContext,
  body: JsonObject,
): { KeyId: string; DeletionDate: number; KeyState: 'PendingDeletion'; PendingWindowInDays: number } {
  const input = new Input(body);
  const value = input.string('KeyId', KEY_ID_RULE);
  const raw = body.PendingWindowInDays;
  if (raw !== undefined && raw !== null && (typeof raw !== 'number' || !Number.isInteger(raw))) input.integer('PendingWindowInDays');
  const window = (raw as number | undefined | null) ?? DEFAULT_WINDOW_DAYS;
  // The service, not the SDK, enforces 7–30 (the shape allows 1–365), with one fixed message for both.
  if (window < MIN_WINDOW_DAYS || window > MAX_WINDOW_DAYS) throw validation(WINDOW_MESSAGE);
  const key = requireKey(ctx, value);
  const arn = keyArn(ctx.config, key.id);
  if (key.deletion) throw pendingDeletion(arn);
  const deletion = deletionFor(ctx.clock, ctx.config, window);
  ctx.state.putKey({ ...key, deletion });
  return { KeyId: arn, DeletionDate: epochSeconds(deletion.deletionDate), KeyState: 'PendingDeletion', PendingWindowInDays: window };
}

/** CancelKeyDeletion: only in PendingDeletion; the key ends Disabled. */
export function cancelKeyDeletion(ctx: OpContext, body: JsonObject): { KeyId: string } {
  const value = new Input(body).string('KeyId', KEY_ID_RULE);
  const key = requireKey(ctx, value);
  const arn = keyArn(ctx.config, key.id);
  if (!key.deletion) throw notPendingDeletion(arn);
  // Cancel leaves the key Disabled; in a disconnected store the projection shows Unavailable until reconnect.
  const next: KeyRecord = { ...key, enabled: false };
  delete next.deletion;
  ctx.state.putKey(next);
  return { KeyId: arn };
}

/**
 * Deletes a key whose waiting period ended, with its aliases, and records what happened to the backing
 * key: CloudHSM material is only deleted if the store is CONNECTED at that moment.
 */
export function executeDeletion(state: EmulatorState, config: ResolvedConfig, key: KeyRecord, at: number): DeletionEvent {
  const arn = keyArn(config, key.id);
  const aliases = state.aliasesOf(key.id).map((a) => a.name);
  for (const name of aliases) state.deleteAlias(name);
  const store = key.customKeyStoreId !== undefined ? state.stores.get(key.customKeyStoreId) : undefined;
  let backingKey: BackingKeyOutcome = 'MATERIAL_DELETED';
  const event: DeletionEvent = { time: at, keyId: key.id, keyArn: arn, backingKey, aliases };
  if (key.customKeyStoreId !== undefined) {
    event.customKeyStoreId = key.customKeyStoreId;
    if (key.origin === 'EXTERNAL_KEY_STORE') {
      event.customKeyStoreType = 'EXTERNAL_KEY_STORE';
      backingKey = 'EXTERNAL_KEY_RETAINED';
    } else {
      event.customKeyStoreType = 'AWS_CLOUDHSM';
      backingKey = store?.connectionState === 'CONNECTED' ? 'MATERIAL_DELETED' : 'ORPHANED';
      event.hsmLabel = arn;
    }
    event.backingKey = backingKey;
  }
  state.deleteKey(key.id);
  // The CloudTrail DeleteKey service event (found by LookupEvents ResourceName = key ARN, EventName = DeleteKey).
  state.appendTrail(deleteKeyServiceEvent(key, event, store?.cloudHsmClusterId));
  state.appendDeletion(event);
  return event;
}

/** Stable stand-ins for the HSM key's handle and id attribute (the emulator models no HSM). */
export function backingKeyOf(keyId: string): { keyHandle: string; backingKeyId: string } {
  const digest = createHash('sha256').update(`backing-key/${keyId}`).digest();
  return { keyHandle: String(digest.readUInt32BE(0) % 1_000_000), backingKeyId: digest.subarray(4, 20).toString('hex') };
}

/**
 * KMS's own CloudTrail entry at the end of the waiting period (Developer Guide, "DeleteKey"): an
 * AwsServiceEvent invoked by "AWS Internal", the key ARN in `resources` and `responseElements.keyId`; for a
 * CloudHSM key the store, cluster and backing key with its deletion status (SUCCESS only if the store was
 * CONNECTED), as JSON strings like the documented entry; for an XKS key the store and external key id.
 */
function deleteKeyServiceEvent(key: KeyRecord, deletion: DeletionEvent, clusterId: string | undefined): NewTrailEvent {
  let additionalEventData: Record<string, unknown> | undefined;
  if (deletion.customKeyStoreType === 'AWS_CLOUDHSM') {
    const backing = backingKeyOf(key.id);
    additionalEventData = {
      customKeyStoreId: key.customKeyStoreId,
      ...(clusterId !== undefined ? { clusterId } : {}),
      backingKeys: JSON.stringify([backing]),
      backingKeysDeletionStatus: JSON.stringify([{ ...backing, deletionStatus: deletion.backingKey === 'MATERIAL_DELETED' ? 'SUCCESS' : 'FAILURE' }]),
    };
  } else if (deletion.customKeyStoreType === 'EXTERNAL_KEY_STORE') {
    additionalEventData = { customKeyStoreId: key.customKeyStoreId, ...(key.xksKeyId !== undefined ? { xksKeyId: key.xksKeyId } : {}) };
  }
  return {
    eventId: flat(randomUUID()),
    eventTime: deletion.time,
    eventSource: KMS_EVENT_SOURCE,
    eventName: 'DeleteKey',
    eventType: 'AwsServiceEvent',
    readOnly: false,
    sourceIPAddress: AWS_INTERNAL,
    userAgent: AWS_INTERNAL,
    requestParameters: null,
    responseElements: { keyId: deletion.keyArn },
    ...(additionalEventData ? { additionalEventData } : {}),
    resource: flat(deletion.keyArn),
  };
}
