import { DecommissionNotFoundError } from '../../src/client';
import type { AuditEntry } from '../../src/emulator';
import { startHarness, type Harness } from '../support/harness';
import { seedStore, type SeededStore } from '../support/scenario';
import { buildProgram } from '../../src/cli/program';
import { mapLimit, runCli, type CliResult } from './cli-process';

// Every case must exit 2 with one line on stderr naming the field (or flag) and the rule, and must leave no
// trace: no workflow, no KMS call at all (a worker polls the task queue, so anything started would show).

let h: Harness;
let store: SeededStore;
const results = new Map<string, CliResult & { mutatingAfter: AuditEntry[] }>();

interface BadCase {
  name: string;
  args: (storeId: string, taskQueue: string) => string[];
  /** Every fragment must appear in the error line. */
  expect: (string | RegExp)[];
  /** Environment of the CLI process (e.g. the deployment's DECOMMISSION_MIN_QUIET_PERIOD). */
  env?: Record<string, string>;
}

/** The default minimum quiet period (1 day) whatever the developer's shell sets: empty means unset. */
const DEFAULT_MIN_QUIET = { DECOMMISSION_MIN_QUIET_PERIOD: '' };

const input = (storeId: string, extra: Record<string, unknown>) => JSON.stringify({ customKeyStoreId: storeId, requestedBy: 'alice', ...extra });

