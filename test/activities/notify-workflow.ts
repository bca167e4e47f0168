/**
 * A workflow that only runs `notify` (for the real-worker retry test in notify.test.ts): attempts 200 ms apart,
 * no heartbeat timeout — as the decommission workflow may call it — so the checkpoint relies on the heartbeat
 * details alone, not on heartbeats arriving in time.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { NotifyActivities } from '../../src/activities/notify';
import type { NotificationInput, NotifyResult } from '../../src/shared/notifications';

const { notify } = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 1, maximumAttempts: 5 },
});

export async function notifyOnce(input: NotificationInput): Promise<NotifyResult> {
  return notify(input);
}
