import { randomUUID } from 'node:crypto';
import { WORKFLOW_TYPE, workflowIdFor } from '../../src/shared/messages';
import { startHarness, temporalAddress, type Harness } from '../support/harness';
import { runTemporalCli, type CliResult } from '../support/processes';
import { waitForPhase } from '../support/scenario';
import { mutatingFor, proveScheduledOnce } from './helpers/audit';
import { printFigures } from './helpers/figures';
import { seedStoreVia } from './helpers/seed';

/**
 * Bad input through the paths that bypass the client library's own validation: the raw Temporal CLI
 * (`temporal workflow execute --input`) and `temporal workflow update execute` for every update. Each
 * rejection must name the field and the rule, and the emulator's audit log must show that nothing was
 * changed. (Client-library and operator-CLI cases live in test/unit and test/cli; four-eyes through the
 * raw CLI lives in test/security/four-eyes.test.ts.)
 */

let h: Harness;
beforeAll(async () => {
  // DISCONNECTING lasts 60 s, so a run can be held there to try a cancel after disconnect began.
  h = await startHarness({ emulator: { dayMs: 300, disconnectMs: 60_000 } });
});
// A deployment whose approval policy has no approval step (a worker setting): started on first use.
let noApproval: Promise<Harness> | undefined;
const noApprovalHarness = () =>
  (noApproval ??= startHarness({ emulator: { dayMs: 300 }, deps: { policy: { requireApproval: false, allowSelfApproval: false } } }));
afterAll(async () => {
  await h?.close();
  await (await noApproval)?.close();
});

function cli(args: string[]): Promise<CliResult> {
  return runTemporalCli(temporalAddress(), args);
}

/** Runs `work` over `items`, at most `limit` at a time: CLI calls are slow to start but light. */
async function mapLimit<I, O>(items: readonly I[], limit: number, work: (item: I) => Promise<O>): Promise<O[]> {
  const out: O[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]);
      }
    }),
  );
  return out;
}

