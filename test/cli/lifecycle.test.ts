import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { freePort } from '../../src/devtools/temporal-dev-server';
import { type DecommissionReport, type DecommissionStatus, type DecommissionSummary } from '../../src/client';
import { watchDecommission } from '../../src/cli/watch';
import { eventually, startHarness, type Harness } from '../support/harness';
import { fastInput, mutatingCalls, seedStore, waitForPhase } from '../support/scenario';
import { cliEnv, mapLimit, REPO_ROOT, runCli, spawnCli } from './cli-process';

const DAY_MS = 300; // a 7-day window lasts 2.1 s

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: DAY_MS } });
});
afterAll(async () => {
  await h?.close();
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs a command line as an operator's shell would, from the clone (for commands the CLI printed). */
function runShell(command: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd: REPO_ROOT, env: cliEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr });
    });
  });
}

/** Fast timings as flags, the way an operator would pass them. */
function fastFlags(): string[] {
  return [
    '--timing-store-poll-interval',
    '100ms',
    '--timing-drift-check-interval',
    '500',
    '--timing-verify-interval',
    '200',
    '--timing-verify-patience',
    '20s',
  ];
}

describe('operator CLI against the dev server', () => {
  test('full lifecycle: start → status/list → approve by a second person → BLOCKED → resolve → watch until COMPLETED → report', async () => {
    // A DISCONNECTED CloudHSM store started with --no-reconnect: after approval the run blocks for a decision.
    const store = await seedStore(h, { enabled: 4, disabled: 1, connectionState: 'DISCONNECTED' });
    const started = await runCli([
      'start',
      '--store',
      store.storeId,
      '--requested-by',
      'alice',
      '--window',
      '7',
      '--ticket',
      'CHG-1042',
      '--no-reconnect',
      '--task-queue',
      h.taskQueue,
      ...fastFlags(),
    ]);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(`Started decommission of ${store.storeId}: workflow kms-decommission-${store.storeId}`);
    expect(started.stdout).toContain('After the inventory it waits for approval by someone other than alice');
    expect(started.stdout).toContain(`\n  npm run kms-decommission -- approve ${store.storeId} --approver "$USER"\n`);
    expect(started.stdout).toContain(`Follow it: npm run kms-decommission -- watch ${store.storeId}\n`);

    // Watch from the start, as an operator would, in a separate process (stdout is a pipe: one line per change).
    const watch = spawnCli(['watch', store.storeId, '--interval', '200'], { timeoutMs: 90_000 });
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');

    const [status, human] = await mapLimit(
      [
        ['status', store.storeId, '--json'],
        ['status', `kms-decommission-${store.storeId}`],
      ],
      2,
      (args) => runCli(args),
    );
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as DecommissionStatus;
    expect(parsed).toMatchObject({
      customKeyStoreId: store.storeId,
      phase: 'AWAITING_APPROVAL',
      requestedBy: 'alice',
      ticket: 'CHG-1042',
      counts: { inventoried: 5, toSchedule: 5 },
    });
    expect(human.stdout).toMatch(/^Phase +AWAITING_APPROVAL$/m);
    expect(human.stdout).toMatch(/^Next +Approval by someone other than alice/m);

    // Visibility is eventually consistent: the phase search attribute shows up shortly after the change.
    const listed = await eventually(
      async () => JSON.parse((await runCli(['list', '--phase', 'AWAITING_APPROVAL', '--store', store.storeId, '--json'])).stdout) as DecommissionSummary[],
      (rows) => rows.length === 1,
      20_000,
      'list --phase AWAITING_APPROVAL',
    );
    expect(listed[0]).toMatchObject({
      workflowId: `kms-decommission-${store.storeId}`,
      customKeyStoreId: store.storeId,
      phase: 'AWAITING_APPROVAL',
      status: 'RUNNING',
    });
    const table = await runCli(['list', '--phase', 'AWAITING_APPROVAL', '--running']);
    expect(table.stdout).toMatch(new RegExp(`^kms-decommission-${store.storeId} +${store.storeId} +AWAITING_APPROVAL +RUNNING`, 'm'));

    const approved = await runCli(['approve', store.storeId, '--approver', 'bob', '--comment', 'CAB-77 approved']);
    expect(approved).toMatchObject({ code: 0, stderr: '' });
    expect(approved.stdout).toContain('approve accepted (phase AWAITING_APPROVAL): Approved by bob: scheduling 5 keys for deletion');

    await waitForPhase(h, store.storeId, 'BLOCKED');
    const blocked = await runCli(['status', store.storeId]);
    expect(blocked.stdout).toMatch(/^Phase +BLOCKED \(in CONNECTING\)$/m);
    expect(blocked.stdout).toMatch(/^Approval policy +approval required; deletion decisions by someone other than the requester \(four-eyes\)$/m);
    expect(blocked.stdout).toMatch(/^Blocked +STORE_NOT_CONNECTED-1 since \S+: Store is DISCONNECTED and reconnect=false/m);
    // One runnable command per allowed action, naming the blocker; then the cancel command.
    const resolveCommand = (action: string) =>
      `npm run kms-decommission -- resolve ${store.storeId} --blocker STORE_NOT_CONNECTED-1 --action ${action} --by "$USER"`;
    expect(blocked.stdout).toMatch(
      new RegExp(`^Resolve with +${escapeRegExp(resolveCommand('reconnect'))}\n +${escapeRegExp(resolveCommand('proceed'))}$`, 'm'),
    );
    expect(blocked.stdout).toMatch(
      new RegExp(`^Or cancel +${escapeRegExp(`npm run kms-decommission -- cancel ${store.storeId} --by "$USER" --reason "<why>"`)}$`, 'm'),
    );
    expect(await mutatingCalls(h, store)).toEqual([]);

    // A resolve naming another blocker is rejected (exit 3) and changes nothing.
    const stale = await runCli(['resolve', store.storeId, '--blocker', 'STORE_NOT_CONNECTED-2', '--by', 'bob', '--action', 'reconnect']);
    expect(stale.code).toBe(3);
    expect(stale.stderr).toMatch(/^error: resolve rejected: resolve names blocker STORE_NOT_CONNECTED-2, but the run is blocked on STORE_NOT_CONNECTED-1/);
    expect((await h.decommissions.getStatus(store.storeId)).blocker?.id).toBe('STORE_NOT_CONNECTED-1');

    // The printed command runs as printed, from the clone, by bob's shell.
    const printed = await runShell(`${resolveCommand('reconnect')} --comment "store back online"`, { USER: 'bob' });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('resolve accepted (phase BLOCKED): Resolved STORE_NOT_CONNECTED-1 with reconnect');

    const watched = await watch.done;
    expect(watched.stderr).toBe('');
    expect(watched.code).toBe(0);
    const lines = watched.stdout.split('\n');
    expect(lines.some((l) => / AWAITING_APPROVAL · scheduled 0\/5 keys · deleted 0\/5/.test(l))).toBe(true);
    expect(lines.some((l) => / BLOCKED · scheduled 0\/5 keys/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {2}BLOCKED \(STORE_NOT_CONNECTED-1, in CONNECTING\): Store is DISCONNECTED /.test(l))).toBe(true);
    expect(lines).toContain(`    ${resolveCommand('reconnect')}`);
    expect(lines).toContain(`    ${resolveCommand('proceed')}`);
    expect(lines.some((l) => / WAITING · scheduled 5\/5 keys \(\d+\.\d calls\/s\) · deleted 0\/5 · last DeletionDate \S+ \((in \S+|now)\)/.test(l))).toBe(true);
    expect(lines.some((l) => / COMPLETED$/.test(l))).toBe(true);
    expect(watched.stdout).toContain(`COMPLETED: decommission of ${store.storeId} (AWS_CLOUDHSM)`);
    expect(watched.stdout).toContain('keys: 5 in store, 5 scheduled by this run, 0 already pending, 5 confirmed deleted, 0 rolled back');
    expect(watched.stdout).toContain('approved by bob');
    expect(watched.stdout).toContain('resolved by bob');
    expect(watched.stdout).not.toContain('\x1b['); // no terminal control sequences on a pipe

    const [report, json] = await mapLimit(
      [
        ['report', store.storeId, '--format', 'markdown'],
        ['report', store.storeId, '--format', 'json'],
      ],
      2,
      (args) => runCli(args),
    );
    expect(report.code).toBe(0);
    expect(report.stdout).toContain(`# Decommission of KMS custom key store \`${store.storeId}\`: COMPLETED`);
    expect(report.stdout).toContain('- Ticket: CHG-1042');
    for (const keyId of store.keyIds) expect(report.stdout).toMatch(new RegExp(`\\| \`arn:aws:kms:[^|]+:key/${keyId}\` \\|`));
    expect((JSON.parse(json.stdout) as DecommissionReport).counts).toMatchObject({ scheduled: 5, deleted: 5 });
  });

  test('four-eyes: approval by the requester exits 3; resolve checks; cancel ends the run CANCELLED with nothing changed', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 1 });
    const started = await runCli(['start', '--input', JSON.stringify(fastInput(store.storeId, { ticket: 'CHG-2' })), '--task-queue', h.taskQueue]);
    expect(started.code).toBe(0);
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');

    // Independent checks, two processes at a time.
    const [again, failIfRunning, self, unknownAction, notBlocked, early] = await mapLimit(
      [
        ['start', '--store', store.storeId, '--requested-by', 'carol', '--task-queue', h.taskQueue],
        ['start', '--store', store.storeId, '--requested-by', 'carol', '--task-queue', h.taskQueue, '--fail-if-running'],
        ['approve', store.storeId, '--approver', 'Alice'],
        ['resolve', store.storeId, '--blocker', 'STEP_FAILED-1', '--by', 'bob', '--action', 'explode'],
        ['resolve', store.storeId, '--blocker', 'STEP_FAILED-1', '--by', 'bob', '--action', 'retry'],
        ['report', store.storeId],
      ],
      2,
      (args) => runCli(args),
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`A decommission of ${store.storeId} is already running`);
    expect(failIfRunning.code).toBe(5);
    expect(failIfRunning.stderr).toMatch(/^error: A decommission of this store is already running: workflow kms-decommission-/);

    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(/^error: approve rejected: Four-eyes rule: approver "Alice" requested this decommission; another person must approve/);
    expect(self.stderr.trimEnd().split('\n')).toHaveLength(1);

    expect(unknownAction.code).toBe(2);
    expect(unknownAction.stderr).toContain(
      'action (--action): must be one of schedule-new-keys, reschedule, reconnect, proceed, keep-waiting, retry, got "explode"',
    );
    expect(notBlocked.code).toBe(3);
    expect(notBlocked.stderr).toContain('resolve rejected: resolve is only accepted while BLOCKED; this run is in AWAITING_APPROVAL');

    expect(early.code).toBe(1);
    expect(early.stderr).toContain('is still running (phase AWAITING_APPROVAL); pass --wait');

    expect(await mutatingCalls(h, store)).toEqual([]);

    // Ctrl-C stops watching, not the decommission.
    const interrupted = spawnCli(['watch', store.storeId, '--interval', '200']);
    await eventually(
      async () => interrupted.stdout(),
      (out) => out.includes('AWAITING_APPROVAL'),
      20_000,
      'first watch line',
    );
    interrupted.child.kill('SIGINT');
    const stopped = await interrupted.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toBe('error: stopped watching; the decommission goes on\n');
    expect((await h.decommissions.getStatus(store.storeId)).phase).toBe('AWAITING_APPROVAL');

    const watch = spawnCli(['watch', store.storeId, '--interval', '200']);
    const cancelled = await runCli(['cancel', store.storeId, '--by', 'bob', '--reason', 'wrong store']);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain('cancel accepted (phase AWAITING_APPROVAL): Cancelling: nothing was changed in KMS');
    const watched = await watch.done;
    expect(watched.code).toBe(10);
    expect(watched.stdout).toContain(`CANCELLED: decommission of ${store.storeId}`);
    expect(watched.stdout).toContain('cancelled by bob');

    expect((await h.decommissions.getStatus(store.storeId)).phase).toBe('CANCELLED');
    const [reportRun, late] = await mapLimit(
      [
        ['report', store.storeId, '--format', 'json'],
        ['cancel', store.storeId, '--by', 'bob', '--reason', 'again'],
      ],
      2,
      (args) => runCli(args),
    );
    const report = JSON.parse(reportRun.stdout) as DecommissionReport;
    expect(report.outcome).toBe('CANCELLED');
    expect(report.decisions.map((d) => `${d.what}:${d.by}`)).toEqual(['requested:alice', 'cancelled:bob']);
    expect(late.code).toBe(3);
    expect(late.stderr).toBe('error: cancel rejected: the run already ended in CANCELLED\n');
    expect(await mutatingCalls(h, store)).toEqual([]);
  });

  test('watch exits 11 when the run FAILS (expected-key guardrail), with the reason', async () => {
    const store = await seedStore(h, { enabled: 2, disabled: 0 });
    const started = await runCli([
      'start',
      '--store',
      store.storeId,
      '--requested-by',
      'alice',
      '--expected-keys',
      '3',
      '--task-queue',
      h.taskQueue,
      ...fastFlags(),
    ]);
    expect(started.code).toBe(0);
    const watched = await runCli(['watch', store.storeId, '--interval', '200']);
    expect(watched.code).toBe(11);
    expect(watched.stdout).toContain(`FAILED: decommission of ${store.storeId}`);
    expect(watched.stdout).toMatch(/reason: .*Guardrail: expectedKeyCount is 3 but store \S+ holds 2 keys/);
    expect(await mutatingCalls(h, store)).toEqual([]);
  });

  test('not found exits 4; an unreachable server is "cannot reach Temporal at <address>"', async () => {
    const port = await freePort();
    const [missing, unreachable] = await mapLimit(
      [
        ['status', 'cks-0000000000000000a'],
        ['--address', `127.0.0.1:${port}`, '--connect-timeout', '500', 'status', 'cks-0000000000000000a'],
      ],
      2,
      (args) => runCli(args),
    );
    expect(missing.code).toBe(4);
    expect(missing.stderr).toBe('error: No decommission found with workflow ID kms-decommission-cks-0000000000000000a\n');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(new RegExp(`^error: cannot reach Temporal at 127\\.0\\.0\\.1:${port}: `));
  });

  test('watchDecommission on a terminal: progress bars, phase log, blocker-free run to COMPLETED, report summary', async () => {
    const store = await seedStore(h, { enabled: 3, disabled: 0 });
    await h.decommissions.startDecommission(fastInput(store.storeId));
    const out = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const watching = watchDecommission(h.decommissions, store.storeId, { out, intervalMs: 100 });
    await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
    await h.decommissions.approve(store.storeId, { approver: 'bob' });
    const report = await watching;
    expect(report.outcome).toBe('COMPLETED');
    expect(text).toContain('\x1b[?25l'); // cli-progress hid the cursor…
    expect(text).toContain('\x1b[?25h'); // …and restored it
    expect(text).toMatch(/Scheduled █+ 3\/3 keys/);
    expect(text).toMatch(/Deleted {3}█+ 3\/3 keys/);
    expect(text).toMatch(/→ COMPLETED/);
    expect(text).toContain(`COMPLETED: decommission of ${store.storeId}`);
    expect(text).toContain(`full report: npm run kms-decommission -- report ${store.storeId} --format markdown`);
  });
});
