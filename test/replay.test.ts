import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { HISTORIES_DIR } from './support/histories';
import { workflowBundle } from './support/harness';

/**
 * Every released shape of the workflow must replay without non-determinism: runs last 7–30 days, so
 * code always ships while executions are in flight. Histories were recorded with RECORD_HISTORIES=1.
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

test('recorded histories exist', () => {
  expect(files.length).toBeGreaterThanOrEqual(3);
});

test.each(files)('replays %s deterministically', async (file) => {
  const history = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${file}`);
});

test('the replayer does catch a history that no longer matches the code', async () => {
  // Negative control: rename the first scheduled activity in a recorded history, as if the code had changed.
  const history = JSON.parse(readFileSync(path.join(HISTORIES_DIR, 'cloudhsm-completed.json'), 'utf8'));
  const scheduled = history.events.find((e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes);
  scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
  await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'replay-tampered')).rejects.toThrow(/[Nn]ondeterminism|TMPRL1100/);
});