/** The CLI's output, with the quote escaping of its logfmt error lines undone. */
const text = (r: CliResult) => `${r.stdout}\n${r.stderr}`.replace(/\\"/g, '"');

interface InputCase {
  name: string;
  /** The raw `--input` text. */
  input: string;
  /** Must appear in the CLI's output: the field and the rule. */
  expect: RegExp;
}

const VALID = { customKeyStoreId: 'cks-1234567890abcdef0', requestedBy: 'alice' };
const withField = (extra: Record<string, unknown>) => JSON.stringify({ ...VALID, ...extra });

const INPUT_CASES: InputCase[] = [
  {
    name: 'window 6',
    input: withField({ pendingWindowInDays: 6 }),
    expect: /pendingWindowInDays: must be an integer from 7 to 30 \(KMS waiting period in days\), got number 6/,
  },
  { name: 'window 31', input: withField({ pendingWindowInDays: 31 }), expect: /pendingWindowInDays: must be an integer from 7 to 30 .*got number 31/ },
  { name: 'window "7" (a string)', input: withField({ pendingWindowInDays: '7' }), expect: /pendingWindowInDays: must be an integer from 7 to 30 .*got "7"/ },
  { name: 'window 7.5', input: withField({ pendingWindowInDays: 7.5 }), expect: /pendingWindowInDays: must be an integer from 7 to 30 .*got number 7.5/ },
  {
    name: 'unknown field (typo pendingWindowDays)',
    input: withField({ pendingWindowDays: 7 }),
    expect: /pendingWindowDays: is not a known field \(allowed: customKeyStoreId, requestedBy, pendingWindowInDays/,
  },
  {
    name: 'store ID with spaces',
    input: withField({ customKeyStoreId: 'cks 1234' }),
    expect: /customKeyStoreId: must contain only letters, digits and hyphens .*got "cks 1234"/,
  },
  {
    name: 'store ID of 65 characters',
    input: withField({ customKeyStoreId: `cks-${'a'.repeat(61)}` }),
    expect: /customKeyStoreId: must be at most 64 characters, got 65/,
  },
  { name: 'store ID empty', input: withField({ customKeyStoreId: '' }), expect: /customKeyStoreId: must not be empty/ },
  { name: 'store ID missing', input: JSON.stringify({ requestedBy: 'alice' }), expect: /customKeyStoreId: is required/ },
  { name: 'store ID a number', input: withField({ customKeyStoreId: 1234 }), expect: /customKeyStoreId: must be a string, got number 1234/ },
  { name: 'requestedBy missing', input: JSON.stringify({ customKeyStoreId: VALID.customKeyStoreId }), expect: /requestedBy: is required/ },
  { name: 'requestedBy empty', input: withField({ requestedBy: '   ' }), expect: /requestedBy: must not be empty/ },
  { name: 'requestedBy a number', input: withField({ requestedBy: 42 }), expect: /requestedBy: must be a string, got number 42/ },
  { name: 'requestedBy oversized', input: withField({ requestedBy: 'x'.repeat(300) }), expect: /requestedBy: must be at most 256 characters, got 300/ },
  { name: 'ticket oversized', input: withField({ ticket: 'T'.repeat(129) }), expect: /ticket: must be at most 128 characters, got 129/ },
  { name: 'dryRun "yes"', input: withField({ dryRun: 'yes' }), expect: /dryRun: must be true or false, got "yes"/ },
  {
    name: 'approvalTimeout "2 fortnights"',
    input: withField({ approvalTimeout: '2 fortnights' }),
    expect: /approvalTimeout: must be milliseconds or a duration such as "30s", "1h", "1 day", got "2 fortnights"/,
  },
  { name: 'expectedKeyCount -1', input: withField({ expectedKeyCount: -1 }), expect: /expectedKeyCount: must be an integer from 0 to 100000, got number -1/ },
  {
    name: 'timing.verifyInterval "soon"',
    input: withField({ timing: { verifyInterval: 'soon' } }),
    expect: /timing\.verifyInterval: must be milliseconds or a duration/,
  },
  {
    name: 'timing.storePollInterval 10 ms',
    input: withField({ timing: { storePollInterval: 10 } }),
    expect: /timing\.storePollInterval: must be between 100 ms and 60 days, got number 10/,
  },
  { name: 'timing unknown field', input: withField({ timing: { pollEvery: '1s' } }), expect: /timing\.pollEvery: is not a known field/ },
  {
    name: 'timing.connectionCheckInterval 10 ms',
    input: withField({ timing: { connectionCheckInterval: 10 } }),
    expect: /timing\.connectionCheckInterval: must be between 100 ms and 60 days, got number 10/,
  },
  // The approval policy is the deployment's: a request trying to switch four-eyes off is refused, whatever the value.
  {
    name: 'requireApproval false in the request',
    input: withField({ requireApproval: false }),
    expect: /requireApproval: is the deployment's approval policy, not part of a request \(the worker's DECOMMISSION_REQUIRE_APPROVAL setting decides it\)/,
  },
  {
    name: 'allowSelfApproval true in the request',
    input: withField({ allowSelfApproval: true }),
    expect:
      /allowSelfApproval: is the deployment's approval policy, not part of a request \(the worker's DECOMMISSION_ALLOW_SELF_APPROVAL setting decides it\)/,
  },
  { name: 'input an array', input: '[]', expect: /\(input\): must be a JSON object, got an array/ },
  { name: 'input a bare string', input: '"cks-1234567890abcdef0"', expect: /\(input\): must be a JSON object, got "cks-1234567890abcdef0"/ },
  { name: 'input null', input: 'null', expect: /\(input\): must be a JSON object, got null/ },
  {
    name: 'several problems at once',
    input: JSON.stringify({ customKeyStoreId: 'cks 1', requestedBy: '', pendingWindowInDays: 31 }),
    expect: /customKeyStoreId: .*; requestedBy: must not be empty; pendingWindowInDays: must be an integer/,
  },
];

