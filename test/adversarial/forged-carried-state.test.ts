import { randomUUID } from 'node:crypto';
import { WORKFLOW_TYPE_FOR_TESTS } from './support';
import { initialState } from '../../src/workflows/run-state';
import type { LedgerChunk } from '../../src/workflows/ledger';
import { validateDecommissionInput } from '../../src/shared/validation';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, keyState, seedStore } from '../support/scenario';

/**
 * Adversarial: the workflow trusts its second argument ("carried state, never pass it yourself") without
 * checking that the run really is a continue-as-new of itself. Anyone who can start a workflow (a raw
 * `temporal workflow start --input ...`) can pass a forged RunState that is already in SCHEDULING: no
 * approval, no four-eyes, no workflow-ID lock, and keys are scheduled for deletion.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 60_000 } });
});
afterAll(async () => {
  await h?.close();
});

test('a forged "carried" state passed at start schedules deletion with no approval and under a foreign workflow ID', async () => {
  const store = await seedStore(h, { enabled: 2, disabled: 0, bystanders: 0, aliases: false });
  const input = fastInput(store.storeId);
  const cfg = validateDecommissionInput(input).input!;
  const state = { ...initialState(cfg, Date.now()), phase: 'SCHEDULING' as const, policy: { requireApproval: true, allowSelfApproval: false } };
  const chunk: LedgerChunk = {
    arnPrefix: 'arn:aws:kms:us-east-1:111122223333:key/',
    rows: store.keyIds.map((id) => [id, '', 'Enabled', '2', 0, '', 0, 0, '', '', '']),
  };
  // Not the store's workflow ID: the one-run-per-store lock is bypassed too.
  const workflowId = `not-the-store-id-${randomUUID()}`;
  const handle = await h.temporal.workflow.start(WORKFLOW_TYPE_FOR_TESTS, {
    taskQueue: h.taskQueue,
    workflowId,
    args: [input, { schemaVersion: 2, state }, chunk],
  });
  try {
    // The run must fail at start before any KMS call; give it time to do damage if it does not.
    const outcome = await Promise.race([
      handle.result().then(
        () => 'completed',
        (err: Error) => `failed: ${err.message}`,
      ),
      new Promise<string>((r) => setTimeout(() => r('still running'), 8_000)),
    ]);
    const scheduled = (await h.emulator.admin.audit({ operation: 'ScheduleKeyDeletion' })).filter(
      (e) => e.outcome === 'OK' && store.keyIds.includes(e.keyId ?? ''),
    );
    const states = await Promise.all(store.keyIds.map((id) => keyState(h, id)));
    expect({ outcome, scheduled: scheduled.map((e) => e.keyId), states }).toEqual({
      outcome: expect.stringMatching(/^failed/),
      scheduled: [],
      states: store.keyIds.map(() => 'Enabled'),
    });
  } finally {
    await handle.terminate('adversarial test cleanup').catch(() => undefined);
    await eventually(
      async () => (await handle.describe()).status.name,
      (s) => s !== 'RUNNING',
      10_000,
    ).catch(() => undefined);
  }
}, 60_000);
