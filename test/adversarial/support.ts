import { DisableKeyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import type { Harness } from '../support/harness';

/** The workflow type name (src/shared/messages.ts WORKFLOW_TYPE). */
export const WORKFLOW_TYPE_FOR_TESTS = 'decommissionCustomKeyStore';

/** "Someone else" (the security team) disables a key out of band. */
export async function disableOutOfBand(h: Harness, keyId: string): Promise<void> {
  await h.kms.send(new DisableKeyCommand({ KeyId: keyId }));
}

/** "Someone else" schedules a key's deletion out of band. */
export async function scheduleOutOfBand(h: Harness, keyId: string, days = 30): Promise<void> {
  await h.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