test(`raw Temporal CLI --input: ${INPUT_CASES.length} invalid inputs fail the run naming the field and the rule, and change nothing`, async () => {
  const before = await h.emulator.admin.audit();
  const results = await mapLimit(INPUT_CASES, 4, async (c) => {
    const workflowId = `raw-input-${randomUUID()}`;
    const r = await cli(['workflow', 'execute', '--type', WORKFLOW_TYPE, '--task-queue', h.taskQueue, '--workflow-id', workflowId, '--input', c.input]);
    return { c, r };
  });
  const failures: string[] = [];
  for (const { c, r } of results) {
    if (r.code === 0) failures.push(`${c.name}: the CLI exited 0`);
    else if (!/Invalid decommission input, nothing was changed/.test(text(r)))
      failures.push(`${c.name}: no "Invalid decommission input" in ${text(r).slice(0, 600)}`);
    else if (!c.expect.test(text(r))) failures.push(`${c.name}: expected ${c.expect} in ${text(r).slice(0, 600)}`);
  }
  expect(failures).toEqual([]);
  // Validation happens before the preflight: not a single KMS call, let alone a mutating one.
  expect((await h.emulator.admin.audit()).length).toBe(before.length);
  printFigures('bad-input/raw-cli-input', { cases: INPUT_CASES.length, rejectedWithFieldAndRule: INPUT_CASES.length - failures.length, kmsCalls: 0 });
}, 120_000);