const CASES: BadCase[] = [
  { name: 'missing --store', args: (_s, tq) => ['start', '--requested-by', 'alice', '--task-queue', tq], expect: ['customKeyStoreId (--store): is required'] },
  {
    name: 'window 6 via --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--input', input(s, { pendingWindowInDays: 6 })],
    expect: ['in --input', 'pendingWindowInDays: must be an integer from 7 to 30', 'got number 6'],
  },
  {
    name: 'window 31 via --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--input', input(s, { pendingWindowInDays: 31 })],
    expect: ['pendingWindowInDays: must be an integer from 7 to 30', 'got number 31'],
  },
  {
    name: 'window "7" (a string) via --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--input', input(s, { pendingWindowInDays: '7' })],
    expect: ['pendingWindowInDays: must be an integer from 7 to 30', 'got "7"'],
  },
  {
    name: 'window 7.5 via --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--input', input(s, { pendingWindowInDays: 7.5 })],
    expect: ['pendingWindowInDays: must be an integer from 7 to 30', 'got number 7.5'],
  },
  {
    name: '--window 7.5',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--window', '7.5', '--task-queue', tq],
    expect: ['--window <days>', 'must be an integer, got "7.5"'],
  },
  {
    name: '--window abc',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--window', 'abc', '--task-queue', tq],
    expect: ['--window <days>', 'must be an integer, got "abc"'],
  },
  {
    name: '--window 6',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--window', '6', '--task-queue', tq],
    expect: ['pendingWindowInDays (--window): must be an integer from 7 to 30', 'got number 6'],
  },
  {
    name: 'store with spaces',
    args: (s, tq) => ['start', '--store', `${s} x`, '--requested-by', 'alice', '--task-queue', tq],
    expect: ['customKeyStoreId (--store): must contain only letters, digits and hyphens'],
  },
  {
    name: '65-character store',
    args: (_s, tq) => ['start', '--store', `cks-${'a'.repeat(61)}`, '--requested-by', 'alice', '--task-queue', tq],
    expect: ['customKeyStoreId (--store): must be at most 64 characters, got 65'],
  },
  {
    name: 'blank --requested-by',
    args: (s, tq) => ['start', '--store', s, '--requested-by', '  ', '--task-queue', tq],
    expect: ['requestedBy (--requested-by): must not be empty'],
  },
  {
    name: 'bad --timing-verify-interval',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--timing-verify-interval', 'soon', '--task-queue', tq],
    expect: ['timing.verifyInterval (--timing-verify-interval): must be milliseconds or a duration', 'got "soon"'],
  },
  {
    name: 'unknown field in --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--input', input(s, { wndow: 7 })],
    expect: ['wndow: is not a known field', 'allowed: customKeyStoreId'],
  },
  {
    name: 'non-JSON --input',
    args: (_s, tq) => ['start', '--task-queue', tq, '--input', "{customKeyStoreId: 'cks-1'}"],
    expect: ['--input is not valid JSON:'],
  },
  {
    name: 'JSON array as --input',
    args: (_s, tq) => ['start', '--task-queue', tq, '--input', '[1]'],
    expect: ['(input): must be a JSON object, got an array'],
  },
  {
    name: 'missing --input-file',
    args: (_s, tq) => ['start', '--task-queue', tq, '--input-file', '/nonexistent/request.json'],
    expect: ['cannot read --input-file /nonexistent/request.json: ENOENT'],
  },
  {
    name: '--input with --store',
    args: (s, tq) => ['start', '--task-queue', tq, '--store', s, '--input', input(s, {})],
    expect: ["option '--input <json>' cannot be used with option '--store <id>'"],
  },
  {
    name: 'bad --timing-connection-check-interval',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--timing-connection-check-interval', '50ms', '--task-queue', tq],
    expect: ['timing.connectionCheckInterval (--timing-connection-check-interval): must be between 100 ms and 60 days', 'got "50ms"'],
  },
  // Usage evidence (issue 11): the quiet period's bounds, the recent-use window and the watch, by flag name.
  {
    name: '--quiet-period 2h (below the 1-day minimum)',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--quiet-period', '2h', '--task-queue', tq],
    expect: ['quietPeriod (--quiet-period): must be between 1d and 90d', 'got "2h"'],
    env: DEFAULT_MIN_QUIET,
  },
  {
    name: '--quiet-period 91d (above 90 days)',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--quiet-period', '91d', '--task-queue', tq],
    expect: ['quietPeriod (--quiet-period): must be between 1d and 90d', 'got "91d"'],
    env: DEFAULT_MIN_QUIET,
  },
  {
    name: '--quiet-period 30m below the deployment minimum of 1h',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--quiet-period', '30m', '--task-queue', tq],
    expect: ["quietPeriod (--quiet-period): must be between 1h and 90d (this deployment's minimum)", 'got "30m"'],
    env: { DECOMMISSION_MIN_QUIET_PERIOD: '1h' },
  },
  {
    name: 'invalid DECOMMISSION_MIN_QUIET_PERIOD',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--quiet-period', '2d', '--task-queue', tq],
    expect: ['DECOMMISSION_MIN_QUIET_PERIOD must be a duration greater than 0 and at most 90d', 'got "soon"'],
    env: { DECOMMISSION_MIN_QUIET_PERIOD: 'soon' },
  },
  {
    name: '--quiet-period with --no-watch-usage',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--quiet-period', '2d', '--no-watch-usage', '--task-queue', tq],
    expect: ['watchUsage (--no-watch-usage): must not be false with a quietPeriod'],
    env: DEFAULT_MIN_QUIET,
  },
  {
    name: 'bad --recent-use-window',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--recent-use-window', 'often', '--task-queue', tq],
    expect: ['recentUseWindow (--recent-use-window): must be milliseconds or a duration', 'got "often"'],
  },
  {
    name: '--recent-use-window 30m (below 1 hour)',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--recent-use-window', '30m', '--task-queue', tq],
    expect: ['recentUseWindow (--recent-use-window): must be between 3600000 ms and 365 days', 'got "30m"'],
  },
  {
    name: 'bad usage timings',
    args: (s, tq) => [
      'start',
      '--store',
      s,
      '--requested-by',
      'alice',
      '--timing-usage-check-interval',
      '50ms',
      '--timing-cloudtrail-delivery-lag',
      'late',
      '--task-queue',
      tq,
    ],
    expect: [
      'timing.usageCheckInterval (--timing-usage-check-interval): must be between 100 ms and 60 days, got "50ms"',
      'timing.cloudTrailDeliveryLag (--timing-cloudtrail-delivery-lag): must be milliseconds or a duration',
    ],
  },
  {
    name: 'approve with a negative --acknowledge-recently-used-keys',
    args: (s) => ['approve', s, '--approver', 'bob', '--acknowledge-recently-used-keys', '-1'],
    expect: ["option '--acknowledge-recently-used-keys <n>' argument '-1' is invalid", 'must be an integer from 0'],
  },
  // The approval policy is the deployment's (the worker's environment), never the request's.
  {
    name: '--no-approval',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--no-approval', '--task-queue', tq],
    expect: ['--no-approval is no longer a start option', "the approval policy is the deployment's", 'DECOMMISSION_REQUIRE_APPROVAL=false'],
  },
  {
    name: '--allow-self-approval',
    args: (s, tq) => ['start', '--store', s, '--requested-by', 'alice', '--allow-self-approval', '--task-queue', tq],
    expect: ['--allow-self-approval is no longer a start option', 'DECOMMISSION_ALLOW_SELF_APPROVAL=true'],
  },
  {
    name: '--no-approval with --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--no-approval', '--input', input(s, {})],
    expect: ['--no-approval is no longer a start option', 'DECOMMISSION_REQUIRE_APPROVAL'],
  },
  {
    name: 'requireApproval in --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--input', input(s, { requireApproval: false })],
    expect: ["requireApproval: is the deployment's approval policy, not part of a request", 'DECOMMISSION_REQUIRE_APPROVAL'],
  },
  {
    name: 'allowSelfApproval in --input',
    args: (s, tq) => ['start', '--task-queue', tq, '--input', input(s, { allowSelfApproval: true })],
    expect: ["allowSelfApproval: is the deployment's approval policy", 'DECOMMISSION_ALLOW_SELF_APPROVAL'],
  },
  {
    name: 'resolve without --blocker',
    args: (s) => ['resolve', s, '--by', 'bob', '--action', 'reconnect'],
    expect: ["required option '--blocker <id>' not specified"],
  },
  {
    name: 'resolve with a malformed --blocker',
    args: (s) => ['resolve', s, '--blocker', 'connect-failed', '--by', 'bob', '--action', 'reconnect'],
    expect: ['blockerId (--blocker): must look like KIND-n (e.g. "CONNECT_FAILED-1"), got "connect-failed"'],
  },
  { name: 'empty --approver', args: (s) => ['approve', s, '--approver', ''], expect: ['approver (--approver): must not be empty'] },
  { name: 'approve without --approver', args: (s) => ['approve', s], expect: ["required option '--approver <name>' not specified"] },
  { name: 'cancel with a blank --reason', args: (s) => ['cancel', s, '--by', 'bob', '--reason', ' '], expect: ['reason (--reason): must not be empty'] },
  { name: 'store argument with spaces', args: () => ['status', 'cks 123'], expect: ["argument 'store'", 'must contain only letters, digits and hyphens'] },
  { name: 'unknown --phase', args: () => ['list', '--phase', 'DONE'], expect: ['--phase <phase>', 'Allowed choices are VALIDATING'] },
  { name: 'unknown command', args: () => ['decomission', '--store', 'cks-1'], expect: ["unknown command 'decomission'"] },
  { name: 'unknown option', args: (s) => ['status', s, '--verbose'], expect: ["unknown option '--verbose'"] },
];

beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: 1_000 } });
  store = await seedStore(h, { enabled: 3, disabled: 1 });
  // Two at a time: each case is a fresh Node process loading ts-node.
  await mapLimit(CASES, 2, async (c) => {
    const result = await runCli(c.args(store.storeId, h.taskQueue), { env: c.env });
    // Audited right after the case: anything mutating by then would be this case's or an earlier one's.
    const mutatingAfter = (await h.emulator.admin.audit()).filter((e) => e.mutating);
    results.set(c.name, { ...result, mutatingAfter });
  });
});

afterAll(async () => {
  await h?.close();
});

describe('bad input through the CLI: exit 2, the field and the rule, nothing reaches Temporal or KMS', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = results.get(c.name) as CliResult & { mutatingAfter: AuditEntry[] };
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
    expect(result.mutatingAfter).toEqual([]);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    for (const fragment of c.expect) expect(lines[0]).toEqual(expect.stringContaining(fragment as string));
  });

  test('no workflow was started and the emulator saw no call (zero mutating calls)', async () => {
    await expect(h.decommissions.getStatus(store.storeId)).rejects.toThrow(DecommissionNotFoundError);
    const audit = await h.emulator.admin.audit();
    expect(audit.filter((e) => e.mutating)).toEqual([]);
    expect(audit.filter((e) => e.customKeyStoreId === store.storeId)).toEqual([]);
  });

  test('--help works for every command and shows examples', async () => {
    const program = await runCli(['--help']);
    expect(program.code).toBe(0);
    expect(program.stdout).toContain('Examples:');
    expect(program.stdout).toContain('Exit codes:');
    // Subcommands in-process (same commander program as the binary): a process each would add seconds.
    for (const command of ['start', 'status', 'approve', 'cancel', 'resolve', 'list', 'report', 'watch']) {
      let out = '';
      const cli = buildProgram({ writeOut: (text) => (out += text), writeErr: (text) => (out += text) });
      await expect(cli.parseAsync(['node', 'kms-decommission', command, '--help'])).rejects.toMatchObject({ code: 'commander.helpDisplayed', exitCode: 0 });
      expect(out).toContain(`Usage: kms-decommission ${command}`);
      expect(out).toContain('Examples:');
      expect(out).toContain('kms-decommission ' + command);
    }
  });
});
