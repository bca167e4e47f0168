import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { HISTORIES_DIR, historyVersionDirs } from './support/histories';
import { workflowBundle } from './support/harness';
import { workflowIdFor } from '../src/shared/messages';

/**
 * Every released shape of the workflow must replay without non-determinism: runs last 7–40 days, so
 * code always ships while executions are in flight. test/histories/<version>/ holds histories recorded
 * by that release's own code (RECORD_HISTORIES=1, or scripts/record-legacy-histories.sh for an old
 * commit); every one of them is replayed against the current bundle. test/history-ratchet.test.ts keeps
 * them from being re-recorded in place.
 */
const versions = historyVersionDirs();
const historiesOf = (version: string) =>
  readdirSync(path.join(HISTORIES_DIR, version))
    .filter((f) => f.endsWith('.json'))
    .sort();
const all = versions.flatMap((version) => historiesOf(version).map((file) => `${version}/${file}`));

test('every version directory holds recorded histories', () => {
  expect(versions).toContain('0.1.0');
  expect(versions.filter((version) => historiesOf(version).length === 0)).toEqual([]);
});

/**
 * The run's own workflow ID (`kms-decommission-<store>`, from the request in its first event): 0.2.0
 * checks it at start (one decommission per store), so a replay under another ID would diverge.
 */
function workflowIdOf(history: { events: { workflowExecutionStartedEventAttributes?: { input?: { payloads?: { data?: string }[] } } }[] }): string {
  const data = history.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  const request = JSON.parse(Buffer.from(data ?? '', 'base64').toString('utf8')) as { customKeyStoreId: string };
  return workflowIdFor(request.customKeyStoreId);
}

test.each(all)('replays %s deterministically', async (file) => {
  const history = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowIdOf(history));
});

test('the replayer does catch a history that no longer matches the code', async () => {
  // Negative control: rename the first scheduled activity in a recorded history, as if the code had changed.
  const history = JSON.parse(readFileSync(path.join(HISTORIES_DIR, '0.1.0', 'cloudhsm-completed.json'), 'utf8'));
  const scheduled = history.events.find((e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes);
  scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
  await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'replay-tampered')).rejects.toThrow(/[Nn]ondeterminism|TMPRL1100/);
});