test('raw Temporal CLI: non-JSON input is refused by the CLI itself and starts nothing; an unknown store fails in preflight, changing nothing', async () => {
  const workflowId = `raw-input-${randomUUID()}`;
  const nonJson = await cli([
    'workflow',
    'start',
    '--type',
    WORKFLOW_TYPE,
    '--task-queue',
    h.taskQueue,
    '--workflow-id',
    workflowId,
    '--input',
    '{customKeyStoreId: cks-1',
  ]);
  expect(nonJson.code).not.toBe(0);
  expect(text(nonJson)).toMatch(/input #1 is not valid JSON/);
  const describe = await cli(['workflow', 'describe', '--workflow-id', workflowId]);
  expect(describe.code).not.toBe(0);
  expect(text(describe)).toMatch(/not found/i);

  const before = await h.emulator.admin.audit();
  const unknown = 'cks-0123456789abcdef9';
  const r = await cli([
    'workflow',
    'execute',
    '--type',
    WORKFLOW_TYPE,
    '--task-queue',
    h.taskQueue,
    '--workflow-id',
    workflowIdFor(unknown),
    '--input',
    JSON.stringify({ customKeyStoreId: unknown, requestedBy: 'alice' }),
  ]);
  expect(r.code).not.toBe(0);
  expect(text(r)).toMatch(
    new RegExp(`failed in VALIDATING: (DescribeCustomKeyStores \\S+: )?CustomKeyStoreNotFoundException: .*${unknown}.*Nothing was changed in KMS`),
  );
  const calls = (await h.emulator.admin.audit()).slice(before.length);
  expect(calls.map((e) => `${e.operation}:${e.outcome}`)).toEqual(['DescribeCustomKeyStores:CustomKeyStoreNotFoundException']);
}, 60_000);

interface UpdateCase {
  name: string;
  update: string;
  /** `--input` text; undefined = no input at all. */
  input?: string;
  expect: RegExp;
}

async function rejectAll(workflowId: string, cases: UpdateCase[]): Promise<string[]> {
  const failures: string[] = [];
  const results = await mapLimit(cases, 4, async (c) => {
    const args = ['workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', c.update];
    if (c.input !== undefined) args.push('--input', c.input);
    return { c, r: await cli(args) };
  });
  for (const { c, r } of results) {
    if (r.code === 0) failures.push(`${c.name}: accepted`);
    else if (!c.expect.test(text(r))) failures.push(`${c.name}: expected ${c.expect} in ${text(r).slice(0, 400)}`);
  }
  return failures;
}

test('raw Temporal CLI updates: every malformed or ill-timed approve, cancel and resolve is rejected with the field and the rule, and changes nothing', async () => {
  const store = await seedStoreVia(h.emulator.admin, { enabled: 3, disabled: 1 });
  const workflowId = workflowIdFor(store.storeId);
  await h.decommissions.startDecommission({
    customKeyStoreId: store.storeId,
    requestedBy: 'alice',
    pendingWindowInDays: 7,
    timing: { storePollInterval: 100, driftCheckInterval: 500, verifyInterval: 200, verifyPatience: '60s' },
  });
  await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');

  const awaiting: UpdateCase[] = [
    {
      name: 'approve: approver a number',
      update: 'approve',
      input: '{"approver":42}',
      expect: /Invalid approve request: approver: must be a string, got number 42/,
    },
    { name: 'approve: approver missing', update: 'approve', input: '{"comment":"ok"}', expect: /Invalid approve request: approver: is required/ },
    { name: 'approve: approver empty', update: 'approve', input: '{"approver":""}', expect: /Invalid approve request: approver: must not be empty/ },
    {
      name: 'approve: comment oversized',
      update: 'approve',
      input: JSON.stringify({ approver: 'bob', comment: 'c'.repeat(1_025) }),
      expect: /comment: must be at most 1024 characters, got 1025/,
    },
    {
      name: 'approve: unknown field',
      update: 'approve',
      input: '{"approver":"bob","ticket":"CHG-1"}',
      expect: /Invalid approve request: ticket: is not a known field \(allowed: approver, comment, acknowledgeRecentlyUsedKeys, signature\)/,
    },
    {
      name: 'approve: a bare string',
      update: 'approve',
      input: '"bob"',
      expect: /Invalid approve request: \(approve\): must be a JSON object like \{"approver":"bob"\}, got "bob"/,
    },
    { name: 'approve: no input', update: 'approve', expect: /Invalid approve request: \(approve\): must be a JSON object/ },
    { name: 'approve: non-JSON input', update: 'approve', input: '{approver: bob}', expect: /input #1 is not valid JSON/ },
    { name: 'unknown update name', update: 'approv', input: '{"approver":"bob"}', expect: /No registered handler for update: approv/ },
    { name: 'cancel: reason missing', update: 'cancel', input: '{"by":"bob"}', expect: /Invalid cancel request: reason: is required/ },
    { name: 'cancel: by empty', update: 'cancel', input: '{"by":"","reason":"x"}', expect: /Invalid cancel request: by: must not be empty/ },
    {
      name: 'resolve: unknown action',
      update: 'resolve',
      input: '{"by":"bob","action":"explode","blockerId":"STEP_FAILED-1"}',
      expect: /Invalid resolve request: action: must be one of schedule-new-keys, reschedule, reconnect, proceed, keep-waiting, retry, got "explode"/,
    },
    {
      name: 'resolve: action missing',
      update: 'resolve',
      input: '{"by":"bob","blockerId":"STEP_FAILED-1"}',
      expect: /Invalid resolve request: action: is required/,
    },
    {
      name: 'resolve: blockerId missing',
      update: 'resolve',
      input: '{"by":"bob","action":"retry"}',
      expect: /Invalid resolve request: blockerId: is required: the id of the blocker this decision answers \(status\.blocker\.id, e\.g\. "CONNECT_FAILED-1"\)/,
    },
    {
      name: 'resolve: blockerId malformed',
      update: 'resolve',
      input: '{"by":"bob","action":"retry","blockerId":"step failed"}',
      expect: /Invalid resolve request: blockerId: must look like KIND-n \(e\.g\. "CONNECT_FAILED-1"\), got "step failed"/,
    },
    {
      name: 'resolve: when not blocked',
      update: 'resolve',
      input: '{"by":"bob","action":"retry","blockerId":"STEP_FAILED-1"}',
      expect: /resolve is only accepted while BLOCKED; this run is in AWAITING_APPROVAL/,
    },
  ];
  const failures = await rejectAll(workflowId, awaiting);
  expect(failures).toEqual([]);
  expect(mutatingFor(await h.emulator.admin.audit(), store.storeId, store.keyIds)).toEqual([]);

  // Approved once; a second approval is rejected and schedules nothing more.
  const approve = await cli(['workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'approve', '--input', '{"approver":"bob"}']);
  expect(approve.code).toBe(0);
  expect(text(approve)).toMatch(/Approved by bob/);
  const second: UpdateCase[] = [{ name: 'second approval', update: 'approve', input: '{"approver":"dave"}', expect: /Already approved by bob/ }];
  expect(await rejectAll(workflowId, second)).toEqual([]);

  // Held in DISCONNECTING (60 s in this emulator): too late to cancel, nothing to resolve, wrong phase to approve.
  await waitForPhase(h, store.storeId, 'DISCONNECTING', 60_000);
  const disconnecting: UpdateCase[] = [
    {
      name: 'cancel after disconnect began',
      update: 'cancel',
      input: '{"by":"bob","reason":"changed my mind"}',
      expect: /cancel is refused in phase DISCONNECTING: every key of the store is already deleted/,
    },
    {
      name: 'resolve in DISCONNECTING',
      update: 'resolve',
      input: '{"by":"bob","action":"retry","blockerId":"DISCONNECT_FAILED-1"}',
      expect: /resolve is only accepted while BLOCKED; this run is in DISCONNECTING/,
    },
  ];
  expect(await rejectAll(workflowId, disconnecting)).toEqual([]);
  const seqAtRejection = Math.max(...(await h.emulator.admin.audit()).map((e) => e.seq));
  await h.emulator.admin.setStoreState(store.storeId, { connectionState: 'DISCONNECTED' });
  const report = await h.decommissions.getReport(store.storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED');
  const audit = await h.emulator.admin.audit();
  // The rejected cancel rolled nothing back; the rejected second approval scheduled nothing twice.
  expect(audit.filter((e) => e.seq > seqAtRejection && (e.operation === 'CancelKeyDeletion' || e.operation === 'EnableKey'))).toEqual([]);
  const proof = proveScheduledOnce(audit, store.keyIds);
  expect(proof.duplicates).toEqual([]);
  expect(proof.missing).toEqual([]);

  const closed: UpdateCase[] = [
    { name: 'update after the run completed', update: 'approve', input: '{"approver":"erin"}', expect: /workflow execution already completed/i },
  ];
  expect(await rejectAll(workflowId, closed)).toEqual([]);
  printFigures('bad-input/raw-cli-updates', { cases: awaiting.length + second.length + disconnecting.length + closed.length, mutatingCallsFromRejected: 0 });
}, 120_000);

test('raw Temporal CLI: approve in the wrong phase (a deployment without an approval step) is rejected', async () => {
  const g = await noApprovalHarness();
  const store = await seedStoreVia(g.emulator.admin, { enabled: 2 });
  await g.decommissions.startDecommission({
    customKeyStoreId: store.storeId,
    requestedBy: 'alice',
    pendingWindowInDays: 30,
    timing: { storePollInterval: 100, driftCheckInterval: '60s', verifyInterval: 200, verifyPatience: '60s' },
  });
  await waitForPhase(g, store.storeId, 'WAITING');
  const failures = await rejectAll(workflowIdFor(store.storeId), [
    {
      name: 'approve while WAITING',
      update: 'approve',
      input: '{"approver":"bob"}',
      expect: /approve is only accepted in phase AWAITING_APPROVAL; this run is in WAITING/,
    },
  ]);
  expect(failures).toEqual([]);
  expect((await g.decommissions.getStatus(store.storeId)).approvedBy).toBeUndefined();
  await g.decommissions.cancel(store.storeId, { by: 'alice', reason: 'test cleanup' });
  expect((await g.decommissions.getReport(store.storeId, { wait: true })).outcome).toBe('CANCELLED');
}, 60_000);
